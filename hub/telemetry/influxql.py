"""The InfluxQL adapter: asks InfluxDB (1.x, 2.x, 3.x, or the hub's own embedded store) with
exactly the InfluxQL of docs/protocol.md section 7."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx

from hub.telemetry.port import (
    EPOCH,
    MachineActivity,
    MachineBucket,
    MachineSeen,
    RowChecks,
    TelemetryUnavailable,
    WorkshopRecent,
    check_zone,
    epoch_ms,
)


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
_SUMS = 'SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms FROM "sewing"'
_BY_MACHINE = '"workshop", "machine"'


def activity_query(window: timedelta) -> str:
    return f'{_SUMS} WHERE time > now() - {influxql_duration(window)} AND time <= now() GROUP BY {_BY_MACHINE}'


# Absolute bounds are epoch milliseconds (`1763900000000ms`): the hub chooses them (a minute or a
# local midnight), and two statements that share a bound split the points between them exactly.
def activity_since_query(since: datetime) -> str:
    return f'{_SUMS} WHERE time >= {epoch_ms(since)}ms AND time <= now() GROUP BY {_BY_MACHINE}'


def activity_buckets_query(since: datetime, until: datetime | None, bucket: timedelta, zone: str = "UTC") -> str:
    """Sums per machine and bucket; fill(none) leaves out buckets without points, and tz() aligns
    buckets to the zone's local time (a day from local midnight), as InfluxDB 1.3+ does."""
    check_zone(zone)
    upper = f"time < {epoch_ms(until)}ms AND " if until is not None else ""
    return (f'{_SUMS} WHERE time >= {epoch_ms(since)}ms AND {upper}time <= now() '
            f"GROUP BY time({influxql_duration(bucket)}), {_BY_MACHINE} fill(none) tz('{zone}')")


def influxql_string(value: str) -> str:
    """A string literal InfluxQL's scanner reads back as exactly `value`: it knows only the escapes
    \\\\, \\' and \\n (a raw newline ends the statement), so those three are escaped and nothing
    else can leave the quotes. A workshop id from a URL goes into a query only through this."""
    if not isinstance(value, str):
        raise TypeError("an InfluxQL string literal is made from a str")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _one_workshop(workshop: str) -> str:
    if not isinstance(workshop, str) or not workshop:
        raise ValueError("a workshop id must be a non-empty string")
    return f'"workshop" = {influxql_string(workshop)}'


def workshop_queries(workshop: str, since: datetime, bucket: timedelta, zone: str = "UTC",
                     seen_since: datetime | None = None) -> tuple[str, str, str]:
    """One workshop's reads (docs/protocol.md section 7, 4-6): its sums per bucket, each machine's
    latest point, and each machine's latest point with the needle running. The tag filter makes
    InfluxDB read that workshop's series alone."""
    check_zone(zone)
    where = _one_workshop(workshop)
    bounds = f"time >= {epoch_ms(since)}ms AND time <= now()"
    seen = f"time >= {epoch_ms(seen_since or since)}ms AND time <= now()"
    return (f'{_SUMS} WHERE {where} AND {bounds} '
            f"GROUP BY time({influxql_duration(bucket)}), {_BY_MACHINE} fill(none) tz('{zone}')",
            f'SELECT last("stitches") FROM "sewing" WHERE {where} AND {seen} GROUP BY {_BY_MACHINE}',
            f'SELECT last("run_ms") FROM "sewing" WHERE {where} AND "run_ms" > 0 AND {bounds} GROUP BY {_BY_MACHINE}')


def last_seen_query(known_window: timedelta) -> str:
    return (f'SELECT last("stitches") FROM "sewing" WHERE time > now() - {influxql_duration(known_window)} '
            'AND time <= now() GROUP BY "workshop", "machine"')


_SUM_COLUMNS = ("stitches", "run_ms", "observed_ms")


def _tag(tags: dict, key: str) -> str | None:
    value = tags.get(key) if isinstance(tags, dict) else None
    return value if isinstance(value, str) and value else None


# ----------------------------------------------------------------------------- InfluxQL adapter
class InfluxQLTelemetry(RowChecks):
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
        return await self._activity_rows(activity_query(window))

    async def _activity_rows(self, query: str) -> list[MachineActivity]:
        out = []
        for s, workshop, machine, columns, values in await self._machine_rows(query):
            if len(values) != 1 or not isinstance(values[0], list) or not all(c in columns for c in _SUM_COLUMNS):
                self._skip("unexpected shape", s)
                continue
            row = dict(zip(columns, values[0]))
            activity = self._activity(workshop, machine, [row[c] for c in _SUM_COLUMNS], s)
            if activity is not None:
                out.append(activity)
        return out

    async def activity_since(self, since: datetime) -> list[MachineActivity]:
        return await self._activity_rows(activity_since_query(since))

    async def activity_buckets(self, since: datetime, until: datetime | None, bucket: timedelta,
                               zone: str = "UTC") -> list[MachineBucket]:
        return await self._bucket_rows(activity_buckets_query(since, until, bucket, zone))

    async def _bucket_rows(self, query: str) -> list[MachineBucket]:
        out = []
        for s, workshop, machine, columns, values in await self._machine_rows(query):
            if not all(c in columns for c in ("time", *_SUM_COLUMNS)):
                self._skip("unexpected shape", s)
                continue
            for value in values:
                row = dict(zip(columns, value)) if isinstance(value, list) else {}
                found = self._bucket(workshop, machine, row.get("time"), [row.get(c) for c in _SUM_COLUMNS], s)
                if found is not None:
                    out.append(found)
        return out

    async def machines_last_seen(self, known_window: timedelta) -> list[MachineSeen]:
        return await self._seen_rows(last_seen_query(known_window))

    async def workshop_recent(self, workshop: str, since: datetime, bucket: timedelta, zone: str = "UTC",
                              seen_since: datetime | None = None) -> WorkshopRecent:
        sums, seen, ran = workshop_queries(workshop, since, bucket, zone, seen_since)
        buckets, last_seen, last_ran = await asyncio.gather(self._bucket_rows(sums), self._seen_rows(seen),
                                                            self._seen_rows(ran))

        # The filter is InfluxDB's; a series of another workshop here would mean it was not applied.
        def mine(rows):
            kept = [r for r in rows if r.workshop == workshop]
            for r in rows:
                if r.workshop != workshop:
                    self._skip("another workshop's series in one workshop's read", r)
            return kept
        return WorkshopRecent(workshop, mine(buckets), {r.machine: r.last_seen for r in mine(last_seen)},
                              {r.machine: r.last_seen for r in mine(last_ran)})

    async def _seen_rows(self, query: str) -> list[MachineSeen]:
        out = []
        for s, workshop, machine, columns, values in await self._machine_rows(query):
            if len(values) != 1 or "time" not in columns:
                self._skip("unexpected shape", s)
                continue
            t = values[0][columns.index("time")]
            if isinstance(t, bool) or not isinstance(t, int):
                self._skip("time is not epoch milliseconds", s)
                continue
            out.append(MachineSeen(workshop, machine, EPOCH + timedelta(milliseconds=t)))
        return out
