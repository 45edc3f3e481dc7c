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
import time
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Iterable, Mapping, Optional, Sequence

from ortools.sat.python import cp_model

from hub.planning import explain
from hub.planning.cpsat import Built, Limits, Outcome, optimise, solve_built
from hub.planning.model import (
    Assignment,
    Candidate,
    Cost,
    DayPieces,
    InvalidOrder,
    Alternative,
    Names,
    Order,
    Plan,
    Reason,
    Solve,
    Weights,
)

#: Same input, same plan: a deterministic work budget (CP-SAT's deterministic time, about seconds
#: on a reference machine), a fixed seed and workers; the wall clock only caps it.
DEFAULT_LIMITS = Limits(time_limit_s=10.0, workers=2, seed=0, work=3.0, full_share=0.5)
#: Each feasibility check behind an alternative gets this much deterministic work.
CHECK_WORK = 0.5


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
    previous: dict[str, int] = field(default_factory=dict)  # a re-plan's previous pieces per workshop
    declined: frozenset[str] = frozenset()


def screen(order: Order, candidates: Iterable[Candidate], today: date, weights: Weights,
           started: Mapping[str, int] | None = None, previous: Mapping[str, int] | None = None,
           declined: Iterable[str] = (), capped: Mapping[str, int] | None = None) -> Field:
    started = started or {}
    capped = capped or {}
    previous = previous or {}
    declined = set(declined)
    first, last = order.first_sewing_day(today), order.last_sewing_day
    days = sewing_days(first, last) if last >= first else []
    b = order.bundle_size
    bundles = order.bundles
    out = Field(order, first, last, [], previous={w: q for w, q in previous.items() if q > 0},
                declined=frozenset(declined))
    funnel = {"considered": 0, "declined": 0, "family": 0, "price": 0, "machines": 0, "lot": 0, "dominated": 0}
    seen: set[str] = set()
    for c in sorted(candidates, key=lambda c: c.id):
        if c.id in seen:
            raise ValueError(f"workshop {c.id} is listed twice")
        seen.add(c.id)
        funnel["considered"] += 1
        s_b = -(-max(0, started.get(c.id, 0)) // b)  # a started bundle stays whole
        kept_before = s_b > 0 or previous.get(c.id, 0) > 0
        if c.id in declined and not kept_before:
            funnel["declined"] += 1
            out.dropped[c.id] = ("declined", None)
            continue
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
        if c.id in capped:  # it takes no more than it agreed to (never less than it started)
            p.cap = min(p.cap, max(s_b, max(0, capped[c.id]) // b))
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
    much as it can. A workshop is skipped when its lot no longer fits (unless the workshops already
    in can give up bundles, down to their lots, to make room), or when taking it would leave more
    bundles than the workshop limit's remaining places can hold. Workshops with started work are
    in from the start, with those bundles. None when this finds no plan."""
    n = [0] * len(kept)
    left = bundles
    used = 0

    def floor(j: int) -> int:  # the fewest bundles workshop j may keep once in
        return kept[j].started if kept[j].started else kept[j].lot

    for i, p in enumerate(kept):
        if p.started:
            n[i] = p.started
            left -= n[i]
            used += 1
    if left < 0 or used > k:
        return None
    by_room = sorted(range(len(kept)), key=lambda j: (-kept[j].cap, j))

    def reserve(places: int, skip: int) -> int:
        """Bundles the workshops in can still take plus the `places` largest of those out."""
        total = sum(kept[j].cap - n[j] for j in range(len(kept)) if n[j])
        for j in by_room:
            if places <= 0:
                break
            if not n[j] and j != skip:
                total += kept[j].cap
                places -= 1
        return total

    for i in sorted(range(len(kept)), key=lambda i: order_key(kept[i])):
        if left == 0:
            break
        p = kept[i]
        room = p.cap - n[i]
        if room <= 0 or (not n[i] and (used >= k or room < p.lot)):
            continue
        give = min(room, left)
        if not n[i]:
            if left - give > reserve(k - used - 1, i):
                continue  # too small for one of the few places left
            if give < p.lot:
                # Make room by taking bundles back from the workshops already in, dearest first.
                need = p.lot - give
                if sum(n[j] - floor(j) for j in range(len(kept)) if n[j]) < need:
                    continue
                for j in sorted((j for j in range(len(kept)) if n[j]), key=lambda j: (-kept[j].unit_b, j)):
                    take = min(need, n[j] - floor(j))
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


# ============================================================================ the model, for the solver core
def _bundles_var(m: cp_model.CpModel, p: Prepared, i: int):
    """A workshop's bundles, 0 or lot..cap, and whether it is engaged (both ways, so the LP
    relaxation charges its fixed cost in proportion to the bundles)."""
    if p.cap < p.lot:
        return m.new_constant(0), 0
    n = m.new_int_var_from_domain(cp_model.Domain.from_intervals([[0, 0], [p.lot, p.cap]]), f"n{i}")
    y = m.new_bool_var(f"y{i}")
    m.add(n >= p.lot * y)
    m.add(n <= p.cap * y)
    return n, y


class AllocationModel:
    """The order as a problem for the solver core (`hub.planning.cpsat`'s LnsProblem): a solution
    is the bundles of each kept workshop (a tuple aligned with `kept`); a neighbourhood frees a
    few workshops (some in the plan, some of the best left out) and fixes the rest.

    objective "cost": the plan's cost in whole KRW plus the split penalty of the first workshop
    (a constant); "moved": bundles taken from the workshops a previous plan gave them to.
    moved_cap: the most bundles that may move (a re-plan's second stage)."""

    def __init__(self, kept: Sequence[Prepared], bundles: int, k: int, objective: str = "cost",
                 moved_cap: Optional[int] = None) -> None:
        self.kept = list(kept)
        self.bundles = bundles
        self.k = k
        self.objective = objective
        self.moved_cap = moved_cap
        self.rank = sorted(range(len(self.kept)), key=lambda i: cheapest_first_key(self.kept[i]))

    def allowed(self, p: Prepared, v: int) -> bool:
        if v == 0:
            return p.started == 0
        if p.started:  # already in: what is started stays, and its lot was met when it was given
            return p.started <= v <= max(p.started, p.cap)
        return p.lot <= v <= p.cap

    def moved(self, n: Sequence[int]) -> int:
        return sum(max(0, p.previous - v) for p, v in zip(self.kept, n))

    def cost(self, n: Sequence[int]) -> int:
        return sum(p.unit_b * v + p.fixed_i for p, v in zip(self.kept, n) if v)

    def value(self, n: Sequence[int]) -> Optional[int]:
        if n is None or len(n) != len(self.kept) or sum(n) != self.bundles:
            return None
        if not all(self.allowed(p, v) for p, v in zip(self.kept, n)) or sum(1 for v in n if v) > self.k:
            return None
        moved = self.moved(n)
        if self.moved_cap is not None and moved > self.moved_cap:
            return None
        return moved if self.objective == "moved" else self.cost(n)

    def build(self, incumbent: Optional[Sequence[int]], relaxed: Optional[Sequence[int]]) -> Built:
        free = range(len(self.kept)) if relaxed is None else sorted(relaxed)
        is_free = set(free)
        fixed = [i for i in range(len(self.kept)) if i not in is_free]
        m = cp_model.CpModel()
        n_var: dict[int, cp_model.IntVar] = {}
        engaged = []
        cost_terms = []
        moved_terms = []
        for i in free:
            p = self.kept[i]
            if p.started:
                n = m.new_int_var(p.started, max(p.started, p.cap), f"n{i}")
                y = None  # in, whatever happens
                engaged.append(1)
                cost_terms.append(p.unit_b * n + p.fixed_i)
            else:
                n, y = _bundles_var(m, p, i)
                engaged.append(y)
                cost_terms.append(p.unit_b * n + p.fixed_i * y)
                if incumbent is not None and not isinstance(y, int):
                    m.add_hint(y, 1 if incumbent[i] else 0)
            if p.previous:
                gone = m.new_int_var(0, p.previous, f"moved{i}")
                m.add(gone >= p.previous - n)
                moved_terms.append(gone)
            if incumbent is not None and not isinstance(y, int):  # a constant takes no hint
                m.add_hint(n, incumbent[i])
            n_var[i] = n
        held = sum(incumbent[i] for i in fixed) if fixed else 0
        used = sum(1 for i in fixed if incumbent[i])
        m.add(sum(n_var.values()) == self.bundles - held)
        m.add(sum(engaged) <= self.k - used)
        moved_fixed = self.moved([incumbent[i] if i in fixed else 0 for i in range(len(self.kept))]) if fixed else 0
        if self.moved_cap is not None:
            m.add(sum(moved_terms) <= self.moved_cap - moved_fixed)
        if self.objective == "moved":
            m.minimize(sum(moved_terms) + moved_fixed)
        else:
            m.minimize(sum(cost_terms) + sum(self.kept[i].unit_b * incumbent[i] + self.kept[i].fixed_i
                                              for i in fixed if incumbent[i]))
        base = list(incumbent) if incumbent is not None else [0] * len(self.kept)

        def read(values: list[int]) -> tuple[int, ...]:
            return tuple(values[n_var[i].index] if i in n_var else base[i] for i in range(len(self.kept)))

        return Built(m, read)

    def neighbourhoods(self, rng, incumbent: Sequence[int], size: int, count: int) -> list[tuple[int, ...]]:
        everyone = len(self.kept)
        if everyone == 0:
            return []
        size = max(2, min(size, everyone))
        used = [i for i, v in enumerate(incumbent) if v]
        unused = [i for i in self.rank if not incumbent[i]]
        out = []
        for _ in range(count):
            a = rng.sample(used, min(len(used), max(1, size // 2)))
            pool = unused[:max(3 * size, 12)]
            b = rng.sample(pool, min(len(pool), size - len(a)))
            out.append(tuple(sorted(set(a + b))))
        return out

    def merge(self, incumbent: Sequence[int], relaxed: Sequence[int], solution: Sequence[int]) -> tuple[int, ...]:
        free = set(relaxed)
        return tuple(solution[i] if i in free else v for i, v in enumerate(incumbent))


# ============================================================================ plans
def _check(order: Order) -> None:
    problems = order.problems()
    if problems:
        raise InvalidOrder(problems)


def _solve(model: AllocationModel, limits: Limits, start, started: float, split: int) -> tuple[Outcome, Solve]:
    out = optimise(model, limits, start=start, started=started)
    objective = None if out.value is None else out.value - split
    bound = None if out.bound is None else out.bound - split
    gap = None
    if objective is not None and bound is not None:
        gap = 0.0 if objective <= bound else (objective - bound) / max(1, abs(objective))
    return out, Solve("cp-sat", out.status, objective, bound, gap, round(out.seconds, 4), round(out.work, 4),
                      out.stopped_by, out.reproducible, limits.workers, limits.seed)


def _not_met(f: Field, solve: Solve, names: Optional[Names], candidates: Sequence[Candidate], today: date,
             weights: Weights, limits: Limits) -> Plan:
    if solve.status == "unknown":
        reasons = (Reason("not_found", "제한 시간 안에 계획을 찾지 못함 (불가능이 증명되지는 않음)",
                          "no plan found within the time limit (not proven impossible)",
                          {"seconds": solve.seconds, "stopped_by": solve.stopped_by}),)
    else:
        reasons = explain.shortfall(f, names)
    alternatives = () if reasons and reasons[-1].code == "family" else tuple(
        alternatives_for(f, candidates, today, weights, limits, names))
    return Plan(order=f.order.id, feasible=False, pieces=0, first_day=f.first, last_day=f.last, assignments=(),
                cost=Cost(), expected_late_pieces=0.0, solve=solve, reasons=reasons, alternatives=alternatives,
                funnel=dict(f.funnel))


def _explained(f: Field, plan: Plan, names: Optional[Names]) -> Plan:
    rows = explain.chosen(f, plan.assignments, names)
    return replace(plan, assignments=rows, left_out=explain.left_out(f, rows, f.order.max_workshops, names))


def plan_order(order: Order, candidates: Iterable[Candidate], *, today: date, weights: Weights = Weights(),
               limits: Optional[Limits] = None, names: Names | None = None) -> Plan:
    """The cheapest plan for `order` over `candidates` (see the module's docstring), with reasons;
    or, when none exists, why in numbers and the nearest feasible alternatives.

    today: the first day that may be sewn (capacity's first day); limits: the solver core's
      `Limits` (time, workers, seed, deterministic work budget; None: `DEFAULT_LIMITS`);
    names: Korean and English names of machine types and families for the sentences
      (the registry's vocabulary); keys are shown without it.
    Raises InvalidOrder when the order itself is not plannable (every problem listed)."""
    started = time.perf_counter()
    _check(order)
    limits = limits or DEFAULT_LIMITS
    candidates = list(candidates)
    f = screen(order, candidates, today, weights)
    split = round(weights.split_penalty_krw)
    if f.last < f.first or not f.kept:
        return _not_met(f, Solve("cp-sat", "infeasible", seconds=round(time.perf_counter() - started, 4),
                                 stopped_by="filters"), names, candidates, today, weights, limits)
    model = AllocationModel(f.kept, order.bundles, order.max_workshops)
    start = greedy_fill(f.kept, order.bundles, order.max_workshops, cheapest_first_key)
    out, solve = _solve(model, limits, start, started, split)
    if out.solution is None:
        return _not_met(f, solve, names, candidates, today, weights, limits)
    return _explained(f, assemble(f, out.solution, solve, weights, names), names)


def replan_order(order: Order, candidates: Iterable[Candidate], previous: Mapping[str, int], *, today: date,
                 started: Mapping[str, int] | None = None, declined: Iterable[str] = (),
                 capped: Mapping[str, int] | None = None,
                 weights: Weights = Weights(), limits: Optional[Limits] = None,
                 names: Names | None = None) -> Plan:
    """A new plan that moves as few pieces as it can from `previous` (pieces per workshop), and
    among those the cheapest (lexicographic: two solves, the second holding the first's fewest
    moves); never moves `started` pieces (per workshop; rounded up to whole bundles: a started
    bundle stays whole). A workshop with started pieces stays in the plan with at least those,
    whatever its lot.

    declined: workshops that take no more than they have started. capped: pieces a workshop takes
    at most (one that accepted a share but not the extra a re-plan asked of it). A workshop that falls behind
    comes with less spare in `candidates`. The candidates' spare must not count this order's
    pieces not yet started there (they are what is being planned again); every workshop with
    started pieces must be among the candidates. `moved_pieces` in the answer: pieces taken from
    the workshop `previous` gave them to."""
    t0 = time.perf_counter()
    _check(order)
    limits = limits or DEFAULT_LIMITS
    started = {w: q for w, q in (started or {}).items() if q > 0}
    candidates = list(candidates)
    ids = {c.id for c in candidates}
    missing = sorted(w for w in started if w not in ids)
    if missing:
        raise ValueError(f"workshops with started pieces are not among the candidates: {', '.join(missing)}")
    if sum(started.values()) > order.quantity:
        raise ValueError(f"{sum(started.values()):,} pieces started, more than the {order.quantity:,} ordered")
    f = screen(order, candidates, today, weights, started=started, previous=previous, declined=declined,
               capped=capped)
    split = round(weights.split_penalty_krw)
    if f.last < f.first or not f.kept:
        return _not_met(f, Solve("cp-sat", "infeasible", stopped_by="filters"), names, candidates, today, weights,
                        limits)
    half = replace(limits, time_limit_s=limits.time_limit_s / 2, work=None if limits.work is None else limits.work / 2)
    start = greedy_fill(f.kept, order.bundles, order.max_workshops, lambda p: (-p.previous, cheapest_first_key(p)))
    fewest = AllocationModel(f.kept, order.bundles, order.max_workshops, objective="moved")
    # What must move whatever the plan: work beyond what its workshop may now hold. When the
    # greedy start moves no more, the first stage is proven at once.
    must = sum(max(0, p.previous - (max(p.started, p.cap) if p.started else p.cap if p.cap >= p.lot else 0))
               for p in f.kept)
    first = optimise(fewest, half, start=start, bound=must, started=t0)
    if first.solution is None:
        return _not_met(f, Solve("cp-sat", first.status, seconds=round(first.seconds, 4), stopped_by=first.stopped_by),
                        names, candidates, today, weights, limits)
    cheapest = AllocationModel(f.kept, order.bundles, order.max_workshops, moved_cap=first.value)
    out, solve = _solve(cheapest, half, first.solution, time.perf_counter(), split)
    solution = out.solution if out.solution is not None else first.solution
    solve = replace(solve, seconds=round(time.perf_counter() - t0, 4), work=round(first.work + out.work, 4),
                    reproducible=first.reproducible and out.reproducible)
    plan = assemble(f, solution, solve, weights, names, previous=dict(previous))
    return _explained(f, plan, names)


def largest_first(order: Order, candidates: Iterable[Candidate], *, today: date, weights: Weights = Weights(),
                  names: Names | None = None) -> Plan:
    """The plan a coordinator makes by phone: workshops that sew the family, most spare capacity
    first, each as much as it can take, within the same rules (lots, bundles, the workshop
    limit); costed like any plan, for comparison."""
    t0 = time.perf_counter()
    _check(order)
    f = screen(order, candidates, today, weights)
    f.kept = sorted(f.kept + [p for code, p in f.dropped.values() if code == "dominated"], key=lambda p: p.c.id)
    n = greedy_fill(f.kept, order.bundles, order.max_workshops, largest_first_key)
    if n is None:
        return Plan(order=order.id, feasible=False, pieces=0, first_day=f.first, last_day=f.last, assignments=(),
                    cost=Cost(), expected_late_pieces=0.0, solve=Solve("largest-first", "unknown"),
                    funnel=dict(f.funnel))
    model = AllocationModel(f.kept, order.bundles, order.max_workshops)
    value = model.value(n) - round(weights.split_penalty_krw)
    solve = Solve("largest-first", "feasible", value, seconds=round(time.perf_counter() - t0, 4))
    return _explained(f, assemble(f, n, solve, weights, names), names)


# ============================================================================ alternatives
def _feasible(order: Order, candidates: Sequence[Candidate], today: date, weights: Weights, limits: Limits) -> bool:
    """Whether any plan meets `order`: the quick necessary conditions, then a greedy plan, then
    CP-SAT (under CHECK_WORK; not finding one within it counts as no)."""
    f = screen(order, candidates, today, weights)
    if f.last < f.first or not f.kept:
        return False
    b, k = order.bundles, order.max_workshops
    caps = sorted((p.cap for p in f.kept), reverse=True)
    if sum(caps[:k]) < b or min(p.lot for p in f.kept) > b:
        return False
    if greedy_fill(f.kept, b, k, cheapest_first_key) is not None:
        return True
    out = solve_built(AllocationModel(f.kept, b, k).build(None, None), seconds=limits.time_limit_s, workers=1,
                      seed=limits.seed, work=CHECK_WORK)
    return out.status in ("optimal", "feasible")


def _most_bundles(f: Field, limits: Limits) -> int:
    """The most whole bundles, up to the order's, that some plan can place by the due date."""
    b, k = f.order.bundles, f.order.max_workshops
    if not f.kept:
        return 0
    caps = sorted((p.cap for p in f.kept), reverse=True)
    if sum(caps[:k]) < b:
        return sum(caps[:k])  # each of the k largest at its capacity (at least its lot): a plan
    m = cp_model.CpModel()
    ns = []
    ys = []
    for i, p in enumerate(f.kept):
        n, y = _bundles_var(m, p, i)
        ns.append(n)
        ys.append(y)
    m.add(sum(ns) <= b)
    m.add(sum(ys) <= k)
    m.maximize(sum(ns))
    out = solve_built(Built(m, lambda v: v), seconds=limits.time_limit_s, workers=1, seed=limits.seed,
                      work=CHECK_WORK)
    return (out.value or 0) if out.status == "optimal" else 0


def alternatives_for(f: Field, candidates: Sequence[Candidate], today: date, weights: Weights, limits: Limits,
                     names: Optional[Names]) -> list[Alternative]:
    """The nearest changes that make the order feasible, each checked: the earliest later due
    date (within the days capacity covers), the most pieces by the due date, the fewest
    workshops when the limit binds, the lowest price per piece that brings in enough workshops."""
    order = f.order
    out: list[Alternative] = []
    pool = [p.c for p in f.eligible]
    # Later due date: feasibility only grows with the days, so the earliest is found by halving.
    horizon = max((d for p in f.eligible for days in p.c.spare_minutes.values() for d in days), default=None)
    if horizon is not None:
        lo = order.due.toordinal() + 1
        hi = horizon.toordinal() + order.transport_days
        if lo <= hi and _feasible(replace(order, due=date.fromordinal(hi)), pool, today, weights, limits):
            while lo < hi:
                mid = (lo + hi) // 2
                if _feasible(replace(order, due=date.fromordinal(mid)), pool, today, weights, limits):
                    hi = mid
                else:
                    lo = mid + 1
            due = date.fromordinal(lo)
            ko, en = explain.md(due)
            days = (due - order.due).days
            out.append(Alternative("later_due", due.isoformat(), f"납기를 {ko}(으)로 {days}일 미루면 가능",
                                   f"feasible with the due date moved to {en} ({days} day{'' if days == 1 else 's'} "
                                   f"later)"))
        else:
            ko, en = explain.md(horizon)
            out.append(Alternative("later_due", None, f"여유 능력을 아는 {ko}까지 미뤄도 불가능",
                                   f"not feasible even with the due date moved as far as capacity is known ({en})"))
    # Smaller quantity by the due date.
    most = _most_bundles(f, limits) * order.bundle_size
    if 0 < most < order.quantity:
        ko, en = explain.md(order.due)
        out.append(Alternative("smaller_quantity", most, f"납기 {ko}까지 최대 {most:,}벌 가능",
                               f"at most {most:,} pieces can be sewn for the due date {en}"))
    # More workshops, when the limit binds (over every workshop that can take its lot: which ones
    # dominance dropped depends on the limit).
    caps = sorted((p.cap for p in f.kept + [p for code, p in f.dropped.values() if code == "dominated"]), reverse=True)
    if caps and sum(caps[:order.max_workshops]) < order.bundles <= sum(caps):
        k = order.max_workshops
        while k < len(caps) and sum(caps[:k]) < order.bundles:
            k += 1
        while k <= len(caps) and not _feasible(replace(order, max_workshops=k), pool, today, weights, limits):
            k += 1
        if k <= len(caps):
            out.append(Alternative("more_workshops", k, f"공장을 {k}곳까지 쓰면 가능 (지금 한도 {order.max_workshops}곳)",
                                   f"feasible with up to {k} workshops (the limit is {order.max_workshops})"))
    # A higher price per piece, when the ceiling keeps workshops out.
    dear = sorted((p for code, p in f.dropped.values() if code == "price" and p is not None),
                  key=lambda p: (price_per_piece(p.c, order), p.c.id))
    if dear:
        wider = pool + [p.c for p in dear]
        asks = sorted({round(price_per_piece(p.c, order), 2) for p in dear})
        top = replace(order, price_per_piece_krw=asks[-1])
        if _feasible(top, wider, today, weights, limits):
            lo, hi = 0, len(asks) - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if _feasible(replace(order, price_per_piece_krw=asks[mid]), wider, today, weights, limits):
                    hi = mid
                else:
                    lo = mid + 1
            price = math.ceil(asks[lo])
            ko, en = explain.won(price)
            out.append(Alternative("higher_price", price, f"단가를 한 벌 {ko}으로 올리면 가능",
                                   f"feasible at a price of {en} a piece"))
    return out
