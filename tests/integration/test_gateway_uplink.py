"""Gateway uplink against a REAL InfluxDB 1.x (v1 /write) and a REAL VictoriaMetrics (/api/v2/write)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import httpx
import pytest

from edge_gateway.config import UplinkConfig
from edge_gateway.outbox import Incoming, Outbox
from edge_gateway.uplink import Uplink
from tests.waiting import async_wait_for

WORKSHOP = "ws-uplink-01"
REGISTRY = {"sn-bbbbbbbbbb01": "m01", "sn-bbbbbbbbbb02": "m02", "sn-bbbbbbbbbb03": "m03"}


def summaries(seqs: range, start: int, boot: int = 1) -> tuple[list[Incoming], dict[str, int]]:
    """Synced-clock summaries from every board, and the stitches per machine they carry."""
    msgs, expected = [], {m: 0 for m in REGISTRY.values()}
    for seq in seqs:
        for i, (device, machine) in enumerate(REGISTRY.items()):
            stitches = (seq * 37 + i * 101) % 1800
            body = {"v": 1, "device": device, "boot": boot, "seq": seq, "uptime_ms": 10_000 * seq,
                    "interval_ms": 10_000, "stitches": stitches, "run_ms": 5_000, "stops": 1, "peak_spm": 5_040,
                    "total": 10**6 + stitches, "time": start + 10 * seq}
            msgs.append(Incoming(f"sewnet/v1/{device}/summary", json.dumps(body).encode(), time.time()))
            expected[machine] += stitches
    return msgs, expected


def add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}


@pytest.fixture
def store(tmp_path):
    with Outbox(tmp_path / "gw.sqlite", WORKSHOP, REGISTRY) as s:
        yield s


def v1_config(influxdb, **settings) -> UplinkConfig:
    """The uplink pointed at the test InfluxDB 1.x with its credentials."""
    return UplinkConfig(api="v1", url=influxdb.url, database=influxdb.database, username=influxdb.username,
                        password=influxdb.password, **settings)


async def running(uplink: Uplink):
    task = asyncio.create_task(uplink.run())
    await asyncio.sleep(0)
    return task


async def stop(task):
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_v1_lines_arrive_and_stitch_sums_match(influxdb, store):
    start = int(time.time()) - 7200
    msgs, expected = summaries(range(1, 301), start)
    assert store.ingest(msgs).accepted == 900
    cfg = v1_config(influxdb, batch_lines=250, flush_interval_s=3600)
    uplink = Uplink(cfg, store)
    task = await running(uplink)
    try:
        assert await uplink.flush(timeout=30)
        assert store.pending_stats() == (0, None)
        assert influxdb.series_sum("stitches") == expected
        h = uplink.health
        assert h.requests == 4 and h.lines_sent == 900 and h.last_error is None and h.last_success_at
        assert store.counters()["sent"] == 900
        # gzip: 900 lines of ~120 bytes each went as a few KB.
        assert h.bytes_sent < 900 * 120 / 5
    finally:
        await stop(task)


async def outage_then_recovery(cfg: UplinkConfig, store: Outbox, server, before: int, during: int,
                               on_restart=lambda: None) -> dict[str, int]:
    """Ship `before` rounds of summaries, stop the server, queue `during` more, check they wait
    in the outbox, start the server and flush. Returns the stitches expected per machine."""
    start = int(time.time()) - 7200
    uplink = Uplink(cfg, store)
    task = await running(uplink)
    try:
        first, expected = summaries(range(1, before + 1), start)
        store.ingest(first)
        assert await uplink.flush(timeout=30)

        await asyncio.to_thread(server.stop)
        second, more = summaries(range(before + 1, before + during + 1), start)
        store.ingest(second)
        assert not await uplink.flush(timeout=2), "flush cannot succeed while the server is down"
        assert uplink.health.last_error and store.pending_stats()[0] == during * len(REGISTRY)
        # Down for longer than alert_after_s: the page says so in plain words.
        [alert] = uplink.alerts()
        assert alert.key == "uplink_down" and alert.ko.startswith("인터넷 연결 끊김: 데이터는 안전하게 보관 중")
        assert alert.en.startswith("Internet connection down: data kept safely")

        await asyncio.to_thread(server.start)
        on_restart()
        assert await uplink.flush(timeout=30)
        assert store.pending_stats()[0] == 0
        assert uplink.alerts() == [] and uplink.health.problem is None
        return add(expected, more)
    finally:
        await stop(task)


async def test_v1_outage_then_recovery_loses_nothing_and_counts_nothing_twice(influxdb, store):
    cfg = v1_config(influxdb, batch_lines=200, flush_interval_s=3600, backoff_max_s=0.5, timeout_s=5,
                    alert_after_s=1)

    def lost_acknowledgement():
        # As if an earlier attempt had landed and only its 204 was lost: the gateway will send
        # these lines again, and the same points must overwrite themselves.
        influxdb.write("\n".join(p.line for p in store.pending(250)))

    expected = await outage_then_recovery(cfg, store, influxdb, before=100, during=200,
                                          on_restart=lost_acknowledgement)
    assert influxdb.series_sum("stitches") == expected
    count = influxdb.query('SELECT count("stitches") FROM "sewing" WHERE time > 0')
    assert count["results"][0]["series"][0]["values"][0][1] == 900


async def test_v1_bad_line_goes_to_dead_letter_and_the_queue_moves_on(influxdb, store):
    start = int(time.time()) - 7200
    msgs, expected = summaries(range(1, 41), start)
    store.ingest(msgs[:60])
    # A line the server cannot parse (say, written by an older gateway with a bug) sits between
    # good ones: it must not block them forever.
    with store._lock:
        store._append([("m02", 1, "sewing,machine=m02 stitches=", time.time())])
    store.ingest(msgs[60:])
    cfg = v1_config(influxdb, batch_lines=5000, flush_interval_s=3600)
    uplink = Uplink(cfg, store)
    task = await running(uplink)
    try:
        assert await uplink.flush(timeout=30)
        assert store.pending_stats()[0] == 0
        dead = store.dead_letters()
        assert [d["line"] for d in dead] == ["sewing,machine=m02 stitches="]
        assert "HTTP 400" in dead[0]["reason"] and "parse" in dead[0]["reason"]
        assert influxdb.series_sum("stitches") == expected
        assert store.counters()["dead_letter"] == 1 and uplink.health.dead_lettered == 1
        # The answer named the line: one request for it, one more for the rest (not a bisection).
        assert uplink.health.requests == 2
    finally:
        await stop(task)


async def test_v2_write_reaches_victoriametrics(victoria, store):
    start = int(time.time()) - 3600
    msgs, expected = summaries(range(1, 61), start)
    store.ingest(msgs)
    cfg = UplinkConfig(api="v2", url=victoria.url, org="sewnet", bucket="sewnet", token="not-checked-by-vm",
                       flush_interval_s=3600)
    uplink = Uplink(cfg, store)
    task = await running(uplink)
    try:
        assert await uplink.flush(timeout=30)
        assert store.pending_stats()[0] == 0
        series = victoria.export('{__name__="sewing_stitches"}')
        got = {s["metric"]["machine"]: sum(s["values"]) for s in series}
        assert got == expected
        assert {s["metric"]["workshop"] for s in series} == {WORKSHOP}
        one = next(s for s in series if s["metric"]["machine"] == "m01")
        assert len(one["timestamps"]) == 60 and min(one["timestamps"]) == (start + 10) * 1000
    finally:
        await stop(task)


async def test_v2_outage_then_recovery_through_influxdb_client(victoria, store):
    """The v2 path (influxdb-client) keeps lines through a server outage and resends them."""
    cfg = UplinkConfig(api="v2", url=victoria.url, org="sewnet", bucket="sewnet", token="not-checked-by-vm",
                       flush_interval_s=3600, backoff_max_s=0.5, timeout_s=5, alert_after_s=1)
    expected = await outage_then_recovery(cfg, store, victoria, before=40, during=60)
    series = victoria.export('{__name__="sewing_stitches"}')
    assert {s["metric"]["machine"]: sum(s["values"]) for s in series} == expected
    assert all(len(s["timestamps"]) == 100 for s in series)


async def test_interval_flush_and_full_batch_wake_without_explicit_flush(influxdb, store):
    """Nobody calls flush(): a full batch goes at once, the rest when the interval passes."""
    start = int(time.time()) - 7200
    cfg = v1_config(influxdb, batch_lines=90, flush_interval_s=1.5)
    uplink = Uplink(cfg, store)
    task = await running(uplink)
    try:
        msgs, expected = summaries(range(1, 41), start)  # 120 lines: one full batch + 30
        t0 = time.monotonic()
        uplink.notify(store.ingest(msgs).accepted)
        # The interval would send everything at 1.5 s; the full batch must go well before.
        await async_wait_for(lambda: uplink.health.lines_sent >= 90, timeout=1.2, what="full batch sent at once")
        assert uplink.health.lines_sent == 90, "the remainder should wait for the interval"
        await async_wait_for(lambda: uplink.health.lines_sent == 120, timeout=10, what="remainder after interval")
        assert time.monotonic() - t0 >= 1.0
        assert influxdb.series_sum("stitches") == expected
    finally:
        await stop(task)


async def test_v1_batch_all_past_the_retention_policy_costs_one_request_not_thousands(influxdb, store):
    """InfluxDB 1.x answers `partial write: points beyond retention policy dropped=5000`: that says
    which lines (the oldest 5000, i.e. all) and why. Before, the batch was halved down to single
    lines: about 10,000 requests over LTE for nothing."""
    influxdb.query('CREATE RETENTION POLICY "hour" ON "sewnet" DURATION 1h REPLICATION 1 DEFAULT', method="POST")
    msgs, _ = summaries(range(1, 1668), int(time.time()) - 6 * 3600)  # 1.4 to 6 h old
    assert store.ingest(msgs[:5000]).accepted == 5000
    uplink = Uplink(v1_config(influxdb, batch_lines=5000, flush_interval_s=3600), store)
    task = await running(uplink)
    try:
        assert await uplink.flush(timeout=30)
        assert uplink.health.requests <= 2, f"{uplink.health.requests} requests for one refused batch"
        assert store.pending_stats() == (0, None)
        dead = store.dead_letters(limit=10_000)
        assert len(dead) == 5000 and {d["reason"] for d in dead} == {"HTTP 400: points beyond retention policy"}
        assert store.counters()["dead_letter"] == 5000 and uplink.health.dead_lettered == 5000
        assert influxdb.series_sum("stitches") == {}
        [alert] = uplink.alerts()
        assert alert.key == "uplink_dead_letters" and alert.level == "warning" and "5,000" in alert.ko
    finally:
        await stop(task)


async def test_v1_old_and_recent_lines_in_one_batch_the_old_ones_set_aside_the_rest_stored(influxdb, store):
    influxdb.query('CREATE RETENTION POLICY "hour" ON "sewnet" DURATION 1h REPLICATION 1 DEFAULT', method="POST")
    now = int(time.time())
    old, _ = summaries(range(1, 301), now - 6 * 3600, boot=1)
    recent, expected = summaries(range(1, 301), now - 3100, boot=2)  # 51 to 3 min old
    store.ingest(old)
    store.ingest(recent)
    uplink = Uplink(v1_config(influxdb, batch_lines=5000, flush_interval_s=3600), store)
    task = await running(uplink)
    try:
        assert await uplink.flush(timeout=30)
        # One answer names the 900 oldest; the 900 recent are sent once more, as a check.
        assert uplink.health.requests == 2
        dead = store.dead_letters(limit=10_000)
        assert len(dead) == 900 and all(int(d["line"].rsplit(" ", 1)[1]) < now - 3600 for d in dead)
        assert influxdb.series_sum("stitches") == expected
        assert store.pending_stats() == (0, None)
    finally:
        await stop(task)


REFUSALS = {
    # name: (alert key, words the owner sees)
    "wrong_password": ("uplink_credentials", "비밀번호"),
    "read_only_user": ("uplink_credentials", "비밀번호"),
    "no_database": ("uplink_database", "데이터베이스"),
}


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_v1_refusals_alert_cost_a_few_small_tries_and_recover_by_themselves(influxdb, store, tmp_path, refusal):
    """401, 403 and 404 used to resend the whole batch every backoff_max_s, forever."""
    secret = tmp_path / "uplink-password"
    user = influxdb.username
    secret.write_text(influxdb.password)
    if refusal == "wrong_password":
        secret.write_text("not-the-password")
    elif refusal == "read_only_user":
        user = "reader"
        influxdb.query("CREATE USER reader WITH PASSWORD 'reader-pw'", method="POST")
        influxdb.query('GRANT READ ON "sewnet" TO "reader"', method="POST")
        secret.write_text("reader-pw")
    else:
        influxdb.query('DROP DATABASE "sewnet"', method="POST")
    cfg = UplinkConfig(api="v1", url=influxdb.url, database=influxdb.database, username=user,
                       password_file=secret, flush_interval_s=3600, backoff_max_s=0.1, refused_backoff_max_s=1.0)
    msgs, expected = summaries(range(1, 301), int(time.time()) - 3600)
    store.ingest(msgs)
    uplink = Uplink(cfg, store)
    task = await running(uplink)
    key, words = REFUSALS[refusal]
    try:
        assert not await uplink.flush(timeout=1)
        alert = await async_wait_for(lambda: next((a for a in uplink.alerts() if a.key == key), None), timeout=10,
                                     what=f"{key} alert")
        assert alert.level == "error" and words in alert.ko and "installer" in alert.en
        assert "HTTP" not in alert.ko + alert.en and "Error" not in alert.ko + alert.en
        h = uplink.health
        requests, sent = h.requests, h.bytes_sent
        await asyncio.sleep(4)  # a window of time: what does the refusal cost meanwhile?
        tries = h.requests - requests
        # backoff_max_s would allow 40 tries of the whole batch here; the refusal allows about
        # one per second (refused_backoff_max_s), each of a single line.
        assert 1 <= tries <= 8, tries
        assert (h.bytes_sent - sent) / tries < 300, "tries should carry one line, not the batch"
        assert store.pending_stats()[0] == 900

        if refusal == "wrong_password":
            secret.write_text(influxdb.password)  # re-read at once, no restart
        elif refusal == "read_only_user":
            influxdb.query('GRANT ALL ON "sewnet" TO "reader"', method="POST")
        else:
            influxdb.query('CREATE DATABASE "sewnet"', method="POST")
        assert await uplink.flush(timeout=15)
        assert influxdb.series_sum("stitches") == expected
        assert uplink.alerts() == [] and h.problem is None and store.pending_stats() == (0, None)
    finally:
        await stop(task)


async def test_v2_refused_token_alerts_without_a_resend_storm_and_recovers(victoria, store):
    """VictoriaMetrics with HTTP auth on refuses influxdb-client's `Token` with 401, as InfluxDB 2
    does a wrong token; the fix here is on the server's side (auth off), found by the next try."""
    victoria.stop()
    victoria.extra_args = ["-httpAuth.username=hub", "-httpAuth.password=secret"]
    victoria.start()
    cfg = UplinkConfig(api="v2", url=victoria.url, org="sewnet", bucket="sewnet", token="wrong-token",
                       flush_interval_s=3600, backoff_max_s=0.1, refused_backoff_max_s=1.0, timeout_s=5)
    msgs, expected = summaries(range(1, 101), int(time.time()) - 3600)
    store.ingest(msgs)
    uplink = Uplink(cfg, store)
    task = await running(uplink)
    try:
        assert not await uplink.flush(timeout=1)
        await async_wait_for(lambda: [a.key for a in uplink.alerts()] == ["uplink_credentials"], timeout=15,
                             what="credentials alert")
        h = uplink.health
        requests, sent = h.requests, h.bytes_sent
        await asyncio.sleep(4)
        tries = h.requests - requests
        assert 1 <= tries <= 8 and (h.bytes_sent - sent) / tries < 300, (tries, h.bytes_sent - sent)

        victoria.stop()
        victoria.extra_args = []
        victoria.start()
        assert await uplink.flush(timeout=15)
        series = victoria.export('{__name__="sewing_stitches"}')
        assert {s["metric"]["machine"]: sum(s["values"]) for s in series} == expected
        assert uplink.alerts() == []
    finally:
        await stop(task)


async def test_busy_server_is_retried_no_sooner_than_its_retry_after(store):
    """A real InfluxDB cannot be made to answer 429/503 on demand here, so this one server is an
    httpx.MockTransport: it refuses twice with Retry-After and then takes the lines."""
    seen: list[tuple[float, int]] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append((time.monotonic(), len(gzip.decompress(request.content).splitlines())))
        if len(seen) == 1:
            return httpx.Response(429, json={"error": "too many requests"}, headers={"Retry-After": "1"})
        if len(seen) == 2:
            return httpx.Response(503, text="overloaded", headers={"Retry-After": "1.5"})
        return httpx.Response(204)

    msgs, _ = summaries(range(1, 51), int(time.time()) - 3600)
    store.ingest(msgs)
    cfg = UplinkConfig(api="v1", url="http://influx.invalid", flush_interval_s=3600, backoff_max_s=0.05)
    uplink = Uplink(cfg, store, transport=httpx.MockTransport(server))
    task = await running(uplink)
    try:
        assert await uplink.flush(timeout=15)
        (t1, n1), (t2, n2), (t3, n3) = seen[:3]
        assert t2 - t1 >= 1.0 and t3 - t2 >= 1.5, "Retry-After not honoured"
        assert (n1, n2, n3) == (150, 1, 1), "after a failure, one line tests the water"
        assert sum(n for _, n in seen[2:]) == 150 and store.pending_stats() == (0, None)
        assert uplink.health.problem is None and uplink.health.requests_failed == 2
    finally:
        await stop(task)


async def test_a_gateway_clock_a_year_ahead_then_corrected_loses_none_of_21_later_summaries(influxdb, tmp_path):
    """Issue 5, item 3: with "last + 1 s" per series, every summary after the correction was stamped a
    year ahead (21 of 21 lost downstream). Now each lands at its own interval end in InfluxDB."""
    year = 365 * 86400
    device, machine = next(iter(REGISTRY.items()))
    start = int(time.time()) - 600

    def unsynced(seq: int, clock_error: float) -> Incoming:  # arrives 0.5 s after its interval ends
        body = {"v": 1, "device": device, "boot": 1, "seq": seq, "uptime_ms": 10_000 * seq, "interval_ms": 10_000,
                "stitches": seq, "run_ms": 5_000, "stops": 1, "peak_spm": 5_040, "total": 10**6 + seq}
        return Incoming(f"sewnet/v1/{device}/summary", json.dumps(body).encode(), start + 10 * seq + 0.5 + clock_error)

    # Nothing tells this store that its clock is wrong (no kernel word, no synced board).
    with Outbox(tmp_path / "gw.sqlite", WORKSHOP, REGISTRY, clock_synced=lambda: None) as store:
        for seq in range(1, 6):
            store.ingest([unsynced(seq, year)])
        for seq in range(6, 27):
            assert store.ingest([unsynced(seq, 0.0)]).accepted == 1
        uplink = Uplink(v1_config(influxdb, flush_interval_s=3600), store)
        task = await running(uplink)
        try:
            assert await uplink.flush(timeout=30)
        finally:
            await stop(task)
        assert store.dead_letters() == []
    body = influxdb.query(f'SELECT "stitches" FROM "sewing" WHERE "machine" = \'{machine}\''
                          f" AND time >= {start}s AND time <= {int(time.time()) + 300}s")
    rows = body["results"][0]["series"][0]["values"]
    assert rows == [[start + 10 * seq, seq] for seq in range(6, 27)]
