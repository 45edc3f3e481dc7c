"""One workshop's machines as a person reads them, from telemetry's latest summaries: sewing,
idle, stopped or off; and its output per day. Plain Python over the telemetry port.

A gateway ships its summaries to the hub in batches (every 10 minutes by default), so "now" at
the hub is the workshop's latest data, not the wall clock: each state is judged at that moment
and says how old it is.

- off (꺼짐): nothing from the machine's board within the online window (15 minutes);
- sewing (재봉 중): the needle ran in the last `sewing_window` of the workshop's data;
- idle (대기): the board reports and the needle ran within the last `idle_window`, just not now;
- stopped (정지): the board reports, the needle has not run for the whole `idle_window`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence

from hub.capacity.sam import local_days, local_midnight
from hub.telemetry import Telemetry, TelemetryUnavailable, check_zone

if TYPE_CHECKING:
    from hub.capacity.service import DayCache

SEWING_WINDOW = timedelta(minutes=2)
IDLE_WINDOW = timedelta(minutes=15)
DAY = timedelta(days=1)
__all__ = ["STATE_WORDS", "DayOutput", "MachineState", "TelemetryUnavailable", "WorkshopLive", "daily_output",
           "machine_states"]

STATE_WORDS = {
    "sewing": ("재봉 중", "sewing"),
    "idle": ("대기", "idle"),
    "stopped": ("정지", "stopped"),
    "off": ("꺼짐", "off"),
}


@dataclass(frozen=True)
class MachineState:
    machine: str
    state: str  # sewing | idle | stopped | off
    last_seen: datetime | None
    stitches_recent: int  # in the last idle_window of the workshop's data
    running_ratio: float | None  # run / observed over the same span

    @property
    def words(self) -> tuple[str, str]:
        return STATE_WORDS[self.state]


@dataclass(frozen=True)
class WorkshopLive:
    workshop: str
    as_of: datetime | None  # the workshop's latest data
    machines: list[MachineState]

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in STATE_WORDS}
        for m in self.machines:
            out[m.state] += 1
        return out


async def machine_states(telemetry: Telemetry, workshop: str, machines: Sequence[str], online_window: timedelta,
                         known_window: timedelta, now: datetime | None = None) -> WorkshopLive:
    """The state of each of `machines` (the registry's, plus any the store knows for this
    workshop). Raises TelemetryUnavailable when the store cannot answer."""
    now = now or datetime.now(timezone.utc)
    seen = {s.machine: s.last_seen for s in await telemetry.machines_last_seen(known_window)
            if s.workshop == workshop}
    names = sorted(set(machines) | set(seen))
    latest = max(seen.values(), default=None)
    if latest is None or latest < now - online_window:
        return WorkshopLive(workshop, latest, [MachineState(m, "off", seen.get(m), 0, None) for m in names])
    recent, quarter = await asyncio.gather(telemetry.activity_since(latest - SEWING_WINDOW),
                                           telemetry.activity_since(latest - IDLE_WINDOW))
    recent_run = {a.machine: a.run_ms for a in recent if a.workshop == workshop}
    span = {a.machine: a for a in quarter if a.workshop == workshop}
    out = []
    for m in names:
        last = seen.get(m)
        a = span.get(m)
        ratio = round(a.run_ms / a.observed_ms, 4) if a and a.observed_ms else None
        if last is None or last < now - online_window:
            state = "off"
        elif recent_run.get(m, 0) > 0:
            state = "sewing"
        elif a is not None and a.run_ms > 0:
            state = "idle"
        else:
            state = "stopped"
        out.append(MachineState(m, state, last, a.stitches if a else 0, ratio))
    return WorkshopLive(workshop, latest, out)


@dataclass(frozen=True)
class DayOutput:
    day: date
    stitches: int
    run_minutes: float
    machines_running: int


async def daily_output(telemetry: Telemetry, workshop: str, days: int, tz: str = "Asia/Seoul",
                       now: datetime | None = None, cache: "DayCache | None" = None) -> list[DayOutput]:
    """Stitches and needle minutes per local day over the last `days` days (today last), for one
    workshop. With capacity's DayCache (and `days` = lookback + 1, as capacity reads) the past
    days come from memory. Raises TelemetryUnavailable."""
    now = now or datetime.now(timezone.utc)
    today = local_days(now, tz, 1)[0]
    first = today - timedelta(days=days - 1)
    if cache is not None:
        buckets = await cache.days(telemetry, tz, first, today, now)
    else:
        buckets = await telemetry.activity_buckets(local_midnight(first, tz), None, DAY, tz)
    zone = check_zone(tz)
    per: dict[date, list] = {first + timedelta(days=i): [0, 0, 0] for i in range(days)}
    for b in buckets:
        if b.workshop != workshop:
            continue
        d = b.start.astimezone(zone).date()
        if d in per:
            per[d][0] += b.stitches
            per[d][1] += b.run_ms
            per[d][2] += 1 if b.run_ms > 0 else 0
    return [DayOutput(d, s, round(r / 60000, 1), n) for d, (s, r, n) in sorted(per.items())]
