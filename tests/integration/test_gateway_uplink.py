"""Gateway uplink against a REAL InfluxDB 1.x (v1 /write) and a REAL VictoriaMetrics (/api/v2/write)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from edge_gateway.config import UplinkConfig
from edge_gateway.outbox import Incoming, Outbox
from edge_gateway.uplink import Uplink
from tests.waiting import async_wait_for

WORKSHOP = "ws-uplink-01"
REGISTRY = {"sn-bbbbbbbbbb01": "m01", "sn-bbbbbbbbbb02": "m02", "sn-bbbbbbbbbb03": "m03"}


def summaries(seqs: range, start: int) -> tuple[list[Incoming], dict[str, int]]:
    """Synced-clock summaries from every board, and the stitches per machine they carry."""
    msgs, expected = [], {m: 0 for m in REGISTRY.values()}
    for seq in seqs:
        for i, (device, machine) in enumerate(REGISTRY.items()):
            stitches = (seq * 37 + i * 101) % 1800
            body = {"v": 1, "device": device, "boot": 1, "seq": seq, "uptime_ms": 10_000 * seq,
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

        await asyncio.to_thread(server.start)
        on_restart()
        assert await uplink.flush(timeout=30)
        assert store.pending_stats()[0] == 0
        return add(expected, more)
    finally:
        await stop(task)


async def test_v1_outage_then_recovery_loses_nothing_and_counts_nothing_twice(influxdb, store):
    cfg = v1_config(influxdb, batch_lines=200, flush_interval_s=3600, backoff_max_s=0.5, timeout_s=5)

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
        store._db.execute("INSERT INTO outbox(series, ts, line, stored_at) VALUES ('m02', 1, 'sewing,machine=m02 "
                          "stitches=', ?)", (time.time(),))
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
                       flush_interval_s=3600, backoff_max_s=0.5, timeout_s=5)
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
