"""Spare standard minutes (SAM-minutes) per workshop, machine type and day: pure logic.

No web, no storage, no clock: `now` and every input are parameters, so the same inputs give the
same figures, and every figure can say where it came from.

For each of the next `days` days (today first, in the workshop's time zone):

    spare = machines × availability × working minutes × efficiency − committed minutes

- machines: the registry's count of that type in the workshop;
- working minutes: from its working hours, lunch and days off, in local time (Asia/Seoul); today
  counts only the minutes after `now`;
- availability (share of the machines really in use) and efficiency (earned / attended minutes)
  start from the registry's declared figures (every machine in use; the declared efficiency) and
  are calibrated by telemetry, below;
- committed: minutes of accepted work already booked on that type and day (handed in by the
  caller: capacity never reads planning).

Spare is negative only when more is committed than there is capacity, and then the day says
`over_committed` and by how much: nothing is clipped away.

Calibration, per workshop, from its machines' daily sums over the last `lookback_days` days:
- a day is evidence when it is a working day with at least 30 working minutes behind it (today
  counts the minutes elapsed) and at least one machine ran `min_run_minutes`. A day on which no
  machine ran says the workshop had no work, not that it cannot sew: it is left out, so an idle
  workshop keeps its declared capacity instead of losing the work that would keep it busy.
- utilisation measures load as well as capability, so only the busier half of the evidence days
  (by running ratio, recent days weighing more) sets the figures: a half-loaded week does not
  make a workshop look half as able.
- availability of a type = machines of that type that ran / machines of that type (a machine the
  registry lists but that never runs is not capacity);
- efficiency = needle running time of the machines that ran / their working time / needle share,
  where the needle share (`needle_share`, about 0.5: the needle runs about half of a standard
  minute; FIELD_FACTS: running 20-40 % of the time at 30-65 % efficiency) turns running time into
  earned minutes; capped at `max_efficiency`;
- each evidence day weighs 0.5^(its age / half-life);
- trust in the measurement = freshness × coverage: freshness = 0.5^(age of the workshop's latest
  data / half-life), coverage = evidence working minutes / `full_trust_days` working days, at most
  1. The figure used is declared + trust × (measured − declared): data that goes stale decays
  toward the declared figure with the half-life (a silent gateway is not a workshop with zero
  capacity), and a workshop never seen uses the declared figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from hub.core.days import WEEKDAYS_KO

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_ZONE = "Asia/Seoul"
#: Korean names of the machine types the registry uses; an unknown type is shown by its key.
MACHINE_TYPES_KO = {"lockstitch": "본봉", "overlock": "오버록", "coverstitch": "삼봉", "flatlock": "평봉",
                    "chainstitch": "체인스티치", "bartack": "바택", "buttonhole": "단추구멍", "button_sew": "단추달이"}
#: A day with fewer working minutes behind it than this says too little to calibrate on.
MIN_EVIDENCE_MINUTES = 30.0


# ============================================================================ inputs
@dataclass(frozen=True)
class WorkingHours:
    """When a workshop sews, on its local clock."""

    opens: time
    closes: time
    lunch_start: time | None = None
    lunch_minutes: int = 0
    workdays: frozenset[int] = frozenset(range(6))  # 0 = Monday
    days_off: frozenset[date] = frozenset()  # holidays and the workshop's own closures
    zone: str = DEFAULT_ZONE

    def __post_init__(self) -> None:
        if _minute(self.closes) <= _minute(self.opens):
            raise ValueError(f"closing time {self.closes:%H:%M} must be after opening time {self.opens:%H:%M}")
        if not 0 <= self.lunch_minutes <= _minute(self.closes) - _minute(self.opens):
            raise ValueError(f"lunch of {self.lunch_minutes} min does not fit the working day")
        if self.lunch_minutes and self.lunch_start is None:
            raise ValueError("a lunch break needs its start")
        if not all(0 <= d <= 6 for d in self.workdays):
            raise ValueError("workdays are 0 (Monday) to 6 (Sunday)")
        zone(self.zone)  # refuse an unknown zone here, not in the middle of a report

    # Cached on the instance (frozen dataclasses allow it): computed once per workshop, not per day.
    @cached_property
    def _spans(self) -> tuple[tuple[float, float], ...]:
        opens, closes = _minute(self.opens), _minute(self.closes)
        if not self.lunch_minutes:
            return ((opens, closes),)
        # Lunch is clipped to the working day, so a lunch that starts before opening still costs
        # only the part of it inside the day; the day's minutes never go below zero.
        lunch = min(max(_minute(self.lunch_start), opens), closes)
        lunch_end = min(lunch + self.lunch_minutes, closes)
        return tuple(s for s in ((opens, lunch), (lunch_end, closes)) if s[1] > s[0])

    @cached_property
    def _day_minutes(self) -> float:
        return sum(b - a for a, b in self._spans)

    def spans(self) -> tuple[tuple[float, float], ...]:
        """Working spans as (start, end) minutes of the local day."""
        return self._spans

    def day_minutes(self) -> float:
        """Working minutes of a whole working day."""
        return self._day_minutes

    def works_on(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.days_off

    def minutes_on(self, day: date, after: float = 0.0, before: float = 1440.0) -> float:
        """Working minutes on `day` between the local minutes `after` and `before` of that day."""
        if not self.works_on(day):
            return 0.0
        if after <= 0.0 and before >= 1440.0:
            return self._day_minutes
        return sum(max(0.0, min(b, before) - max(a, after)) for a, b in self._spans)

    def describe(self) -> tuple[str, str]:
        days_ko = "".join(WEEKDAYS_KO[d] for d in sorted(self.workdays))
        days_en = ", ".join(WEEKDAYS[d] for d in sorted(self.workdays))
        lunch_ko = f", 점심 {self.lunch_start:%H:%M}부터 {self.lunch_minutes}분" if self.lunch_minutes else ""
        lunch_en = f", lunch {self.lunch_minutes} min from {self.lunch_start:%H:%M}" if self.lunch_minutes else ""
        return (f"{days_ko} {self.opens:%H:%M}–{self.closes:%H:%M}{lunch_ko}",
                f"{days_en} {self.opens:%H:%M}–{self.closes:%H:%M}{lunch_en}")


def _minute(t: time) -> float:
    return t.hour * 60 + t.minute + t.second / 60


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class ProfileMachine:
    machine_id: str  # the machine tag its gateway writes (telemetry)
    type: str


@dataclass(frozen=True)
class WorkshopProfile:
    """What capacity needs to know of a workshop; hub.capacity.profiles maps registry records to it."""

    id: str
    machines: tuple[ProfileMachine, ...]
    hours: WorkingHours
    declared_efficiency: float  # earned / attended minutes as the owner declares it, 0..1
    families: tuple[str, ...] = ()
    declared_at: datetime | None = None  # when the registry last changed the declared figures

    def __post_init__(self) -> None:
        if not 0 <= self.declared_efficiency <= 1:
            raise ValueError(f"declared efficiency {self.declared_efficiency} is not between 0 and 1")

    def machine_types(self) -> dict[str, tuple[str, ...]]:
        """Machine ids by type, types in the order they first appear."""
        out: dict[str, list[str]] = {}
        for m in self.machines:
            out.setdefault(m.type, []).append(m.machine_id)
        return {t: tuple(ids) for t, ids in out.items()}


@dataclass(frozen=True)
class TelemetryEvidence:
    """One machine's sums over one local day (in the workshop's zone)."""

    workshop: str
    machine: str
    day: date
    run_ms: int
    observed_ms: int
    stitches: int = 0


@dataclass(frozen=True)
class Commitment:
    """Minutes of accepted work booked on a workshop's machine type for a day."""

    workshop: str
    machine_type: str
    day: date
    minutes: float
    reference: str = ""  # the order or plan it belongs to, for the explanation


@dataclass(frozen=True)
class CapacityRules:
    days: int = 14
    half_life: timedelta = timedelta(days=3)
    lookback_days: int = 14
    needle_share: float = 0.5
    min_run_minutes: float = 5.0
    full_trust_days: float = 2.0
    max_efficiency: float = 1.0

    def __post_init__(self) -> None:
        if self.days < 1 or self.lookback_days < 0:
            raise ValueError("days must be at least 1 and lookback_days at least 0")
        if self.half_life <= timedelta(0) or not 0 < self.needle_share <= 1 or self.full_trust_days <= 0:
            raise ValueError("half_life and full_trust_days must be positive, needle_share in (0, 1]")


# ============================================================================ outputs
@dataclass(frozen=True)
class Factor:
    """A calibrated figure (availability of a machine type, or a workshop's efficiency), with its
    provenance: the declared and measured values, how much the measurement is trusted and why."""

    name: str  # availability | efficiency
    value: float
    declared: float
    measured: float | None
    trust: float  # 0..1: freshness × coverage
    #: measured | blended | declared:never_seen | declared:idle | declared:too_little_data |
    #: declared:no_recent_data | declared:telemetry_unavailable | declared:no_machines
    rule: str
    evidence_days: int = 0  # working days with data in the lookback
    busy_days: int = 0  # of which set the figure
    evidence_minutes: float = 0.0  # working minutes of the evidence days
    last_data: datetime | None = None
    age: timedelta | None = None
    freshness: float = 0.0
    coverage: float = 0.0
    used_machines: float | None = None  # availability: machines that ran, on the busy days' average
    machines: int = 0

    def explain(self) -> dict:
        return {"value": self.value, "declared": self.declared, "measured": self.measured, "trust": self.trust,
                "rule": self.rule, "freshness": self.freshness, "coverage": self.coverage,
                "evidence_days": self.evidence_days, "busy_days": self.busy_days,
                "evidence_minutes": self.evidence_minutes, "last_data": self.last_data,
                "age_s": None if self.age is None else round(self.age.total_seconds())}

    def sentence(self, machine_type: str | None = None) -> tuple[str, str]:
        pct, dec = _pct(self.value), _pct(self.declared)
        what_ko = "가용률" if self.name == "availability" else "효율"
        what_en = "availability" if self.name == "availability" else "efficiency"
        if self.rule.startswith("declared:"):
            why_ko, why_en = {
                "declared:never_seen": ("센서 데이터를 받은 적 없음", "no telemetry ever received"),
                "declared:idle": ("최근 데이터는 있으나 재봉틀이 돌지 않음: 일감이 없던 것으로 봄",
                                  "recent data shows no machine running: taken as no work, not no capacity"),
                "declared:no_recent_data": (f"최근 {_age_ko(self.age)} 데이터 없음" if self.age else "최근 데이터 없음",
                                            f"no data in the lookback (last {_age_en(self.age)} ago)"
                                            if self.age else "no data in the lookback"),
                "declared:too_little_data": ("최근 데이터가 작업 시간 밖이거나 너무 짧음",
                                             "recent data is outside working hours or too short"),
                "declared:telemetry_unavailable": ("데이터 저장소가 응답하지 않음", "the telemetry store did not answer"),
                "declared:no_machines": ("등록된 재봉틀 없음", "no such machines in the registry"),
            }.get(self.rule, ("신고값", "declared"))
            return f"{what_ko} {pct}: 신고값 ({why_ko})", f"{what_en} {pct}: as declared ({why_en})"
        kind_ko = MACHINE_TYPES_KO.get(machine_type or "", machine_type or "")
        if self.name == "availability":
            seen_ko = f"바쁜 날 {self.busy_days}일 평균 {kind_ko} {self.machines}대 중 {self.used_machines:.1f}대 가동"
            seen_en = (f"on the busier {self.busy_days} of {self.evidence_days} recent working days "
                       f"{self.used_machines:.1f} of {self.machines} {machine_type} machines ran")
        else:
            seen_ko = f"바쁜 날 {self.busy_days}일 재봉 시간으로 측정 {_pct(self.measured)}"
            seen_en = (f"measured {_pct(self.measured)} from needle time on the busier {self.busy_days} of "
                       f"{self.evidence_days} recent working days")
        return (f"{what_ko} {pct}: {seen_ko}, 신고 {dec}, 측정 반영 {_pct(self.trust)} "
                f"(마지막 데이터 {_age_ko(self.age)}, 반감기 적용)",
                f"{what_en} {pct}: {seen_en}; declared {dec}; the measurement weighs {_pct(self.trust)} "
                f"(latest data {_age_en(self.age)} ago, halving with age)")


@dataclass(frozen=True)
class DaySpare:
    day: date
    working_minutes: float
    capacity: float
    committed: float
    spare: float
    over_committed: bool
    partial: bool  # today: only the minutes after now
    commitments: int = 0  # how many commitments make up `committed`


@dataclass(frozen=True)
class TypeCapacity:
    workshop: str
    machine_type: str
    machine_ids: tuple[str, ...]
    availability: Factor
    efficiency: Factor
    days: tuple[DaySpare, ...]

    @property
    def machines(self) -> int:
        return len(self.machine_ids)

    def explain(self, d: DaySpare, hours: WorkingHours, now: datetime) -> dict:
        """Which inputs made the day's spare, their values, their age and the rule."""
        if not hours.works_on(d.day):
            minutes_rule = "day off" if d.day in hours.days_off else f"not a workday ({WEEKDAYS[d.day.weekday()]})"
        elif d.partial:
            minutes_rule = f"today: working minutes after {now.astimezone(zone(hours.zone)):%H:%M} only"
        else:
            minutes_rule = "working hours less lunch"
        return {
            "figure": "spare",
            "rule": "machines × availability × working_minutes × efficiency − committed",
            "value": round(d.spare, 2),
            "capacity": round(d.capacity, 2),
            "over_committed": d.over_committed,
            "inputs": {
                "machines": {"value": self.machines, "source": "registry", "machine_ids": list(self.machine_ids)},
                "availability": {"value": round(self.availability.value, 4), "rule": self.availability.rule,
                                 "see": "availability"},
                "working_minutes": {"value": round(d.working_minutes, 2), "source": "registry working hours",
                                    "hours": hours.describe()[1], "zone": hours.zone, "rule": minutes_rule},
                "efficiency": {"value": round(self.efficiency.value, 4), "rule": self.efficiency.rule,
                               "see": "efficiency"},
                "committed": {"value": round(d.committed, 2), "source": "accepted work", "commitments": d.commitments},
            },
        }

    def sentence(self, d: DaySpare, hours: WorkingHours) -> tuple[str, str]:
        kind_ko = MACHINE_TYPES_KO.get(self.machine_type, self.machine_type)
        day_ko = f"{d.day.month}/{d.day.day}({WEEKDAYS_KO[d.day.weekday()]})"
        day_en = f"{WEEKDAYS[d.day.weekday()].capitalize()} {d.day:%m-%d}"
        if d.working_minutes == 0 and not d.committed:
            if not hours.works_on(d.day):
                return f"{day_ko} {kind_ko}: 쉬는 날", f"{day_en} {self.machine_type}: not a working day"
            return (f"{day_ko} {kind_ko}: 오늘 작업 시간이 끝남",
                    f"{day_en} {self.machine_type}: today's working hours are over")
        formula_ko = (f"{self.machines}대 × 가용 {_pct(self.availability.value)} × {_n(d.working_minutes)}분 × "
                      f"효율 {_pct(self.efficiency.value)} − 약속 {_n(d.committed)}분")
        formula_en = (f"{self.machines} machine{'' if self.machines == 1 else 's'} × "
                      f"{_pct(self.availability.value)} available × "
                      f"{_n(d.working_minutes)} min × {_pct(self.efficiency.value)} efficiency − "
                      f"{_n(d.committed)} min committed")
        if d.over_committed:
            return (f"{day_ko} {kind_ko} 약속 초과 {_n(-d.spare)}분 = {formula_ko}",
                    f"{day_en} {self.machine_type} over-committed by {_n(-d.spare)} min = {formula_en}")
        return (f"{day_ko} {kind_ko} 여유 {_n(d.spare)}분 = {formula_ko}",
                f"{day_en} {self.machine_type} spare {_n(d.spare)} min = {formula_en}")


@dataclass(frozen=True)
class WorkshopSam:
    workshop: str
    families: tuple[str, ...]
    hours: WorkingHours
    last_data: datetime | None
    efficiency: Factor
    types: tuple[TypeCapacity, ...]
    declared_at: datetime | None = None


# ============================================================================ the rules
def local_days(now: datetime, tz: str, count: int) -> list[date]:
    """`count` local dates from today in `tz`: the days a report covers."""
    today = now.astimezone(zone(tz)).date()
    return [today + timedelta(days=i) for i in range(count)]


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), zone(tz))


def _minutes_of_day(t: datetime, tz: str) -> float:
    local = t.astimezone(zone(tz))
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6


@dataclass
class _Day:
    weight: float
    attended_ms: float  # working minutes of the day (elapsed, today) in ms
    run_ms: dict[str, int] = field(default_factory=dict)  # by machine id, of the registered machines


def calibrate(profile: WorkshopProfile, evidence: Iterable[TelemetryEvidence], last_seen: datetime | None,
              now: datetime, rules: CapacityRules, telemetry: bool = True) -> tuple[dict[str, Factor], Factor]:
    """Availability per machine type and the workshop's efficiency (see the module's docstring)."""
    hours = profile.hours
    types = profile.machine_types()
    declared_eff = profile.declared_efficiency

    def declared(rule: str, age: timedelta | None = None) -> tuple[dict[str, Factor], Factor]:
        last = None if age is None else now - age
        avail = {t: Factor("availability", 1.0, 1.0, None, 0.0, rule, last_data=last, age=age, machines=len(ids))
                 for t, ids in types.items()}
        return avail, Factor("efficiency", declared_eff, declared_eff, None, 0.0, rule, last_data=last, age=age)

    if not telemetry:
        return declared("declared:telemetry_unavailable")
    type_of = {m.machine_id: m.type for m in profile.machines}
    today = now.astimezone(zone(hours.zone)).date()
    first = today - timedelta(days=rules.lookback_days)
    now_minute = _minutes_of_day(now, hours.zone)
    half_life_days = rules.half_life.total_seconds() / 86400
    days: dict[date, _Day] = {}
    latest_day: date | None = None
    for e in evidence:
        if e.machine not in type_of or not first <= e.day <= today:
            continue
        latest_day = e.day if latest_day is None or e.day > latest_day else latest_day
        d = days.get(e.day)
        if d is None:
            attended = hours.minutes_on(e.day, before=now_minute if e.day == today else 1440.0)
            d = days[e.day] = _Day(0.5 ** ((today - e.day).days / half_life_days), attended * 60_000)
        d.run_ms[e.machine] = d.run_ms.get(e.machine, 0) + e.run_ms

    last = last_seen
    if last is None and latest_day is not None:
        last = min(now, local_midnight(latest_day + timedelta(days=1), hours.zone))
    age = None if last is None else max(timedelta(0), now - last)
    if last is None:
        return declared("declared:never_seen")

    min_run_ms = rules.min_run_minutes * 60_000
    evidence_days: list[tuple[date, _Day, float]] = []  # (day, data, running ratio of the machines that ran)
    working_days = 0
    for day, d in days.items():
        if d.attended_ms < MIN_EVIDENCE_MINUTES * 60_000:
            continue  # a day off, or too little of today behind us
        working_days += 1
        ran = [ms for ms in d.run_ms.values() if ms >= min_run_ms]
        if not ran:
            continue  # an idle day: no work, which says nothing of what the workshop could sew
        evidence_days.append((day, d, sum(ran) / (len(ran) * d.attended_ms)))
    if not evidence_days:
        rule = "declared:idle" if working_days else "declared:too_little_data" if days else "declared:no_recent_data"
        return declared(rule, age)

    # The busier half by weight: days in descending running ratio until half the weight is in.
    evidence_days.sort(key=lambda x: (-x[2], -x[0].toordinal()))  # ties: the newer day
    total_weight = sum(d.weight for _, d, _ in evidence_days)
    busy, acc = [], 0.0
    for item in evidence_days:
        busy.append(item)
        acc += item[1].weight
        if acc >= total_weight / 2:
            break
    busy_weight = sum(d.weight for _, d, _ in busy)

    freshness = 0.5 ** (age.total_seconds() / rules.half_life.total_seconds())
    evidence_minutes = sum(d.attended_ms for _, d, _ in evidence_days) / 60_000
    full_day = hours.day_minutes()
    coverage = min(1.0, evidence_minutes / (rules.full_trust_days * full_day)) if full_day else 0.0
    trust = freshness * coverage
    rule = "measured" if trust >= 0.999 else "blended"

    run_sum = attended_sum = 0.0
    used_on = []  # (weight, machines that ran) per busy day
    for _, d, _ in busy:
        used = {m for m, ms in d.run_ms.items() if ms >= min_run_ms}
        used_on.append((d.weight, used))
        run_sum += d.weight * sum(d.run_ms[m] for m in used)
        attended_sum += d.weight * len(used) * d.attended_ms
    measured_eff = min(rules.max_efficiency, run_sum / attended_sum / rules.needle_share)
    efficiency = Factor("efficiency", declared_eff + trust * (measured_eff - declared_eff), declared_eff,
                        measured_eff, trust, rule, len(evidence_days), len(busy), evidence_minutes, last, age,
                        freshness, coverage)

    availability = {}
    for t, ids in types.items():
        used = sum(w * len(ran.intersection(ids)) for w, ran in used_on) / busy_weight
        measured = used / len(ids)
        availability[t] = Factor("availability", 1.0 + trust * (measured - 1.0), 1.0, measured, trust, rule,
                                 len(evidence_days), len(busy), evidence_minutes, last, age, freshness, coverage,
                                 used, len(ids))
    return availability, efficiency


def workshop_spare(profile: WorkshopProfile, evidence: Iterable[TelemetryEvidence], last_seen: datetime | None,
                   commitments: Iterable[Commitment], now: datetime, rules: CapacityRules = CapacityRules(),
                   telemetry: bool = True) -> WorkshopSam:
    """One workshop's spare SAM-minutes per machine type for each of the next `rules.days` days."""
    hours = profile.hours
    availability, efficiency = calibrate(profile, evidence, last_seen, now, rules, telemetry)
    days = local_days(now, hours.zone, rules.days)
    index = {d: i for i, d in enumerate(days)}
    now_minute = _minutes_of_day(now, hours.zone)
    minutes = [hours.minutes_on(days[0], after=now_minute)] + [hours.minutes_on(d) for d in days[1:]]

    booked: dict[str, list[float]] = {}
    booked_n: dict[str, list[int]] = {}
    for c in commitments:
        i = index.get(c.day)
        if i is None or c.workshop != profile.id:
            continue
        booked.setdefault(c.machine_type, [0.0] * len(days))[i] += c.minutes
        booked_n.setdefault(c.machine_type, [0] * len(days))[i] += 1

    types = profile.machine_types()
    out = []
    # A type booked but not in the registry (machines sold, a plan made on old data) is shown with
    # no machines, over-committed, rather than dropped.
    for t in [*types, *(t for t in booked if t not in types)]:
        ids = types.get(t, ())
        avail = availability.get(t) or Factor("availability", 0.0, 0.0, None, 0.0, "declared:no_machines")
        per_minute = len(ids) * avail.value * efficiency.value
        committed = booked.get(t) or [0.0] * len(days)
        counts = booked_n.get(t) or [0] * len(days)
        out.append(TypeCapacity(profile.id, t, ids, avail, efficiency, tuple(
            _day(days[i], minutes[i], per_minute * minutes[i], committed[i], counts[i], i == 0)
            for i in range(len(days)))))
    last = efficiency.last_data
    return WorkshopSam(profile.id, profile.families, hours, last, efficiency, tuple(out), profile.declared_at)


def _day(day: date, minutes: float, capacity: float, committed: float, n: int, partial: bool) -> DaySpare:
    spare = capacity - committed
    return DaySpare(day, minutes, capacity, committed, spare, spare < 0, partial, n)


def network_spare(profiles: Sequence[WorkshopProfile], evidence: Iterable[TelemetryEvidence],
                  last_seen: Mapping[tuple[str, str], datetime], commitments: Iterable[Commitment],
                  now: datetime, rules: CapacityRules = CapacityRules(), telemetry: bool = True) -> list[WorkshopSam]:
    """workshop_spare for many workshops, the inputs grouped once. `last_seen` is keyed by
    (workshop, machine id); a workshop's latest data is its registered machines' latest."""
    by_workshop: dict[str, list[TelemetryEvidence]] = defaultdict(list)
    for e in evidence:
        by_workshop[e.workshop].append(e)
    booked: dict[str, list[Commitment]] = defaultdict(list)
    for c in commitments:
        booked[c.workshop].append(c)
    out = []
    for p in profiles:
        seen = [t for m in p.machines if (t := last_seen.get((p.id, m.machine_id))) is not None]
        out.append(workshop_spare(p, by_workshop.get(p.id, ()), max(seen) if seen else None,
                                  booked.get(p.id, ()), now, rules, telemetry))
    return out


# ============================================================================ words
def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.0f}%"


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _age_ko(age: timedelta | None) -> str:
    if age is None:
        return "없음"
    s = age.total_seconds()
    if s < 3600:
        return f"{int(s // 60)}분 전"
    if s < 86400:
        return f"{int(s // 3600)}시간 전"
    return f"{s / 86400:.1f}일 전"


def _age_en(age: timedelta | None) -> str:
    if age is None:
        return "never"
    s = age.total_seconds()
    if s < 3600:
        return f"{int(s // 60)} min"
    if s < 86400:
        return f"{int(s // 3600)} h"
    return f"{s / 86400:.1f} d"

