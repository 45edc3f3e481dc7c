"""The coordinator's console for orders, server-rendered, Korean first with English, behind the page
login (the session cookie; SameSite=Lax, so another site cannot post a form with it):

    GET  /orders                         the orders, newest first, with their expected finish
    GET  /orders/new, POST /orders/new   a new order: every problem next to its field; then planned
    GET  /orders/{id}                    the current plan: timeline, cost, reasons, progress, a
                                         re-plan proposal against the accepted plan; accept
    GET  /orders/{id}/whatif?due=&quantity=   the plan with another due date or quantity, beside
                                         the current one (nothing stored)
    POST /orders/{id}/accept             accept the current plan (the version reviewed)
    GET  /orders/{id}/plan.csv           the plan, one row per workshop and day
    GET  /orders/{id}/dispatch/{ws}.pdf  one workshop's printable dispatch sheet

The order rules are hub.planning.intake's (the API's), never repeated here.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from hub import registry
from hub.core.days import WEEKDAYS_KO
from hub.core.db import Database
from hub.core.dependencies import get_database, get_rejections, get_settings, session_token_id
from hub.core.pages import render, templates_for
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.planning import charts, console, service
from hub.planning import offers as offers_mod
from hub.planning import progress as progress_mod
from hub.planning.dispatch import dispatch_pdf
from hub.planning.intake import read_order
from hub.planning.routes import day_cache, solver_turn, request_telemetry

log = logging.getLogger("sewnet.hub.planning")
templates = templates_for(Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)

STATUS_WORDS = {
    "draft": ("계획 전", "not planned yet"),
    "planned": ("계획됨, 승인 대기", "planned, waiting for acceptance"),
    "infeasible": ("맞출 수 없음", "cannot be met as it is"),
    "accepted": ("승인됨", "accepted"),
    "replanned": ("다시 계획됨, 승인 대기", "re-planned, waiting for acceptance"),
    "cancelled": ("취소됨", "cancelled"),
}
#: The form's fields in order: (name, Korean, English, input type, hint).
FORM_FIELDS = [
    ("style", "스타일", "Style", "text", "반팔 라운드 티셔츠"),
    ("quantity", "수량 (벌)", "Quantity (pieces)", "number", "20000"),
    ("due", "납기", "Due date", "date", ""),
    ("bundle_size", "묶음 크기 (벌)", "Bundle size (pieces)", "number", "20"),
    ("min_lot", "작업장별 최소 수량", "Fewest pieces per workshop", "number", "0"),
    ("max_workshops", "작업장 수 상한", "At most this many workshops", "number", "10"),
    ("price_per_piece_krw", "봉제 단가 (원)", "Sewing price per piece (KRW)", "number", ""),
    ("transport_days", "운송 일수", "Transport days before the due date", "number", "1"),
]


def _day(iso: str | date) -> str:
    d = date.fromisoformat(iso) if isinstance(iso, str) else iso
    return f"{d.month}/{d.day}({WEEKDAYS_KO[d.weekday()]})"


def sewing_days(schedule: list[dict]) -> dict[str, Any]:
    """The days a workshop sews its pieces: first, last, how many."""
    days = [s["day"] for s in schedule if s["pieces"] > 0]
    if not days:
        return {"first": None, "last": None, "count": 0, "text": "—"}
    text = _day(days[0]) if len(days) == 1 else f"{_day(days[0])}–{_day(days[-1])}"
    return {"first": days[0], "last": days[-1], "count": len(days), "text": text}


def _won(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


templates.env.filters["won"] = _won
templates.env.filters["day"] = _day
templates.env.globals["sewing_days"] = sewing_days
templates.env.globals["status_words"] = STATUS_WORDS
templates.env.globals["kind_names"] = service.names()
templates.env.globals["diff_words"] = console.KIND_WORDS
templates.env.globals["offer_words"] = offers_mod.STATUS_WORDS


def _logged_in(request: Request, settings: HubSettings) -> bool:
    return session_token_id(request, settings) is not None


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


Db = Annotated[Database, Depends(get_database)]
Settings = Annotated[HubSettings, Depends(get_settings)]


# ============================================================================ the orders
@router.get("/orders", response_class=HTMLResponse)
async def orders_page(request: Request, settings: Settings, db: Db):
    if not _logged_in(request, settings):
        return _to_login()

    def read() -> tuple[list[dict], int, dict]:
        rows = []
        with db.session() as session:
            records = service.list_orders(session, limit=200)
            total = service.count_orders(session)
            for r in records:
                finish = None
                if r.current_version is not None:
                    view = service.plan_view(session, r.id, r.accepted_version or r.current_version)
                    finish = console.expected_finish(view) if view["feasible"] else None
                rows.append({**r.to_dict(), "finish": finish.isoformat() if finish else None})
            return rows, total, console.offer_counts(session, [r["id"] for r in rows])

    rows, total, counts = await anyio.to_thread.run_sync(read)
    now = datetime.now(timezone.utc)
    for r in rows:
        r["offers"] = counts.get(r["id"], {})
        r["behind"] = None
        if r["offers"].get("accepted"):  # only orders with work under way can be behind
            found = await progress_mod.order_progress(db, request_telemetry(request), settings, r["id"], now)
            r["behind"] = found["behind_workshops"] if found["behind"] else None
    return render(templates, request, "orders.html", {"orders": rows, "total": total})


# ============================================================================ a new order
def _form_order(form: dict[str, str], sam: dict[str, str]) -> dict:
    """The form's text as the order body the API takes: empty fields left out (their defaults
    apply), numbers left as typed so intake says what is wrong with them."""
    body: dict[str, Any] = {k: v.strip() for k, v in form.items() if isinstance(v, str) and v.strip()}
    minutes = {t: v.strip() for t, v in sam.items() if v.strip()}
    if minutes:
        body["sam_minutes"] = minutes
    return body


def _problems_by_field(problems) -> dict[str, list]:
    out: dict[str, list] = {}
    for p in problems:
        name = p.field.split(".")[0] if p.field.startswith("sam_minutes") else p.field
        out.setdefault(name, []).append(p)
        if p.field.startswith("sam_minutes."):
            out.setdefault(p.field, []).append(p)
    return out


def _new_form(request: Request, values: dict, problems: list, status: int = 200) -> HTMLResponse:
    by_field = _problems_by_field(problems)
    known = {f[0] for f in FORM_FIELDS} | {"family", "sam_minutes", "id"}
    other = [p for p in problems if p.field.split(".")[0] not in known]
    return render(templates, request, "order_new.html", {
        "values": values, "errors": by_field, "other_errors": other, "problems": problems, "fields": FORM_FIELDS,
        "families": registry.FAMILIES, "machine_types": registry.MACHINE_TYPES}, status)


@router.get("/orders/new", response_class=HTMLResponse)
def new_order_form(request: Request, settings: Settings):
    if not _logged_in(request, settings):
        return _to_login()
    # A what-if can hand its figures over as a new order (?quantity=&due=&from=ORDER).
    q = request.query_params
    values: dict[str, Any] = {"bundle_size": "20", "min_lot": "0", "max_workshops": "10", "transport_days": "1"}
    for name in [f[0] for f in FORM_FIELDS] + ["family"]:
        if q.get(name):
            values[name] = q[name][:200]
    values.setdefault("due", (service.today_in_seoul(datetime.now(timezone.utc)) + timedelta(days=10)).isoformat())
    return _new_form(request, values, [])


@router.post("/orders/new", response_class=HTMLResponse)
async def new_order(request: Request, settings: Settings, db: Db,
                    rejections: Annotated[Rejections, Depends(get_rejections)]):
    if not _logged_in(request, settings):
        return _to_login()
    form = await request.form()
    fields = {name: str(form.get(name, ""))[:300] for name in [f[0] for f in FORM_FIELDS] + ["family", "id"]}
    sam = {t: str(form.get(f"sam_{t}", ""))[:20] for t in registry.MACHINE_TYPES}
    values = {**fields, **{f"sam_{t}": v for t, v in sam.items()}}
    now = datetime.now(timezone.utc)
    order, problems = read_order(_form_order(fields, sam), service.today_in_seoul(now))
    if problems:
        rejections.add("orders", "invalid_order", "the order form: " + "; ".join(f"{p.field}: {p.en}" for p in problems))
        return _new_form(request, values, problems, 422)

    def store() -> service.OrderRecord:
        with db.session() as session:
            return service.create_order(session, order, now)

    try:
        record = await anyio.to_thread.run_sync(store)
    except (service.Conflict, IntegrityError):
        from hub.planning.model import OrderProblem

        return _new_form(request, values, [OrderProblem("id", f"주문 번호 {order.id}는 이미 있습니다",
                                                        f"an order {order.id} exists already")], 409)
    await service.plan(db, request_telemetry(request), settings, record.id, cache=day_cache(request, settings),
                       solver=solver_turn(request))
    log.info("order %s made and planned from the console", record.id)
    return RedirectResponse(f"/orders/{record.id}", status_code=303)


# ============================================================================ one order
def _timeline(view: dict, label: str) -> Markup:
    return Markup(charts.timeline(view["assignments"], label))


def _added_up(histories: list[list[tuple[date, int]]]) -> list[tuple[date, int]]:
    """Several offers' count histories (running totals by day) as the workshop's, day by day."""
    if len(histories) == 1:
        return histories[0]
    days = sorted({d for h in histories for d, _ in h})
    out = []
    for day in days:
        out.append((day, sum(max((n for d, n in h if d <= day), default=0) for h in histories)))
    return out


def _progress(view: dict, today: date, progress: dict | None, counts: dict[str, list[tuple[date, int]]]) -> list[dict]:
    """Per workshop: planned pieces added up by day, and pieces done: the owner's counts by day,
    then today's figure (counted, or estimated from the assigned machines' stitches)."""
    by_workshop = dict((progress or {}).get("workshops", {}))
    out = []
    for a in view["assignments"]:
        planned = console.planned_cumulative(a)
        p = by_workshop.get(a["workshop"])
        done: list[tuple[date, int]] = []
        if p is not None:
            done = [(d, n) for d, n in _added_up([counts.get(i, []) for i in p.get("offer_ids", [p["offer_id"]])])
                    if d < today] + [(today, p["done"])]
            if len(done) == 1 and planned and planned[0][0] < today:
                done.insert(0, (planned[0][0], 0))
        out.append({"workshop": a["workshop"], "name_ko": a["name_ko"], "name_en": a["name_en"],
                    "planned": a["pieces"], "progress": p,
                    "chart": Markup(charts.progress_chart(
                        planned, done, f"{a['name_ko']} 진행 progress", today,
                        due_now=p["planned_by_now"] if p is not None else None,
                        behind=bool(p and p["behind"])))})
    return out


def _behind_rows(progress: dict | None, offer_rows: list[dict]) -> list[dict]:
    """The workshops behind plan, with their names, done and planned by now, and the shortfall."""
    if not progress:
        return []
    names = {o["workshop_id"]: (o["workshop_name_ko"], o["workshop_name_en"]) for o in offer_rows}
    out = []
    for w, p in sorted(progress.get("workshops", {}).items()):
        if p["behind"]:
            ko, en = names.get(w, (w, w))
            out.append({"workshop": w, "name_ko": ko, "name_en": en, "done": p["done"],
                        "planned_by_now": p["planned_by_now"], "short": p["planned_by_now"] - p["done"]})
    return out


@router.post("/orders/{order_id}/replan-behind", response_class=HTMLResponse)
async def propose_behind(request: Request, order_id: str, settings: Settings, db: Db):
    """Make the re-plan progress proposes for an order behind plan (stored as the next version, not
    accepted): the order's page then shows it against the accepted plan, with its accept button."""
    if not _logged_in(request, settings):
        return _to_login()
    try:
        view = await offers_mod.replan_behind(db, request_telemetry(request), settings, order_id,
                                              cache=day_cache(request, settings), solver=solver_turn(request))
    except service.NotFound:
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    except (service.Conflict, service.ChangeRefused) as e:
        return render(templates, request, "message.html", {"order_id": order_id, "ko": e.ko, "en": e.en}, 409)
    except IntegrityError:
        return render(templates, request, "message.html", {
            "order_id": order_id, "ko": "같은 주문을 동시에 두 번 계획했습니다: 다시 해 주세요",
            "en": "the order was planned twice at the same moment: try again"}, 409)
    if view is None:
        return RedirectResponse(f"/orders/{order_id}?notice=not-behind", status_code=303)
    log.info("order %s: re-plan v%d proposed from the console for work behind plan", order_id, view["version"])
    return RedirectResponse(f"/orders/{order_id}?notice=proposed", status_code=303)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def plan_page(request: Request, order_id: str, settings: Settings, db: Db):
    if not _logged_in(request, settings):
        return _to_login()
    context: dict[str, Any] = {"order_id": order_id, "notice": request.query_params.get("notice")}
    now = datetime.now(timezone.utc)

    def read() -> tuple:
        with db.session() as session:
            record = service.get_order(session, order_id)
            if record is None:
                return None, None, None
            plan = service.plan_view(session, order_id) if record.current_version is not None else None
            accepted = None
            if record.accepted_version is not None and record.accepted_version != record.current_version:
                accepted = service.plan_view(session, order_id, record.accepted_version)
            return record, plan, accepted

    record, plan, accepted = await anyio.to_thread.run_sync(read)
    if record is None:
        return render(templates, request, "plan.html", {**context, "order": None}, 404)
    progress = None
    if record.accepted_version is not None:
        progress = await progress_mod.order_progress(db, request_telemetry(request), settings, order_id, now)

    def read_offers() -> tuple[list[dict], dict]:
        with db.session() as session:
            shown = offers_mod.offers_for_order(session, order_id, progress=(progress or {}).get("offers"), now=now)
            return shown, console.count_history(session, [o["id"] for o in shown])

    offer_rows, counts = await anyio.to_thread.run_sync(read_offers)
    today = service.today_in_seoul(now)
    context.update(order=record.to_dict(), plan=plan, accepted_plan=accepted, today=today.isoformat(),
                   offers=offer_rows, progress_summary=progress, behind=_behind_rows(progress, offer_rows),
                   # A proposal from the accepted plan waits already: the coordinator looks at that first.
                   can_propose=bool(progress and progress["behind"]) and accepted is None)
    if plan is not None:
        context["timeline"] = _timeline(plan, f"{order_id} 계획 plan")
        if accepted is not None:
            context["diff"] = console.plan_diff(accepted, plan)
        shown = accepted if accepted is not None else plan if plan["accepted"] else None
        base = shown or plan
        context["finish"] = console.projected_finish(base, progress, today) if base["feasible"] else None
        context["planned_finish"] = console.expected_finish(base) if base["feasible"] else None
        context["progress"] = _progress(shown, today, progress, counts) if shown is not None else []
    return render(templates, request, "plan.html", context)


@router.get("/orders/{order_id}/whatif", response_class=HTMLResponse)
async def what_if(request: Request, order_id: str, settings: Settings, db: Db):
    if not _logged_in(request, settings):
        return _to_login()
    q = request.query_params

    def read() -> tuple[Optional[service.OrderRecord], Optional[dict]]:
        with db.session() as session:
            record = service.get_order(session, order_id)
            if record is None or record.current_version is None:
                return record, None
            return record, service.plan_view(session, order_id)

    record, current = await anyio.to_thread.run_sync(read)
    if record is None:
        return render(templates, request, "plan.html", {"order": None, "order_id": order_id}, 404)
    o = record.to_dict()
    body = {k: o[k] for k in ("style", "family", "quantity", "due", "sam_minutes", "bundle_size", "min_lot",
                              "max_workshops", "transport_days")}
    if o["price_per_piece_krw"]:
        body["price_per_piece_krw"] = o["price_per_piece_krw"]
    if o["panels"]:
        body["panels"] = o["panels"]
    if o["panels_ready"]:
        body["panels_ready"] = o["panels_ready"]
    asked = {"due": (q.get("due") or "").strip()[:20], "quantity": (q.get("quantity") or "").strip()[:20]}
    body.update({k: v for k, v in asked.items() if v})
    now = datetime.now(timezone.utc)
    order, problems = read_order(body, service.today_in_seoul(now), order_id=order_id)
    context: dict[str, Any] = {"order": o, "order_id": order_id, "current": current, "asked": asked,
                               "errors": _problems_by_field(problems), "problems": problems}
    status = 200
    if problems:
        status = 422
    else:
        view, _found = await service.plan_unsaved(db, request_telemetry(request), settings, order, now,
                                                  cache=day_cache(request, settings))
        context["whatif"] = view
        context["whatif_timeline"] = _timeline(view, "what-if")
        context["whatif_finish"] = console.expected_finish(view) if view["feasible"] else None
        if current is not None:
            context["current_timeline"] = _timeline(current, "current")
            context["current_finish"] = console.expected_finish(current) if current["feasible"] else None
            context["rows"] = console.plan_diff(current, view)
    return render(templates, request, "whatif.html", context, status)


@router.post("/orders/{order_id}/accept", response_class=HTMLResponse)
async def accept_plan(request: Request, order_id: str, settings: Settings, db: Db):
    if not _logged_in(request, settings):
        return _to_login()
    form = await request.form()
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        version = None

    def run() -> dict:
        with db.session() as session:
            return service.accept(session, order_id, version, settings=settings)

    try:
        view = await anyio.to_thread.run_sync(run)
    except service.NotFound:
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    except service.Conflict as e:
        return render(templates, request, "message.html", {"order_id": order_id, "ko": e.ko, "en": e.en}, 409)
    log.info("order %s: plan v%d accepted from the console", order_id, view["version"])
    return RedirectResponse(f"/orders/{order_id}?notice=accepted", status_code=303)


# ============================================================================ exports
def _stored_plan(db: Database, order_id: str) -> tuple[Optional[service.OrderRecord], Optional[dict]]:
    with db.session() as session:
        record = service.get_order(session, order_id)
        if record is None or record.current_version is None:
            return record, None
        return record, service.plan_view(session, order_id, record.accepted_version or record.current_version)


@router.get("/orders/{order_id}/plan.csv")
def plan_csv(request: Request, order_id: str, settings: Settings, db: Db):
    """The accepted plan (else the current one) as CSV."""
    if not _logged_in(request, settings):
        return _to_login()
    record, view = _stored_plan(db, order_id)
    if view is None:
        return Response("no such order or no plan yet / 주문이나 계획이 없습니다\n", status_code=404,
                        media_type="text/plain; charset=utf-8")
    return Response(console.plan_csv(order_id, view), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{order_id}-v{view["version"]}.csv"',
                             "Cache-Control": "no-store"})


def offer_link_for(request: Request, settings: HubSettings, db: Database, order_id: str, workshop: str
                   ) -> Optional[str]:
    """The signed phone link to this workshop's open or accepted offer of the order, if any."""
    with db.session() as session:
        offer_id = offers_mod.live_offer_id(session, order_id, workshop)
    if offer_id is None:
        return None
    return str(request.base_url).rstrip("/") + offers_mod.offer_link(settings, offer_id)


@router.get("/orders/{order_id}/dispatch/{workshop}.pdf")
def dispatch_sheet(request: Request, order_id: str, workshop: str, settings: Settings, db: Db):
    if not _logged_in(request, settings):
        return _to_login()
    record, view = _stored_plan(db, order_id)
    share = next((a for a in view["assignments"] if a["workshop"] == workshop), None) if view else None
    if share is None:
        return Response("this workshop has no share of this order / 이 작업장은 이 주문을 맡지 않았습니다\n",
                        status_code=404, media_type="text/plain; charset=utf-8")
    with db.session() as session:
        info = registry.workshop(session, workshop)
    pdf = dispatch_pdf(record.to_dict(), share, view["version"], service.names(), info,
                       offer_link_for(request, settings, db, order_id, workshop))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{order_id}-{workshop}.pdf"',
                             "Cache-Control": "no-store"})
