"""Peak RSS of a gateway process while a board publishes one huge payload.

Mosquitto runs WITHOUT a message size limit (the worst case: a broker set up without
message_size_limit), a gateway runs as its own process (`python -m edge_gateway`), a board
publishes one payload of --mib MiB (QoS 1) and then one valid summary; once that summary is stored
everything before it has passed, and the gateway's peak RSS (VmHWM) is read from /proc.

Run: .venv/bin/python bench/bench_oversize_rss.py --mib 64 --mib 255
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402

from tests.mqtt_helpers import mosquitto_without_size_limit, proc_status_kib  # noqa: E402
from tests.servers import free_port  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

DEVICE = "sn-bench00000001"


def stored(store: Path, sql: str) -> int:
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
        try:
            row = db.execute(sql).fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return 0
    return row[0] if row and row[0] is not None else 0


def summary(seq: int) -> bytes:
    return json.dumps({"v": 1, "device": DEVICE, "boot": 1, "seq": seq, "uptime_ms": 10_000 * seq,
                       "interval_ms": 10_000, "stitches": 10, "run_ms": 6_000, "stops": 2, "peak_spm": 5_040,
                       "total": 1000 + seq}, separators=(",", ":")).encode()


def measure(mib_list: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="sewnet-rss-") as tmp:
        tmp = Path(tmp)
        broker = mosquitto_without_size_limit(tmp / "mosquitto")
        password = broker.add_device(DEVICE)
        broker.start()
        web_port = free_port()
        config = tmp / "gateway.toml"
        config.write_text(
            f'workshop = "ws-rss"\ndata_dir = "{tmp / "gw"}"\n'
            f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nusername = "{broker.gateway_user}"\n'
            f'password = "{broker.gateway_password}"\nclient_id = "gw-rss"\n'
            f'[uplink]\nurl = "http://127.0.0.1:{free_port()}"\nflush_interval_s = 3600\n'
            f'[registry]\n"{DEVICE}" = "m01"\n[web]\nenabled = false\n')
        store = tmp / "gw" / "gateway.sqlite"
        log = open(tmp / "gateway.log", "wb")
        gw = subprocess.Popen([sys.executable, "-m", "edge_gateway", "run", "--config", str(config)], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
        board = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"board-{DEVICE}")
        board.username_pw_set(DEVICE, password)
        board.connect(broker.host, broker.port)
        board.loop_start()
        try:
            wait_for(lambda: b"connected to mqtt" in (tmp / "gateway.log").read_bytes(), timeout=30,
                     what="gateway connected")
            seq = 1
            board.publish(f"sewnet/v1/{DEVICE}/summary", summary(seq), qos=1).wait_for_publish(30)
            wait_for(lambda: stored(store, "SELECT value FROM counters WHERE name='accepted'") == 1, timeout=30,
                     what="first summary")
            print(f"gateway idle: RSS {proc_status_kib(gw.pid, 'VmRSS') / 1024:.0f} MiB,"
                  f" peak so far {proc_status_kib(gw.pid, 'VmHWM') / 1024:.0f} MiB")
            for mib in mib_list:
                before = proc_status_kib(gw.pid, "VmRSS")
                t = time.perf_counter()
                big = b"{" + b"x" * (mib * 2**20 - 1)
                board.publish(f"sewnet/v1/{DEVICE}/summary", big, qos=1).wait_for_publish(300)
                del big
                seq += 1
                board.publish(f"sewnet/v1/{DEVICE}/summary", summary(seq), qos=1).wait_for_publish(30)
                wait_for(lambda: stored(store, "SELECT value FROM counters WHERE name='accepted'") == seq,
                         timeout=300, what="the summary after the big payload")
                oversized = stored(store, "SELECT value FROM counters WHERE name='rejected.oversized'")
                print(f"{mib} MiB payload: peak RSS {proc_status_kib(gw.pid, 'VmHWM') / 1024:.0f} MiB"
                      f" (RSS before {before / 1024:.0f} MiB); passed in {time.perf_counter() - t:.1f} s;"
                      f" counted oversized by the gateway so far: {oversized}")
        finally:
            board.loop_stop()
            gw.kill()
            gw.wait()
            broker.kill()
            dropped = re.findall(r"Dropping too large outgoing PUBLISH.*", broker.log_tail(100_000))
            if dropped:
                print("broker:", *dropped, sep="\n  ")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, action="append", help="payload size in MiB (repeatable); default 64")
    measure(ap.parse_args().mib or [64])
