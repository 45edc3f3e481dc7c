"""The port: what the hub asks of a time-series store, whichever store answers.

Per (workshop, machine): how much it sewed in a window, or in each bucket of a window (minutes,
or days in the workshops' time zone), and when it was last heard from. Adapters (`hub.telemetry.influxql`, `hub.telemetry.embedded`) answer them and validate what
their store returns: a row with a missing tag or a non-integer sum is skipped and counted instead
of corrupting a workshop's figures.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.telemetry import schema

log = logging.getLogger("sewnet.hub.telemetry")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class MachineActivity:
    workshop: str
    machine: str
    stitches: int
    run_ms: int
    observed_ms: int  # sum of interval_ms: how long the board watched the machine


@dataclass(frozen=True)
class MachineBucket:
    """One machine's sums over one bucket of time (a minute, a day in the workshops' zone)."""

    workshop: str
    machine: str
    start: datetime  # UTC; the bucket's start, which may lie before the window's start
    stitches: int
    run_ms: int
    observed_ms: int


@dataclass(frozen=True)
class MachineSeen:
    workshop: str
    machine: str
    last_seen: datetime  # UTC


@dataclass(frozen=True)
class WorkshopRecent:
    """One workshop's machines over a recent window, read with the workshop named in the query
    (a tag filter), so the answer costs that workshop's points, not the network's."""

    workshop: str
    buckets: list[MachineBucket]  # per machine and bucket, since <= time <= now, fill(none)
    last_seen: dict[str, datetime]  # machine -> its latest point (with stitches) since seen_since
    last_ran: dict[str, datetime]  # machine -> its latest point with run_ms > 0 since `since`: when the needle last ran


class TelemetryUnavailable(Exception):
    """The store cannot answer now; `reason` says why in words an operator can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Telemetry(Protocol):
    name: str
    skipped_rows: int

    async def machine_activity(self, window: timedelta) -> list[MachineActivity]: ...

    async def machines_last_seen(self, known_window: timedelta) -> list[MachineSeen]: ...

    async def activity_since(self, since: datetime) -> list[MachineActivity]:
        """Sums over since <= time <= the store's now."""
        ...

    async def activity_buckets(self, since: datetime, until: datetime | None, bucket: timedelta,
                               zone: str = "UTC") -> list[MachineBucket]:
        """Sums per bucket over since <= time < until (and <= the store's now; None: up to now).
        Buckets are aligned in `zone` (a day starts at local midnight), as InfluxQL's tz() does."""
        ...

    async def workshop_recent(self, workshop: str, since: datetime, bucket: timedelta, zone: str = "UTC",
                              seen_since: datetime | None = None) -> WorkshopRecent:
        """One workshop's sums per machine and bucket over since <= time <= now (buckets aligned
        in `zone` as activity_buckets'), each machine's latest point since `seen_since` (default
        `since`) and its latest point whose run_ms > 0 since `since`. Any string is a safe
        workshop id: it reaches the store as a quoted literal or a bound parameter."""
        ...

    async def aclose(self) -> None: ...


def epoch_ms(t: datetime) -> int:
    """A time as whole epoch milliseconds (floored), the precision of every bound the hub sends:
    both adapters round a bound alike, so they answer alike."""
    if t.tzinfo is None:
        raise ValueError("a time bound must carry its time zone")
    delta = t - EPOCH
    return (delta.days * 86_400_000 + delta.seconds * 1000) + delta.microseconds // 1000


def from_epoch_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*\Z")


def check_zone(zone: str) -> ZoneInfo:
    """An IANA time zone by name (`Asia/Seoul`), refused unless the system knows it. The name goes
    into a query's text, so nothing but a zone name's characters passes."""
    if not isinstance(zone, str) or not _ZONE_NAME.match(zone):
        raise ValueError(f"not a time zone name: {zone!r}")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {zone!r}") from None


# ----------------------------------------------------------------------------- validation
def _count(value: Any) -> int | None:
    """A non-negative integer sum, or None. Booleans are not counts; a float that is a whole
    number is accepted because some InfluxDB versions return sums of integers as floats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


class RowChecks:
    """What both adapters check of every row a store returns."""

    skipped_rows: int = 0

    def _skip(self, why: str, row: Any) -> None:
        self.skipped_rows += 1
        log.warning("telemetry row skipped (%s): %.200r", why, row)

    def _activity(self, workshop: str, machine: str, values: list[Any], row: Any) -> MachineActivity | None:
        """One machine's sums, or None (skipped and counted) if they are not counts or are more
        than the contract allows in the time observed: a sum that wrapped around, say, must cost
        that one machine its figures, never the whole report."""
        sums = [_count(v) for v in values]
        if None in sums:
            self._skip("a sum is not a non-negative integer", row)
            return None
        if not schema.sums_plausible(*sums):
            self._skip("sums beyond what the contract allows in the time observed", row)
            return None
        return MachineActivity(workshop, machine, *sums)

    def _bucket(self, workshop: str, machine: str, start_ms: Any, values: list[Any], row: Any) -> MachineBucket | None:
        """One machine's sums over one bucket, checked as _activity checks a window's."""
        if isinstance(start_ms, bool) or not isinstance(start_ms, int):
            self._skip("bucket time is not epoch milliseconds", row)
            return None
        activity = self._activity(workshop, machine, values, row)
        if activity is None:
            return None
        return MachineBucket(workshop, machine, from_epoch_ms(start_ms), activity.stitches, activity.run_ms,
                             activity.observed_ms)
