"""FastAPI dependencies shared by the routers: settings, telemetry, rejections, and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hub.auth import SESSION_COOKIE, check_token, read_session, token_id
from hub.rejections import Rejections
from hub.settings import HubSettings
from hub.telemetry import Telemetry


def get_settings(request: Request) -> HubSettings:
    return request.app.state.settings


def get_rejections(request: Request) -> Rejections:
    return request.app.state.rejections


def get_telemetry(request: Request) -> Telemetry:
    return request.app.state.telemetry


def require_api_token(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
) -> str:
    """`Authorization: Bearer <API token>`; returns the token's id. 401 otherwise."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        rejections.add("api", "no_token", f"{request.method} {request.url.path}")
        raise HTTPException(401, "an API token is required: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    tid = check_token(value.strip(), settings.all_api_tokens())
    if tid is None:
        rejections.add("api", "bad_token", f"{request.method} {request.url.path}")
        raise HTTPException(401, "the API token is not valid",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return tid


def session_token_id(request: Request, settings: HubSettings) -> str | None:
    """The token id of the page session the request carries, if it is valid."""
    valid = {token_id(t) for t in settings.all_api_tokens()}
    return read_session(settings.session_key(), request.cookies.get(SESSION_COOKIE), valid)
