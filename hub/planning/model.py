"""What the allocation engine works on and what it answers: an order, the candidate workshops, the
cost weights, and the plan with its schedule and reasons. Plain data, pure: no web, no storage, no
clock (every date is a parameter).

Units: pieces, whole bundles of `Order.bundle_size` pieces, standard minutes (SAM-minutes), Korean
won (KRW), kilometres, local dates (Asia/Seoul, as capacity counts its days).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from typing import Any, Iterable, Mapping, Optional

#: A name for a machine type or product family key: (Korean, English). The registry's vocabulary
#: (`hub.registry.MACHINE_TYPES`, `FAMILIES`) has this shape; the engine falls back to the key.
Names = Mapping[str, tuple[str, str]]


# ============================================================================ the order
@dataclass(frozen=True)
class OrderProblem:
    """One thing wrong with an order, for a person: the field and why, in Korean and English."""

    field: str
    ko: str
    en: str


class InvalidOrder(ValueError):
    """An order the engine cannot plan as written; `problems` says every reason."""

    def __init__(self, problems: Iterable[OrderProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.en}" for p in self.problems))


@dataclass(frozen=True)
class Order:
    """A bulk order to split across workshops.

    sam_minutes: standard minutes per piece on each machine type ({"lockstitch": 3.6, "overlock":
      1.8, "bartack": 0.6} for 6 SAM split 60/30/10 %; `split_sam` turns a total and shares into
      this). Every type listed must be sewn by the same workshop that takes the piece.
    bundle_size: pieces per bundle, the unit handed to a workshop; quantity must be whole bundles.
    min_lot: the fewest pieces worth sending one workshop (each workshop's own minimum order
      applies too).
    max_workshops: the most workshops the order may be split across.
    price_per_piece_krw: what the order pays a workshop per piece (sewing only); a workshop
      asking more is not offered the work. None: no ceiling.
    panels: (lat, lon) of the cutting room the cut panels leave from and the finished pieces
      return to. None: transport is not costed.
    panels_ready: the first day the cut panels can be sewn (None: today).
    transport_days: days between a workshop's last sewing day and the due day: the finished
      pieces are collected and delivered then (1: sewing ends the day before the due day).
    """

    id: str
    style: str
    family: str
    sam_minutes: Mapping[str, float]
    quantity: int
    due: date
    bundle_size: int = 20
    min_lot: int = 0
    max_workshops: int = 10
    price_per_piece_krw: Optional[float] = None
    panels: Optional[tuple[float, float]] = None
    panels_ready: Optional[date] = None
    transport_days: int = 1

    @property
    def sam_total(self) -> float:
        return sum(self.sam_minutes.values())

    @property
    def bundles(self) -> int:
        return self.quantity // self.bundle_size if self.bundle_size > 0 else 0

    @property
    def last_sewing_day(self) -> date:
        return date.fromordinal(self.due.toordinal() - self.transport_days)

    def first_sewing_day(self, today: date) -> date:
        return max(today, self.panels_ready) if self.panels_ready else today

    def problems(self, today: Optional[date] = None) -> list[OrderProblem]:
        """Every reason the order cannot be planned as written (empty: it can be). With `today`,
        also whether any sewing day is left before the due day."""
        out: list[OrderProblem] = []

        def bad(name: str, ko: str, en: str) -> None:
            out.append(OrderProblem(name, ko, en))

        if not str(self.id).strip():
            bad("id", "주문 번호가 비어 있습니다", "the order needs an id")
        if not str(self.style).strip():
            bad("style", "스타일 이름이 비어 있습니다", "the order needs a style")
        if not str(self.family).strip():
            bad("family", "품목(제품군)이 비어 있습니다", "the order needs a product family")
        if not self.sam_minutes:
            bad("sam_minutes", "재봉틀 종류별 표준시간(SAM)이 없습니다",
                "give the standard minutes per piece on each machine type")
        for t, m in self.sam_minutes.items():
            if not _finite(m) or m < 0:
                bad("sam_minutes", f"{t}의 표준시간 {m}분은 0 이상의 숫자여야 합니다",
                    f"{t}: {m} standard minutes must be a number of at least 0")
        if self.sam_minutes and all(_finite(m) and m <= 0 for m in self.sam_minutes.values()):
            bad("sam_minutes", "한 벌의 표준시간 합계가 0분입니다", "the standard minutes per piece add up to 0")
        if self.sam_minutes and self.sam_total > 600:
            bad("sam_minutes", f"한 벌에 {self.sam_total:,.1f}분은 너무 깁니다 (600분 이하)",
                f"{self.sam_total:,.1f} standard minutes per piece is too long (at most 600)")
        if not _int(self.quantity) or self.quantity < 1:
            bad("quantity", "수량은 1벌 이상의 정수여야 합니다", "the quantity must be a whole number of at least 1")
        if not _int(self.bundle_size) or self.bundle_size < 1:
            bad("bundle_size", "묶음 크기는 1벌 이상의 정수여야 합니다",
                "the bundle size must be a whole number of at least 1")
        elif _int(self.quantity) and self.quantity >= 1 and self.quantity % self.bundle_size:
            lower = self.quantity // self.bundle_size * self.bundle_size
            upper = lower + self.bundle_size
            bad("quantity", f"수량 {self.quantity:,}벌은 {self.bundle_size}벌 묶음으로 나누어지지 않습니다: "
                f"{lower:,}벌이나 {upper:,}벌로 하거나 묶음 크기를 바꾸세요",
                f"{self.quantity:,} pieces is not a whole number of bundles of {self.bundle_size}: "
                f"order {lower:,} or {upper:,}, or change the bundle size")
        if not _int(self.min_lot) or self.min_lot < 0:
            bad("min_lot", "최소 물량은 0 이상의 정수여야 합니다", "the minimum lot must be a whole number of at least 0")
        elif _int(self.quantity) and self.min_lot > self.quantity:
            bad("min_lot", f"최소 물량 {self.min_lot:,}벌이 주문 수량 {self.quantity:,}벌보다 많습니다",
                f"the minimum lot of {self.min_lot:,} is more than the {self.quantity:,} ordered")
        if not _int(self.max_workshops) or self.max_workshops < 1:
            bad("max_workshops", "공장 수 한도는 1 이상의 정수여야 합니다",
                "the most workshops must be a whole number of at least 1")
        if self.price_per_piece_krw is not None and (not _finite(self.price_per_piece_krw)
                                                     or self.price_per_piece_krw <= 0):
            bad("price_per_piece_krw", "단가는 0보다 큰 금액이어야 합니다", "the price per piece must be more than 0")
        if self.panels is not None:
            lat, lon = self.panels
            if not (_finite(lat) and _finite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
                bad("panels", "재단물 출발지 좌표가 잘못되었습니다", "the cut panels' coordinates are not a place")
        if not _int(self.transport_days) or not 0 <= self.transport_days <= 14:
            bad("transport_days", "운송 일수는 0에서 14 사이의 정수여야 합니다",
                "the transport days must be a whole number from 0 to 14")
        if not isinstance(self.due, date):
            bad("due", "납기일이 날짜가 아닙니다", "the due date is not a date")
        elif today is not None and not out:
            first, last = self.first_sewing_day(today), self.last_sewing_day
            if last < first:
                bad("due", f"납기 {_md(self.due)}까지 봉제할 날이 없습니다 ({_md(first)}부터 가능, "
                    f"운송 {self.transport_days}일)",
                    f"no sewing day is left before the due date {self.due:%m-%d} (sewing can start "
                    f"{first:%m-%d}; {self.transport_days} day(s) for transport)")
        return out

    def to_dict(self) -> dict:
        return _plain(self, digits=None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Order":
        """An order from JSON-like data: dates as ISO text, `panels` as [lat, lon] or {lat, lon}, and
        either `sam_minutes` ({type: minutes}) or `sam` (total) with `sam_split` ({type: share}).
        Raises InvalidOrder naming every field that is missing or not readable (the order's own
        rules are `problems()`)."""
        problems: list[OrderProblem] = []
        values: dict[str, Any] = {}
        if not isinstance(data, Mapping):
            raise InvalidOrder([OrderProblem("order", "주문은 JSON 객체여야 합니다", "the order must be a JSON object")])
        known = {f.name for f in fields(cls)} | {"sam", "sam_split"}
        for key in data:
            if key not in known:
                problems.append(OrderProblem(str(key), "알 수 없는 항목입니다", "not a field of an order"))

        def need(name: str, convert, ko: str, en: str, required: bool = True) -> None:
            if name not in data or data[name] is None:
                if required:
                    problems.append(OrderProblem(name, f"{ko} 항목이 없습니다", f"{en} is missing"))
                return
            try:
                values[name] = convert(data[name])
            except (TypeError, ValueError):
                problems.append(OrderProblem(name, f"{ko} 값을 읽을 수 없습니다: {data[name]!r}",
                                             f"{en} cannot be read: {data[name]!r}"))

        need("id", _text, "주문 번호", "id")
        need("style", _text, "스타일", "style")
        need("family", _text, "제품군", "family")
        need("quantity", _whole, "수량", "quantity")
        need("due", _date, "납기일", "due")
        need("bundle_size", _whole, "묶음 크기", "bundle_size", False)
        need("min_lot", _whole, "최소 물량", "min_lot", False)
        need("max_workshops", _whole, "공장 수 한도", "max_workshops", False)
        need("price_per_piece_krw", float, "단가", "price_per_piece_krw", False)
        need("panels", _point, "재단물 출발지", "panels", False)
        need("panels_ready", _date, "재단물 준비일", "panels_ready", False)
        need("transport_days", _whole, "운송 일수", "transport_days", False)
        if data.get("sam_minutes") is not None:
            need("sam_minutes", _minutes, "재봉틀 종류별 표준시간", "sam_minutes")
        elif data.get("sam") is not None and data.get("sam_split") is not None:
            try:
                values["sam_minutes"] = split_sam(float(data["sam"]), _minutes(data["sam_split"]))
            except (TypeError, ValueError) as e:
                problems.append(OrderProblem("sam_split", f"표준시간 비율을 읽을 수 없습니다: {e}",
                                             f"the standard minutes' split cannot be read: {e}"))
        else:
            problems.append(OrderProblem("sam_minutes", "재봉틀 종류별 표준시간(sam_minutes, 또는 sam과 sam_split)이 없습니다",
                                         "sam_minutes (or sam with sam_split) is missing"))
        if problems:
            raise InvalidOrder(problems)
        return cls(**values)


def split_sam(total: float, shares: Mapping[str, float]) -> dict[str, float]:
    """Minutes per machine type from a total SAM and each type's share (shares are normalised, so
    60/30/10 and 0.6/0.3/0.1 say the same)."""
    if not _finite(total) or total <= 0:
        raise ValueError(f"total SAM {total} must be more than 0")
    if not shares or any(not _finite(s) or s < 0 for s in shares.values()) or sum(shares.values()) <= 0:
        raise ValueError("shares must be numbers of at least 0 with a positive sum")
    whole = sum(shares.values())
    return {t: total * s / whole for t, s in shares.items() if s > 0}


# ============================================================================ the workshops
@dataclass(frozen=True)
class Candidate:
    """A workshop the order may go to, with its spare capacity ahead.

    spare_minutes: spare SAM-minutes per machine type per local day (capacity's figures; a
      negative, over-committed day counts as 0). Days not listed have no spare.
    price_per_sam_minute_krw: what it asks per standard minute; its price per piece is this times
      the order's SAM.
    fixed_cost_krw: the cost of engaging it at all (a visit, a sample approved, paperwork).
    on_time_rate, orders_delivered: its record: share of past orders delivered by the agreed day.
    min_order_pieces: the fewest pieces it takes.
    """

    id: str
    name_ko: str
    name_en: str
    lat: float
    lon: float
    families: tuple[str, ...]
    spare_minutes: Mapping[str, Mapping[date, float]]
    price_per_sam_minute_krw: float
    price_level: int = 2
    fixed_cost_krw: float = 30_000.0
    on_time_rate: float = 0.9
    orders_delivered: int = 0
    min_order_pieces: int = 0


#: What engaging a workshop costs the coordinator when its record does not say (a visit with the
#: panels and a sample approved; assumed, about an hour of a coordinator and a quick-service trip).
DEFAULT_FIXED_COST_KRW = 30_000.0


def candidate_from_capacity(sam: Any, workshop: Any, fixed_cost_krw: float = DEFAULT_FIXED_COST_KRW) -> Candidate:
    """A candidate from capacity's `WorkshopSam` (`hub.capacity`: its `types`, each with
    `machine_type` and `days` of `DaySpare` with `day` and `spare`) and the registry's record of the
    same workshop (`hub.registry.WorkshopInfo`, or a simulated `Workshop`: names, coordinates,
    families, price, on-time record, minimum order). Read by attribute, so the engine stays free
    of the stores behind either."""
    if sam.workshop != workshop.id:
        raise ValueError(f"capacity of {sam.workshop} paired with the record of {workshop.id}")
    spare = {t.machine_type: {d.day: max(0.0, float(d.spare)) for d in t.days} for t in sam.types}
    return Candidate(
        id=workshop.id, name_ko=workshop.name_ko, name_en=workshop.name_en, lat=float(workshop.lat),
        lon=float(workshop.lon), families=tuple(sam.families or workshop.families), spare_minutes=spare,
        price_per_sam_minute_krw=float(workshop.price_per_sam_minute_krw),
        price_level=int(getattr(workshop, "price_level", 2) or 2), fixed_cost_krw=float(fixed_cost_krw),
        on_time_rate=float(workshop.on_time_rate), orders_delivered=int(workshop.orders_delivered),
        min_order_pieces=int(workshop.min_order_pieces or 0))


def candidates_from_capacity(sams: Iterable[Any], workshops: Iterable[Any],
                             fixed_cost_krw: float = DEFAULT_FIXED_COST_KRW) -> list[Candidate]:
    """`candidate_from_capacity` for every workshop that has both a capacity and a record, by id."""
    records = {w.id: w for w in workshops}
    return [candidate_from_capacity(s, records[s.workshop], fixed_cost_krw)
            for s in sorted(sams, key=lambda s: s.workshop) if s.workshop in records]


# ============================================================================ the costs
@dataclass(frozen=True)
class Weights:
    """How the plan's cost is counted (KRW). Every term is linear in the pieces a workshop gets,
    plus a fixed part per workshop engaged:

    - sewing: pieces × the workshop's price per SAM-minute × the order's SAM;
    - fixed: the workshop's `fixed_cost_krw`, once, if engaged;
    - transport: panels out and pieces back, road km = `road_factor` × straight-line km, at
      `krw_per_km`: one round trip per engaged workshop plus one per `pieces_per_trip` pieces,
      counted pro rata;
    - late risk: expected late pieces × `late_cost_per_piece_krw` (None: half the order's price
      per piece, or `late_cost_fallback_krw` without one). A workshop's chance to deliver late is
      1 − its on-time rate shrunk toward `on_time_prior` as if it had `prior_orders` more orders
      at that rate (a workshop with no record is neither perfect nor hopeless);
    - split: `split_penalty_krw` per workshop beyond the first (coordination and uneven quality
      grow with every workshop).
    """

    krw_per_km: float = 1_500.0
    road_factor: float = 1.3
    pieces_per_trip: int = 600
    late_cost_per_piece_krw: Optional[float] = None
    late_cost_fallback_krw: float = 1_000.0
    on_time_prior: float = 0.85
    prior_orders: float = 5.0
    split_penalty_krw: float = 40_000.0

    def __post_init__(self) -> None:
        money = (self.krw_per_km, self.late_cost_fallback_krw, self.split_penalty_krw, self.prior_orders,
                 *(() if self.late_cost_per_piece_krw is None else (self.late_cost_per_piece_krw,)))
        if not all(_finite(x) and x >= 0 for x in money):
            raise ValueError("cost weights must be numbers of at least 0")
        if not (_finite(self.road_factor) and self.road_factor >= 1):
            raise ValueError("the road factor must be at least 1")
        if not (_int(self.pieces_per_trip) and self.pieces_per_trip >= 1):
            raise ValueError("pieces per trip must be a whole number of at least 1")
        if not (_finite(self.on_time_prior) and 0 <= self.on_time_prior <= 1):
            raise ValueError("the on-time prior must be between 0 and 1")

    def late_cost(self, order: Order) -> float:
        if self.late_cost_per_piece_krw is not None:
            return self.late_cost_per_piece_krw
        if order.price_per_piece_krw:
            return 0.5 * order.price_per_piece_krw
        return self.late_cost_fallback_krw

    def late_chance(self, c: Candidate) -> float:
        n = max(0, c.orders_delivered)
        rate = min(1.0, max(0.0, c.on_time_rate))
        rate = (rate * n + self.on_time_prior * self.prior_orders) / (n + self.prior_orders)
        return 1.0 - rate


# ============================================================================ the plan
@dataclass(frozen=True)
class Reason:
    """Why a workshop is in the plan or not, or why an order cannot be met: a code a program can
    act on, the figures behind it, and a sentence in Korean and English."""

    code: str
    ko: str
    en: str
    figures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cost:
    sewing: float = 0.0
    fixed: float = 0.0
    transport: float = 0.0
    late_risk: float = 0.0
    split: float = 0.0

    @property
    def total(self) -> float:
        return self.sewing + self.fixed + self.transport + self.late_risk + self.split

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Cost)))

    def to_dict(self) -> dict:
        return {**{f.name: round(getattr(self, f.name)) for f in fields(Cost)}, "total": round(self.total)}


@dataclass(frozen=True)
class DayPieces:
    """A workshop's pieces on one day, the most it could sew that day, and the SAM-minutes the
    day's pieces take on each machine type."""

    day: date
    pieces: int
    capacity: int
    minutes: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Assignment:
    workshop: str
    name_ko: str
    name_en: str
    pieces: int
    bundles: int
    #: Pieces already started there (a re-plan never moves them).
    started: int
    #: The most pieces it could sew from the first to the last sewing day, and the machine type
    #: that limits it most.
    capacity_pieces: int
    binding_machine_type: Optional[str]
    distance_km: float
    on_time_rate: float
    orders_delivered: int
    expected_late_pieces: float
    cost: Cost
    schedule: tuple[DayPieces, ...]
    reasons: tuple[Reason, ...] = ()

    @property
    def per_piece_krw(self) -> float:
        return self.cost.total / self.pieces if self.pieces else 0.0


@dataclass(frozen=True)
class LeftOut:
    """A strong candidate the plan does not use, and why."""

    workshop: str
    name_ko: str
    name_en: str
    capacity_pieces: int
    per_piece_krw: Optional[float]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Alternative:
    """A change to the order that makes it feasible, computed: `kind` is later_due (value: the
    earliest due date that works), smaller_quantity (the most pieces that fit by the due date),
    more_workshops (the fewest workshops that hold the order)."""

    kind: str
    value: Any
    ko: str
    en: str


@dataclass(frozen=True)
class Solve:
    """How the solver ended: objective and bound in whole KRW of the modelled cost (the plan's
    `cost` is the same cost unrounded), gap = (objective − bound) / objective."""

    method: str  # cp-sat | greedy | largest-first
    status: str  # optimal | feasible | infeasible | unknown | not_run
    objective: Optional[int] = None
    bound: Optional[int] = None
    gap: Optional[float] = None
    seconds: float = 0.0
    work: float = 0.0
    stopped_by: str = ""
    reproducible: bool = True
    workers: int = 0
    seed: int = 0


@dataclass(frozen=True)
class Plan:
    """The answer to an order: `feasible` with assignments (one per engaged workshop, by pieces,
    most first), or not, with the reasons in numbers and the nearest feasible alternatives."""

    order: str
    feasible: bool
    pieces: int
    first_day: date
    last_day: date
    assignments: tuple[Assignment, ...]
    cost: Cost
    expected_late_pieces: float
    solve: Solve
    left_out: tuple[LeftOut, ...] = ()
    reasons: tuple[Reason, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    #: How the candidates were filtered: considered, then each filter's removals, then modelled.
    funnel: Mapping[str, int] = field(default_factory=dict)
    #: Re-plans: pieces taken from the workshop the previous plan gave them to.
    moved_pieces: Optional[int] = None

    def pieces_by_workshop(self) -> dict[str, int]:
        return {a.workshop: a.pieces for a in self.assignments}

    def to_dict(self) -> dict:
        out = _plain(self)
        out["cost"] = self.cost.to_dict()
        for a, d in zip(self.assignments, out["assignments"]):
            d["cost"] = a.cost.to_dict()
            d["per_piece_krw"] = round(a.per_piece_krw, 1)
        return out


# ============================================================================ helpers
def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _md(d: date) -> str:
    return f"{d.month}/{d.day}"


def _text(x: Any) -> str:
    if not isinstance(x, (str, int)) or isinstance(x, bool):
        raise TypeError("not text")
    return str(x).strip()


def _whole(x: Any) -> int:
    if isinstance(x, bool):
        raise TypeError("not a number")
    if isinstance(x, float):
        if not x.is_integer():
            raise ValueError("not whole")
        return int(x)
    return int(x)


def _date(x: Any) -> date:
    if isinstance(x, date):
        return x
    return date.fromisoformat(str(x).strip()[:10])


def _point(x: Any) -> tuple[float, float]:
    if isinstance(x, Mapping):
        return float(x["lat"]), float(x["lon"])
    lat, lon = x
    return float(lat), float(lon)


def _minutes(x: Any) -> dict[str, float]:
    if not isinstance(x, Mapping):
        raise TypeError("not an object of machine type: minutes")
    return {str(k): float(v) for k, v in x.items()}


def _plain(obj: Any, digits: Optional[int] = 4) -> Any:
    """JSON-ready: dataclasses as dicts, dates as ISO text, tuples as lists, floats rounded to
    `digits` (None: as they are)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name), digits) for f in fields(obj)}
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {str(_plain(k, digits)): _plain(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, digits) for v in obj]
    if isinstance(obj, float) and digits is not None:
        return round(obj, digits)
    return obj


__all__ = ["Alternative", "Assignment", "Candidate", "Cost", "DEFAULT_FIXED_COST_KRW", "DayPieces", "InvalidOrder",
           "LeftOut", "Names", "Order", "OrderProblem", "Plan", "Reason", "Solve", "Weights",
           "candidate_from_capacity", "candidates_from_capacity", "split_sam"]
