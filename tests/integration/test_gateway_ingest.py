"""Gateway ingest against a REAL Mosquitto (auth, pattern ACL, persistence), no mocks."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest

from edge_gateway.config import parse_config
from edge_gateway.service import Gateway
from tests.mqtt_helpers import publish_as
from tests.servers import free_port
from tests.waiting import async_wait_for, wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKSHOP = "ws-test-01"
DEVICES = {"sn-aaaaaaaaaa01": "m01", "sn-aaaaaaaaaa02": "m02", "sn-aaaaaaaaaa03": "m03"}
STRANGER = "sn-00000000dead"  # has a broker login but is not in the gateway's registry


def gateway_config(tmp_path: Path, mosquitto, **web) -> dict:
    return {
        "workshop": WORKSHOP,
        "data_dir": str(tmp_path / "gw"),
        "mqtt": {"host": mosquitto.host, "port": mosquitto.port, "username": mosquitto.gateway_user,
                 "password": mosquitto.gateway_password, "client_id": f"gw-{WORKSHOP}", "reconnect_max_s": 1},
        # Nothing listens there and the interval is long: these tests look at the outbox only.
        "uplink": {"api": "v1", "url": f"http://127.0.0.1:{free_port()}", "flush_interval_s": 3600},
        "registry": DEVICES,
        "web": web or {"enabled": False},
    }


def summary(device: str, seq: int, *, boot: int = 1, stitches: int = 100, peak: int | None = None, **extra) -> bytes:
    body = {"v": 1, "device": device, "boot": boot, "seq": seq, "uptime_ms": 10_000 * seq + 7,
            "interval_ms": 10_000, "stitches": stitches, "run_ms": 4_000, "stops": 1,
            "peak_spm": seq if peak is None else peak, "total": stitches * seq, **extra}
    return json.dumps(body, separators=(",", ":")).encode()


def seq_of(line: str) -> int:
    """The seq of the summary behind a stored line: summary() sends it as peak_spm."""
    return int(line.split("peak_spm=")[1].split("i")[0])


def store_rows(store: Path, sql: str, args=()) -> list:
    # Read-only: the gateway (maybe another process) owns the store.
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


@pytest.fixture
def devices(mosquitto):
    return {d: mosquitto.add_device(d) for d in [*DEVICES, STRANGER]}


async def test_bad_input_is_rejected_counted_kept_and_valid_messages_still_arrive(tmp_path, mosquitto, devices):
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    gw = Gateway(cfg)
    task = asyncio.create_task(gw.run())
    try:
        await async_wait_for(lambda: gw.ingest.health.connected, timeout=10, what="gateway connected")
        d1, d2 = list(DEVICES)[:2]
        t = lambda d, kind="summary": f"sewnet/v1/{d}/{kind}"  # noqa: E731
        status = json.dumps({"v": 1, "device": d1, "state": "online", "boot": 1, "uptime_ms": 5, "fw": "0.1.0",
                             "counter": "pcnt", "interval_ms": 10000, "queued": 0, "dropped": 0}).encode()
        good = [(t(d1), summary(d1, s), False) for s in range(1, 6)]
        bad_d1 = [
            (t(d1), b'{"v":1,"device":', False),                                 # malformed_json
            (t(d1), summary(d1, 90, stitches="812"), False),                     # schema (type)
            (t(d1), summary(d1, 91, stops=True), False),                         # schema (bool)
            (t(d1), summary(d1, 92, pad="x" * 600), False),                      # oversized
            (t(d1), summary(d1, 93, v=3), False),                                # unsupported_version
            (t(d1), summary(d2, 94), False),                                     # device_mismatch
            (t(d1), summary(d1, 3), False),                                      # duplicate of seq 3
            (t(d1), summary(d1, 5), False),                                      # duplicate of seq 5
            (t(d1, "status"), status, True),                                     # retained status
        ]
        # Interleave good and bad on one connection: bad input must not stall what follows.
        await publish_as(mosquitto, d1, devices[d1], [good[0], *bad_d1[:4], good[1], good[2], *bad_d1[4:], good[3]])
        await publish_as(mosquitto, STRANGER, devices[STRANGER], [(t(STRANGER), summary(STRANGER, 1), False)])
        await publish_as(mosquitto, mosquitto.admin_user, mosquitto.admin_password,
                         [("sewnet/v1/SN-BAD/summary", summary(d1, 95), False)])
        await publish_as(mosquitto, d1, devices[d1], [good[4]])
        await publish_as(mosquitto, d2, devices[d2], [(t(d2), summary(d2, s), False) for s in (1, 2)])

        expected_rejections = {"malformed_json": 1, "schema": 2, "oversized": 1, "unsupported_version": 1,
                               "device_mismatch": 1, "unknown_device": 1, "bad_topic": 1}

        def settled():
            c = gw.outbox.counters()
            return c.get("accepted") == 7 and c.get("duplicate") == 2 and sum(
                c.get("rejected." + r, 0) for r in expected_rejections) == 8 and c.get("status") == 1

        await async_wait_for(settled, timeout=15, what="every message decided")
        counters = gw.outbox.counters()
        assert {r: counters.get("rejected." + r) for r in expected_rejections} == expected_rejections
        kept = gw.outbox.rejected(100)
        assert sorted(k["reason"] for k in kept) == sorted(r for r, n in expected_rejections.items() for _ in range(n))
        assert all(k["detail"] for k in kept)
        oversized = next(k for k in kept if k["reason"] == "oversized")
        assert len(oversized["payload"]) > 512 and oversized["payload"].startswith(b'{"v":1')
        lines = [p.line for p in gw.outbox.pending(100)]
        assert len(lines) == 7
        assert sorted(seq_of(line) for line in lines if "machine=m01" in line) == [
            1, 2, 3, 4, 5]
        assert sum("machine=m02" in line for line in lines) == 2
        by_device = {d["device"]: d for d in gw.outbox.devices()}
        assert by_device[d1]["state"] == "online" and by_device[d1]["stitches_today"] == 500
        assert gw.ingest.health.connected
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_broker_restart_reconnects_and_keeps_what_arrived_meanwhile(tmp_path, mosquitto, devices):
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    gw = Gateway(cfg)
    task = asyncio.create_task(gw.run())
    d1 = next(iter(DEVICES))
    try:
        await async_wait_for(lambda: gw.ingest.health.connected, timeout=10, what="gateway connected")
        await publish_as(mosquitto, d1, devices[d1], [(f"sewnet/v1/{d1}/summary", summary(d1, 1), False)])
        await async_wait_for(lambda: gw.outbox.counters().get("accepted") == 1, timeout=10, what="first summary")
        await asyncio.to_thread(mosquitto.restart)
        # Published before the gateway is back: the broker queues it in the gateway's session.
        await publish_as(mosquitto, d1, devices[d1], [(f"sewnet/v1/{d1}/summary", summary(d1, s), False)
                                                      for s in (2, 3)])
        await async_wait_for(lambda: gw.outbox.counters().get("accepted") == 3, timeout=20,
                             what="summaries published across a broker restart")
        assert gw.ingest.health.reconnects >= 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_poison_messages_from_one_board_block_no_board(tmp_path, mosquitto, devices):
    """Issue 5, item 1, through a real broker: a retained status with a lone surrogate and a second
    summary with uptime 2^53 used to fail the batch's transaction, so the gateway never acknowledged
    it and Mosquitto redelivered it forever, with nothing of any board stored after it."""
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    gw = Gateway(cfg)
    task = asyncio.create_task(gw.run())
    d1, d2, d3 = DEVICES
    t = lambda d, kind="summary": f"sewnet/v1/{d}/{kind}"  # noqa: E731
    try:
        await async_wait_for(lambda: gw.ingest.health.connected, timeout=10, what="gateway connected")
        bad_status = json.dumps({"v": 1, "device": d1, "state": "online", "boot": 1, "uptime_ms": 5, "fw": "\ud800",
                                 "counter": "pcnt", "interval_ms": 10000, "queued": 0, "dropped": 0}).encode()
        assert b"\\ud800" in bad_status
        await publish_as(mosquitto, d1, devices[d1], [
            (t(d1), summary(d1, 1), False), (t(d1, "status"), bad_status, True),
            (t(d1), summary(d1, 2, uptime_ms=2**53), False), (t(d1), summary(d1, 3), False)])
        await publish_as(mosquitto, d2, devices[d2], [(t(d2), summary(d2, s), False) for s in (1, 2, 3)])

        def counted(accepted: int):
            c = gw.outbox.counters()
            return (c.get("accepted"), c.get("rejected.schema"), c.get("rejected.implausible_time")) == (accepted, 1, 1)

        await async_wait_for(lambda: counted(5), timeout=15, what="poison rejected, the rest stored")
        # ... and what comes after, from every board.
        await publish_as(mosquitto, d3, devices[d3], [(t(d3), summary(d3, 1), False)])
        await publish_as(mosquitto, d1, devices[d1], [(t(d1), summary(d1, 4), False)])
        await async_wait_for(lambda: counted(7), timeout=15, what="summaries after the poison")
        lines = [p.line for p in gw.outbox.pending(100)]
        assert sorted(int(line.split("peak_spm=")[1].split("i")[0]) for line in lines if "machine=m01" in line) == [
            1, 3, 4]
        assert {r["reason"] for r in gw.outbox.rejected(10)} == {"schema", "implausible_time"}
        assert gw.ingest.health.reconnects == 0 and gw.ingest.health.connected
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# ---- SIGKILL at any instant loses nothing --------------------------------------------------------

class Publisher(threading.Thread):
    """One board publishing QoS 1 summaries as fast as the broker acknowledges (up to `rate`)."""

    def __init__(self, mosquitto, device: str, password: str, count: int, rate: float):
        super().__init__(daemon=True)
        self.device, self.count, self.rate = device, count, rate
        self.acked: set[int] = set()
        self.sent = 0
        self.error: BaseException | None = None
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"board-{device}")
        self.client.username_pw_set(device, password)
        self.client.max_inflight_messages_set(100)
        self.client.connect(mosquitto.host, mosquitto.port)
        self.client.loop_start()

    def run(self) -> None:
        try:
            infos = []
            start = time.monotonic()
            for seq in range(1, self.count + 1):
                infos.append((seq, self.client.publish(f"sewnet/v1/{self.device}/summary",
                                                       summary(self.device, seq), qos=1)))
                self.sent = seq
                ahead = seq / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)  # pacing the publisher, not waiting for a result
            for seq, info in infos:
                info.wait_for_publish(timeout=30)
                if info.is_published():
                    self.acked.add(seq)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.client.loop_stop()
            self.client.disconnect()


def start_gateway(config_path: Path, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "edge_gateway", "--config", str(config_path)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def accepted(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        rows = store_rows(store, "SELECT value FROM counters WHERE name='accepted'")
    except sqlite3.OperationalError:  # the gateway is still creating its tables
        return 0
    return rows[0][0] if rows else 0


def test_sigkill_while_boards_publish_loses_nothing_and_stores_each_summary_once(tmp_path, mosquitto, devices):
    web_port, password = free_port(), "sew-sew-1234"
    api = f"http://127.0.0.1:{web_port}/api/v1/devices"
    cfg = gateway_config(tmp_path, mosquitto, host="127.0.0.1", port=web_port, operator_password=password)
    config_path = tmp_path / "gateway.toml"
    config_path.write_text(toml(cfg))
    store = tmp_path / "gw" / "gateway.sqlite"
    log_path = tmp_path / "gateway.log"
    per_board = 1500
    publishers = [Publisher(mosquitto, d, devices[d], per_board, rate=300) for d in DEVICES]
    gw = start_gateway(config_path, log_path)
    try:
        # Until the gateway's first subscription the broker has no session to queue for it.
        wait_for(lambda: (r := _get_ok(api, password)) and r.json()["ingest"]["subscribed"], timeout=20,
                 what=f"gateway subscribed ({log_path})")
        for p in publishers:
            p.start()
        # Kill 1: in the middle of the live stream.
        wait_for(lambda: accepted(store) >= 300, timeout=30, what=f"300 summaries stored ({log_path})")
        gw.send_signal(signal.SIGKILL)
        gw.wait(10)
        stored_at_kill = accepted(store)
        assert all(p.is_alive() for p in publishers), "boards stopped before the kill: nothing tested"
        # The boards go on; the broker queues for the dead gateway's session.
        sent = sum(p.sent for p in publishers)
        wait_for(lambda: sum(p.sent for p in publishers) >= sent + 600, timeout=30, what="a backlog at the broker")
        gw = start_gateway(config_path, log_path)
        # Kill 2: while the restarted gateway drains that backlog, with batches parsed, in the
        # store's transaction or being acknowledged.
        wait_for(lambda: accepted(store) > stored_at_kill + 50, timeout=30, interval=0.002,
                 what="restarted gateway draining the backlog")
        gw.send_signal(signal.SIGKILL)
        gw.wait(10)
        assert accepted(store) < per_board * len(publishers), "backlog fully drained before the kill"
        gw = start_gateway(config_path, log_path)
        for p in publishers:
            p.join(60)
            assert p.error is None, p.error
            assert len(p.acked) == per_board, f"{p.device}: broker acked {len(p.acked)} of {per_board}"
        total = per_board * len(publishers)

        def all_stored():
            counters = dict(store_rows(store, "SELECT name, value FROM counters"))
            assert counters.get("accepted", 0) >= total, f"store counters {counters}"
            return True

        wait_for(all_stored, timeout=60, what=f"all {total} acked summaries stored")

        rows = store_rows(store, "SELECT series, line FROM outbox_lines")
        got: dict[str, list[int]] = {}
        for series, line in rows:
            got.setdefault(series, []).append(seq_of(line))
        for device, machine in DEVICES.items():
            seqs = sorted(got.get(machine, []))
            assert seqs == list(range(1, per_board + 1)), f"{machine}: missing or doubled summaries"
        assert accepted(store) == total

        # The operator page of the restarted process: login required, figures from the store.
        assert httpx.get(api, timeout=5).status_code == 401
        assert httpx.get(api, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
        r = wait_for(lambda: _get_ok(api, password), timeout=10, what="operator API")
        body = r.json()
        assert {d["machine"] for d in body["devices"]} == set(DEVICES.values())
        assert body["uplink"]["pending_lines"] == total
        with httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=5) as browser:
            assert browser.post("/login", data={"password": password}).status_code == 303
            page = browser.get("/")
        assert page.status_code == 200 and "오늘 땀수" in page.text and "m02" in page.text

        # Clean shutdown on SIGTERM.
        gw.send_signal(signal.SIGTERM)
        assert gw.wait(15) == 0, log_path.read_text()[-2000:]
    finally:
        if gw.poll() is None:
            gw.kill()
            gw.wait()
        for p in publishers:
            p.join(5)


def _get_ok(url: str, password: str):
    try:
        r = httpx.get(url, headers={"Authorization": f"Bearer {password}"}, timeout=5)
    except httpx.HTTPError:
        return None
    return r if r.status_code == 200 else None


def toml(cfg: dict) -> str:
    """Just enough TOML for these configs (tables of scalars), so the subprocess reads a real file."""
    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        return json.dumps(str(v))

    out = [f"{k} = {scalar(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.append(f"\n[{k}]")
            out += [f"{json.dumps(kk)} = {scalar(vv)}" for kk, vv in v.items()]
    return "\n".join(out) + "\n"


async def test_a_taken_page_port_stops_neither_ingest_nor_the_page_once_it_is_free(tmp_path, mosquitto, devices):
    """Before, uvicorn exited the whole gateway when the page's port was taken: under systemd a
    crash loop that stored nothing (found by bench/bench_faults.py)."""
    squatter = socket.create_server(("127.0.0.1", 0))
    port = squatter.getsockname()[1]
    cfg = parse_config(gateway_config(tmp_path, mosquitto, host="127.0.0.1", port=port, operator_password="pw-12345"))
    gw = Gateway(cfg)
    task = asyncio.create_task(gw.run())
    d1 = next(iter(DEVICES))
    try:
        await async_wait_for(lambda: gw.ingest.health.connected, timeout=10, what="gateway connected")
        await publish_as(mosquitto, d1, devices[d1], [(f"sewnet/v1/{d1}/summary", summary(d1, 1), False)])
        await async_wait_for(lambda: gw.outbox.counters().get("accepted") == 1, timeout=10,
                             what="a summary stored while the page's port is taken")
        assert not task.done()
        squatter.close()

        async def page_up():
            try:
                async with httpx.AsyncClient() as c:
                    return (await c.get(f"http://127.0.0.1:{port}/login", timeout=1)).status_code == 200
            except httpx.HTTPError:
                return False

        await async_wait_for(page_up, timeout=15, what="the page on its port once the port is free")
    finally:
        squatter.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
