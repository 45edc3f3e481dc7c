"""One workshop's recent activity (the port's `workshop_recent`, docs/protocol.md section 7, reads
4-6) from a real InfluxDB 1.6 through the InfluxQL adapter and from the embedded store through its
own adapter, both held to a plain Python reading of the same points: per machine and bucket, each
machine's latest point, and the latest point in which its needle ran. Workshop ids that carry
quotes, spaces, Korean or InfluxQL of their own must read their own series and nothing else."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hub.telemetry import line_protocol as lp
from hub.telemetry.embedded import EmbeddedTelemetry
from hub.telemetry.influxql import InfluxQLTelemetry, influxql_string, workshop_queries
from hub.telemetry.storage import EmbeddedStore
from tests.integration.test_telemetry_buckets import Pt

UTC = timezone.utc

# Ids a hostile or careless caller might pass: each must reach InfluxDB as one string literal.
ATTACKS = [
    "x' OR \"workshop\" =~ /.*/ OR 'a'='a",
    "ws-a' OR '1'='1",
    "'; DROP DATABASE sewnet; SELECT '",
    "ws-a\\",
    "\\' OR true OR '",
    "ws-a\n",
    "ws-a' GROUP BY \"machine\" --",
    "/.*/",
]
# Ids that are odd but real: written through line protocol, read back exactly.
ODD = ["o'brien 작업장", 'say "hi"', "a,b=c", "창신동-12"]


class Stores:
    def __init__(self, influxdb, path):
        self.influxdb = influxdb
        self.store = EmbeddedStore(path)

    def write(self, points: list[Pt]) -> None:
        body = "\n".join(p.line() for p in points)
        self.influxdb.write(body, precision="s")
        parsed = lp.parse(body, 10**9, time.time_ns())
        assert not parsed.rejected, parsed.rejected
        outcome = self.store.write(parsed.points)
        assert outcome.written == len(points) and not outcome.dropped

    async def read(self, workshop: str, since: datetime, bucket: timedelta, zone: str,
                   seen_since: datetime | None = None) -> list[tuple]:
        """Both adapters' answers, as comparable tuples; neither may have skipped a row."""
        influx = InfluxQLTelemetry(self.influxdb.url, self.influxdb.database, self.influxdb.username,
                                   self.influxdb.password)
        embedded = EmbeddedTelemetry(self.store)
        try:
            answers = [await a.workshop_recent(workshop, since, bucket, zone, seen_since) for a in (influx, embedded)]
            assert influx.skipped_rows == embedded.skipped_rows == 0
        finally:
            await influx.aclose()
        out = []
        for a in answers:
            assert a.workshop == workshop
            out.append((sorted((b.machine, b.start, b.stitches, b.run_ms, b.observed_ms) for b in a.buckets),
                        dict(a.last_seen), dict(a.last_ran)))
        return out


@pytest.fixture
def stores(influxdb, tmp_path):
    s = Stores(influxdb, tmp_path / "embedded.sqlite")
    yield s
    s.store.close()


def at(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def reference(points: list[Pt], workshop: str, since: datetime, bucket: timedelta, zone: str,
              seen_since: datetime | None = None) -> tuple:
    """What the read must answer, worked out here: last write wins per series and second; nothing
    after now; buckets start where local time is a multiple of the bucket."""
    now = time.time()
    kept = {(p.workshop, p.machine, p.t): p for p in points}
    lo, seen_lo = since.timestamp(), (seen_since or since).timestamp()
    sums: dict[tuple, list[int]] = {}
    seen: dict[str, datetime] = {}
    ran: dict[str, datetime] = {}
    size = int(bucket.total_seconds())
    for p in kept.values():
        if p.workshop != workshop or p.t > now:
            continue
        if p.t >= seen_lo:
            seen[p.machine] = max(seen.get(p.machine, at(p.t)), at(p.t))
        if p.t < lo:
            continue
        if p.run_ms > 0:
            ran[p.machine] = max(ran.get(p.machine, at(p.t)), at(p.t))
        off = int(at(p.t).astimezone(ZoneInfo(zone)).utcoffset().total_seconds())
        start = (p.t + off) // size * size - off
        s = sums.setdefault((p.machine, at(start)), [0, 0, 0])
        s[0] += p.stitches
        s[1] += p.run_ms
        s[2] += p.interval_ms
    return sorted(k + tuple(v) for k, v in sums.items()), seen, ran


def test_one_workshop_reads_its_own_machines_and_when_each_needle_last_ran(stores):
    now = int(time.time()) // 60 * 60 - 60  # a whole minute, a minute ago
    points = [
        Pt("ws-a", "m01", now - 3 * 3600, 500, 8000),     # ran 3 h ago, stopped since
        Pt("ws-a", "m01", now - 600, 0, 0),
        Pt("ws-a", "m01", now - 10, 0, 0),                  # still reports: stopped since 3 h ago
        Pt("ws-a", "m02", now - 70, 300, 5000),
        Pt("ws-a", "m02", now - 65, 200, 4000),             # the same minute as the one above
        Pt("ws-a", "m02", now - 5, 100, 1000),              # sewing now
        Pt("ws-a", "m03", now - 20 * 3600, 900, 9000),      # heard long ago: before `since`
        Pt("ws-a", "m02", now + 3600, 999, 9999),           # from the future: never counted
        Pt("ws-ab", "m01", now - 30, 700, 7000),            # a neighbour whose id starts alike
        Pt("ws-b", "m01", now - 30, 800, 8000),
        *[Pt(w, "m01", now - 40, 10 + i, 1000) for i, w in enumerate(ODD)],
    ]
    stores.write(points)
    since, seen_since = at(now - 12 * 3600), at(now - 30 * 86400)
    for workshop in ("ws-a", "ws-b", *ODD):
        for bucket, zone in ((timedelta(minutes=1), "Asia/Seoul"), (timedelta(hours=1), "Asia/Seoul"),
                             (timedelta(minutes=10), "UTC")):
            want = reference(points, workshop, since, bucket, zone, seen_since)
            got = asyncio.run(stores.read(workshop, since, bucket, zone, seen_since))
            assert got[0] == want and got[1] == want, (workshop, bucket, zone)
    buckets, seen, ran = asyncio.run(stores.read("ws-a", since, timedelta(minutes=1), "Asia/Seoul", seen_since))[0]
    assert ran == {"m01": at(now - 3 * 3600), "m02": at(now - 5)}  # m03 did not run within `since`
    assert seen == {"m01": at(now - 10), "m02": at(now - 5), "m03": at(now - 20 * 3600)}
    assert (("m02", at(now - 120), 500, 9000, 20000)) in buckets  # two summaries in one minute, summed
    # Without seen_since, a machine heard only before `since` is not in the answer at all.
    assert asyncio.run(stores.read("ws-a", since, timedelta(minutes=1), "UTC"))[0][1].keys() == {"m01", "m02"}


def test_a_workshop_id_cannot_change_the_query(stores):
    now = int(time.time()) - 30
    stores.write([Pt("ws-a", "m01", now, 100, 2000), Pt("ws-b", "m01", now, 200, 3000),
                  Pt(ATTACKS[0], "m09", now, 5, 500)])  # a workshop really named like an attack
    since = at(now - 3600)
    for attack in ATTACKS[1:]:
        # The statement holds the id as one literal that InfluxQL reads back as the id itself.
        for q in workshop_queries(attack, since, timedelta(minutes=1)):
            assert f'"workshop" = {influxql_string(attack)} AND' in q and "\n" not in q
        got = asyncio.run(stores.read(attack, since, timedelta(minutes=1), "UTC"))
        assert got[0] == got[1] == ([], {}, {}), attack
    got = asyncio.run(stores.read(ATTACKS[0], since, timedelta(minutes=1), "UTC"))
    assert got[0] == got[1] == ([("m09", at(now // 60 * 60), 5, 500, 10_000)], {"m09": at(now)}, {"m09": at(now)})
    # The database is still there, with everyone's points.
    assert asyncio.run(stores.read("ws-b", since, timedelta(minutes=1), "UTC"))[0][2] == {"m01": at(now)}
    r = httpx.get(f"{stores.influxdb.url}/query", params={"q": "SHOW DATABASES"},
                  auth=(stores.influxdb.username, stores.influxdb.password)).json()
    assert [stores.influxdb.database] in r["results"][0]["series"][0]["values"]
    for bad in ("", None, 7):
        with pytest.raises((ValueError, TypeError)):
            workshop_queries(bad, since, timedelta(minutes=1))  # type: ignore[arg-type]


_examples = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(st.tuples(st.sampled_from(["a", "b", *ODD]), st.sampled_from(["m01", "m02", "m03"]),
                              st.integers(-6 * 3600, 30), st.integers(0, 2000), st.sampled_from([0, 0, 1, 5000, 10_000])),
                    min_size=1, max_size=40),
       since_s=st.integers(-5 * 3600, -60), seen_back_s=st.one_of(st.none(), st.integers(0, 3 * 3600)),
       bucket=st.sampled_from([timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1)]),
       zone=st.sampled_from(["UTC", "Asia/Seoul"]), which=st.sampled_from(["a", *ODD]))
def test_any_points_read_alike_from_influxdb_and_the_embedded_store(stores, raw, since_s, seen_back_s, bucket, zone,
                                                                   which):
    prefix = f"ex{next(_examples)}-"
    base = int(time.time()) - 40  # every point at least 10 s old, so the reference and the stores agree on now
    points = [Pt(prefix + w, m, base + dt, s, run) for w, m, dt, s, run in raw]
    stores.write(points)
    since = at(base + since_s)
    seen_since = since - timedelta(seconds=seen_back_s) if seen_back_s is not None else None
    want = reference(points, prefix + which, since, bucket, zone, seen_since)
    got = asyncio.run(stores.read(prefix + which, since, bucket, zone, seen_since))
    assert got[0] == want and got[1] == want
