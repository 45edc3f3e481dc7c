"""Live capacity per workshop, in plain Python over the telemetry port.

Per workshop: machines known (a point in the known window, 30 days), machines online (a point in
the online window, 15 minutes), stitches and running ratio (run_ms / observed_ms) over the
capacity window (1 hour), last seen; and the same per machine.

The capacity window of each workshop ends at that workshop's latest data, not at the hub's now: a
gateway ships its summaries every 10 minutes, so "the last hour up to now" held only 50 to 60
minutes of a workshop's sewing, depending on when its last batch came. The window is whole
minutes (the reads bucket by the minute): the hour up to the end of the minute that holds the
workshop's latest point. A workshop silent for longer than the online window gets the hour that
ends the online window ago, so its figure fades out instead of freezing at its last busy hour.

The figures come from three reads: every machine's last point (the known window), its sums from
the latest possible window start to now, and its sums per minute over the span where the
workshops' window starts fall (the online window long); a workshop's window is the first plus the
minutes of the second at or after its own start.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Sequence

from hub.capacity.models import CapacityReport, MachineCapacity, WorkshopCapacity
from hub.capacity.sam import (
    DEFAULT_ZONE,
    WEEKDAYS,
    CapacityRules,
    Commitment,
    Factor,
    TelemetryEvidence,
    WorkshopProfile,
    WorkshopSam,
    local_days,
    local_midnight,
    network_spare,
)
from hub.capacity.sources import SourceUnavailable
from hub.core.settings import HubSettings
from hub.telemetry import MachineActivity, MachineBucket, MachineSeen, Telemetry, TelemetryUnavailable, check_zone

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if t else None


def _ratio(run_ms: int, observed_ms: int) -> float | None:
    return round(run_ms / observed_ms, 4) if observed_ms > 0 else None


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class WindowReads:
    """Where the reads for a report at `now` start and end (all on whole minutes)."""

    now: datetime
    window: timedelta  # capacity_window
    lag: timedelta  # online_window: the longest a window may end before now
    body_from: datetime  # the latest any workshop's window can start: sums from here to now
    head_from: datetime  # the earliest: minute buckets from here to body_from

    @classmethod
    def at(cls, now: datetime, settings: HubSettings) -> "WindowReads":
        window, lag = settings.capacity_window, settings.online_window
        return cls(now, window, lag, floor_minute(now) + MINUTE - window, floor_minute(now - lag) + MINUTE - window)

    def for_workshop(self, latest: datetime | None) -> tuple[datetime, datetime, bool]:
        """(start, end, ends at latest data) of a workshop's window: whole minutes, `window` long."""
        ends_at_latest = latest is not None and latest >= self.now - self.lag
        anchor = latest if ends_at_latest else self.now - self.lag
        end = floor_minute(anchor) + MINUTE
        # A store clock ahead of the hub's can put `latest` past the hub's now: never start later
        # than the sums read from body_from.
        start = min(end - self.window, self.body_from)
        return start, start + self.window, ends_at_latest


def build_report(body: list[MachineActivity], head: list[MachineBucket], seen: list[MachineSeen],
                 reads: WindowReads, settings: HubSettings, telemetry_name: str) -> CapacityReport:
    """Join the reads per (workshop, machine), cut each workshop's window, roll up per workshop."""
    now = reads.now
    act = {(a.workshop, a.machine): a for a in body}
    minutes: dict[tuple[str, str], list[MachineBucket]] = {}
    for b in head:
        minutes.setdefault((b.workshop, b.machine), []).append(b)
    last = {(s.workshop, s.machine): s.last_seen for s in seen}
    online_since = now - settings.online_window
    keys = sorted(set(act) | set(last) | set(minutes))
    latest: dict[str, datetime] = {}
    for (workshop, _), t in last.items():
        latest[workshop] = max(t, latest.get(workshop, t))
    by_workshop: dict[str, list[MachineCapacity]] = {}
    windows = {w: reads.for_workshop(latest.get(w)) for w, _ in keys}
    for key in keys:
        workshop, machine = key
        start = windows[workshop][0]
        a = act.get(key)
        stitches, run_ms, observed_ms = (a.stitches, a.run_ms, a.observed_ms) if a else (0, 0, 0)
        for b in minutes.get(key, ()):
            if b.start >= start:
                stitches, run_ms, observed_ms = stitches + b.stitches, run_ms + b.run_ms, observed_ms + b.observed_ms
        seen_at = last.get(key)
        if seen_at is None and not (stitches or observed_ms):
            continue  # only a minute before this workshop's window: nothing to report
        by_workshop.setdefault(workshop, []).append(MachineCapacity(
            machine=machine, online=seen_at is not None and seen_at > online_since, last_seen=_iso(seen_at),
            stitches_last_hour=stitches, run_ms=run_ms, observed_ms=observed_ms,
            running_ratio=_ratio(run_ms, observed_ms)))
    workshops = []
    for workshop, machines in by_workshop.items():
        run_ms = sum(m.run_ms for m in machines)
        observed_ms = sum(m.observed_ms for m in machines)
        start, end, ends_at_latest = windows[workshop]
        workshops.append(WorkshopCapacity(
            workshop=workshop, machines_known=len(machines), machines_online=sum(m.online for m in machines),
            stitches_last_hour=sum(m.stitches_last_hour for m in machines), run_ms=run_ms,
            observed_ms=observed_ms, running_ratio=_ratio(run_ms, observed_ms),
            last_seen=_iso(latest.get(workshop)), window_start=_iso(start), window_end=_iso(end),
            window_ends_at="latest_data" if ends_at_latest else "online_window", machines=machines))
    return CapacityReport(
        generated_at=_iso(now), telemetry=telemetry_name,
        online_window_s=int(settings.online_window.total_seconds()),
        capacity_window_s=int(settings.capacity_window.total_seconds()),
        known_window_s=int(settings.known_window.total_seconds()), workshops=workshops)


async def current_capacity(telemetry: Telemetry, settings: HubSettings,
                           now: datetime | None = None) -> CapacityReport:
    """The three reads at once; raises TelemetryUnavailable when the store cannot answer."""
    reads = WindowReads.at(now or datetime.now(timezone.utc), settings)
    body, head, seen = await asyncio.gather(
        telemetry.activity_since(reads.body_from),
        telemetry.activity_buckets(reads.head_from, reads.body_from, MINUTE, "UTC"),
        telemetry.machines_last_seen(settings.known_window))
    return build_report(body, head, seen, reads, settings, telemetry.name)


# ============================================================================ spare SAM-minutes
def rules_from(settings: HubSettings, days: int | None = None) -> CapacityRules:
    return CapacityRules(days=days or settings.capacity_days, half_life=settings.capacity_half_life,
                         lookback_days=settings.capacity_lookback_days, needle_share=settings.capacity_needle_share,
                         min_run_minutes=settings.capacity_min_run.total_seconds() / 60)


@dataclass(frozen=True)
class SamOutcome:
    now: datetime
    rules: CapacityRules
    workshops: list[WorkshopSam]
    telemetry: str
    telemetry_reason: str | None  # None: the store answered
    commitments_connected: bool


class DayCache:
    """Past days' sums per machine, kept for `ttl`; today's are read on every call.

    Summing two weeks of every machine's summaries is the costly read (4.4 s for 1,000 workshops'
    hourly summaries on InfluxDB 1.6 here; bench/bench_capacity.py), while a past day's sums change
    only when a gateway that was offline catches up: a late batch shows within `ttl`. One entry per
    store and zone, replaced when the day turns, so the memory stays one lookback's rows."""

    def __init__(self, ttl: timedelta):
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[date, date, datetime, list[MachineBucket]]] = {}

    def past(self, telemetry: Telemetry, tz: str, first_day: date, today: date,
             now: datetime) -> list[MachineBucket] | None:
        """The past days held in memory if they are fresh, else None; never reads the store (a
        page about one workshop reads that workshop's days itself rather than the network's)."""
        hit = self._entries.get((telemetry.name, tz))
        if (self.ttl > timedelta(0) and hit is not None and hit[:2] == (first_day, today)
                and timedelta(0) <= now - hit[2] < self.ttl):
            return hit[3]
        return None

    async def days(self, telemetry: Telemetry, tz: str, first_day: date, today: date,
                   now: datetime) -> list[MachineBucket]:
        today_start = local_midnight(today, tz)
        past = self.past(telemetry, tz, first_day, today, now)
        if past is not None:
            return past + await telemetry.activity_buckets(today_start, None, DAY, tz)
        buckets = await telemetry.activity_buckets(local_midnight(first_day, tz), None, DAY, tz)
        if self.ttl > timedelta(0):
            self._entries[(telemetry.name, tz)] = (first_day, today, now,
                                                   [b for b in buckets if b.start < today_start])
        return buckets


async def read_evidence(telemetry: Telemetry, profiles: Sequence[WorkshopProfile], rules: CapacityRules,
                        known_window: timedelta, now: datetime, cache: DayCache | None = None
                        ) -> tuple[dict[str, list[TelemetryEvidence]], dict[tuple[str, str], datetime]]:
    """Every machine's sums per local day over the lookback (one read per time zone the workshops
    are in: Seoul, in practice) and every machine's latest point. Raises TelemetryUnavailable."""
    zones = sorted({p.hours.zone for p in profiles})
    cache = cache or DayCache(timedelta(0))
    reads = []
    for z in zones:
        today = local_days(now, z, 1)[0]
        reads.append(cache.days(telemetry, z, today - timedelta(days=rules.lookback_days), today, now))
    *per_zone, seen = await asyncio.gather(*reads, telemetry.machines_last_seen(known_window))
    zone_of = {p.id: p.hours.zone for p in profiles}
    evidence: dict[str, list[TelemetryEvidence]] = {}
    for z, buckets in zip(zones, per_zone):
        tz = check_zone(z)
        for b in buckets:
            if zone_of.get(b.workshop) == z:
                evidence.setdefault(b.workshop, []).append(TelemetryEvidence(
                    b.workshop, b.machine, b.start.astimezone(tz).date(), b.run_ms, b.observed_ms, b.stitches))
    return evidence, {(s.workshop, s.machine): s.last_seen for s in seen}


async def spare_capacity(telemetry: Telemetry | None, profiles: Sequence[WorkshopProfile],
                         commitments: Iterable[Commitment] | None, rules: CapacityRules, known_window: timedelta,
                         now: datetime | None = None, cache: DayCache | None = None) -> SamOutcome:
    """Spare SAM-minutes of `profiles` for the next `rules.days` days. When the telemetry store
    cannot answer, the figures fall back to the declared ones and the outcome says why: the
    registry alone still tells a coordinator what the workshops say they can do."""
    now = now or datetime.now(timezone.utc)
    reason = None
    evidence: dict[str, list[TelemetryEvidence]] = {}
    last_seen: dict[tuple[str, str], datetime] = {}
    if telemetry is None:
        reason = "no telemetry store is connected"
    elif profiles:  # nothing asked, nothing to read
        try:
            evidence, last_seen = await read_evidence(telemetry, profiles, rules, known_window, now, cache)
        except TelemetryUnavailable as e:
            reason = e.reason
    flat = [e for p in profiles for e in evidence.get(p.id, ())]
    # Seconds of CPU for the whole market: off the event loop.
    workshops = await asyncio.to_thread(network_spare, profiles, flat, last_seen, list(commitments or ()), now,
                                        rules, reason is None)
    return SamOutcome(now, rules, workshops, telemetry.name if telemetry else "none", reason,
                      commitments is not None)


def _round(x: float) -> float:
    return round(x, 1)


def _factor_out(f: Factor, machine_type: str | None) -> dict:
    ko, en = f.sentence(machine_type)
    return {"value": round(f.value, 4), "declared": round(f.declared, 4),
            "measured": None if f.measured is None else round(f.measured, 4), "trust": round(f.trust, 4),
            "freshness": round(f.freshness, 4), "coverage": round(f.coverage, 4), "rule": f.rule,
            "evidence_days": f.evidence_days, "busy_days": f.busy_days, "last_data": _iso(f.last_data),
            "age_s": None if f.age is None else round(f.age.total_seconds()), "ko": ko, "en": en}


def sam_report(outcome: SamOutcome, explain: bool = True, machine_type: str | None = None) -> dict:
    """The API's answer (the shape of models.SamReport) as plain JSON-ready values: built directly,
    because validating a 7,000-workshop answer through pydantic again costs seconds."""
    rules = outcome.rules
    days = local_days(outcome.now, DEFAULT_ZONE, rules.days)
    out = []
    for w in outcome.workshops:
        types = []
        for t in w.types:
            if machine_type is not None and t.machine_type != machine_type:
                continue
            day_rows = []
            for d in t.days:
                row = {"date": d.day.isoformat(), "working_minutes": _round(d.working_minutes),
                       "capacity": _round(d.capacity), "committed": _round(d.committed), "spare": _round(d.spare),
                       "over_committed": d.over_committed, "partial": d.partial}
                if explain:
                    row["ko"], row["en"] = t.sentence(d, w.hours)
                    row["explanation"] = t.explain(d, w.hours, outcome.now)
                day_rows.append(row)
            types.append({"machine_type": t.machine_type, "machines": t.machines, "machine_ids": list(t.machine_ids),
                          "availability": _factor_out(t.availability, t.machine_type),
                          "efficiency": _factor_out(t.efficiency, t.machine_type), "days": day_rows})
        h = w.hours
        ko, en = h.describe()
        out.append({"workshop": w.workshop, "families": list(w.families), "time_zone": h.zone,
                    "working_hours": {"opens": h.opens.strftime("%H:%M"), "closes": h.closes.strftime("%H:%M"),
                                      "lunch_start": h.lunch_start.strftime("%H:%M") if h.lunch_start else None,
                                      "lunch_minutes": h.lunch_minutes,
                                      "workdays": [WEEKDAYS[d] for d in sorted(h.workdays)],
                                      "days_off": sorted(d.isoformat() for d in h.days_off), "ko": ko, "en": en},
                    "last_data": _iso(w.last_data), "declared_at": _iso(w.declared_at), "machine_types": types})
    return {"generated_at": _iso(outcome.now), "days": [d.isoformat() for d in days],
            "telemetry": {"store": outcome.telemetry, "available": outcome.telemetry_reason is None,
                          "reason": outcome.telemetry_reason},
            "commitments_connected": outcome.commitments_connected,
            "rules": {"half_life_s": round(rules.half_life.total_seconds()), "lookback_days": rules.lookback_days,
                      "needle_share": rules.needle_share, "min_run_minutes": rules.min_run_minutes,
                      "full_trust_days": rules.full_trust_days, "max_efficiency": rules.max_efficiency,
                      "formula": "spare = machines × availability × working minutes × efficiency − committed"},
            "workshops": out}


# ============================================================================ stitches per machine
@dataclass(frozen=True)
class StitchSpan:
    """One machine of one workshop over since <= time < until (None: up to the store's now)."""

    workshop: str
    machine: str
    since: datetime
    until: datetime | None = None


async def machine_stitches(telemetry: Telemetry, spans: Sequence[StitchSpan]) -> list[int]:
    """Stitches each span's machine sewed within it, in the spans' order (planning's progress: the
    machines a workshop assigned to an offer, since they were assigned). One read per distinct
    bound, whatever the number of spans: a span's stitches are the machine's sums since its start
    less those since its end. Raises SourceUnavailable with the store's reason when it cannot answer."""
    if not spans:
        return []
    bounds = sorted({s.since for s in spans} | {s.until for s in spans if s.until is not None})
    try:
        reads = await asyncio.gather(*(telemetry.activity_since(t) for t in bounds))
    except TelemetryUnavailable as e:
        raise SourceUnavailable(e.reason) from None
    since = {t: {(a.workshop, a.machine): a.stitches for a in rows} for t, rows in zip(bounds, reads)}
    out = []
    for s in spans:
        total = since[s.since].get((s.workshop, s.machine), 0)
        if s.until is not None:
            total -= since[s.until].get((s.workshop, s.machine), 0)
        out.append(max(0, total))  # a late batch between the two reads must not make it negative
    return out
