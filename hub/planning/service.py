"""Orders and their plans in the hub's relational store, and the glue that plans them: candidates
from the registry and capacity, the engine in a worker thread, every plan version kept, accepted
work booked where capacity can see it. Plain Python; no web.

Reading and writing rows take a SQLAlchemy session from the caller (`with db.session() as s:`);
the steps that plan take the Database itself, because a solve runs for seconds and must not hold
a transaction open meanwhile:

    with db.session() as s:
        record = create_order(s, order, now)            # an engine Order, checked by hub.planning.intake
    view = await plan(db, telemetry, settings, record.id)           # version 1, with explanations
    with db.session() as s:
        accept(s, record.id, view["version"], now)      # books its minutes on the workshops' machines
    with db.session() as s:
        cancel_order(s, record.id, now)                 # offers withdrawn, minutes released, no more plans
    view = await replan(db, telemetry, settings, record.id, Change(declined=("ws-a",), started={"ws-b": 400}))

Candidates: the workshops the registry says sew the order's family (and, for a re-plan, every
workshop the plan it starts from used), with capacity's spare SAM-minutes per machine type for
the next `capacity_days` days, which already subtract the minutes other orders' accepted plans
booked. An order's own booking is left out of its own candidates' capacity: planning it again
re-plans that work, it does not compete with it.

`AcceptedWork` is the CommitmentSource the hub hands capacity (hub.app wires it): capacity
subtracts what planning booked without importing planning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub import registry
from hub.capacity import Commitment as Booked
from hub.capacity import SourceUnavailable, profile_from_registry
from hub.capacity.service import DayCache, rules_from, spare_capacity
from hub.core.db import Database, utc
from hub.core.settings import HubSettings
from hub.planning.allocation import DEFAULT_LIMITS, plan_order, replan_order
from hub.planning.cpsat import Limits
from hub.planning.model import Candidate, Order, Plan, Weights, candidates_from_capacity
from hub.planning.offer_sync import sync_offers, withdraw_all
from hub.planning.tables import Assignment, AssignmentDay
from hub.planning.tables import Commitment as CommitmentRow
from hub.planning.tables import Order as OrderRow
from hub.planning.tables import Plan as PlanRow

__all__ = ["AcceptedWork", "Change", "ChangeRefused", "Conflict", "NotFound", "OrderRecord", "Planned", "accept",
           "booked", "cancel_order", "Cancelled", "candidates", "count_orders", "create_order", "get_order",
           "list_orders", "order_from_row",
           "plan", "plan_unsaved", "plan_view", "plan_versions", "replan", "save_plan", "today_in_seoul",
           "unsaved_view", "utc_now", "Finish", "earliest_finish"]

SEOUL = ZoneInfo("Asia/Seoul")
#: Rows per IN (...) list: well inside SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 1000


# ============================================================================ errors
class NotFound(LookupError):
    """No such order, or no such plan version of it."""


class Conflict(Exception):
    """The request clashes with the order's state; `ko` and `en` say how, for a person."""

    def __init__(self, ko: str, en: str):
        super().__init__(en)
        self.ko, self.en = ko, en


class ChangeRefused(Conflict):
    """A re-plan's change that does not fit the plan it starts from; `field` names the part."""

    def __init__(self, field_name: str, ko: str, en: str):
        super().__init__(ko, en)
        self.field = field_name


# ============================================================================ orders
@dataclass(frozen=True)
class OrderRecord:
    """A stored order: the engine's Order and where it stands."""

    order: Order
    status: str
    current_version: Optional[int]
    accepted_version: Optional[int]
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> str:
        return self.order.id

    def to_dict(self) -> dict:
        o = self.order
        return {"id": o.id, "style": o.style, "family": o.family, "quantity": o.quantity, "due": o.due.isoformat(),
                "sam_minutes": dict(o.sam_minutes), "sam_total": round(o.sam_total, 4), "bundle_size": o.bundle_size,
                "min_lot": o.min_lot, "max_workshops": o.max_workshops, "price_per_piece_krw": o.price_per_piece_krw,
                "panels": None if o.panels is None else {"lat": o.panels[0], "lon": o.panels[1]},
                "panels_ready": o.panels_ready.isoformat() if o.panels_ready else None,
                "transport_days": o.transport_days, "status": self.status, "current_version": self.current_version,
                "accepted_version": self.accepted_version, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


def order_from_row(row: OrderRow) -> OrderRecord:
    panels = None if row.panels_lat is None or row.panels_lon is None else (row.panels_lat, row.panels_lon)
    order = Order(id=row.id, style=row.style, family=row.family, sam_minutes=dict(row.sam_minutes),
                  quantity=row.quantity, due=row.due, bundle_size=row.bundle_size, min_lot=row.min_lot,
                  max_workshops=row.max_workshops, price_per_piece_krw=row.price_per_piece_krw, panels=panels,
                  panels_ready=row.panels_ready, transport_days=row.transport_days)
    return OrderRecord(order, row.status, row.current_version, row.accepted_version, utc(row.created_at),
                       utc(row.updated_at))


def create_order(session: Session, order: Order, now: datetime | None = None) -> OrderRecord:
    """Store a new order (checked already: hub.planning.intake). Conflict when its id is taken."""
    now = now or datetime.now(timezone.utc)
    if session.get(OrderRow, order.id) is not None:
        raise Conflict(f"주문 번호 {order.id}는 이미 있습니다", f"an order {order.id} exists already")
    row = OrderRow(id=order.id, style=order.style, family=order.family, sam_minutes=dict(order.sam_minutes),
                   quantity=order.quantity, due=order.due, bundle_size=order.bundle_size, min_lot=order.min_lot,
                   max_workshops=order.max_workshops, price_per_piece_krw=order.price_per_piece_krw,
                   panels_lat=order.panels[0] if order.panels else None,
                   panels_lon=order.panels[1] if order.panels else None, panels_ready=order.panels_ready,
                   transport_days=order.transport_days, status="draft", current_version=None, accepted_version=None,
                   created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return order_from_row(row)


def get_order(session: Session, order_id: str) -> OrderRecord | None:
    row = session.get(OrderRow, order_id)
    return None if row is None else order_from_row(row)


def _order_filter(status: str | None, family: str | None) -> list:
    where = []
    if status is not None:
        where.append(OrderRow.status == status)
    if family is not None:
        where.append(OrderRow.family == family)
    return where


def list_orders(session: Session, status: str | None = None, family: str | None = None, limit: int | None = 100,
                offset: int = 0) -> list[OrderRecord]:
    """Orders, newest first."""
    query = (select(OrderRow).where(*_order_filter(status, family))
             .order_by(OrderRow.created_at.desc(), OrderRow.id).limit(limit).offset(offset))
    return [order_from_row(r) for r in session.scalars(query)]


def count_orders(session: Session, status: str | None = None, family: str | None = None) -> int:
    return session.scalar(select(func.count()).select_from(OrderRow).where(*_order_filter(status, family)))


def _order_row(session: Session, order_id: str, lock: bool = False) -> OrderRow:
    query = select(OrderRow).where(OrderRow.id == order_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(order_id)
    return row


def _refuse_cancelled(status: str) -> None:
    if status == "cancelled":
        raise Conflict("취소된 주문입니다: 다시 계획하거나 승인할 수 없습니다",
                       "the order was cancelled: it cannot be planned or accepted again")


@dataclass(frozen=True)
class Cancelled:
    """What cancelling an order did: the offers withdrawn and the SAM-minutes no longer booked."""

    order_id: str
    withdrawn: list[str]
    released_minutes: float
    already: bool  # it was cancelled before: nothing changed


def cancel_order(session: Session, order_id: str, now: datetime | None = None) -> Cancelled:
    """Take the order back: its live offers (offered or accepted) withdrawn, so each workshop's
    gateway shows them withdrawn and refuses answers to them; the minutes its accepted plan booked
    released, so capacity offers them again; the order `cancelled`, which plan, replan and accept
    refuse (Conflict) from then on. Its plan versions stay, for the record. Cancelling twice
    changes nothing the second time. NotFound for an unknown order."""
    now = now or datetime.now(timezone.utc)
    order = _order_row(session, order_id, lock=True)
    if order.status == "cancelled":
        return Cancelled(order_id, [], 0.0, True)
    withdrawn = withdraw_all(session, order_id, now)
    released = session.scalar(select(func.coalesce(func.sum(CommitmentRow.minutes), 0.0))
                              .where(CommitmentRow.order_id == order_id)) or 0.0
    session.execute(delete(CommitmentRow).where(CommitmentRow.order_id == order_id))
    order.status, order.updated_at = "cancelled", now
    session.flush()
    return Cancelled(order_id, withdrawn, float(released), False)


# ============================================================================ plans in the store
def save_plan(session: Session, order_id: str, result: Plan, now: datetime | None = None,
              based_on: int | None = None, change: Mapping[str, Any] | None = None) -> int:
    """Store `result` as the order's next version and make it current; returns the version.
    Two plans saved for one order at once: one of them gets an IntegrityError (same version)."""
    now = now or datetime.now(timezone.utc)
    row = _order_row(session, order_id, lock=True)
    _refuse_cancelled(row.status)  # cancelled while the solve ran
    latest = session.scalar(select(func.max(PlanRow.version)).where(PlanRow.order_id == order_id)) or 0
    version = latest + 1
    d = result.to_dict()
    solve = d["solve"]
    session.add(PlanRow(
        order_id=order_id, version=version, feasible=result.feasible, method=solve["method"], status=solve["status"],
        objective=solve["objective"], bound=solve["bound"], gap=solve["gap"], seconds=solve["seconds"],
        pieces=result.pieces, first_day=result.first_day, last_day=result.last_day, cost=d["cost"],
        expected_late_pieces=d["expected_late_pieces"],
        explanations={k: d[k] for k in ("reasons", "alternatives", "left_out", "funnel", "solve")},
        based_on=based_on, change=dict(change) if change is not None else None, moved_pieces=result.moved_pieces,
        created_at=now, accepted_at=None))
    session.flush()  # the plan before the rows that point at it
    for position, a in enumerate(d["assignments"]):
        session.add(Assignment(
            order_id=order_id, version=version, workshop_id=a["workshop"], position=position, name_ko=a["name_ko"],
            name_en=a["name_en"], pieces=a["pieces"], bundles=a["bundles"], started=a["started"],
            capacity_pieces=a["capacity_pieces"], binding_machine_type=a["binding_machine_type"],
            distance_km=a["distance_km"], on_time_rate=a["on_time_rate"], orders_delivered=a["orders_delivered"],
            expected_late_pieces=a["expected_late_pieces"], cost=a["cost"], per_piece_krw=a["per_piece_krw"],
            reasons=a["reasons"]))
    session.flush()
    session.add_all(AssignmentDay(order_id=order_id, version=version, workshop_id=a["workshop"],
                                  day=date.fromisoformat(s["day"]), pieces=s["pieces"], capacity=s["capacity"],
                                  minutes=s["minutes"])
                    for a in d["assignments"] for s in a["schedule"])
    row.current_version = version
    row.status = _status(result.feasible, version, row.accepted_version)
    row.updated_at = now
    session.flush()
    return version


def _status(feasible: bool, current: int | None, accepted: int | None) -> str:
    if current is None:
        return "draft"
    if accepted is not None and accepted == current:
        return "accepted"
    if not feasible:
        return "infeasible"
    return "replanned" if accepted is not None else "planned"


def plan_versions(session: Session, order_id: str) -> list[dict]:
    """Every version of an order's plan, in brief, oldest first."""
    _order_row(session, order_id)
    rows = session.scalars(select(PlanRow).where(PlanRow.order_id == order_id).order_by(PlanRow.version))
    return [{"version": r.version, "feasible": r.feasible, "status": r.status, "pieces": r.pieces,
             "objective": r.objective, "bound": r.bound, "gap": r.gap, "based_on": r.based_on,
             "moved_pieces": r.moved_pieces, "created_at": utc(r.created_at).isoformat(),
             "accepted_at": utc(r.accepted_at).isoformat() if r.accepted_at else None} for r in rows]


def plan_view(session: Session, order_id: str, version: int | None = None) -> dict:
    """A stored plan version (the current one by default) in the engine's own shape
    (`Plan.to_dict()`), plus where it stands: version, current, accepted, objective, bound, gap,
    what it re-planned and when. NotFound for an unknown order or version, or an order not
    planned yet."""
    order = _order_row(session, order_id)
    version = version if version is not None else order.current_version
    row = session.get(PlanRow, (order_id, version)) if version is not None else None
    if row is None:
        raise NotFound(f"{order_id} v{version}")
    days: dict[str, list[AssignmentDay]] = {}
    for d in session.scalars(select(AssignmentDay).where(AssignmentDay.order_id == order_id,
                                                         AssignmentDay.version == version)
                             .order_by(AssignmentDay.workshop_id, AssignmentDay.day)):
        days.setdefault(d.workshop_id, []).append(d)
    assignments = []
    for a in session.scalars(select(Assignment).where(Assignment.order_id == order_id, Assignment.version == version)
                             .order_by(Assignment.position)):
        assignments.append({
            "workshop": a.workshop_id, "name_ko": a.name_ko, "name_en": a.name_en, "pieces": a.pieces,
            "bundles": a.bundles, "started": a.started, "capacity_pieces": a.capacity_pieces,
            "binding_machine_type": a.binding_machine_type, "distance_km": a.distance_km,
            "on_time_rate": a.on_time_rate, "orders_delivered": a.orders_delivered,
            "expected_late_pieces": a.expected_late_pieces, "cost": a.cost,
            "schedule": [{"day": d.day.isoformat(), "pieces": d.pieces, "capacity": d.capacity, "minutes": d.minutes}
                         for d in days.get(a.workshop_id, ())],
            "reasons": a.reasons, "per_piece_krw": a.per_piece_krw})
    ex = row.explanations
    return {
        "order": order_id, "feasible": row.feasible, "pieces": row.pieces, "first_day": row.first_day.isoformat(),
        "last_day": row.last_day.isoformat(), "assignments": assignments, "cost": row.cost,
        "expected_late_pieces": row.expected_late_pieces, "solve": ex["solve"], "left_out": ex["left_out"],
        "reasons": ex["reasons"], "alternatives": ex["alternatives"], "funnel": ex["funnel"],
        "moved_pieces": row.moved_pieces,
        # Where it stands, and the solver's figures at the top for a quick look.
        "version": row.version, "current": row.version == order.current_version,
        "accepted": row.version == order.accepted_version, "status": row.status, "objective": row.objective,
        "bound": row.bound, "gap": row.gap, "based_on": row.based_on, "change": row.change,
        "created_at": utc(row.created_at).isoformat(),
        "accepted_at": utc(row.accepted_at).isoformat() if row.accepted_at else None,
    }


def accept(session: Session, order_id: str, version: int | None = None, now: datetime | None = None,
           settings: HubSettings | None = None) -> dict:
    """Accept the order's current plan (`version`, when given, must be it): its days' minutes are
    booked on the workshops' machines (replacing what an earlier accepted version booked), and
    capacity subtracts them from then on. The plan becomes offers to its workshops in the same
    transaction (hub.planning.offer_sync), answered by `settings.offer_response_hours` (the
    setting's default without settings). Conflict for an infeasible or superseded version, or a
    cancelled order."""
    now = now or datetime.now(timezone.utc)
    hours = (settings.offer_response_hours if settings is not None
             else HubSettings.model_fields["offer_response_hours"].default)
    order = _order_row(session, order_id, lock=True)
    _refuse_cancelled(order.status)
    if order.current_version is None:
        raise Conflict("아직 계획이 없습니다: 먼저 계획을 세우세요", "the order has no plan yet: plan it first")
    version = order.current_version if version is None else version
    row = session.get(PlanRow, (order_id, version))
    if row is None:
        raise NotFound(f"{order_id} v{version}")
    if version != order.current_version:
        raise Conflict(f"{version}판은 지난 계획입니다: 최신 {order.current_version}판을 확인하고 승인하세요",
                       f"version {version} is not the current plan: review version {order.current_version} "
                       "and accept that")
    if not row.feasible:
        raise Conflict("이 계획으로는 주문을 맞출 수 없어 승인할 수 없습니다",
                       "this plan cannot meet the order, so it cannot be accepted")
    if order.accepted_version != version:
        session.execute(delete(CommitmentRow).where(CommitmentRow.order_id == order_id))
        minutes: dict[tuple[str, str, date], float] = {}
        for d in session.scalars(select(AssignmentDay).where(AssignmentDay.order_id == order_id,
                                                             AssignmentDay.version == version)):
            for machine_type, m in d.minutes.items():
                if m > 0:
                    key = (d.workshop_id, machine_type, d.day)
                    minutes[key] = minutes.get(key, 0.0) + m
        session.add_all(CommitmentRow(order_id=order_id, workshop_id=w, machine_type=t, day=day, version=version,
                                      minutes=m) for (w, t, day), m in minutes.items())
        sync_offers(session, order_id, version, now, hours)
        row.accepted_at = now
        order.accepted_version = version
        order.status = _status(True, order.current_version, version)
        order.updated_at = now
    session.flush()
    return plan_view(session, order_id, version)


def booked(session: Session, first_day: date, last_day: date, workshops: Sequence[str] | None = None,
           except_order: str | None = None) -> list[Booked]:
    """Minutes accepted plans booked per workshop, machine type and day from first_day to
    last_day (every workshop when None), as capacity's Commitments; leaving out one order's."""
    base = select(CommitmentRow).where(CommitmentRow.day >= first_day, CommitmentRow.day <= last_day)
    if except_order is not None:
        base = base.where(CommitmentRow.order_id != except_order)
    queries = [base] if workshops is None else [base.where(CommitmentRow.workshop_id.in_(list(chunk)))
                                                for chunk in _chunks(sorted(set(workshops)))]
    out = []
    for query in queries:
        out.extend(Booked(r.workshop_id, r.machine_type, r.day, r.minutes, f"{r.order_id} v{r.version}")
                   for r in session.scalars(query))
    return out


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class AcceptedWork:
    """The CommitmentSource capacity reads accepted work from (hub.app sets it as
    `commitment_source`): synchronous, over the hub's database, so capacity calls it in a worker
    thread."""

    def __init__(self, database: Database):
        self.database = database

    def commitments(self, first_day: date, last_day: date, workshops: Sequence[str]) -> list[Booked]:
        if not workshops:
            return []
        try:
            with self.database.session() as session:
                return booked(session, first_day, last_day, workshops)
        except SQLAlchemyError as e:
            reason = str(getattr(e, "orig", None) or e).strip().splitlines()
            raise SourceUnavailable(f"the hub's database did not answer: {reason[0] if reason else type(e).__name__}"
                                    ) from None


# ============================================================================ planning
def today_in_seoul(now: datetime) -> date:
    """The first day capacity counts (its days are Seoul's)."""
    return now.astimezone(SEOUL).date()


@dataclass(frozen=True)
class Candidates:
    """The workshops an order may go to and how their capacity was read."""

    items: list[Candidate]
    telemetry: str
    telemetry_reason: Optional[str]  # None: calibrated by telemetry; else why declared figures only
    days: int


async def candidates(database: Database, telemetry: Any, settings: HubSettings, order: Order, now: datetime,
                     cache: DayCache | None = None, keep: Iterable[str] = (), except_order: str | None = None
                     ) -> Candidates:
    """Workshops that sew the order's family, and those in `keep`, with their spare SAM-minutes
    for the next `capacity_days` days less what accepted plans (but `except_order`'s) booked.
    `telemetry` is the hub's telemetry port (None: the registry's declared figures only)."""
    rules = rules_from(settings)
    today = today_in_seoul(now)
    last = date.fromordinal(today.toordinal() + rules.days - 1)
    keep = set(keep)

    def read() -> tuple[list, list[Booked]]:
        with database.session() as session:
            records = registry.workshops(session, family=order.family)
            missing = keep - {r.id for r in records}
            if missing:
                records += registry.workshops(session, ids=sorted(missing))
            work = booked(session, today, last, [r.id for r in records], except_order=except_order)
        return records, work

    records, work = await anyio.to_thread.run_sync(read)
    profiles = [profile_from_registry(r) for r in records]
    outcome = await spare_capacity(telemetry, profiles, work, rules, settings.known_window, now, cache)
    items = candidates_from_capacity(outcome.workshops, records)
    return Candidates(items, outcome.telemetry, outcome.telemetry_reason, rules.days)


@dataclass(frozen=True)
class Change:
    """What a re-plan is told: workshops that declined (they keep only what they started),
    workshops that fell behind (`reduced[workshop]`: the share of their spare capacity still there,
    0 to 1), and pieces already started per workshop (never moved)."""

    declined: tuple[str, ...] = ()
    reduced: Mapping[str, float] = field(default_factory=dict)
    started: Mapping[str, int] = field(default_factory=dict)
    note: str = ""
    #: Workshops that take at most this many pieces: they accepted their share but declined (or
    #: let expire) the extra a re-plan asked of them.
    capped: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"declined": list(self.declined), "reduced": dict(self.reduced), "started": dict(self.started),
               "note": self.note}
        if self.capped:
            out["capped"] = dict(self.capped)
        return out


def names() -> dict[str, tuple[str, str]]:
    """Korean and English names of the registry's machine types and families, for the engine's sentences."""
    return {**registry.MACHINE_TYPES, **registry.FAMILIES}


def limits_for(settings: HubSettings) -> Limits:
    """The engine's solver limits with the settings' time limit. The engine's deterministic work
    budget stays: the same order over the same capacity gives the same plan on any machine, unless
    the time limit cuts the solve short first (the plan then says `stopped_by`)."""
    return dataclasses.replace(DEFAULT_LIMITS, time_limit_s=settings.planning_time_limit.total_seconds())


def _order_record(database: Database, order_id: str) -> OrderRecord:
    with database.session() as session:
        record = get_order(session, order_id)
    if record is None:
        raise NotFound(order_id)
    return record


@dataclass(frozen=True)
class Planned:
    view: dict  # plan_view of the new version
    capacity: Candidates


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


async def _afresh(database: Database, telemetry: Any, settings: HubSettings, order: Order, when: datetime,
                  cache: DayCache | None, weights: Weights, solver: anyio.CapacityLimiter | None
                  ) -> tuple[Plan, Candidates]:
    found = await candidates(database, telemetry, settings, order, when, cache, except_order=order.id)
    result = await anyio.to_thread.run_sync(lambda: plan_order(
        order, found.items, today=today_in_seoul(when), weights=weights, limits=limits_for(settings), names=names()),
        limiter=solver)
    return result, found


async def plan(database: Database, telemetry: Any, settings: HubSettings, order_id: str,
               when: datetime | None = None, cache: DayCache | None = None, weights: Weights = Weights(),
               solver: anyio.CapacityLimiter | None = None) -> Planned:
    """Plan the order from scratch over today's candidates and store it as its next version.
    `solver` bounds how many solves run at once (the solver takes every core it is given).
    Conflict for a cancelled order."""
    when = when or utc_now()
    record = await anyio.to_thread.run_sync(_order_record, database, order_id)
    _refuse_cancelled(record.status)  # before a solve for nothing; save_plan checks again under lock
    result, found = await _afresh(database, telemetry, settings, record.order, when, cache, weights, solver)
    return Planned(await anyio.to_thread.run_sync(_save, database, order_id, result, when, None, None), found)


async def plan_unsaved(database: Database, telemetry: Any, settings: HubSettings, order: Order,
                       when: datetime | None = None, cache: DayCache | None = None,
                       weights: Weights = Weights()) -> tuple[dict, Candidates]:
    """Plan an order that need not be stored (the CLI's what-if): the view `plan_view` would give,
    with no version."""
    result, found = await _afresh(database, telemetry, settings, order, when or utc_now(), cache, weights, None)
    return unsaved_view(result), found


def unsaved_view(result: Plan) -> dict:
    """An engine plan in the shape `plan_view` gives a stored one."""
    d = result.to_dict()
    solve = d["solve"]
    return {**d, "version": None, "current": False, "accepted": False, "status": solve["status"],
            "objective": solve["objective"], "bound": solve["bound"], "gap": solve["gap"], "based_on": None,
            "change": None, "created_at": None, "accepted_at": None}


def _save(database: Database, order_id: str, result: Plan, now: datetime, based_on: int | None,
          change: Mapping[str, Any] | None) -> dict:
    with database.session() as session:
        version = save_plan(session, order_id, result, now, based_on, change)
        return plan_view(session, order_id, version)


def _base(database: Database, order_id: str) -> tuple[OrderRecord, dict]:
    """The plan a re-plan starts from: the accepted version, else the current one if feasible."""
    with database.session() as session:
        record = get_order(session, order_id)
        if record is None:
            raise NotFound(order_id)
        _refuse_cancelled(record.status)
        version = record.accepted_version or record.current_version
        if version is None:
            raise Conflict("아직 계획이 없어 다시 계획할 수 없습니다: 먼저 계획을 세우세요",
                           "the order has no plan to re-plan yet: plan it first")
        base = plan_view(session, order_id, version)
    if not base["feasible"]:
        raise Conflict("지금 계획이 주문을 맞추지 못합니다: 다시 계획하지 말고 새로 계획하세요",
                       "the current plan does not meet the order: plan it from scratch instead of re-planning")
    return record, base


def _check_change(change: Change, pieces: Mapping[str, int]) -> None:
    for name, workshops in (("declined", change.declined), ("reduced", list(change.reduced)),
                            ("started", list(change.started)), ("capped", list(change.capped))):
        strangers = [w for w in workshops if w not in pieces]
        if strangers:
            raise ChangeRefused(name, f"이 계획에 없는 작업장입니다: {', '.join(strangers)}",
                                f"not in the plan being re-planned: {', '.join(strangers)}")
    for w, n in change.started.items():
        if n > pieces[w]:
            raise ChangeRefused("started", f"{w}: 시작한 {n:,}벌이 맡은 {pieces[w]:,}벌보다 많습니다",
                                f"{w}: {n:,} pieces started is more than the {pieces[w]:,} it was given")


def _scaled(c: Candidate, share: float) -> Candidate:
    return dataclasses.replace(c, spare_minutes={t: {d: m * share for d, m in days.items()}
                                                 for t, days in c.spare_minutes.items()})


async def replan(database: Database, telemetry: Any, settings: HubSettings, order_id: str, change: Change,
                 when: datetime | None = None, cache: DayCache | None = None, weights: Weights = Weights(),
                 solver: anyio.CapacityLimiter | None = None) -> Planned:
    """Re-plan from the accepted (else current) plan after `change`, moving as few pieces as the
    engine can and never started ones; stored as the next version, based on that one. Conflict
    for a cancelled order or one with no feasible plan to start from."""
    when = when or utc_now()
    record, base = await anyio.to_thread.run_sync(_base, database, order_id)
    previous = {a["workshop"]: a["pieces"] for a in base["assignments"]}
    _check_change(change, previous)
    found = await candidates(database, telemetry, settings, record.order, when, cache, keep=previous,
                             except_order=order_id)
    items = [_scaled(c, change.reduced[c.id]) if c.id in change.reduced else c for c in found.items]
    result = await anyio.to_thread.run_sync(lambda: replan_order(
        record.order, items, previous, today=today_in_seoul(when), started=dict(change.started),
        declined=change.declined, capped=dict(change.capped), weights=weights, limits=limits_for(settings), names=names()), limiter=solver)
    view = await anyio.to_thread.run_sync(_save, database, order_id, result, when, base["version"], change.to_dict())
    return Planned(view, dataclasses.replace(found, items=items))


# ============================================================================ one piece, soonest
@dataclass(frozen=True)
class Finish:
    """The first day a workshop has the spare minutes to sew `pieces` of a style on every machine
    type it needs (the kiosk's promise before it plans)."""

    workshop_id: str
    name_ko: str
    name_en: str
    day: date
    price_per_sam_minute_krw: float


async def earliest_finish(database: Database, telemetry: Any, settings: HubSettings, family: str,
                          sam_minutes: Mapping[str, float], now: datetime, pieces: int = 1,
                          first_day: date | None = None, exclude: Iterable[str] = ()) -> list[Finish]:
    """Per workshop that sews `family` and takes so few pieces, its first day from `first_day`
    (default today, Seoul) with spare SAM-minutes for them on every machine type, soonest first
    (cheaper first on the same day): the same capacity and rules `plan` uses (accepted work
    subtracted, today only after `now`), without a solve, so a kiosk can ask on every screen.
    Empty: no workshop can within capacity's horizon."""
    today = today_in_seoul(now)
    probe = Order(id="probe", style="probe", family=family, sam_minutes=dict(sam_minutes), quantity=pieces,
                  due=date.fromordinal(today.toordinal() + 1), bundle_size=pieces)
    found = await candidates(database, telemetry, settings, probe, now)
    start = max(first_day or today, today)
    skip = set(exclude)
    out: list[Finish] = []
    for c in found.items:
        if c.id in skip or c.min_order_pieces > pieces:
            continue
        days = sorted({d for t in c.spare_minutes.values() for d in t})
        for d in days:
            if d >= start and all(c.spare_minutes.get(t, {}).get(d, 0.0) >= m * pieces
                                  for t, m in sam_minutes.items() if m > 0):
                out.append(Finish(c.id, c.name_ko, c.name_en, d, c.price_per_sam_minute_krw))
                break
    return sorted(out, key=lambda f: (f.day, f.price_per_sam_minute_krw, f.workshop_id))
