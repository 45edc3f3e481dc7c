"""The coordinator's view of the network, server-rendered behind the page login:

    GET /network?family=&dong=&min_free=&page=   every workshop's loading for the next days, per
                                                 machine type (booked against spare), filtered, paged
    GET /network/{workshop}                      its machines now, its output per day, its on-time
                                                 record and the work it holds
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Annotated, Any, Optional

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from hub import registry
from hub.capacity import TelemetryUnavailable, daily_output, machine_states
from hub.core.db import Database
from hub.core.dependencies import get_database, get_rejections, get_settings, session_token_id
from hub.core.pages import KST, render
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.planning import charts, console
from hub.planning import offers as offers_mod
from hub.planning.pages import templates
from hub.planning.routes import day_cache, request_telemetry

router = APIRouter(include_in_schema=False)
Db = Annotated[Database, Depends(get_database)]
Settings = Annotated[HubSettings, Depends(get_settings)]
MAX_FREE = 10_000_000


def _rows_cache(request: Request) -> console.NetworkCache:
    cache = getattr(request.app.state, "console_network_cache", None)
    if cache is None:
        cache = request.app.state.console_network_cache = console.NetworkCache()
    return cache


def _filters(request: Request) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The filters as given, checked: each problem (field, Korean, English) is shown beside its
    field and the filter is left out, so the page still answers."""
    q = request.query_params
    problems = []
    family = (q.get("family") or "").strip() or None
    if family is not None and family not in registry.FAMILIES:
        problems.append(("family", "알 수 없는 제품군입니다", "not a product family"))
        family = None
    dong = (q.get("dong") or "").strip()[:40] or None
    min_free: Optional[float] = None
    raw = (q.get("min_free") or "").strip()
    if raw:
        try:
            min_free = float(raw.replace(",", ""))
            if not 0 <= min_free <= MAX_FREE:
                raise ValueError
        except ValueError:
            problems.append(("min_free", f"0에서 {MAX_FREE:,} 사이의 숫자(표준분)로 써 주세요",
                             f"write a number of SAM-minutes from 0 to {MAX_FREE:,}"))
            min_free = None
    page = 1
    if q.get("page"):
        try:
            page = max(1, min(int(q["page"]), 100_000))
        except ValueError:
            problems.append(("page", "쪽 번호는 정수입니다", "the page is a whole number"))
    return {"family": family, "dong": dong, "min_free": min_free, "page": page, "raw_min_free": raw[:20]}, problems


@router.get("/network", response_class=HTMLResponse)
async def network_page(request: Request, settings: Settings, db: Db,
                       rejections: Annotated[Rejections, Depends(get_rejections)]):
    if session_token_id(request, settings) is None:
        return RedirectResponse("/login", status_code=303)
    started = time.perf_counter()
    filters, problems = _filters(request)
    for field, _ko, en in problems:
        rejections.add("pages", "bad_filter", f"/network {field}: {en}")
    result = await console.network(db, request_telemetry(request), settings, family=filters["family"], dong=filters["dong"],
                                   min_free=filters["min_free"], page=filters["page"], now=datetime.now(timezone.utc),
                                   cache=day_cache(request, settings), rows_cache=_rows_cache(request))
    dong_names = {d: (ko, en) for d, _n, ko, en in result.dongs}
    rows = []
    for r in result.rows:
        w = r.workshop
        chart = charts.loading_chart([(f"{t.name_ko} ×{t.machines}", t.days) for t in r.types],
                                     f"{w.name_ko} 부하 loading") if r.types else ""
        rows.append({"row": r, "w": w, "chart": Markup(chart), "dong": dong_names.get(w.dong, (w.dong, w.dong))})
    errors = {f: (ko, en) for f, ko, en in problems}
    base = {k: v for k, v in (("family", filters["family"]), ("dong", filters["dong"]),
                              ("min_free", filters["raw_min_free"] if "min_free" not in errors else None)) if v}
    return render(templates, request, "network.html", {
        "result": result, "rows": rows, "filters": filters, "errors": errors, "query": base,
        "families": registry.FAMILIES, "seconds": time.perf_counter() - started})


@router.get("/network/{workshop_id}", response_class=HTMLResponse)
async def workshop_page(request: Request, workshop_id: str, settings: Settings, db: Db):
    if session_token_id(request, settings) is None:
        return RedirectResponse("/login", status_code=303)

    def read():
        with db.session() as session:
            info = registry.workshop(session, workshop_id)
            jobs = console.accepted_work(session, workshop_id) if info else []
            shown = offers_mod.offers_for_workshop(session, workshop_id) if info else []
            return info, jobs, shown

    info, jobs, offer_rows = await anyio.to_thread.run_sync(read)
    if info is None:
        return render(templates, request, "workshop.html", {"info": None, "workshop_id": workshop_id}, 404)
    telemetry = request_telemetry(request)
    now = datetime.now(timezone.utc)
    live = history = None
    problem = None
    if telemetry is None:
        problem = ("데이터 저장소가 연결되어 있지 않습니다", "no telemetry store is connected")
    else:
        try:
            # Both read this workshop's series alone (a tag filter), whatever the network's size.
            live, history = await asyncio.gather(
                machine_states(telemetry, workshop_id, [m.machine_id for m in info.machines],
                               settings.online_window, settings.known_window, now),
                daily_output(telemetry, workshop_id, settings.capacity_lookback_days + 1, now=now,
                             cache=day_cache(request, settings)))
        except TelemetryUnavailable as e:  # the registry's part still shows
            problem = ("데이터 저장소가 지금 답하지 않습니다: 기계 상태와 기록을 볼 수 없습니다",
                       f"the telemetry store does not answer now, so machines and history cannot be shown: {e.reason}")
    types = {m.machine_id: m for m in info.machines}
    chart = None
    if history:
        chart = Markup(charts.day_bars([(d.day, d.stitches) for d in history], f"{info.name_ko} 일별 땀수 stitches a day",
                                       "땀 stitches"))
    return render(templates, request, "workshop.html", {
        "info": info, "workshop_id": workshop_id, "live": live, "history": history, "history_chart": chart,
        "problem": problem, "jobs": jobs, "offers": offer_rows, "types": types, "now": now,
        "today": now.astimezone(KST).date(),
        "families": registry.FAMILIES, "machine_types": registry.MACHINE_TYPES})
