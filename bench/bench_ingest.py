"""Messages per second from a real Mosquitto into the gateway's durable outbox.

Two figures:
- backlog: 50,000 summaries waiting at the broker in the gateway's persistent session (what
  happens after the gateway was down), drained into SQLite (WAL, synchronous=FULL), acked after
  each commit;
- live: the same number published by several boards (separate processes) while the gateway runs.

Mosquitto is started the way the tests start it (tests/servers.py). Run: .venv/bin/python bench/bench_ingest.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402

from edge_gateway.config import parse_config  # noqa: E402
from edge_gateway.ingest import Ingest  # noqa: E402
from edge_gateway.outbox import Outbox  # noqa: E402
from tests.servers import Mosquitto  # noqa: E402


def board(host: str, port: int, device: str, password: str, first_seq: int, count: int, done) -> None:
    """One publisher process: QoS 1 summaries, waits for every PUBACK."""
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-{device}")
    c.username_pw_set(device, password)
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    infos = []
    for seq in range(first_seq, first_seq + count):
        body = {"v": 1, "device": device, "boot": 1, "seq": seq, "uptime_ms": 10_000 * seq, "interval_ms": 10_000,
                "stitches": seq % 1500, "run_ms": 6_000, "stops": 2, "peak_spm": 5_040, "total": 10**6 + seq}
        infos.append(c.publish(f"sewnet/v1/{device}/summary", json.dumps(body, separators=(",", ":")), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    c.loop_stop()
    c.disconnect()
    done.put(count)


def publish_all(broker: Mosquitto, devices: dict[str, str], first_seq: int, per_board: int) -> float:
    ctx = mp.get_context("spawn")
    done = ctx.Queue()
    procs = [ctx.Process(target=board, args=(broker.host, broker.port, d, pw, first_seq, per_board, done))
             for d, pw in devices.items()]
    t = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t
    assert all(p.exitcode == 0 for p in procs), "a publisher failed"
    return elapsed


async def wait_accepted(store: Outbox, ingest: Ingest, n: int, timeout: float) -> float:
    # Polls the ingest task's own count (no store lock), then confirms in the store.
    t = time.perf_counter()
    deadline = t + timeout
    while ingest.health.messages < n or store.counters().get("accepted", 0) < n:
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {store.counters()} after {timeout} s")
        await asyncio.sleep(0.02)
    return time.perf_counter() - t


async def main(total: int, boards: int, profile: bool = False, default_inflight: bool = False,
               protocol: str = "5") -> None:
    per_board = total // boards
    total = per_board * boards
    with tempfile.TemporaryDirectory(prefix="sewnet-bench-") as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto")
        devices = {f"sn-bench{i:08x}": "" for i in range(boards)}
        for d in devices:
            devices[d] = broker.add_device(d)
        if default_inflight:
            # Mosquitto's own default (20 unacknowledged messages per client), as on a stock install.
            broker.conf_file.write_text(broker.conf_file.read_text().replace("max_inflight_messages 1000\n", ""))
        broker.start()
        cfg = parse_config({
            "workshop": "ws-bench", "data_dir": str(Path(tmp) / "gw"),
            "mqtt": {"host": broker.host, "port": broker.port, "username": broker.gateway_user,
                     "password": broker.gateway_password, "client_id": "gw-bench", "protocol": protocol},
            "uplink": {"url": "http://127.0.0.1:9", "flush_interval_s": 3600},
            "registry": {d: f"m{i:02d}" for i, d in enumerate(devices)},
            "web": {"enabled": False},
        })
        store = Outbox(cfg.store_path, cfg.workshop, cfg.registry)
        try:
            # 1. Create the gateway's persistent session, then take the gateway down.
            ingest = Ingest(cfg, store)
            task = asyncio.create_task(ingest.run())
            while not ingest.health.subscribed:
                await asyncio.sleep(0.02)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

            # 2. Boards publish while the gateway is down: the broker queues for its session.
            pub_s = await asyncio.to_thread(publish_all, broker, devices, 1, per_board)
            print(f"queued {total} summaries at the broker from {boards} boards in {pub_s:.1f} s")

            # 3. Backlog drain.
            ingest = Ingest(cfg, store)
            in_store = [0.0]
            real_ingest = store.ingest

            def timed_ingest(batch):
                t0 = time.perf_counter()
                try:
                    return real_ingest(batch)
                finally:
                    in_store[0] += time.perf_counter() - t0

            store.ingest = timed_ingest
            prof = None
            if profile:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            t, cpu = time.perf_counter(), time.process_time()
            task = asyncio.create_task(ingest.run())
            await wait_accepted(store, ingest, total, 300)
            drain_s = time.perf_counter() - t
            # CPU of this process (event loop + store thread) is steadier than wall time on a
            # machine shared with other work.
            cpu_us = (time.process_time() - cpu) / total * 1e6
            if prof is not None:
                prof.disable()
                import pstats

                pstats.Stats(prof).sort_stats("tottime").print_stats(20)
            store.ingest = real_ingest
            print(f"backlog: {total} summaries into the outbox in {drain_s:.2f} s = {total / drain_s:,.0f} msg/s"
                  f" (batches {ingest.health.batches}, largest {ingest.health.largest_batch};"
                  f" {in_store[0]:.2f} s of it in the SQLite transactions; gateway CPU {cpu_us:.0f} µs/msg)")

            # 4. Live: boards publish while the gateway runs.
            t = time.perf_counter()
            pub = asyncio.create_task(asyncio.to_thread(publish_all, broker, devices, per_board + 1, per_board))
            await wait_accepted(store, ingest, 2 * total, 300)
            live_s = time.perf_counter() - t
            pub_s = await pub
            print(f"live: {total} summaries published and stored in {live_s:.2f} s = {total / live_s:,.0f} msg/s"
                  f" (publishers alone took {pub_s:.2f} s; they share the 2 cores with broker and gateway)")
            c = store.counters()
            assert c.get("accepted") == 2 * total and not c.get("duplicate"), c
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            store.close()
            broker.kill()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--boards", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile the event loop during the backlog drain")
    ap.add_argument("--default-inflight", action="store_true",
                    help="leave Mosquitto's max_inflight_messages at its default (20)")
    ap.add_argument("--protocol", choices=["5", "3.1.1"], default="5", help="the gateway's mqtt.protocol")
    args = ap.parse_args()
    asyncio.run(main(args.messages, args.boards, args.profile, args.default_inflight, args.protocol))
