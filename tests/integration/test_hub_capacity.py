"""GET /api/v1/capacity over real HTTP (uvicorn on a free port) against a real InfluxDB 1.6, and the
same checks against the hub's embedded store written through its own /api/v2/write."""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from hub.app import create_app
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from hub.telemetry.influxql import InfluxQLTelemetry
from tests.waiting import wait_for

TOKEN = "capacity-reader-token"
WRITE_TOKEN = "capacity-writer-token"


@dataclass(frozen=True)
class Summary:
    workshop: str
    machine: str
    ago_s: int
    stitches: int
    run_ms: int
    interval_ms: int = 10000

    def line(self, now: int) -> str:
        return (f"sewing,machine={self.machine},workshop={self.workshop} interval_ms={self.interval_ms}i,"
                f"peak_spm=6000i,run_ms={self.run_ms}i,stitches={self.stitches}i,stops=1i {now - self.ago_s}")


SUMMARIES = [
    Summary("ws-changsin-01", "m03", 30, 812, 7400),
    Summary("ws-changsin-01", "m03", 20, 500, 4000),
    Summary("ws-changsin-01", "m03", 10, 0, 0),
    Summary("ws-changsin-01", "m07", 20 * 60, 300, 2500),      # in the hour, not online
    Summary("ws-changsin-01", "m09", 2 * 86400, 999, 9999),    # known, neither online nor in the hour
    Summary("ws-changsin-01", "m03", 3700, 4444, 4444, 30000),  # older than the hour
    Summary("ws-sinseol-02", "m01", 5, 1000, 9000),
    Summary("ws-sinseol-02", "m02", 31 * 86400, 77, 77),       # older than 30 days: not known
]


def expected(now: int) -> dict:
    """What the capacity should say, worked out from the summaries written and the contract's
    windows (1 h, 15 min, 30 days) rather than from the hub's code."""
    out: dict = {}
    for s in SUMMARIES:
        if s.ago_s >= 30 * 86400:
            continue
        w = out.setdefault(s.workshop, {"known": set(), "online": set(), "stitches": 0, "run": 0, "obs": 0,
                                        "last": 0})
        w["known"].add(s.machine)
        if s.ago_s < 15 * 60:
            w["online"].add(s.machine)
        if s.ago_s < 3600:
            w["stitches"] += s.stitches
            w["run"] += s.run_ms
            w["obs"] += s.interval_ms
        w["last"] = max(w["last"], now - s.ago_s)
    return out


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def check_figures(body: dict, now: int) -> None:
    want = expected(now)
    got = {w["workshop"]: w for w in body["workshops"]}
    assert sorted(got) == sorted(want)
    for name, w in want.items():
        g = got[name]
        assert g["machines_known"] == len(w["known"]), name
        assert g["machines_online"] == len(w["online"]), name
        assert g["stitches_last_hour"] == w["stitches"], name
        assert g["running_ratio"] == round(w["run"] / w["obs"], 4), name
        assert g["last_seen"] == iso(w["last"]), name
        assert {m["machine"] for m in g["machines"]} == w["known"]
    # And one figure by hand, in case expected() and the hub share a misreading.
    assert got["ws-changsin-01"]["stitches_last_hour"] == 812 + 500 + 0 + 300
    assert got["ws-changsin-01"]["running_ratio"] == round(13900 / 40000, 4)
    assert body["generated_at"].endswith("Z")


def check_auth(client: httpx.Client) -> None:
    r = client.get("/api/v1/capacity")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/v1/capacity", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert client.get("/api/v1/capacity", headers={"Authorization": f"Token {TOKEN}"}).status_code == 401
    assert client.get("/healthz").status_code == 200  # health needs no token


def capacity(client: httpx.Client) -> httpx.Response:
    return client.get("/api/v1/capacity", headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture
def now() -> int:
    return int(time.time())


def test_capacity_from_influxdb(influxdb, now):
    influxdb.write("\n".join(s.line(now) for s in SUMMARIES), precision="s")
    settings = load_settings(telemetry="influxdb", influx_url=influxdb.url, influx_database=influxdb.database,
                             influx_username=influxdb.username, influx_password=influxdb.password,
                             influx_timeout_s=3, api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        check_auth(client)
        r = capacity(client)
        assert r.status_code == 200, r.text
        assert r.json()["telemetry"] == "influxdb"
        check_figures(r.json(), now)

        influxdb.stop()
        r = capacity(client)
        assert r.status_code == 503
        assert r.json()["error"] == "telemetry_unavailable"
        assert "unreachable" in r.json()["reason"] and influxdb.url in r.json()["reason"]
        assert client.get("/healthz").status_code == 200  # the hub itself carries on
        # The page says the same to a person: log in, then read the banner.
        assert client.post("/login", data={"token": TOKEN}).status_code == 303
        page = client.get("/")
        assert page.status_code == 503 and "unreachable" in page.text and "The telemetry store cannot answer" in page.text

        influxdb.start()
        wait_for(lambda: capacity(client).status_code == 200, timeout=30, what="capacity after InfluxDB restart")
        check_figures(capacity(client).json(), now)


def test_wrong_influxdb_credentials_are_a_503_with_the_reason(influxdb):
    settings = load_settings(telemetry="influxdb", influx_url=influxdb.url, influx_username=influxdb.username,
                             influx_password="wrong", api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = capacity(client)
        assert r.status_code == 503 and "refused the hub's credentials (HTTP 401)" in r.json()["reason"]
    settings = load_settings(telemetry="influxdb", influx_url=influxdb.url, influx_database="nope",
                             influx_username=influxdb.username, influx_password=influxdb.password,
                             api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = capacity(client)
        assert r.status_code == 503 and "database not found: nope" in r.json()["reason"]


async def test_capacity_from_the_embedded_store(tmp_path, now):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        body = gzip.compress("\n".join(s.line(now) for s in SUMMARIES).encode())
        for _ in range(2):  # a retried batch must not count twice
            r = client.post("/api/v2/write", params={"org": "sewnet", "bucket": "sewnet", "precision": "s"},
                            content=body, headers={"Authorization": f"Token {WRITE_TOKEN}",
                                                   "Content-Encoding": "gzip"})
            assert r.status_code == 204, r.text
        check_auth(client)
        r = capacity(client)
        assert r.status_code == 200, r.text
        assert r.json()["telemetry"] == "embedded"
        check_figures(r.json(), now)

        # The hub also answers the contract's InfluxQL on /query, so the InfluxDB adapter reads
        # the embedded store exactly as it reads InfluxDB.
        influxql = InfluxQLTelemetry(server.url, "sewnet", "hub", TOKEN)
        try:
            activity = await influxql.machine_activity(settings.capacity_window)
            seen = await influxql.machines_last_seen(settings.known_window)
        finally:
            await influxql.aclose()
        by_machine = {(a.workshop, a.machine): a.stitches for a in activity}
        assert by_machine == {("ws-changsin-01", "m03"): 1312, ("ws-changsin-01", "m07"): 300,
                              ("ws-sinseol-02", "m01"): 1000}
        assert {(s.workshop, s.machine): int(s.last_seen.timestamp()) for s in seen} == {
            ("ws-changsin-01", "m03"): now - 10, ("ws-changsin-01", "m07"): now - 1200,
            ("ws-changsin-01", "m09"): now - 2 * 86400, ("ws-sinseol-02", "m01"): now - 5}
        r = client.get("/query", params={"db": "sewnet", "q": "SHOW DATABASES", "u": "hub", "p": TOKEN})
        assert r.status_code == 400 and "only the capacity queries" in r.json()["error"]
        assert client.get("/query", params={"db": "sewnet", "q": "SHOW DATABASES"}).status_code == 401


# A workshop whose gateway clock ran an hour ahead for a while: points stamped in the future.
FUTURE = [
    Summary("ws-sinseol-05", "m01", -3600, 700, 7000),   # an hour ahead
    Summary("ws-sinseol-05", "m01", 20 * 60, 100, 1000),  # m01's last real summary, 20 min ago
    Summary("ws-sinseol-05", "m02", 10, 50, 500),         # a normal machine beside it
    Summary("ws-sinseol-05", "m02", -120, 9, 90),         # two minutes ahead
    Summary("ws-sinseol-05", "m04", -600, 30, 300),       # a machine seen only in the future
]


def check_future_not_counted(body: dict, now: int) -> None:
    workshop = next(w for w in body["workshops"] if w["workshop"] == "ws-sinseol-05")
    machines = {m["machine"]: m for m in workshop["machines"]}
    assert set(machines) == {"m01", "m02"}  # m04 has not been seen yet: its point is still to come
    assert (machines["m01"]["online"], machines["m01"]["stitches_last_hour"], machines["m01"]["last_seen"]) == (
        False, 100, iso(now - 20 * 60))
    assert (machines["m02"]["online"], machines["m02"]["stitches_last_hour"], machines["m02"]["last_seen"]) == (
        True, 50, iso(now - 10))
    assert (workshop["machines_online"], workshop["stitches_last_hour"], workshop["observed_ms"]) == (1, 150, 20000)


def test_future_points_are_not_online_nor_counted_with_influxdb(influxdb, now):
    influxdb.write("\n".join(s.line(now) for s in FUTURE), precision="s")
    settings = load_settings(telemetry="influxdb", influx_url=influxdb.url, influx_database=influxdb.database,
                             influx_username=influxdb.username, influx_password=influxdb.password,
                             api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = capacity(client)
        assert r.status_code == 200, r.text
        check_future_not_counted(r.json(), now)


async def test_future_points_are_not_online_nor_counted_with_the_embedded_store(tmp_path, now):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = client.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"},
                        content="\n".join(s.line(now) for s in FUTURE).encode(),
                        headers={"Authorization": f"Token {WRITE_TOKEN}"})
        assert r.status_code == 204, r.text
        r = capacity(client)
        assert r.status_code == 200, r.text
        check_future_not_counted(r.json(), now)

        # The same through the embedded store's /query, which must take the bounded statements
        # and answer them as InfluxDB does.
        influxql = InfluxQLTelemetry(server.url, "sewnet", "hub", TOKEN)
        try:
            activity = await influxql.machine_activity(settings.capacity_window)
            seen = await influxql.machines_last_seen(settings.known_window)
        finally:
            await influxql.aclose()
        assert {a.machine: a.stitches for a in activity} == {"m01": 100, "m02": 50}
        assert {s.machine: int(s.last_seen.timestamp()) for s in seen} == {"m01": now - 1200, "m02": now - 10}
        # Without the upper bound the store answers as InfluxDB would: the future counts.
        q = ('SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms '
             'FROM "sewing" WHERE time > now() - 1h GROUP BY "workshop", "machine"')
        body = client.get("/query", params={"db": "sewnet", "q": q, "u": "hub", "p": TOKEN}).json()
        assert {s["tags"]["machine"]: s["values"][0][1] for s in body["results"][0]["series"]} == {
            "m01": 800, "m02": 59, "m04": 30}


def test_a_sum_that_wraps_around_in_influxdb_costs_only_its_machine(influxdb, now):
    """InfluxDB keeps whatever a writer sends and sums int64 without an overflow check: two points
    of 2^63-1 sum to -2, three to 2^63-3. Neither may reach the report, nor take it down."""
    big = 2**63 - 1
    influxdb.write("\n".join(
        [f"sewing,machine=m01,workshop=ws-changsin-01 interval_ms=10000i,run_ms=10i,stitches={big}i {now - ago}"
         for ago in (30, 20, 10)]
        + [f"sewing,machine=m02,workshop=ws-changsin-01 interval_ms=10000i,run_ms=10i,stitches={big}i {now - ago}"
           for ago in (30, 20)]
        + [f"sewing,machine=m03,workshop=ws-changsin-01 interval_ms=10000i,run_ms=5000i,stitches=812i {now - 5}"]),
        precision="s")
    settings = load_settings(telemetry="influxdb", influx_url=influxdb.url, influx_database=influxdb.database,
                             influx_username=influxdb.username, influx_password=influxdb.password,
                             api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = capacity(client)
        assert r.status_code == 200, r.text
        workshop = r.json()["workshops"][0]
        assert workshop["stitches_last_hour"] == 812
        machines = {m["machine"]: m for m in workshop["machines"]}
        # m01 and m02 are still seen (known, online) but their sums are not reported as figures.
        assert {m: (v["online"], v["stitches_last_hour"]) for m, v in machines.items()} == {
            "m01": (True, 0), "m02": (True, 0), "m03": (True, 812)}
        skipped = client.get("/api/v1/rejections", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert skipped["telemetry_rows_skipped"] == 2


# ----------------------------------------------------------------------------- each workshop's own hour
def late_and_gone(now: int) -> list[Summary]:
    """ws-late-01's gateway last shipped 8 minutes ago (its uplink sends every 10 minutes), and
    has sent every 10 s for the hour before; ws-gone-01 went quiet 40 minutes ago."""
    late = [Summary("ws-late-01", m, ago, stitches, 5000)
            for ago in range(8 * 60, 68 * 60, 10) for m, stitches in (("m01", 100), ("m02", 50))]
    gone = [Summary("ws-gone-01", "m01", ago, 70, 3000) for ago in range(40 * 60, 100 * 60, 10)]
    return late + gone


def epoch(iso_text: str) -> int:
    return int(datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp())


def check_own_hours(body: dict, now: int) -> None:
    summaries = late_and_gone(now)
    got = {w["workshop"]: w for w in body["workshops"]}

    def counted(workshop: str) -> int:
        w = got[workshop]
        start, end = epoch(w["window_start"]), epoch(w["window_end"])
        return sum(s.stitches for s in summaries if s.workshop == workshop and start <= now - s.ago_s < end)

    late = got["ws-late-01"]
    start, end = epoch(late["window_start"]), epoch(late["window_end"])
    assert late["window_ends_at"] == "latest_data" and end - start == 3600
    assert end - 60 <= now - 8 * 60 < end  # the hour ends in the minute of its latest point
    assert late["stitches_last_hour"] == counted("ws-late-01")
    # The full hour before its latest data, but for the part of a minute after it: at least 59
    # minutes of summaries (6 a minute, 150 stitches each). The hour up to the hub's now held 52.
    assert late["stitches_last_hour"] >= 59 * 6 * 150
    assert late["observed_ms"] >= 59 * 6 * 2 * 10_000

    gone = got["ws-gone-01"]
    assert gone["window_ends_at"] == "online_window" and gone["machines_online"] == 0
    generated = epoch(body["generated_at"])
    assert epoch(gone["window_end"]) == (generated - 15 * 60) // 60 * 60 + 60
    assert gone["stitches_last_hour"] == counted("ws-gone-01") > 0


def test_each_workshops_hour_ends_at_its_latest_data_with_influxdb(influxdb, now):
    influxdb.write("\n".join(s.line(now) for s in late_and_gone(now)), precision="s")
    settings = load_settings(telemetry="influxdb", influx_url=influxdb.url, influx_database=influxdb.database,
                             influx_username=influxdb.username, influx_password=influxdb.password,
                             api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = capacity(client)
        assert r.status_code == 200, r.text
        check_own_hours(r.json(), now)


def test_each_workshops_hour_ends_at_its_latest_data_with_the_embedded_store(tmp_path, now):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = client.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"},
                        content="\n".join(s.line(now) for s in late_and_gone(now)).encode(),
                        headers={"Authorization": f"Token {WRITE_TOKEN}"})
        assert r.status_code == 204, r.text
        r = capacity(client)
        assert r.status_code == 200, r.text
        check_own_hours(r.json(), now)
