"""The capacity page for people: server-rendered, Korean and English, large targets, refreshes
itself by fetching a server-rendered fragment (no build step, no framework on the client)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.capacity.models import CapacityReport
from hub.capacity.routes import get_telemetry
from hub.capacity.service import current_capacity
from hub.core.dependencies import get_guard, get_rejections, get_settings, session_token_id
from hub.core.lockout import LoginGuard
from hub.core.login import log_in
from hub.core.pages import render, templates_for, window_label
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.telemetry import Telemetry, TelemetryUnavailable

templates = templates_for(Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


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
        return log_in(request, settings, rejections, guard, token, "via ?token=")
    if session_token_id(request, settings) is None:
        return RedirectResponse("/login", status_code=303)
    context, status = await _capacity_context(telemetry, settings)
    return render(templates, request, "index.html", {**context, "refresh_s": settings.page_refresh_s}, status)


@router.get("/partials/capacity", response_class=HTMLResponse)
async def capacity_fragment(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    telemetry: Annotated[Telemetry, Depends(get_telemetry)],
):
    if session_token_id(request, settings) is None:
        return HTMLResponse("login required", status_code=401)
    context, status = await _capacity_context(telemetry, settings)
    return render(templates, request, "_capacity.html", context, status)
