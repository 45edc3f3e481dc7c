"""Splitting a bulk order across workshops: filter the candidates, a greedy start, CP-SAT.

Pure: no web, no storage, no clock; `today` is a parameter.

The rules a plan keeps (every one checked by tests/unit/test_allocation*.py):
- whole bundles: each workshop gets a whole number of `bundle_size` bundles, the quantity in all;
- each workshop gets nothing or at least its lot: max(order's minimum lot, its own minimum
  order), rounded up to whole bundles;
- only workshops that sew the order's family, and (when the order names a price) ask no more per
  piece than it pays;
- at most `max_workshops` workshops;
- capacity per machine type and day: the sewing days run from the first day the panels can be
  sewn (today, or `panels_ready`) to the last sewing day, `transport_days` before the due day
  (collection and delivery take that long; 1 by default: sewing ends the day before). A day's
  pieces go through every operation that day, so a workshop can sew on a day
  floor(min over the order's machine types of spare minutes / minutes per piece) pieces, and its
  capacity is the sum over the sewing days. Days past the spare capacity's horizon (capacity
  answers 14 days) count as no capacity.

The cost it minimises is `Weights`' (sewing price, a fixed cost per engaged workshop, transport,
late risk, a penalty per extra workshop); in the model each workshop w has bundles n_w in
{0} ∪ [lot_w, cap_w] and an engaged flag y_w:

    minimise  Σ unit_w · n_w + Σ fixed_w · y_w − split
    subject to Σ n_w = bundles,  Σ y_w ≤ max_workshops,  lot_w · y_w ≤ n_w ≤ cap_w · y_w

with unit_w the cost of one bundle there (sewing, transport pro rata, late risk) and fixed_w the
cost of engaging it (its fixed cost, a round trip, the split penalty), both in whole KRW.

Filters before the model (each logged in the plan's `funnel` and, for strong candidates, in
`left_out`): family; price ceiling; a machine type the order needs with no spare before the last
sewing day; capacity below the workshop's lot; dominance: a workshop is dropped when at least
`max_workshops` others each cost no more per bundle and to engage, can take at least as much and
need no bigger lot. Dropping it loses nothing: any plan using it leaves one of those others
unused (at most `max_workshops` are used), and giving that one its bundles costs no more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable, Mapping, Optional, Sequence

from hub.planning.model import (
    Assignment,
    Candidate,
    Cost,
    DayPieces,
    InvalidOrder,
    LeftOut,
    Names,
    Order,
    Plan,
    Reason,
    Solve,
    Weights,
)


# ============================================================================ one candidate, for one order
@dataclass
class Prepared:
    """A candidate as one order sees it: capacity in pieces over the sewing days, lot and
    capacity in bundles, cost per bundle and per engagement."""

    c: Candidate
    days: list[tuple[date, int]]  # pieces it can sew each sewing day
    capacity: int  # pieces over the sewing days (beyond any started)
    binding: Optional[str]  # the machine type that limits it most
    type_pieces: dict[str, float]  # pieces each machine type alone would allow
    distance_km: float  # road km from the panels (0 without panels)
    late_chance: float
    sewing_pp: float  # per piece
    transport_pp: float
    risk_pp: float
    fixed: float  # the workshop's fixed cost
    trip: float  # one round trip
    lot: int = 0  # bundles
    cap: int = 0  # bundles it may hold in all (started ones included), at most the order's
    started: int = 0  # bundles started there (re-plans)
    previous: int = 0  # bundles the previous plan gave it (re-plans)
    unit_b: int = 0  # whole KRW per bundle
    fixed_i: int = 0  # whole KRW to engage it, split penalty included

    @property
    def unit_pp(self) -> float:
        return self.sewing_pp + self.transport_pp + self.risk_pp

    @property
    def full_use_pp(self) -> float:
        """All in per piece when it takes all it can: how good it is, before any plan."""
        pieces = max(1, self.capacity)
        return self.unit_pp + (self.fixed + self.trip) / pieces


def road_km(a: tuple[float, float], b: tuple[float, float], road_factor: float) -> float:
    """Great-circle km between two (lat, lon) points times the road factor (streets wind)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h))) * road_factor


def sewing_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_capacity(c: Candidate, order: Order, days: Sequence[date]) -> tuple[list[tuple[date, int]], dict[str, float]]:
    """Pieces the workshop can sew on each day (every operation that day), and the pieces each
    machine type alone would allow over the days."""
    types = [(t, m) for t, m in order.sam_minutes.items() if m > 0]
    per_day = []
    alone = {t: 0.0 for t, _ in types}
    for d in days:
        least = math.inf
        for t, m in types:
            p = max(0.0, c.spare_minutes.get(t, {}).get(d, 0.0)) / m
            alone[t] += p
            least = min(least, p)
        per_day.append((d, int(math.floor(least + 1e-9)) if types else 0))
    return per_day, alone


def prepare(c: Candidate, order: Order, days: Sequence[date], weights: Weights) -> Prepared:
    per_day, alone = day_capacity(c, order, days)
    binding = min(alone, key=lambda t: (alone[t], t)) if alone else None
    distance = road_km(order.panels, (c.lat, c.lon), weights.road_factor) if order.panels else 0.0
    trip = 2 * distance * weights.krw_per_km
    late = weights.late_chance(c)
    return Prepared(c, per_day, sum(p for _, p in per_day), binding, alone, distance, late,
                    sewing_pp=c.price_per_sam_minute_krw * order.sam_total,
                    transport_pp=trip / max(1, weights.pieces_per_trip),
                    risk_pp=late * weights.late_cost(order), fixed=c.fixed_cost_krw, trip=trip)


def price_per_piece(c: Candidate, order: Order) -> float:
    return c.price_per_sam_minute_krw * order.sam_total


# ============================================================================ filters
@dataclass
class Field:
    """The candidates of one order after the filters, and what each filter removed."""

    order: Order
    first: date
    last: date
    kept: list[Prepared]
    dropped: dict[str, tuple[str, Prepared | None]] = field(default_factory=dict)  # id -> (filter, prepared)
    funnel: dict[str, int] = field(default_factory=dict)
    eligible: list[Prepared] = field(default_factory=list)  # family and price ceiling passed


def screen(order: Order, candidates: Iterable[Candidate], today: date, weights: Weights,
           started: Mapping[str, int] | None = None, previous: Mapping[str, int] | None = None,
           declined: Iterable[str] = ()) -> Field:
    started = started or {}
    previous = previous or {}
    declined = set(declined)
    first, last = order.first_sewing_day(today), order.last_sewing_day
    days = sewing_days(first, last) if last >= first else []
    b = order.bundle_size
    bundles = order.bundles
    out = Field(order, first, last, [])
    funnel = {"considered": 0, "family": 0, "price": 0, "machines": 0, "lot": 0, "dominated": 0}
    seen: set[str] = set()
    for c in sorted(candidates, key=lambda c: c.id):
        if c.id in seen:
            raise ValueError(f"workshop {c.id} is listed twice")
        seen.add(c.id)
        funnel["considered"] += 1
        s_b = -(-max(0, started.get(c.id, 0)) // b)  # a started bundle stays whole
        kept_before = s_b > 0 or previous.get(c.id, 0) > 0
        if order.family not in c.families and not kept_before:
            funnel["family"] += 1
            out.dropped[c.id] = ("family", None)
            continue
        if (order.price_per_piece_krw is not None and price_per_piece(c, order) > order.price_per_piece_krw + 1e-9
                and not kept_before):
            funnel["price"] += 1
            out.dropped[c.id] = ("price", prepare(c, order, days, weights))
            continue
        p = prepare(c, order, days, weights)
        out.eligible.append(p)
        p.started = s_b
        p.previous = -(-max(0, previous.get(c.id, 0)) // b)
        lot_pieces = max(order.min_lot, c.min_order_pieces)
        p.lot = max(1, -(-lot_pieces // b))
        free = 0 if c.id in declined else p.capacity // b
        p.cap = min(bundles, s_b + free)
        p.unit_b = round(p.unit_pp * b)
        p.fixed_i = round(p.fixed + p.trip + weights.split_penalty_krw)
        if not kept_before:
            if p.capacity == 0:
                funnel["machines"] += 1
                out.dropped[c.id] = ("machines", p)
                continue
            if p.cap < p.lot:
                funnel["lot"] += 1
                out.dropped[c.id] = ("lot", p)
                continue
        out.kept.append(p)
    _drop_dominated(out, order.max_workshops, funnel)
    funnel["modelled"] = len(out.kept)
    out.funnel = funnel
    return out


def _drop_dominated(f: Field, k: int, funnel: dict[str, int]) -> None:
    """Drop a workshop when at least k others dominate it (see the module's docstring). Workshops
    a re-plan holds to (started or previously given work) are neither dropped nor counted as
    dominating, so the exchange argument needs nothing of them. Dominance is made a strict order
    by the sort key, and a dominated workshop's dominators are dominated by theirs, so counting
    among the workshops kept so far is enough."""
    special = [p for p in f.kept if p.started or p.previous]
    plain = sorted((p for p in f.kept if not (p.started or p.previous)),
                   key=lambda p: (p.unit_b, p.fixed_i, -p.cap, p.lot, p.c.id))
    kept: list[Prepared] = []
    for p in plain:
        n = 0
        for q in kept:
            if q.fixed_i <= p.fixed_i and q.cap >= p.cap and q.lot <= p.lot:
                n += 1
                if n >= k:
                    break
        if n >= k:
            funnel["dominated"] += 1
            f.dropped[p.c.id] = ("dominated", p)
        else:
            kept.append(p)
    f.kept = sorted(special + kept, key=lambda p: p.c.id)


# ============================================================================ greedy plans
def greedy_fill(kept: Sequence[Prepared], bundles: int, k: int, order_key) -> Optional[list[int]]:
    """Bundles per workshop (aligned with `kept`), taking workshops in `order_key` order, each as
    much as it can, skipping one whose lot no longer fits unless earlier ones can give up bundles
    (down to their lots) to make room. Workshops a re-plan holds to come first, with at least their
    started bundles. None when this finds no plan."""
    n = [0] * len(kept)
    left = bundles
    used = 0
    # Started work stays: those workshops are in, with what they have started.
    for i, p in enumerate(kept):
        if p.started:
            n[i] = p.started
            left -= n[i]
            used += 1
    if left < 0 or used > k:
        return None
    for i in sorted(range(len(kept)), key=lambda i: order_key(kept[i])):
        if left == 0:
            break
        p = kept[i]
        room = p.cap - n[i]
        if room <= 0 or (not n[i] and (used >= k or room < p.lot)):
            continue
        give = min(room, left)
        if not n[i]:
            if give < p.lot:
                # Make room by taking bundles back from the workshops already in, dearest first.
                need = p.lot - give
                spare = sum(n[j] - max(kept[j].lot, kept[j].started) for j in range(len(kept)) if n[j])
                if spare < need:
                    continue
                for j in sorted((j for j in range(len(kept)) if n[j]), key=lambda j: -kept[j].unit_b):
                    take = min(need, n[j] - max(kept[j].lot, kept[j].started))
                    if take > 0:
                        n[j] -= take
                        left += take
                        need -= take
                    if not need:
                        break
                give = p.lot
            used += 1
        n[i] += give
        left -= give
    return n if left == 0 else None


def cheapest_first_key(p: Prepared):
    """Best value first: cost of a bundle there with the engagement spread over all it can take."""
    return (p.unit_b + p.fixed_i / max(1, p.cap - p.started), p.c.id)


def largest_first_key(p: Prepared):
    """The coordinator on the phone: the workshops with the most spare capacity first."""
    return (-p.capacity, p.c.id)


# ============================================================================ the answer
def schedule(p: Prepared, pieces: int, order: Order) -> tuple[DayPieces, ...]:
    """The pieces still to sew (beyond those started), earliest days first: work sewn early
    leaves the last days before the due date as slack for a bad day."""
    left = max(0, pieces - p.started * order.bundle_size)
    out = []
    types = {t: m for t, m in order.sam_minutes.items() if m > 0}
    for d, can in p.days:
        take = min(can, left)
        left -= take
        out.append(DayPieces(d, take, can, {t: round(take * m, 2) for t, m in types.items()}))
    return tuple(out)


def cost_of(p: Prepared, pieces: int) -> Cost:
    if pieces <= 0:
        return Cost()
    return Cost(sewing=pieces * p.sewing_pp, fixed=p.fixed, transport=p.trip + pieces * p.transport_pp,
                late_risk=pieces * p.risk_pp)


def assemble(f: Field, n: Sequence[int], solve: Solve, weights: Weights, names: Names | None,
             reasons_for=None, previous: Mapping[str, int] | None = None) -> Plan:
    """A plan from bundles per kept workshop."""
    order = f.order
    b = order.bundle_size
    rows = []
    for p, bundles in zip(f.kept, n):
        if bundles <= 0:
            continue
        pieces = bundles * b
        cost = cost_of(p, pieces)
        rows.append(Assignment(
            workshop=p.c.id, name_ko=p.c.name_ko, name_en=p.c.name_en, pieces=pieces, bundles=bundles,
            started=min(pieces, p.started * b), capacity_pieces=p.capacity, binding_machine_type=p.binding,
            distance_km=round(p.distance_km, 3), on_time_rate=p.c.on_time_rate,
            orders_delivered=p.c.orders_delivered, expected_late_pieces=pieces * p.late_chance, cost=cost,
            schedule=schedule(p, pieces, order)))
    rows.sort(key=lambda a: (-a.pieces, a.workshop))
    total = Cost()
    for a in rows:
        total = total + a.cost
    total = total + Cost(split=weights.split_penalty_krw * max(0, len(rows) - 1))
    moved = None
    if previous is not None:
        now = {a.workshop: a.pieces for a in rows}
        moved = sum(max(0, q - now.get(w, 0)) for w, q in previous.items())
    plan = Plan(order=order.id, feasible=True, pieces=sum(a.pieces for a in rows), first_day=f.first,
                last_day=f.last, assignments=tuple(rows), cost=total,
                expected_late_pieces=sum(a.expected_late_pieces for a in rows), solve=solve,
                funnel=dict(f.funnel), moved_pieces=moved)
    return plan


def _check(order: Order) -> None:
    problems = order.problems()
    if problems:
        raise InvalidOrder(problems)


def plan_order(order: Order, candidates: Iterable[Candidate], *, today: date, weights: Weights = Weights(),
               limits=None, names: Names | None = None) -> Plan:
    """The cheapest plan for `order` over `candidates` (see the module's docstring), with reasons;
    or, when none exists, why in numbers and the nearest feasible alternatives.

    today: the first day that may be sewn (capacity's first day); limits: the solver core's
      `Limits` (time, workers, seed, deterministic work budget; None: `DEFAULT_LIMITS`);
    names: Korean and English names of machine types and families for the sentences
      (the registry's vocabulary); keys are shown without it.
    Raises InvalidOrder when the order itself is not plannable (every problem listed)."""
    _check(order)
    f = screen(order, candidates, today, weights)
    n = greedy_fill(f.kept, order.bundles, order.max_workshops, cheapest_first_key)
    if n is None:
        return Plan(order=order.id, feasible=False, pieces=0, first_day=f.first, last_day=f.last, assignments=(),
                    cost=Cost(), expected_late_pieces=0.0, solve=Solve("greedy", "unknown"), funnel=dict(f.funnel))
    return assemble(f, n, Solve("greedy", "feasible"), weights, names)


def replan_order(order: Order, candidates: Iterable[Candidate], previous: Mapping[str, int], *, today: date,
                 started: Mapping[str, int] | None = None, declined: Iterable[str] = (),
                 weights: Weights = Weights(), limits=None, names: Names | None = None) -> Plan:
    """A new plan that moves as few pieces as it can from `previous` (pieces per workshop), then
    costs least; never moves `started` pieces (per workshop; rounded up to whole bundles).

    declined: workshops that will not take more than they have started. A workshop that falls
    behind comes with less spare in `candidates`. The candidates' spare must not count this
    order's pieces not yet started (they are what is being planned again).
    `moved_pieces` in the answer: pieces taken from the workshop `previous` gave them to."""
    _check(order)
    f = screen(order, candidates, today, weights, started=started, previous=previous, declined=declined)
    n = greedy_fill(f.kept, order.bundles, order.max_workshops, lambda p: (-p.previous, cheapest_first_key(p)))
    if n is None:
        return Plan(order=order.id, feasible=False, pieces=0, first_day=f.first, last_day=f.last, assignments=(),
                    cost=Cost(), expected_late_pieces=0.0, solve=Solve("greedy", "unknown"), funnel=dict(f.funnel))
    return assemble(f, n, Solve("greedy", "feasible"), weights, names, previous=dict(previous))


def largest_first(order: Order, candidates: Iterable[Candidate], *, today: date, weights: Weights = Weights(),
                  names: Names | None = None) -> Plan:
    """The plan a coordinator makes by phone: workshops that sew the family, most spare capacity
    first, each as much as it can take, within the same rules (lots, bundles, the workshop
    limit); costed like any plan, for comparison."""
    _check(order)
    f = screen(order, candidates, today, weights)
    f.kept = sorted(f.kept + [p for code, p in f.dropped.values() if code == "dominated"], key=lambda p: p.c.id)
    n = greedy_fill(f.kept, order.bundles, order.max_workshops, largest_first_key)
    if n is None:
        return Plan(order=order.id, feasible=False, pieces=0, first_day=f.first, last_day=f.last, assignments=(),
                    cost=Cost(), expected_late_pieces=0.0, solve=Solve("largest-first", "unknown"),
                    funnel=dict(f.funnel))
    return assemble(f, n, Solve("largest-first", "feasible"), weights, names)
