"""The capacity page for people: server-rendered, Korean and English, large targets, refreshes
itself by fetching a server-rendered fragment (no build step, no framework on the client)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from hub.core.auth import SESSION_COOKIE, sign_session
from hub.capacity.service import CapacityReport, current_capacity
from hub.core.dependencies import check_secret, get_guard, get_rejections, get_settings, get_telemetry, session_token_id
from hub.core.lockout import LockedOut, LoginGuard
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.telemetry.influxql import Telemetry, TelemetryUnavailable

templates = Jinja2Templates(directory=[str(Path(__file__).parent / "templates"),
                                       str(Path(__file__).parents[1] / "core" / "templates")])
router = APIRouter(include_in_schema=False)

KST = timezone(timedelta(hours=9))


# ----------------------------------------------------------------------------- formatting
def window_label(window: timedelta) -> tuple[str, str]:
    """(Korean, English) for a window: 1 h -> ("1시간", "1 h")."""
    minutes = int(window.total_seconds() // 60)
    if minutes and minutes % 1440 == 0:
        return f"{minutes // 1440}일", f"{minutes // 1440} d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}시간", f"{minutes // 60} h"
    return f"{minutes}분", f"{minutes} min"


def ago(iso: str | None, now: datetime) -> tuple[str, str]:
    """How long ago, in Korean and English, for people who read "3분 전" faster than a timestamp."""
    if not iso:
        return "기록 없음", "never"
    seconds = (now - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()
    if seconds < 60:
        return "방금", "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}분 전", f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}시간 전", f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)}일 전", f"{int(seconds // 86400)} d ago"


def kst(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST")


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.0f}%"


templates.env.filters["thousands"] = lambda n: f"{n:,}"
templates.env.filters["percent"] = percent
templates.env.filters["kst"] = kst
templates.env.globals["ago"] = ago


# ----------------------------------------------------------------------------- responses
def _page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    """Every page gets a fresh nonce: the CSP then lets only our own inline script and style run."""
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(request, name, {**context, "nonce": nonce}, status_code=status)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    response.headers["Referrer-Policy"] = "no-referrer"  # a ?token= link must not leak onward
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_page(request: Request, error: bool, status: int = 200, locked: LockedOut | None = None) -> HTMLResponse:
    response = _page(request, "login.html", {"error": error, "locked": locked}, status)
    if locked is not None:
        response.headers.update(locked.headers)
    return response


def _start_session(response: Response, request: Request, settings: HubSettings, tid: str) -> None:
    max_age = settings.session_max_age.total_seconds()
    response.set_cookie(
        SESSION_COOKIE, sign_session(settings.session_key(), tid, max_age), max_age=int(max_age),
        httponly=True, samesite="lax", path="/",
        secure=settings.cookie_secure or request.url.scheme == "https")


async def _capacity_context(telemetry: Telemetry, settings: HubSettings) -> tuple[dict, int]:
    now = datetime.now(timezone.utc)
    report: CapacityReport | None = None
    reason = None
    try:
        report = await current_capacity(telemetry, settings)
    except TelemetryUnavailable as e:
        reason = e.reason
    ko, en = window_label(settings.capacity_window)
    online_ko, online_en = window_label(settings.online_window)
    return ({"report": report, "unavailable": reason, "now": now, "window_ko": ko, "window_en": en,
             "online_ko": online_ko, "online_en": online_en},
            200 if report is not None else 503)


# ----------------------------------------------------------------------------- routes
def _log_in(request: Request, settings: HubSettings, rejections: Rejections, guard: LoginGuard, token: str,
            via: str):
    """Start a session for a valid token and go to the page; count and refuse anything else."""
    tid = check_secret(request, "page", "login", token, settings.all_api_tokens(), guard, rejections)
    if isinstance(tid, LockedOut):
        return _login_page(request, error=False, status=429, locked=tid)
    if tid is None:
        rejections.add("login", "bad_token", via)
        return _login_page(request, error=True, status=401)
    response = RedirectResponse("/", status_code=303)
    _start_session(response, request, settings, tid)
    return response


@router.get("/", response_class=HTMLResponse)
async def index(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    telemetry: Annotated[Telemetry, Depends(get_telemetry)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
    token: str | None = None,
):
    if token is not None:
        # A printed link like /?token=...: log in, then drop the token from the address bar.
        return _log_in(request, settings, rejections, guard, token, "via ?token=")
    if session_token_id(request, settings) is None:
        return RedirectResponse("/login", status_code=303)
    context, status = await _capacity_context(telemetry, settings)
    return _page(request, "index.html", {**context, "refresh_s": settings.page_refresh_s}, status)


@router.get("/partials/capacity", response_class=HTMLResponse)
async def capacity_fragment(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    telemetry: Annotated[Telemetry, Depends(get_telemetry)],
):
    if session_token_id(request, settings) is None:
        return HTMLResponse("login required", status_code=401)
    context, status = await _capacity_context(telemetry, settings)
    return _page(request, "_capacity.html", context, status)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, settings: Annotated[HubSettings, Depends(get_settings)]):
    if session_token_id(request, settings) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request, error=False)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
    token: Annotated[str, Form(max_length=1024)] = "",
):
    return _log_in(request, settings, rejections, guard, token.strip(), "via the login form")


@router.post("/logout")
async def logout():
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
