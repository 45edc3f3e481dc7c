"""One workshop's machines as a person reads them, from telemetry's latest summaries: sewing,
idle, stopped (since when) or off; and its output per day. Plain Python over the telemetry port,
reading that one workshop's series alone (`workshop_recent`), never the network's.

A gateway ships its summaries to the hub in batches (every 10 minutes by default), so "now" at
the hub is the workshop's latest data, not the wall clock: each state is judged at that moment
and says how old it is. A summary is stamped with the end of its interval (docs/protocol.md 5.2).

- off (꺼짐): nothing from the machine's board within the online window (15 minutes);
- sewing (재봉 중): the needle ran in a summary stamped within `SEWING_WINDOW` (2 minutes) of the
  workshop's latest data;
- idle (대기): the board reports and the needle ran within `IDLE_WINDOW` (15 minutes) of it, just
  not in the last 2;
- stopped (정지): the board reports, the needle has not run for the whole `IDLE_WINDOW`; "since"
  is the end of the last summary in which it ran (shown as HH:MM, Seoul), looked for over the
  last `STOPPED_LOOKBACK` (12 hours: a working day); not found there, "over 12 hours".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence

from hub.capacity.sam import local_days, local_midnight
from hub.telemetry import Telemetry, TelemetryUnavailable, check_zone

if TYPE_CHECKING:
    from hub.capacity.service import DayCache

SEWING_WINDOW = timedelta(minutes=2)
IDLE_WINDOW = timedelta(minutes=15)
STOPPED_LOOKBACK = timedelta(hours=12)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
SEOUL = "Asia/Seoul"
__all__ = ["IDLE_WINDOW", "SEWING_WINDOW", "STATE_WORDS", "STOPPED_LOOKBACK", "DayOutput", "MachineState", "TelemetryUnavailable", "WorkshopLive", "daily_output",
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
    stitches_recent: int  # in the last idle_window of the workshop's data (whole minutes)
    running_ratio: float | None  # run / observed over the same span
    last_ran: datetime | None = None  # the end of the last summary in which the needle ran (within the lookback)

    @property
    def words(self) -> tuple[str, str]:
        return STATE_WORDS[self.state]

    def label(self, tz: str = SEOUL, today: date | None = None) -> tuple[str, str]:
        """The state as the page says it: "정지 10:42부터" / "stopped since 10:42" (local time; a
        date before it when that was not `today`), else the plain words."""
        if self.state != "stopped":
            return self.words
        if self.last_ran is None:
            hours = int(STOPPED_LOOKBACK.total_seconds() // 3600)
            return f"정지 {hours}시간 넘게", f"stopped over {hours} hours"
        local = self.last_ran.astimezone(check_zone(tz))
        when = local.strftime("%H:%M")
        if today is not None and local.date() != today:
            when = f"{local.month}/{local.day} {when}"
        return f"정지 {when}부터", f"stopped since {when}"


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


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


async def machine_states(telemetry: Telemetry, workshop: str, machines: Sequence[str], online_window: timedelta,
                         known_window: timedelta, now: datetime | None = None) -> WorkshopLive:
    """The state of each of `machines` (the registry's, plus any the store knows for this
    workshop), from one read of this workshop's telemetry: per minute over the last
    STOPPED_LOOKBACK, when each machine was last heard from (within `known_window`) and when its
    needle last ran. Raises TelemetryUnavailable when the store cannot answer."""
    now = now or datetime.now(timezone.utc)
    recent = await telemetry.workshop_recent(workshop, _minute(now - STOPPED_LOOKBACK), MINUTE, "UTC",
                                             seen_since=now - known_window)
    seen, ran = recent.last_seen, recent.last_ran
    names = sorted(set(machines) | set(seen))
    latest = max(seen.values(), default=None)
    if latest is None or latest < now - online_window:
        return WorkshopLive(workshop, latest, [MachineState(m, "off", seen.get(m), 0, None, ran.get(m))
                                               for m in names])
    # The last 15 whole minutes up to and including the minute of the latest data.
    first_minute = _minute(latest) - (IDLE_WINDOW - MINUTE)
    span: dict[str, list[int]] = {}
    for b in recent.buckets:
        if b.start >= first_minute:
            sums = span.setdefault(b.machine, [0, 0, 0])
            sums[0] += b.stitches
            sums[1] += b.run_ms
            sums[2] += b.observed_ms
    out = []
    for m in names:
        last, last_ran = seen.get(m), ran.get(m)
        stitches, run_ms, observed_ms = span.get(m, (0, 0, 0))
        ratio = round(run_ms / observed_ms, 4) if observed_ms else None
        if last is None or last < now - online_window:
            state = "off"
        elif last_ran is not None and last_ran >= latest - SEWING_WINDOW:
            state = "sewing"
        elif last_ran is not None and last_ran >= latest - IDLE_WINDOW:
            state = "idle"
        else:
            state = "stopped"
        out.append(MachineState(m, state, last, stitches, ratio, last_ran))
    return WorkshopLive(workshop, latest, out)


@dataclass(frozen=True)
class DayOutput:
    day: date
    stitches: int
    run_minutes: float
    machines_running: int


async def daily_output(telemetry: Telemetry, workshop: str, days: int, tz: str = SEOUL,
                       now: datetime | None = None, cache: "DayCache | None" = None) -> list[DayOutput]:
    """Stitches and needle minutes per local day over the last `days` days (today last), for one
    workshop, read from that workshop's series alone. With capacity's DayCache holding the past
    days (and `days` = lookback + 1, as capacity reads), only today is read; a cold cache is left
    cold (warming it reads the whole network). Raises TelemetryUnavailable."""
    now = now or datetime.now(timezone.utc)
    today = local_days(now, tz, 1)[0]
    first = today - timedelta(days=days - 1)
    past = cache.past(telemetry, tz, first, today, now) if cache is not None else None
    if past is not None:
        buckets = [b for b in past if b.workshop == workshop]
        buckets += (await telemetry.workshop_recent(workshop, local_midnight(today, tz), DAY, tz)).buckets
    else:
        buckets = (await telemetry.workshop_recent(workshop, local_midnight(first, tz), DAY, tz)).buckets
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
