"""Logging in to the pages: the login form, and the session a valid API token opens (also from a
printed `/?token=` link, which the capacity page hands to `log_in`); logging out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.core.auth import SESSION_COOKIE, sign_session
from hub.core.dependencies import check_secret, get_guard, get_rejections, get_settings, session_token_id
from hub.core.lockout import LockedOut, LoginGuard
from hub.core.pages import render, templates_for
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings

_templates = templates_for()
router = APIRouter(include_in_schema=False)


def login_page(request: Request, error: bool, status: int = 200, locked: LockedOut | None = None) -> HTMLResponse:
    response = render(_templates, request, "login.html", {"error": error, "locked": locked}, status)
    if locked is not None:
        response.headers.update(locked.headers)
    return response


def _start_session(response: Response, request: Request, settings: HubSettings, tid: str) -> None:
    max_age = settings.session_max_age.total_seconds()
    response.set_cookie(
        SESSION_COOKIE, sign_session(settings.session_key(), tid, max_age), max_age=int(max_age),
        httponly=True, samesite="lax", path="/",
        secure=settings.cookie_secure or request.url.scheme == "https")


def log_in(request: Request, settings: HubSettings, rejections: Rejections, guard: LoginGuard, token: str,
           via: str):
    """Start a session for a valid token and go to the page; count and refuse anything else."""
    tid = check_secret(request, "page", "login", token, settings.all_api_tokens(), guard, rejections)
    if isinstance(tid, LockedOut):
        return login_page(request, error=False, status=429, locked=tid)
    if tid is None:
        rejections.add("login", "bad_token", via)
        return login_page(request, error=True, status=401)
    response = RedirectResponse("/", status_code=303)
    _start_session(response, request, settings, tid)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, settings: Annotated[HubSettings, Depends(get_settings)]):
    if session_token_id(request, settings) is not None:
        return RedirectResponse("/", status_code=303)
    return login_page(request, error=False)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
    token: Annotated[str, Form(max_length=1024)] = "",
):
    return log_in(request, settings, rejections, guard, token.strip(), "via the login form")


@router.post("/logout")
async def logout():
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
