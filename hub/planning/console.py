"""What the coordinator's console shows, gathered in plain Python (no web): the network's loading
per workshop, machine type and day; one workshop's machines, history and accepted work; a
re-plan's difference from the accepted plan; a plan as CSV rows.

The network page must stay quick over the whole market (1,000 to 7,000 workshops): without a
free-capacity filter only the page's workshops are computed; with one, every workshop the other
filters leave is (capacity's computation is about a millisecond a workshop), then paged.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Optional

import anyio
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import registry
from hub.capacity import profile_from_registry, spare_capacity
from hub.capacity.service import DayCache, rules_from
from hub.core.db import Database, utc
from hub.core.settings import HubSettings
from hub.planning.service import booked, today_in_seoul
from hub.planning.tables import Assignment, AssignmentDay
from hub.planning.tables import Order as OrderRow

PER_PAGE = 25


# ============================================================================ the network
@dataclass(frozen=True)
class TypeLoad:
    machine_type: str
    name_ko: str
    name_en: str
    machines: int
    days: list[tuple[date, float, float]]  # (day, capacity, committed) SAM-minutes


@dataclass(frozen=True)
class NetworkRow:
    workshop: Any  # registry.WorkshopInfo
    types: list[TypeLoad]
    capacity: float  # SAM-minutes over the days
    committed: float
    last_data: Optional[datetime]

    @property
    def free(self) -> float:
        return max(self.capacity - self.committed, 0.0)

    @property
    def booked_share(self) -> float:
        return self.committed / self.capacity if self.capacity > 0 else 0.0


@dataclass(frozen=True)
class NetworkPage:
    rows: list[NetworkRow]
    total: int  # workshops that meet the filters
    page: int
    pages: int
    per_page: int
    days: list[date]
    telemetry_reason: Optional[str]
    dongs: list[tuple[str, int, str, str]] = field(default_factory=list)


class NetworkCache:
    """The whole network's rows for a free-capacity filter, kept `ttl` per (family, dong, day, the
    latest change to any order): paging through a filtered list or trying another minimum then
    costs no recomputation, and accepting a plan anywhere shows at once."""

    def __init__(self, ttl: timedelta = timedelta(seconds=60)):
        self.ttl = ttl
        self._entries: dict[tuple, tuple[datetime, list["NetworkRow"], Optional[str]]] = {}

    def get(self, key: tuple, now: datetime) -> Optional[tuple[list["NetworkRow"], Optional[str]]]:
        hit = self._entries.get(key)
        if hit is None or not timedelta(0) <= now - hit[0] < self.ttl:
            return None
        return hit[1], hit[2]

    def put(self, key: tuple, now: datetime, rows: list["NetworkRow"], reason: Optional[str]) -> None:
        self._entries = {k: v for k, v in self._entries.items() if timedelta(0) <= now - v[0] < self.ttl}
        self._entries[key] = (now, rows, reason)


def _rows(outcome: Any, records: list) -> list[NetworkRow]:
    by_id = {r.id: r for r in records}
    rows = []
    for w in outcome.workshops:
        types = []
        capacity = committed = 0.0
        for t in w.types:
            ko, en = registry.MACHINE_TYPES.get(t.machine_type, (t.machine_type, t.machine_type))
            capacity += sum(d.capacity for d in t.days)
            committed += sum(d.committed for d in t.days)
            types.append(TypeLoad(t.machine_type, ko, en, t.machines, [(d.day, d.capacity, d.committed)
                                                                       for d in t.days]))
        rows.append(NetworkRow(by_id[w.workshop], types, capacity, committed, w.last_data))
    return rows


async def network(database: Database, telemetry: Any, settings: HubSettings, *, family: str | None = None,
                  dong: str | None = None, min_free: float | None = None, page: int = 1, per_page: int = PER_PAGE,
                  now: datetime, cache: DayCache | None = None, rows_cache: NetworkCache | None = None
                  ) -> NetworkPage:
    """One page of the network's workshops (by id) with their loading for the next
    `capacity_days` days; `min_free`: only those with at least that many spare SAM-minutes over them."""
    rules = rules_from(settings)
    today = today_in_seoul(now)
    last = today + timedelta(days=rules.days - 1)
    whole = min_free is not None and min_free > 0

    def read(with_records: bool) -> tuple[list, int, list, list, Any]:
        with database.session() as session:
            total = registry.count(session, "workshops", family=family, dong=dong)
            changed = session.scalar(select(func.max(OrderRow.updated_at)))
            records: list = []
            if with_records:
                records = registry.workshops(session, family=family, dong=dong,
                                             limit=None if whole else per_page,
                                             offset=0 if whole else (page - 1) * per_page)
            work = booked(session, today, last, [r.id for r in records]) if records else []
            return records, total, work, registry.dongs(session), changed

    if whole:
        _, total, _, dongs, changed = await anyio.to_thread.run_sync(read, False)
        key = (family, dong, today, changed)
        hit = rows_cache.get(key, now) if rows_cache is not None else None
        if hit is None:
            records, total, work, dongs, _ = await anyio.to_thread.run_sync(read, True)
            outcome = await spare_capacity(telemetry, [profile_from_registry(r) for r in records], work, rules,
                                           settings.known_window, now, cache)
            hit = (_rows(outcome, records), outcome.telemetry_reason)
            if rows_cache is not None:
                rows_cache.put(key, now, *hit)
        all_rows, reason = hit
        rows = [r for r in all_rows if r.free >= min_free]
        total = len(rows)
        rows = rows[(page - 1) * per_page: page * per_page]
    else:
        records, total, work, dongs, _ = await anyio.to_thread.run_sync(read, True)
        outcome = await spare_capacity(telemetry, [profile_from_registry(r) for r in records], work, rules,
                                       settings.known_window, now, cache)
        rows, reason = _rows(outcome, records), outcome.telemetry_reason
    pages = max(1, math.ceil(total / per_page))
    return NetworkPage(rows, total, page, pages, per_page, [today + timedelta(days=i) for i in range(rules.days)],
                       reason, dongs)


# ============================================================================ one workshop
@dataclass(frozen=True)
class AcceptedJob:
    order_id: str
    style: str
    due: date
    version: int
    pieces: int
    first_day: Optional[date]
    last_day: Optional[date]
    status: str


def accepted_work(session: Session, workshop_id: str) -> list[AcceptedJob]:
    """The work this workshop holds in accepted plans, by due date."""
    # The first and last sewing day of each, in the same read (not one more per order).
    span = (select(AssignmentDay.order_id, AssignmentDay.version, func.min(AssignmentDay.day).label("first"),
                   func.max(AssignmentDay.day).label("last"))
            .where(AssignmentDay.workshop_id == workshop_id, AssignmentDay.pieces > 0)
            .group_by(AssignmentDay.order_id, AssignmentDay.version).subquery())
    query = (select(Assignment, OrderRow, span.c.first, span.c.last)
             .join(OrderRow, (OrderRow.id == Assignment.order_id) & (OrderRow.accepted_version == Assignment.version))
             .outerjoin(span, (span.c.order_id == Assignment.order_id) & (span.c.version == Assignment.version))
             .where(Assignment.workshop_id == workshop_id).order_by(OrderRow.due, OrderRow.id))
    return [AcceptedJob(o.id, o.style, o.due, a.version, a.pieces, first, last, o.status)
            for a, o, first, last in session.execute(query)]


# ============================================================================ re-plan differences
@dataclass(frozen=True)
class DiffRow:
    workshop: str
    name_ko: str
    name_en: str
    before: int
    after: int
    started: int

    @property
    def kind(self) -> str:
        """kept (same pieces), cut (fewer, or none), added (new, or more)."""
        if self.after == self.before:
            return "kept"
        return "cut" if self.after < self.before else "added"


KIND_WORDS = {"kept": ("유지", "kept"), "cut": ("줄임", "cut"), "added": ("추가", "added")}


def plan_diff(accepted: dict, proposal: dict) -> list[DiffRow]:
    """Per workshop, the pieces in the accepted plan and in the proposal (plan_view shapes)."""
    before = {a["workshop"]: a for a in accepted["assignments"]}
    after = {a["workshop"]: a for a in proposal["assignments"]}
    rows = []
    for w in list(before) + [w for w in after if w not in before]:
        a = after.get(w) or before[w]
        rows.append(DiffRow(w, a["name_ko"], a["name_en"], before[w]["pieces"] if w in before else 0,
                            after[w]["pieces"] if w in after else 0, (after.get(w) or {}).get("started", 0)))
    order = {"cut": 0, "added": 1, "kept": 2}
    return sorted(rows, key=lambda r: (order[r.kind], -abs(r.after - r.before), r.workshop))


# ============================================================================ plan schedule
def planned_cumulative(assignment: dict) -> list[tuple[date, int]]:
    """A workshop's planned pieces, added up day by day (the progress chart's planned line)."""
    total, out = 0, []
    for s in assignment["schedule"]:
        total += s["pieces"]
        out.append((date.fromisoformat(s["day"]), total))
    return out


def expected_finish(view: dict) -> Optional[date]:
    """The last sewing day of the plan, plus the order's transport days is the delivery."""
    days = [s["day"] for a in view["assignments"] for s in a["schedule"] if s["pieces"] > 0]
    return date.fromisoformat(max(days)) if days else None


# ============================================================================ exports
CSV_COLUMNS = ["order", "version", "workshop", "name_ko", "name_en", "day", "pieces", "capacity_pieces",
               "sam_minutes", "workshop_pieces", "per_piece_krw", "workshop_cost_krw"]


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell starting with = + - @ as a formula: a workshop name must stay text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "'"):
        return "'" + value
    return value


def plan_csv(order_id: str, view: dict) -> str:
    """One row per workshop and sewing day (UTF-8 with a byte-order mark, so a spreadsheet on a
    Korean Windows reads the names right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for a in view["assignments"]:
        for s in a["schedule"]:
            if s["pieces"] <= 0:
                continue
            writer.writerow([_cell(order_id), view["version"], _cell(a["workshop"]), _cell(a["name_ko"]),
                             _cell(a["name_en"]), s["day"], s["pieces"], s["capacity"],
                             round(sum(s["minutes"].values()), 1), a["pieces"], round(a["per_piece_krw"]),
                             round(a["cost"]["total"])])
    return out.getvalue()


# ============================================================================ offers and progress
def count_history(session: Session, offer_ids: list[str]) -> dict[str, list[tuple[date, int]]]:
    """The owners' counts of finished pieces per offer, by Seoul day (the day's last count)."""
    from hub.planning.offer_tables import OfferReport

    if not offer_ids:
        return {}
    out: dict[str, dict[date, int]] = {}
    query = (select(OfferReport).where(OfferReport.offer_id.in_(offer_ids), OfferReport.kind == "count",
                                       OfferReport.result == "applied").order_by(OfferReport.at))
    for r in session.scalars(query):
        if r.pieces is not None:
            out.setdefault(r.offer_id, {})[today_in_seoul(utc(r.at))] = r.pieces
    return {k: sorted(v.items()) for k, v in out.items()}


def offer_counts(session: Session, order_ids: list[str]) -> dict[str, dict[str, int]]:
    """Offers per order and status, for the orders list."""
    from hub.planning.offer_tables import Offer

    if not order_ids:
        return {}
    out: dict[str, dict[str, int]] = {}
    query = (select(Offer.order_id, Offer.status, func.count()).where(Offer.order_id.in_(order_ids))
             .group_by(Offer.order_id, Offer.status))
    for order_id, status, n in session.execute(query):
        out.setdefault(order_id, {})[status] = n
    return out


def projected_finish(view: dict, progress: dict | None, today: date) -> Optional[date]:
    """The plan's last sewing day, pushed back by the days a workshop that is behind needs to sew
    its shortfall at its planned pace (pieces a planned day)."""
    finish = expected_finish(view)
    if finish is None or not progress:
        return finish
    by_workshop = progress.get("workshops") or {p["workshop_id"]: p for p in progress.get("offers", {}).values()}
    for a in view["assignments"]:
        p = by_workshop.get(a["workshop"])
        days = [s for s in a["schedule"] if s["pieces"] > 0]
        if p is None or not days:
            continue
        short = p["planned_by_now"] - p["done"]
        if short > 0:
            pace = a["pieces"] / len(days)
            last = date.fromisoformat(days[-1]["day"])
            finish = max(finish, max(last, today) + timedelta(days=math.ceil(short / pace)))
    return finish
