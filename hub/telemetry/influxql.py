"""The port the capacity service reads telemetry through, and its two adapters.

`InfluxQLTelemetry` asks InfluxDB (1.x, 2.x, 3.x, or the hub's own embedded store) with exactly
the InfluxQL of docs/protocol.md section 7. `EmbeddedTelemetry` reads the embedded SQLite store
directly. Both validate what comes back: a row with a missing tag or a non-integer sum is skipped
and counted instead of corrupting a workshop's figures.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

import anyio.to_thread
import httpx

from hub.telemetry import schema

if TYPE_CHECKING:
    from hub.telemetry.storage import EmbeddedStore

log = logging.getLogger("sewnet.hub.telemetry")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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


# ----------------------------------------------------------------------------- InfluxQL text
_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def influxql_duration(window: timedelta) -> str:
    """A window as an InfluxQL duration literal in its largest whole unit except weeks, so the
    defaults read `1h` and `30d` as in the contract."""
    total_ms = round(window.total_seconds() * 1000)
    if total_ms <= 0:
        raise ValueError("a query window must be positive")
    if total_ms % 1000:
        return f"{total_ms}ms"
    seconds = total_ms // 1000
    for unit, size in _UNITS[1:]:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: seconds divide by 1")


# Both ends of the window are bounded: without `time <= now()` InfluxQL has no upper bound (unless
# it groups by time), and a point stamped in the future (a gateway clock running ahead) would keep
# its machine online and its stitches in "the last hour" until the clock caught up.
def activity_query(window: timedelta) -> str:
    return ('SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms '
            f'FROM "sewing" WHERE time > now() - {influxql_duration(window)} AND time <= now() '
            'GROUP BY "workshop", "machine"')


def last_seen_query(known_window: timedelta) -> str:
    return (f'SELECT last("stitches") FROM "sewing" WHERE time > now() - {influxql_duration(known_window)} '
            'AND time <= now() GROUP BY "workshop", "machine"')


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


def _tag(tags: dict, key: str) -> str | None:
    value = tags.get(key) if isinstance(tags, dict) else None
    return value if isinstance(value, str) and value else None


class _RowChecks:
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


# ----------------------------------------------------------------------------- InfluxQL adapter
class InfluxQLTelemetry(_RowChecks):
    """Reads InfluxDB over `GET /query` (user name and password as Basic auth, which InfluxDB 1.x,
    2.x and 3.x accept on /query) with `epoch=ms` timestamps."""

    name = "influxdb"

    def __init__(self, url: str, database: str = "sewnet", username: str | None = None,
                 password: str | None = None, timeout_s: float = 5.0,
                 client: httpx.AsyncClient | None = None):
        self.url = url.rstrip("/")
        self.database = database
        # Basic auth carries the same u/p as the `u`/`p` parameters but keeps the password out of
        # URLs, which proxies and access logs record.
        self._auth = httpx.BasicAuth(username, password or "") if username else None
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._owns_client = client is None
        self.skipped_rows = 0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _series(self, q: str) -> list[dict]:
        params = {"db": self.database, "q": q, "epoch": "ms"}
        try:
            r = await self._client.get(f"{self.url}/query", params=params, auth=self._auth)
        except httpx.TimeoutException as e:
            raise TelemetryUnavailable(f"InfluxDB at {self.url} did not answer in time ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise TelemetryUnavailable(f"InfluxDB at {self.url} is unreachable: {e or type(e).__name__}") from e
        if r.status_code in (401, 403):
            raise TelemetryUnavailable(f"InfluxDB at {self.url} refused the hub's credentials (HTTP {r.status_code})")
        try:
            body = r.json()
        except ValueError:
            raise TelemetryUnavailable(
                f"InfluxDB at {self.url} answered HTTP {r.status_code} with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise TelemetryUnavailable(f"InfluxDB at {self.url} answered with unexpected JSON")
        if r.status_code != 200 or "error" in body:
            raise TelemetryUnavailable(
                f"InfluxDB at {self.url} answered HTTP {r.status_code}: {body.get('error', 'no reason given')}")
        results = body.get("results")
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise TelemetryUnavailable(f"InfluxDB at {self.url} answered without results")
        if "error" in results[0]:
            raise TelemetryUnavailable(f"InfluxDB query failed: {results[0]['error']}")
        series = results[0].get("series") or []
        return series if isinstance(series, list) else []

    async def _machine_rows(self, query: str):
        """(series, workshop, machine, columns, values) of each series that names its machine."""
        rows = []
        for s in await self._series(query):
            tags = s.get("tags") or {}
            workshop, machine = _tag(tags, "workshop"), _tag(tags, "machine")
            if not workshop or not machine:
                self._skip("series without workshop or machine tag", s)
                continue
            rows.append((s, workshop, machine, s.get("columns") or [], s.get("values") or []))
        return rows

    async def machine_activity(self, window: timedelta) -> list[MachineActivity]:
        out = []
        for s, workshop, machine, columns, values in await self._machine_rows(activity_query(window)):
            if len(values) != 1 or not all(c in columns for c in ("stitches", "run_ms", "observed_ms")):
                self._skip("unexpected shape", s)
                continue
            row = dict(zip(columns, values[0]))
            activity = self._activity(workshop, machine, [row[c] for c in ("stitches", "run_ms", "observed_ms")], s)
            if activity is not None:
                out.append(activity)
        return out

    async def machines_last_seen(self, known_window: timedelta) -> list[MachineSeen]:
        out = []
        for s, workshop, machine, columns, values in await self._machine_rows(last_seen_query(known_window)):
            if len(values) != 1 or "time" not in columns:
                self._skip("unexpected shape", s)
                continue
            t = values[0][columns.index("time")]
            if isinstance(t, bool) or not isinstance(t, int):
                self._skip("time is not epoch milliseconds", s)
                continue
            out.append(MachineSeen(workshop, machine, _EPOCH + timedelta(milliseconds=t)))
        return out


# ----------------------------------------------------------------------------- embedded adapter
class EmbeddedTelemetry(_RowChecks):
    """Reads the hub's embedded store in a worker thread, so SQLite never blocks the event loop."""

    name = "embedded"

    def __init__(self, store: "EmbeddedStore"):
        self.store = store
        self.skipped_rows = 0

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self.store.close)

    async def _run(self, fn, *args):
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except sqlite3.Error as e:
            raise TelemetryUnavailable(f"embedded store {self.store.path} cannot be read: {e}") from e

    async def machine_activity(self, window: timedelta) -> list[MachineActivity]:
        now_ns = self.store.now_ns()
        since_ns = now_ns - round(window.total_seconds() * 1e9)
        out = []
        for row in await self._run(self.store.activity, since_ns, now_ns):
            workshop, machine, *sums = row
            if not workshop or not machine:
                self._skip("missing tag", row)
                continue
            activity = self._activity(workshop, machine, sums, row)
            if activity is not None:
                out.append(activity)
        return out

    async def machines_last_seen(self, known_window: timedelta) -> list[MachineSeen]:
        now_ns = self.store.now_ns()
        since_ns = now_ns - round(known_window.total_seconds() * 1e9)
        out = []
        for workshop, machine, last_ns, _stitches in await self._run(self.store.last_seen, since_ns, now_ns):
            if not workshop or not machine:
                self._skip("missing tag", (workshop, machine))
                continue
            out.append(MachineSeen(workshop, machine, _EPOCH + timedelta(microseconds=last_ns // 1000)))
        return out
