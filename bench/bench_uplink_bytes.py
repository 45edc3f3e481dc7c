"""Uplink bytes per machine-hour at the gateway's default settings, beside the naive way.

A workshop of 6 machines sews for one simulated hour (simulators/sewing.py: bursty sewing with
pauses and long stops, each machine with its own top speed). Each board's 10 s summaries go
through the real gateway store (dedup, timestamps, outbox) and the real uplink code at its
defaults: flush every 600 s, up to 5,000 lines a request, gzip level 9, v1 /write with basic
auth. The simulated hour is driven by calling the uplink's flush() once per 600 simulated
seconds, the same path the interval timer takes.

Bytes are counted on the socket by a TCP proxy in front of a real InfluxDB 1.x: every byte of
the HTTP requests (line, headers, gzip body) and responses. TCP/IP and TLS overhead are not
included (they depend on the link; TLS adds roughly 30 bytes a record plus a handshake per
connection unless it is resumed or kept alive).

The naive way, measured the same way: every 10 s one uncompressed request with a line per
summary carrying all its fields, nanosecond timestamps, httpx's default headers.

Run: .venv/bin/python bench/bench_uplink_bytes.py [--no-offers]   (with the offers: a real PostgreSQL and hub too,
and the gateway's offer checks of the same hour are added, bench/bench_offer_bytes.py)
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench._wire import CountingProxy  # noqa: E402
from edge_gateway.config import UplinkConfig  # noqa: E402
from edge_gateway.outbox import Incoming, Outbox  # noqa: E402
from edge_gateway.uplink import Uplink  # noqa: E402
from simulators.sewing import SewingMachine  # noqa: E402
from tests.servers import InfluxDB1  # noqa: E402

MACHINES = 6
HOUR_S = 3600
INTERVAL_S = 10
TICK_S = 0.1
WORKSHOP = "ws-changsin-01"


def board_summaries(machine_no: int, start: int) -> list[dict]:
    """One board's 360 summaries for the hour, from the sewing simulator's ground truth."""
    sim = SewingMachine(seed=1000 + machine_no, duration_s=HOUR_S, max_spm=(4500, 5500, 6000, 7000)[machine_no % 4])
    out, total, running, idle_ticks = [], 0, False, 0
    ticks_per_interval = int(INTERVAL_S / TICK_S)
    for i in range(HOUR_S // INTERVAL_S):
        t0 = i * INTERVAL_S
        run_ticks = stops = 0
        for k in range(ticks_per_interval):
            a = t0 + k * TICK_S
            if sim.stitches_between(a, a + TICK_S):
                run_ticks += 1
                running, idle_ticks = True, 0
            else:
                idle_ticks += 1
                # A stop is 2 s without stitches after running (protocol section 2).
                if running and idle_ticks == int(2 / TICK_S):
                    stops += 1
                    running = False
        stitches = sim.stitches_between(t0, t0 + INTERVAL_S)
        total += stitches
        out.append({"v": 1, "device": f"sn-3c71bf0a12{machine_no:02x}", "boot": 3, "seq": i + 1,
                    "uptime_ms": (i + 1) * INTERVAL_S * 1000 + 37, "interval_ms": INTERVAL_S * 1000,
                    "stitches": stitches, "run_ms": run_ticks * 100, "stops": stops,
                    "peak_spm": sim.peak_spm(t0, t0 + INTERVAL_S), "total": 250_000 + total,
                    "time": start + (i + 1) * INTERVAL_S})
    return out


def naive_line(s: dict, machine: str) -> str:
    fields = ",".join(f"{k}={s[k]}i" for k in ("boot", "seq", "uptime_ms", "interval_ms", "stitches", "run_ms",
                                                "stops", "peak_spm", "total"))
    return f"sewing,device={s['device']},machine={machine},workshop={WORKSHOP} {fields} {s['time'] * 10**9}"


async def main() -> None:
    start = (int(time.time()) - 2 * HOUR_S) // 60 * 60
    boards = [board_summaries(m, start) for m in range(MACHINES)]
    registry = {boards[m][0]["device"]: f"m{m + 1:02d}" for m in range(MACHINES)}
    run_ratio = sum(s["run_ms"] for b in boards for s in b) / (MACHINES * HOUR_S * 1000)
    stitches = sum(s["stitches"] for b in boards for s in b)
    print(f"simulated: {MACHINES} machines x 1 h, {stitches:,} stitches, needle running {run_ratio:.0%} of the time")

    with tempfile.TemporaryDirectory(prefix="sewnet-bytes-") as tmp:
        influx = InfluxDB1(Path(tmp) / "influxdb")
        influx.start()
        influx.query('CREATE DATABASE "naive"', method="POST")
        proxy = CountingProxy("127.0.0.1", influx.port)
        port = await proxy.start()
        url = f"http://127.0.0.1:{port}"
        try:
            # ---- the gateway at its defaults ----
            cfg = UplinkConfig(api="v1", url=url, database="sewnet", username=influx.username,
                               password=influx.password)
            assert (cfg.flush_interval_s, cfg.batch_lines, cfg.gzip_level) == (600, 5000, 9)
            store = Outbox(Path(tmp) / "gw.sqlite", WORKSHOP, registry)
            uplink = Uplink(cfg, store)
            task = asyncio.create_task(uplink.run())
            flushes = 0
            for i in range(HOUR_S // INTERVAL_S):
                batch = [Incoming(f"sewnet/v1/{b[i]['device']}/summary", json.dumps(b[i]).encode(),
                                  b[i]["time"] + 0.3) for b in boards]
                uplink.notify(store.ingest(batch).accepted)
                if (i + 1) * INTERVAL_S % int(cfg.flush_interval_s) == 0:
                    assert await uplink.flush(timeout=30)
                    flushes += 1
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            ours = proxy.up + proxy.down
            body = uplink.health.bytes_sent
            assert store.pending_stats()[0] == 0
            got = influx.series_sum("stitches")
            assert sum(got.values()) == stitches, (got, stitches)
            store.close()

            # ---- naive: a request every 10 s, all fields, ns timestamps, no gzip ----
            proxy.reset()
            async with httpx.AsyncClient() as client:
                for i in range(HOUR_S // INTERVAL_S):
                    lines = "\n".join(naive_line(b[i], registry[b[i]["device"]]) for b in boards)
                    r = await client.post(f"{url}/write", params={"db": "naive"}, content=lines,
                                          auth=(influx.username, influx.password))
                    assert r.status_code == 204, r.text
            naive = proxy.up + proxy.down
        finally:
            await proxy.close()
            influx.kill()

    per_mh = ours / MACHINES
    naive_mh = naive / MACHINES
    print(f"gateway defaults: {uplink.health.requests} requests, {body:,} B gzip'd bodies, "
          f"{ours - body:,} B of HTTP lines and headers (both ways)")
    print(f"  bytes per machine-hour: {per_mh:,.0f} B  (bodies {body / MACHINES:,.0f} B,"
          f" HTTP overhead {(ours - body) / MACHINES:,.0f} B)   target <= 3,000 B")
    print(f"naive: {HOUR_S // INTERVAL_S} requests, bytes per machine-hour: {naive_mh:,.0f} B")
    print(f"ratio naive / gateway: {naive_mh / per_mh:.1f}x   target >= 3x")
    if "--no-offers" not in sys.argv:
        # The other thing a gateway sends over LTE: its checks for work offers (issue 7).
        from bench.bench_offer_bytes import offer_checks_hour

        print()
        offers = await offer_checks_hour()
        print(f"with the offer checks (default poll, nothing offered meanwhile): {ours + offers:,} B per workshop-hour for "
              f"{MACHINES} machines, {(ours + offers) / MACHINES:,.0f} B per machine-hour ({offers / (ours + offers):.0%} "
              f"of it the offer checks)")


if __name__ == "__main__":
    asyncio.run(main())
