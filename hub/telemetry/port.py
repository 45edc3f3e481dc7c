"""The port: what the hub asks of a time-series store, whichever store answers.

Two questions, per (workshop, machine): how much it sewed in a window, and when it was last heard
from. Adapters (`hub.telemetry.influxql`, `hub.telemetry.embedded`) answer them and validate what
their store returns: a row with a missing tag or a non-integer sum is skipped and counted instead
of corrupting a workshop's figures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

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
class MachineSeen:
    workshop: str
    machine: str
    last_seen: datetime  # UTC


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

    async def aclose(self) -> None: ...


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
