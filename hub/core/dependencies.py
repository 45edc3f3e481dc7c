"""FastAPI dependencies every capability's routes share: settings, rejections, the login guard, who
is asking, and a request's body read only up to a limit. A capability's own state (its adapter, its
store) it fetches itself: the core knows no capability."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hub.core.auth import SESSION_COOKIE, check_token, read_session, token_id
from hub.core.db import Database
from hub.core.lockout import LockedOut, LoginGuard
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings


def get_settings(request: Request) -> HubSettings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    """The relational store hub.app opened (its schema checked) in the lifespan."""
    return request.app.state.db


def get_rejections(request: Request) -> Rejections:
    return request.app.state.rejections


def get_guard(request: Request) -> LoginGuard:
    return request.app.state.login_guard


def client_address(request: Request) -> str:
    """Who is knocking, as far as the lockout can tell: the peer address (uvicorn puts a trusted
    proxy's X-Forwarded-For there when told to trust that proxy)."""
    return request.client.host if request.client else "unknown"


def check_secret(request: Request, door: str, where: str, presented: str | None, tokens: list[str],
                 guard: LoginGuard, rejections: Rejections) -> str | LockedOut | None:
    """The id of the configured token equal to `presented`; a LockedOut if this address has
    guessed wrong too often at this door (counted, and the secret is not even compared); None
    for a wrong secret, which counts against the address."""
    client = client_address(request)
    locked = guard.locked_out(door, client)
    if locked is not None:
        rejections.add(where, "locked_out", f"{request.method} {request.url.path}: refused for {locked.retry_after_s} s")
        return locked
    tid = check_token(presented, tokens) if presented else None
    if tid is None and presented:
        guard.failed(door, client)
    return tid


def require_api_token(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
) -> str:
    """`Authorization: Bearer <API token>`; returns the token's id. 401 otherwise, 429 for an
    address that sent too many wrong tokens."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        rejections.add("api", "no_token", f"{request.method} {request.url.path}")
        raise HTTPException(401, "an API token is required: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    tid = check_secret(request, "api", "api", value.strip(), settings.all_api_tokens(), guard, rejections)
    if isinstance(tid, LockedOut):
        raise HTTPException(429, tid.message, headers=tid.headers)
    if tid is None:
        rejections.add("api", "bad_token", f"{request.method} {request.url.path}")
        raise HTTPException(401, "the API token is not valid",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return tid


def session_token_id(request: Request, settings: HubSettings) -> str | None:
    """The token id of the page session the request carries, if it is valid."""
    valid = {token_id(t) for t in settings.all_api_tokens()}
    return read_session(settings.session_key(), request.cookies.get(SESSION_COOKIE), valid)


def require_reader(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
) -> str | None:
    """The token id of a page session or, failing that, of a Bearer API token (401 or 429 for a
    wrong one, as require_api_token). None when the request carries neither: the caller decides
    whether to send a person to the login form or answer 401."""
    tid = session_token_id(request, settings)
    if tid is not None:
        return tid
    if not request.headers.get("authorization"):
        rejections.add("api", "no_token", f"{request.method} {request.url.path}")
        return None
    return require_api_token(request, settings, rejections, guard)


async def body_at_most(request: Request, limit: int) -> bytes | None:
    """The request's body, or None when it is longer than `limit` bytes: refused by its declared
    length before any of it is read, else once the bytes read pass the limit (the rest is never
    read), so a client cannot make the hub hold more than `limit` in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            return None
    return bytes(raw)
