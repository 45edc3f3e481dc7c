"""The bucketed and absolute-bound reads of the telemetry port (docs/protocol.md section 7) give the
same answer from a real InfluxDB 1.6, from the embedded store through its own adapter, and from
the embedded store through its InfluxQL /query: per machine and minute, per machine and Seoul day
(local midnight is 15:00 UTC), from a bound to now. A plain Python sum over the same points is
the fourth witness, so the three cannot agree on a shared mistake."""

from __future__ import annotations

import asyncio
import json
import itertools
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hub.app import create_app
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from hub.telemetry.embedded import EmbeddedTelemetry
from hub.telemetry.influxql import InfluxQLTelemetry, activity_buckets_query
from hub.telemetry.storage import EmbeddedStore

TOKEN = "bucket-reader-token"
WRITE_TOKEN = "bucket-writer-token"
UTC = timezone.utc
SEOUL = ZoneInfo("Asia/Seoul")


def _tag(value: str) -> str:
    """A tag value escaped for line protocol (comma, equals sign and space)."""
    return value.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


@dataclass(frozen=True)
class Pt:
    workshop: str
    machine: str
    t: int  # epoch seconds
    stitches: int
    run_ms: int
    interval_ms: int = 10_000

    def line(self) -> str:
        return (f"sewing,machine={_tag(self.machine)},workshop={_tag(self.workshop)} interval_ms={self.interval_ms}i,"
                f"run_ms={self.run_ms}i,stitches={self.stitches}i {self.t}")


@dataclass
class Stores:
    influxdb: object
    client: httpx.Client
    url: str
    path: object

    def write(self, points: list[Pt]) -> None:
        body = "\n".join(p.line() for p in points)
        self.influxdb.write(body, precision="s")
        r = self.client.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"}, content=body.encode(),
                             headers={"Authorization": f"Token {WRITE_TOKEN}"})
        assert r.status_code == 204, r.text

    async def read(self, call) -> list:
        """`call(adapter)` on the three readers; their answers, as sorted tuples."""
        influx = InfluxQLTelemetry(self.influxdb.url, self.influxdb.database, self.influxdb.username,
                                   self.influxdb.password)
        over_http = InfluxQLTelemetry(self.url, "sewnet", "hub", TOKEN)
        direct = EmbeddedTelemetry(EmbeddedStore(self.path))
        try:
            answers = [await call(a) for a in (influx, over_http, direct)]
            assert influx.skipped_rows == over_http.skipped_rows == direct.skipped_rows == 0
        finally:
            for a in (influx, over_http, direct):
                await a.aclose()
        return [sorted(tuple(vars(x).values()) for x in answer) for answer in answers]


@pytest.fixture
def stores(influxdb, tmp_path):
    settings_ = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                              embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings_)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        yield Stores(influxdb, client, server.url, tmp_path / "hub.sqlite")


def reference(points: list[Pt], since: datetime, until: datetime | None, bucket: timedelta | None,
              zone: ZoneInfo, prefix: str) -> list[tuple]:
    """What the reads must answer, summed here in plain Python (last write wins per series and second)."""
    now = time.time()
    kept = {(p.workshop, p.machine, p.t): p for p in points}
    lo = since.timestamp()
    sums: dict[tuple, list[int]] = {}
    for p in kept.values():
        if not p.workshop.startswith(prefix) or p.t < lo or p.t > now or (until and p.t >= until.timestamp()):
            continue
        key: tuple = (p.workshop, p.machine)
        if bucket is not None:
            local = datetime.fromtimestamp(p.t, UTC).astimezone(zone)
            off = int(local.utcoffset().total_seconds())
            size = int(bucket.total_seconds())
            start = (p.t + off) // size * size - off
            key += (datetime.fromtimestamp(start, UTC),)
        s = sums.setdefault(key, [0, 0, 0])
        s[0] += p.stitches
        s[1] += p.run_ms
        s[2] += p.interval_ms
    return sorted(k + tuple(v) for k, v in sums.items())


def only(rows: list[tuple], prefix: str) -> list[tuple]:
    return [r for r in rows if r[0].startswith(prefix)]


def at(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def test_days_in_seoul_minutes_and_bounds_read_alike(stores):
    now = int(time.time())
    # Seoul's midnight before yesterday, in UTC seconds: days start at 15:00 UTC.
    today = datetime.fromtimestamp(now, SEOUL).replace(hour=0, minute=0, second=0, microsecond=0)
    d0 = int((today - timedelta(days=2)).timestamp())
    points = [
        Pt("ws-a", "m01", d0, 100, 5000),             # exactly at a local midnight: that day's first point
        Pt("ws-a", "m01", d0 - 1, 7, 700),             # a second before it: the day before
        Pt("ws-a", "m01", d0 + 86400 - 1, 11, 1100),   # the day's last second
        Pt("ws-a", "m01", d0 + 86400, 13, 1300),       # the next day's first
        Pt("ws-a", "m02", d0 + 9 * 3600, 200, 9000),   # 09:00 KST
        Pt("ws-b", "m01", d0 + 86400 + 60, 300, 8000),
        Pt("ws-b", "m01", now - 30, 40, 4000),          # today
        Pt("ws-b", "m01", now + 3600, 999, 9999),       # an hour in the future: never counted
    ]
    stores.write(points)
    since = at(d0 - 86400)

    async def days(a):
        return await a.activity_buckets(since, None, timedelta(days=1), "Asia/Seoul")
    answers = asyncio.run(stores.read(days))
    assert answers[0] == answers[1] == answers[2] == reference(points, since, None, timedelta(days=1), SEOUL, "ws-")
    by_day = {(w, m, start): s for w, m, start, s, *_ in answers[0]}
    assert by_day[("ws-a", "m01", at(d0))] == 100 + 11  # local midnight to the last second before the next
    assert by_day[("ws-a", "m01", at(d0 - 86400))] == 7
    assert by_day[("ws-a", "m01", at(d0 + 86400))] == 13
    assert all(s != 999 for s in by_day.values())

    # Minutes between two absolute bounds, the lower one inside a minute: the bucket keeps its start.
    since, until = at(d0 - 30), at(d0 + 86400)

    async def minutes(a):
        return await a.activity_buckets(since, until, timedelta(minutes=1), "UTC")
    answers = asyncio.run(stores.read(minutes))
    assert answers[0] == answers[1] == answers[2] == reference(points, since, until, timedelta(minutes=1), UTC, "ws-")
    assert {(w, m, start): s for w, m, start, s, *_ in answers[0]}[("ws-a", "m01", at(d0 - 60))] == 7

    # The statement itself, as InfluxDB answers it on /query: same JSON, RFC 3339 times in +09:00 too.
    q = activity_buckets_query(at(d0 - 86400), None, timedelta(days=1), "Asia/Seoul")
    for epoch in ("ms", None):
        params = {"q": q, "db": "sewnet", **({"epoch": epoch} if epoch else {})}
        theirs = httpx.get(f"{stores.influxdb.url}/query", params=params,
                           auth=(stores.influxdb.username, stores.influxdb.password)).json()
        ours = stores.client.get("/query", params=params, auth=("hub", TOKEN)).json()
        assert ours == theirs, json.dumps([epoch, ours, theirs])
    assert theirs["results"][0]["series"][0]["values"][0][0].endswith("T00:00:00+09:00")

    async def since_bound(a):
        return await a.activity_since(at(d0 + 86400))
    answers = asyncio.run(stores.read(since_bound))
    assert answers[0] == answers[1] == answers[2] == [
        ("ws-a", "m01", 13, 1300, 10000), ("ws-b", "m01", 340, 12000, 20000)]


_examples = itertools.count()
SECONDS = st.integers(-4 * 86400, 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["m01", "m02"]), SECONDS,
                              st.integers(0, 2000), st.integers(0, 10_000)), min_size=1, max_size=40),
       since_ms=st.integers(-5 * 86400 * 1000, -3600 * 1000), length_ms=st.one_of(st.none(), st.integers(1, 3 * 86400 * 1000)),
       bucket=st.sampled_from([timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1), timedelta(days=1)]),
       zone=st.sampled_from(["UTC", "Asia/Seoul", "Asia/Kolkata"]))
def test_any_points_and_bounds_read_alike_from_influxdb_and_the_embedded_store(stores, raw, since_ms, length_ms,
                                                                                bucket, zone):
    prefix = f"ex{next(_examples)}-"
    base = int(time.time()) - 5
    points = [Pt(prefix + w, m, base + dt, st_, run) for w, m, dt, st_, run in raw]
    if points:
        stores.write(points)
    since = at(base) + timedelta(milliseconds=since_ms)
    until = since + timedelta(milliseconds=length_ms) if length_ms is not None else None

    async def buckets(a):
        return await a.activity_buckets(since, until, bucket, zone)
    answers = [only(a, prefix) for a in asyncio.run(stores.read(buckets))]
    # The reference rounds the lower bound to whole ms as the hub's statements do (here already whole).
    want = reference(points, since, until, bucket, ZoneInfo(zone), prefix)
    assert answers[0] == want and answers[1] == want and answers[2] == want

    async def plain(a):
        return await a.activity_since(since)
    answers = [only(a, prefix) for a in asyncio.run(stores.read(plain))]
    want = reference(points, since, None, None, UTC, prefix)
    assert answers[0] == want and answers[1] == want and answers[2] == want
