"""The capacity API: `GET /api/v1/capacity`."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from hub.capacity.models import CapacityReport, Unavailable
from hub.capacity.service import current_capacity
from hub.core.dependencies import get_settings, require_api_token
from hub.core.settings import HubSettings
from hub.telemetry import Telemetry, TelemetryUnavailable

log = logging.getLogger("sewnet.hub.capacity")


def get_telemetry(request: Request) -> Telemetry:
    """The telemetry adapter hub.app opened in its lifespan."""
    return request.app.state.telemetry


router = APIRouter(prefix="/api/v1", tags=["capacity"])


@router.get("/capacity", response_model=CapacityReport,
            responses={401: {"description": "no or wrong API token"},
                       503: {"model": Unavailable, "description": "the telemetry store cannot answer"}})
async def capacity(
    _token: Annotated[str, Depends(require_api_token)],
    telemetry: Annotated[Telemetry, Depends(get_telemetry)],
    settings: Annotated[HubSettings, Depends(get_settings)],
):
    try:
        return await current_capacity(telemetry, settings)
    except TelemetryUnavailable as e:
        log.warning("capacity unavailable: %s", e.reason)
        return JSONResponse(Unavailable(reason=e.reason).model_dump(), status_code=503,
                            headers={"Retry-After": "10"})
