"""The capacity API: `GET /api/v1/capacity` (live, from telemetry) and `GET /api/v1/capacity/sam`
(spare SAM-minutes per workshop, machine type and day)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from datetime import datetime, timezone
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from hub.capacity.models import CapacityReport, RegistryUnavailable, SamReport, Unavailable
from hub.capacity.sam import DEFAULT_ZONE, local_days
from hub.capacity.service import DayCache, current_capacity, rules_from, sam_report, spare_capacity
from hub.capacity.sources import CommitmentSource, SourceUnavailable, WorkshopSource
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


def get_workshop_source(request: Request) -> WorkshopSource | None:
    """The workshops' source hub.app was given (the registry); None until one is connected."""
    return getattr(request.app.state, "workshop_source", None)


def get_commitment_source(request: Request) -> CommitmentSource | None:
    return getattr(request.app.state, "commitment_source", None)


def get_day_cache(request: Request) -> DayCache:
    """Past days' telemetry sums, one cache per app (made on first use)."""
    cache = getattr(request.app.state, "capacity_day_cache", None)
    if cache is None:
        cache = request.app.state.capacity_day_cache = DayCache(get_settings(request).capacity_evidence_ttl)
    return cache


async def _ask(method: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a source: awaited if it is async, otherwise in a worker thread (a database session)."""
    if inspect.iscoroutinefunction(method):
        return await method(**kwargs)
    result = await asyncio.to_thread(functools.partial(method, **kwargs))
    return await result if inspect.isawaitable(result) else result


def _registry_unavailable(reason: str) -> JSONResponse:
    return JSONResponse(RegistryUnavailable(reason=reason).model_dump(), status_code=503,
                        headers={"Retry-After": "10"})


@router.get("/capacity/sam", response_model=SamReport,
            summary="Spare SAM-minutes per workshop, machine type and day, each figure explained",
            responses={401: {"description": "no or wrong API token"},
                       404: {"description": "a workshop asked for is not in the registry (or does not sew the family)"},
                       422: {"description": "a parameter out of range"},
                       503: {"model": RegistryUnavailable, "description": "no workshop registry can answer"}})
async def sam_capacity(
    request: Request,
    _token: Annotated[str, Depends(require_api_token)],
    telemetry: Annotated[Telemetry, Depends(get_telemetry)],
    settings: Annotated[HubSettings, Depends(get_settings)],
    days: Annotated[int, Query(ge=1, le=60, description="days ahead, today first (at most capacity_days)")] = 14,
    family: Annotated[str | None, Query(max_length=64, description="only workshops that sew this product family")] = None,
    workshop: Annotated[list[str] | None, Query(description="only these workshop ids (repeat, or comma separated)")] = None,
    machine_type: Annotated[str | None, Query(max_length=64, description="only this machine type")] = None,
    explain: Annotated[bool, Query(description="include each day's sentence and structured explanation")] = True,
    limit: Annotated[int, Query(ge=1, le=1000, description="workshops per answer (the market is thousands)")] = 100,
    offset: Annotated[int, Query(ge=0, description="workshops to skip, in the registry's order")] = 0,
) -> Response:
    """Per workshop, machine type and local day (Asia/Seoul): machines × availability × working
    minutes × efficiency − minutes committed to accepted work. Availability and efficiency are the
    registry's declared figures calibrated by recent telemetry; each says which inputs it used, how
    old they are and which rule applied. When the telemetry store cannot answer, the figures are
    the declared ones and `telemetry.available` is false with the reason."""
    if days > settings.capacity_days:
        return JSONResponse({"detail": f"days must be at most {settings.capacity_days} (capacity_days)"},
                            status_code=422)
    ids = [i.strip() for item in workshop or () for i in item.split(",") if i.strip()]
    source = get_workshop_source(request)
    if source is None:
        return _registry_unavailable("no workshop registry is connected to the hub")
    try:
        profiles = list(await _ask(source.workshop_profiles, family=family or None, workshops=ids or None))
    except SourceUnavailable as e:
        log.warning("workshop registry unavailable: %s", e.reason)
        return _registry_unavailable(e.reason)
    if family:
        profiles = [p for p in profiles if family in p.families]
    if ids:
        profiles = [p for p in profiles if p.id in set(ids)]
        missing = sorted(set(ids) - {p.id for p in profiles})
        if missing:
            why = f" or does not sew {family}" if family else ""
            return JSONResponse({"error": "unknown_workshop", "workshops": missing,
                                 "reason": f"not in the registry{why}: {', '.join(missing)}"}, status_code=404)
    total = len(profiles)
    profiles = profiles[offset:offset + limit]
    rules = rules_from(settings, days)
    now = datetime.now(timezone.utc)
    commitments = None
    booked = get_commitment_source(request)
    if booked is not None:
        local = local_days(now, DEFAULT_ZONE, days)
        try:
            commitments = list(await _ask(booked.commitments, first_day=local[0], last_day=local[-1],
                                          workshops=[p.id for p in profiles]))
        except SourceUnavailable as e:
            return _registry_unavailable(f"accepted work cannot be read: {e.reason}")
    outcome = await spare_capacity(telemetry, profiles, commitments, rules, settings.known_window, now,
                                   get_day_cache(request))
    if outcome.telemetry_reason:
        log.warning("spare capacity from declared figures only: %s", outcome.telemetry_reason)
    # Building and encoding the answer for thousands of workshops is CPU: off the event loop.
    def encode() -> bytes:
        report = sam_report(outcome, explain, machine_type)
        report.update(total=total, offset=offset, limit=limit)
        return json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode()
    body = await asyncio.to_thread(encode)
    return Response(body, media_type="application/json")
