"""What every page for people shares: one Jinja2 setup (a capability's own templates over core's
base.html and login.html), the filters that format figures in Korean and English, and the response
every page gets (a fresh CSP nonce, no caching, no referrer)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

CORE_TEMPLATES = Path(__file__).parent / "templates"
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


def templates_for(folder: Path | None = None) -> Jinja2Templates:
    """Templates from a capability's own `folder` first, then core's (base.html, login.html), with
    the shared filters: each capability renders its pages in the one look."""
    templates = Jinja2Templates(directory=[*([str(folder)] if folder else []), str(CORE_TEMPLATES)])
    templates.env.filters["thousands"] = lambda n: f"{n:,}"
    templates.env.filters["percent"] = percent
    templates.env.filters["kst"] = kst
    templates.env.globals["ago"] = ago
    return templates


# ----------------------------------------------------------------------------- responses
def render(templates: Jinja2Templates, request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
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
