"""What every page for people shares: one Jinja2 setup (a capability's own templates over core's
base.html, login.html and the kiosks' shell), the filters that format figures in Korean and
English, and the response every page gets (a fresh CSP nonce, no caching, no referrer); and what
the shoppers' kiosks share around their shell (templates/kiosk_shell.html): a screen rendered in
the shopper's language, and what their flow form asks for."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from hub.core.words import LANGS, lang_of

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


# ----------------------------------------------------------------------------- the shoppers' kiosks
def render_kiosk(templates: Jinja2Templates, request: Request, name: str, words: Callable[..., str],
                 context: dict, status: int = 200) -> HTMLResponse:
    """A kiosk screen (a template extending kiosk_shell.html) in the shopper's language
    (`context["lang"]`): `t(key, **figures)` gives `words(key, lang, **figures)`. Its images (a
    preview, a QR code) are our own SVG as data: URLs, which the CSP lets in and nothing else."""
    lang = lang_of(context.get("lang"))
    response = render(templates, request, name, {
        "t": lambda key, **figures: words(key, lang, **figures), "langs": LANGS, **context}, status)
    response.headers["Content-Security-Policy"] += "; img-src data:"
    return response


def shown_as(form: Mapping[str, Any]) -> tuple[str, bool]:
    """The language and whether large text is on, from a kiosk's flow form: a language or text-size
    button pressed on this screen (`switch_lang`, `switch_big`) wins over what the form carried."""
    lang = lang_of(form.get("switch_lang") or form.get("lang"))
    big = (form["switch_big"] if "switch_big" in form else form.get("big", "0")) == "1"
    return lang, big


def screen_asked(form: Mapping[str, Any], screens: Collection[str], first: str) -> str:
    """The screen a kiosk's flow form asks for: the pressed button's `go`, else the screen it was
    sent from (`at`); a language or text-size button re-draws the screen it was pressed on. A
    screen the kiosk does not have (a tampered form) is the first one."""
    if "switch_lang" in form or "switch_big" in form:
        go = form.get("at")
    else:
        go = form.get("go") or form.get("at")
    return go if go in screens else first
