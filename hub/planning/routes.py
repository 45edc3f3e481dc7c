"""The orders API, under /api/v1/orders, every route behind the API token:

    POST /api/v1/orders                         a new order (201); 422 names every bad field
    GET  /api/v1/orders?status=&family=&limit=&offset=     orders, newest first
    GET  /api/v1/orders/{id}                    one order, with its plan versions in brief
    POST /api/v1/orders/{id}/plan               plan it from scratch: the plan, explained
    GET  /api/v1/orders/{id}/plan?version=      a stored plan (the current one by default)
    GET  /api/v1/orders/{id}/plans              every version in brief
    POST /api/v1/orders/{id}/replan             after a change (declined, reduced, started)
    POST /api/v1/orders/{id}/accept             book the current plan on the workshops' machines

Spare capacity per workshop, machine type and day, with accepted work subtracted, is capacity's
`GET /api/v1/capacity/sam` (hub.app hands capacity planning's AcceptedWork). A bad body answers
422 `{"error": "invalid_order" | "invalid_change", "problems": [{"field", "ko", "en"}]}`, each
problem next to its field in plain words, and is counted in /api/v1/rejections. A thin layer over
hub.planning.service; planning runs the engine in a worker thread within its time limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Optional

import anyio
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import IntegrityError

from hub.capacity.service import DayCache
from hub.core.db import Database
from hub.core.dependencies import get_database, get_guard, get_rejections, get_settings, require_api_token
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.planning import service
from hub.planning.intake import OrderIn, checked, problem_dicts, problems_from_errors
from hub.planning.model import OrderProblem
from hub.planning.tables import ORDER_STATES

log = logging.getLogger("sewnet.hub.planning")


# ----------------------------------------------------------------------------- bodies and answers
class ChangeIn(BaseModel):
    """What changed since the plan being re-planned (the accepted one, else the current one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "declined": ["ws-changsin-0042"], "reduced": {"ws-sinseol-0007": 0.5},
        "started": {"ws-changsin-0042": 300, "ws-sinseol-0007": 1200}, "note": "0042 has a family emergency"}})

    declined: list[str] = Field([], max_length=1000, description="workshops that will not take the work "
                                                                 "(they keep only what they started)")
    reduced: dict[str, float] = Field({}, description="workshops that fell behind: the share of their spare "
                                                      "capacity still there, 0 to 1")
    started: dict[str, int] = Field({}, description="pieces already started per workshop: never moved")
    note: str = Field("", max_length=500, description="why, for the people reading the plan later")

    @model_validator(mode="after")
    def _sensible(self) -> "ChangeIn":
        if not (self.declined or self.reduced or self.started):
            raise ValueError("change_empty")
        if any(not 0 <= v <= 1 for v in self.reduced.values()):
            raise ValueError("reduced_range")
        if any(v < 0 for v in self.started.values()):
            raise ValueError("started_negative")
        return self

    def to_change(self) -> service.Change:
        return service.Change(tuple(dict.fromkeys(self.declined)), dict(self.reduced), dict(self.started),
                              self.note.strip())


_CHANGE_WORDS = {
    "change_empty": ("declined", "무엇이 바뀌었는지 적어 주세요: declined, reduced, started 중 하나 이상",
                     "say what changed: at least one of declined, reduced, started"),
    "reduced_range": ("reduced", "남은 능력의 비율은 0에서 1 사이입니다 (0.5 = 절반)",
                      "the share of capacity still there is from 0 to 1 (0.5 = half)"),
    "started_negative": ("started", "시작한 수량은 0 이상이어야 합니다", "pieces started must be at least 0"),
}


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Optional[int] = Field(None, ge=1, description="the version you reviewed; it must be the current one")


class ProblemOut(BaseModel):
    field: str
    ko: str
    en: str


class Invalid(BaseModel):
    error: Literal["invalid_order", "invalid_change"]
    ko: str
    en: str
    problems: list[ProblemOut]


class Refused(BaseModel):
    error: str
    ko: str
    en: str


class OrderOut(BaseModel):
    id: str
    style: str
    family: str
    quantity: int
    due: str
    sam_minutes: dict[str, float]
    sam_total: float
    bundle_size: int
    min_lot: int
    max_workshops: int
    price_per_piece_krw: Optional[float]
    panels: Optional[dict[str, float]]
    panels_ready: Optional[str]
    transport_days: int
    status: str = Field(description="draft | planned | infeasible | accepted | replanned | cancelled")
    current_version: Optional[int]
    accepted_version: Optional[int]
    created_at: str
    updated_at: str


class OrderDetail(OrderOut):
    plans: list[dict[str, Any]] = Field(description="its plan versions in brief, oldest first")


class OrderPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[OrderOut]


class PlanOut(BaseModel):
    """The engine's plan (hub.planning.model.Plan) as stored, with where it stands. Every chosen
    workshop comes with `reasons`; strong candidates left out are in `left_out` with theirs; an
    order that cannot be met says why in `reasons` and offers `alternatives`."""

    model_config = ConfigDict(extra="allow")
    order: str
    version: int
    current: bool
    accepted: bool
    feasible: bool
    status: str = Field(description="the solver's: optimal | feasible | infeasible | unknown | not_run")
    objective: Optional[float] = Field(description="the modelled cost, KRW")
    bound: Optional[float] = Field(description="the best lower bound the solver proved, KRW")
    gap: Optional[float] = Field(description="(objective − bound) / objective")
    pieces: int
    assignments: list[dict[str, Any]]
    left_out: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    alternatives: list[dict[str, Any]]
    cost: dict[str, float]


class PlannedOut(PlanOut):
    capacity: dict[str, Any] = Field(description="how many candidates, over how many days, and whether "
                                                 "telemetry calibrated their capacity (and why not)")


# ----------------------------------------------------------------------------- plain 422s
def _invalid(error: str, problems: list[OrderProblem]) -> JSONResponse:
    what_ko, what_en = ("주문", "order") if error == "invalid_order" else ("변경 내용", "change")
    body = {"error": error, "ko": f"{what_ko}에 고칠 곳이 {len(problems)}군데 있습니다",
            "en": f"the {what_en} has {len(problems)} problem{'' if len(problems) == 1 else 's'} to fix",
            "problems": problem_dicts(problems)}
    return JSONResponse(body, status_code=422)


def _change_problems(errors: list[dict]) -> list[OrderProblem]:
    out = []
    for e in errors:
        code = str((e.get("ctx") or {}).get("error", ""))
        if e.get("type") == "value_error" and code in _CHANGE_WORDS:
            out.append(OrderProblem(*_CHANGE_WORDS[code]))
        else:
            out.extend(problems_from_errors([e]))
    return out


class PlainErrors(APIRoute):
    """Request errors as plain sentences next to their fields (FastAPI's own 422 speaks pydantic),
    counted as rejections."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        change = self.path.endswith("/replan")

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                # A body that is not even JSON fails before the token is checked: check it now, so
                # nobody without a token learns anything, nor adds to the count of bad orders.
                try:
                    require_api_token(request, get_settings(request), get_rejections(request), get_guard(request))
                except HTTPException as refused:
                    return JSONResponse({"detail": refused.detail}, status_code=refused.status_code,
                                        headers=refused.headers)
                errors = list(e.errors())
                problems = _change_problems(errors) if change else problems_from_errors(errors)
                get_rejections(request).add("orders", "invalid_change" if change else "invalid_order",
                                            f"{request.method} {request.url.path}: " +
                                            "; ".join(f"{p.field}: {p.en}" for p in problems))
                return _invalid("invalid_change" if change else "invalid_order", problems)

        return route


router = APIRouter(prefix="/api/v1/orders", tags=["orders"], dependencies=[Depends(require_api_token)],
                   route_class=PlainErrors, responses={401: {"description": "no or wrong API token"}})

Db = Annotated[Database, Depends(get_database)]
Settings = Annotated[HubSettings, Depends(get_settings)]
Rejected = Annotated[Rejections, Depends(get_rejections)]
NOT_FOUND = {404: {"model": Refused, "description": "no such order (or plan version)"}}


def _not_found(order_id: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "ko": f"주문 {order_id}(또는 그 계획)이 없습니다",
                         "en": f"no order {order_id} (or no such plan of it)"}, status_code=404)


def _conflict(e: service.Conflict) -> JSONResponse:
    return JSONResponse({"error": "conflict", "ko": e.ko, "en": e.en}, status_code=409)


def request_telemetry(request: Request) -> Any:
    return getattr(request.app.state, "telemetry", None)


def day_cache(request: Request, settings: HubSettings) -> DayCache:
    """Capacity's cache of past days' telemetry sums, shared with its own routes."""
    cache = getattr(request.app.state, "capacity_day_cache", None)
    if cache is None:
        cache = request.app.state.capacity_day_cache = DayCache(settings.capacity_evidence_ttl)
    return cache


def solver_turn(request: Request) -> anyio.CapacityLimiter:
    """One solve at a time per hub process: CP-SAT takes the cores it is given, and two solves
    side by side would each stop at the time limit with a worse plan. Others wait their turn."""
    limiter = getattr(request.app.state, "planning_solver", None)
    if limiter is None:
        limiter = request.app.state.planning_solver = anyio.CapacityLimiter(1)
    return limiter


def _capacity_note(found: service.Candidates) -> dict:
    return {"candidates": len(found.items), "days": found.days, "telemetry": found.telemetry,
            "calibrated": found.telemetry_reason is None, "reason": found.telemetry_reason}


# ----------------------------------------------------------------------------- routes
@router.post("", status_code=201, response_model=OrderOut, summary="A new bulk order",
             responses={409: {"model": Refused, "description": "an order with this id exists"},
                        422: {"model": Invalid, "description": "every problem, next to its field"}})
async def create(db: Db, rejections: Rejected, given: Annotated[OrderIn, Body()]):
    now = datetime.now(timezone.utc)
    order, problems = checked(given, service.today_in_seoul(now))
    if problems:
        rejections.add("orders", "invalid_order", "; ".join(f"{p.field}: {p.en}" for p in problems))
        return _invalid("invalid_order", problems)

    def store() -> service.OrderRecord:
        with db.session() as session:
            return service.create_order(session, order, now)

    try:
        record = await anyio.to_thread.run_sync(store)
    except service.Conflict as e:
        return _conflict(e)
    except IntegrityError:  # the same id sent twice at once
        return _conflict(service.Conflict(f"주문 번호 {order.id}는 이미 있습니다", f"an order {order.id} exists already"))
    log.info("order %s: %s × %d due %s", record.id, record.order.family, record.order.quantity, record.order.due)
    return record.to_dict()


@router.get("", response_model=OrderPage, summary="Orders, newest first")
def list_orders(db: Db, status: Annotated[Optional[Literal[ORDER_STATES]], Query()] = None,  # type: ignore[valid-type]
                family: Annotated[Optional[str], Query(max_length=40)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0):
    with db.session() as session:
        total = service.count_orders(session, status, family)
        items = service.list_orders(session, status, family, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [r.to_dict() for r in items]}


@router.get("/{order_id}", response_model=OrderDetail, summary="One order, with its plan versions in brief",
            responses=NOT_FOUND)
def read(db: Db, order_id: str):
    with db.session() as session:
        record = service.get_order(session, order_id)
        if record is None:
            return _not_found(order_id)
        return {**record.to_dict(), "plans": service.plan_versions(session, order_id)}


@router.post("/{order_id}/plan", response_model=PlannedOut,
             summary="Plan the order from scratch over today's spare capacity: the plan, explained",
             responses={**NOT_FOUND, 409: {"model": Refused, "description": "a cancelled order, or planned twice at "
                                                                           "the same moment"}})
async def plan(request: Request, db: Db, settings: Settings, order_id: str):
    """Candidates are the registry's workshops that sew the order's family, with capacity's spare
    SAM-minutes for the next `capacity_days` days less other orders' accepted work. The engine
    runs in a worker thread within its time limit; the answer is stored as the order's next
    version and made current. An order that cannot be met is answered 200 too, `feasible: false`,
    with the reasons and the nearest feasible alternatives."""
    try:
        planned = await service.plan(db, request_telemetry(request), settings, order_id,
                                     cache=day_cache(request, settings), solver=solver_turn(request))
    except service.NotFound:
        return _not_found(order_id)
    except service.Conflict as e:  # a cancelled order
        return _conflict(e)
    except IntegrityError:
        return _conflict(service.Conflict("같은 주문을 동시에 두 번 계획했습니다: 다시 해 주세요",
                                          "the order was planned twice at the same moment: send it again"))
    view = planned.view
    log.info("order %s planned: v%d %s, %d pieces over %d workshops", order_id, view["version"],
             view["status"], view["pieces"], len(view["assignments"]))
    return {**view, "capacity": _capacity_note(planned.capacity)}


@router.get("/{order_id}/plan", response_model=PlanOut, summary="A stored plan (the current one by default)",
            responses=NOT_FOUND)
def read_plan(db: Db, order_id: str, version: Annotated[Optional[int], Query(ge=1)] = None):
    with db.session() as session:
        try:
            return service.plan_view(session, order_id, version)
        except service.NotFound:
            return _not_found(order_id)


@router.get("/{order_id}/plans", summary="Every plan version in brief, oldest first", responses=NOT_FOUND)
def list_plans(db: Db, order_id: str) -> list[dict]:
    with db.session() as session:
        try:
            return service.plan_versions(session, order_id)
        except service.NotFound:
            return _not_found(order_id)


@router.post("/{order_id}/replan", response_model=PlannedOut,
             summary="Re-plan after a workshop declines or falls behind; started pieces stay",
             responses={**NOT_FOUND, 409: {"model": Refused, "description": "nothing to re-plan from"},
                        422: {"model": Invalid, "description": "a change that does not fit the plan"}})
async def replan(request: Request, db: Db, settings: Settings, rejections: Rejected, order_id: str,
                 change: Annotated[ChangeIn, Body()]):
    """Starts from the accepted plan (else the current one) and moves as few pieces as it can,
    never started ones; stored as the next version with `based_on`, `change` and `moved_pieces`.
    Accept it to book it in place of the earlier one."""
    try:
        planned = await service.replan(db, request_telemetry(request), settings, order_id, change.to_change(),
                                       cache=day_cache(request, settings), solver=solver_turn(request))
    except service.NotFound:
        return _not_found(order_id)
    except service.ChangeRefused as e:
        rejections.add("orders", "invalid_change", f"{order_id}: {e.field}: {e.en}")
        return _invalid("invalid_change", [OrderProblem(e.field, e.ko, e.en)])
    except service.Conflict as e:
        return _conflict(e)
    except IntegrityError:
        return _conflict(service.Conflict("같은 주문을 동시에 두 번 계획했습니다: 다시 해 주세요",
                                          "the order was planned twice at the same moment: send it again"))
    view = planned.view
    log.info("order %s re-planned: v%d from v%s, %s pieces moved", order_id, view["version"], view["based_on"],
             view["moved_pieces"])
    return {**view, "capacity": _capacity_note(planned.capacity)}


@router.post("/{order_id}/accept", response_model=PlanOut,
             summary="Accept the current plan: its minutes are booked on the workshops' machines",
             responses={**NOT_FOUND, 409: {"model": Refused, "description": "no plan, a superseded version, a "
                                                                           "plan that does not meet the order, or "
                                                                           "a cancelled order"}})
def accept(db: Db, settings: Settings, order_id: str, body: Annotated[Optional[AcceptIn], Body()] = None):
    """From then on capacity (`GET /api/v1/capacity/sam`) subtracts the plan's minutes per
    workshop, machine type and day as committed; accepting a later version replaces them. The
    plan becomes offers to its workshops (`GET …/offers`), answered by `offer_response_hours`."""
    try:
        with db.session() as session:
            view = service.accept(session, order_id, body.version if body else None, settings=settings)
    except service.NotFound:
        return _not_found(order_id)
    except service.Conflict as e:
        return _conflict(e)
    log.info("order %s: plan v%d accepted", order_id, view["version"])
    return view
