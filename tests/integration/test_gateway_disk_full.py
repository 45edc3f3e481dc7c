"""The disk fills up while the uplink is delivering: a REAL InfluxDB accepts the batches, the
store cannot remove them (a real full tmpfs, tests/disks.py), and the gateway neither stops nor
sends them again; when there is room it removes them and carries on. Totals are checked in
InfluxDB: nothing lost, nothing doubled."""

from __future__ import annotations

import sqlite3
import time

import pytest

from edge_gateway.outbox import Outbox, StoreFull
from edge_gateway.uplink import Uplink
from tests.disks import fill, rows_on_disk, small_filesystem
from tests.integration.test_gateway_uplink import REGISTRY, WORKSHOP, add, running, stop, summaries, v1_config
from tests.unit.boards import Kernel
from tests.waiting import async_wait_for

MB = 1024 * 1024



def points(influxdb) -> int:
    r = influxdb.query('SELECT count("stitches") FROM "sewing" WHERE time > 0')
    series = r["results"][0].get("series")
    return series[0]["values"][0][1] if series else 0


async def test_a_full_disk_while_sending_loses_nothing_resends_nothing_and_recovers(influxdb, tmp_path):
    with small_filesystem(tmp_path / "sd", 8 * MB) as disk:
        path = disk / "gateway.sqlite"
        # (A Pi whose NTP has set the clock: this machine's kernel says unsynced, an alert of its own.)
        with Outbox(path, WORKSHOP, REGISTRY, clock_synced=Kernel(True)) as store:
            start = int(time.time()) - 7200
            first, expected = summaries(range(1, 301), start)
            assert store.ingest(first).accepted == 900
            # WAL checkpointed: removing lines now needs new blocks of the disk, which is full.
            db = sqlite3.connect(path)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            ballast = fill(disk)
            uplink = Uplink(v1_config(influxdb, batch_lines=250, flush_interval_s=3600, backoff_max_s=0.5), store)
            task = await running(uplink)
            try:
                assert await uplink.flush(timeout=30)
                # The fault hit work in flight: InfluxDB has every line, the file still holds
                # every one of them (each removal failed), and the gateway is still running.
                assert points(influxdb) == 900 and influxdb.series_sum("stitches") == expected
                assert rows_on_disk(path) == 900
                assert not task.done()
                assert "sent_not_removed" in {a.key for a in store.alerts()}
                # Nothing is sent a second time, however often the uplink drains.
                requests = uplink.health.requests
                assert await uplink.flush(timeout=30)
                assert uplink.health.requests == requests and uplink.health.lines_sent == 900
                # New summaries are refused, not acknowledged: the broker keeps them.
                second, more = summaries(range(301, 401), start)
                with pytest.raises(StoreFull):
                    store.ingest(second)

                ballast.unlink()
                t0 = time.monotonic()
                await async_wait_for(lambda: store.pending_stats() == (0, None) and rows_on_disk(path) == 0,
                                     timeout=15, what="delivered lines removed once there is room")
                recovered_s = time.monotonic() - t0
                assert store.ingest(second).accepted == 300
                assert await uplink.flush(timeout=30)
                assert rows_on_disk(path) == 0 and store.alerts() == []
            finally:
                await stop(task)
            assert influxdb.series_sum("stitches") == add(expected, more)
            assert points(influxdb) == 1200
            assert uplink.health.lines_sent == 1200 and store.counters()["sent"] == 1200
            assert recovered_s < 5
