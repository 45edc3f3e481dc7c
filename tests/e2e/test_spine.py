"""The spine, end to end: needle -> firmware (virtual boards) -> real Mosquitto -> real gateway
process -> real InfluxDB -> real hub. Exactness is checked against the boards' ground truth.

Nothing here is mocked: the only stand-in is the board hardware (a virtual ESP32 running the
firmware's own files, because no ESP32 is attached in CI).
"""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from hub.app import create_app
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from tests.e2e.harness import (
    Workshop,
    add_boards,
    ground_truth,
    influx_stitches_per_machine,
    start_board,
    wait_all_sewn,
)
from tests.servers import InfluxDB1, Mosquitto
from tests.waiting import wait_for

BOARDS_PER_WORKSHOP = 3


@pytest.fixture
def network(tmp_path, influxdb):
    workshops = []
    for n, name in enumerate(["ws-changsin-01", "ws-sindang-02"]):
        root = tmp_path / name
        broker = Mosquitto(root / "mosquitto")
        broker.start()
        ws = Workshop(name=name, root=root, broker=broker, influx=influxdb)
        add_boards(ws, BOARDS_PER_WORKSHOP)
        ws.write_gateway_config(flush_interval_s=1.0)
        workshops.append(ws)
    yield workshops
    for ws in workshops:
        for b in ws.boards:
            b.stop()
        ws.stop_gateway()
        ws.broker.kill()


def start_network(workshops: list[Workshop], sew_seconds: float) -> None:
    for ws in workshops:
        ws.start_gateway()
    for ws in workshops:
        ws.wait_gateway_listening()
    for n, ws in enumerate(workshops):
        for i, b in enumerate(ws.boards):
            start_board(ws, b, seed=1000 * n + i, sew_seconds=sew_seconds)


def hub_for(influx: InfluxDB1):
    token = secrets.token_urlsafe(16)
    settings = load_settings(telemetry="influxdb", influx_url=influx.url, influx_database=influx.database,
                             influx_username=influx.username, influx_password=influx.password,
                             api_tokens=[token])
    return BackgroundServer(create_app(settings)), token


def assert_exact(workshops: list[Workshop], influx: InfluxDB1, timeout: float) -> dict:
    """Wait until InfluxDB holds exactly the ground truth per machine, and stays there."""
    truth = ground_truth(workshops)
    assert sum(truth.values()) > 0, "the simulators generated no stitches"

    def matches():
        stored = influx_stitches_per_machine(influx)
        assert stored == truth, f"stored {stored} != truth {truth}"
        return True

    try:
        wait_for(matches, timeout=timeout, what="InfluxDB to hold the ground truth per machine", interval=0.5)
    except AssertionError:
        for ws in workshops:
            print(f"--- gateway {ws.name} ---\n{ws.gateway_log()}")
        raise
    return truth


def assert_capacity_reports(workshops, truth, influx):
    server, token = hub_for(influx)
    with server:
        assert httpx.get(f"{server.url}/api/v1/capacity").status_code == 401
        r = httpx.get(f"{server.url}/api/v1/capacity", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        report = {w["workshop"]: w for w in r.json()["workshops"]}
    for ws in workshops:
        got = report[ws.name]
        assert got["machines_known"] == BOARDS_PER_WORKSHOP
        assert got["machines_online"] == BOARDS_PER_WORKSHOP
        assert got["stitches_last_hour"] == sum(v for (w, _), v in truth.items() if w == ws.name)
        assert 0 < got["running_ratio"] <= 1
        assert got["last_seen"] is not None
        per_machine = {m["machine"]: m["stitches_last_hour"] for m in got["machines"]}
        assert per_machine == {m: v for (w, m), v in truth.items() if w == ws.name}


def test_stitches_reach_influxdb_and_capacity_exactly(network, influxdb):
    start_network(network, sew_seconds=15)
    wait_all_sewn(network, timeout=90)
    truth = assert_exact(network, influxdb, timeout=60)
    assert_capacity_reports(network, truth, influxdb)


def test_exact_through_broker_restart_gateway_kill_and_influxdb_outage(network, influxdb):
    """The broker restarts once, one gateway is SIGKILLed and restarted, InfluxDB is down for a
    stretch: still exact, nothing lost and nothing counted twice."""
    a, b = network
    start_network(network, sew_seconds=24)
    t0 = time.monotonic()

    def at(seconds):
        wait_for(lambda: time.monotonic() - t0 >= seconds, timeout=seconds + 5, what=f"t={seconds}s", interval=0.1)

    at(4)
    a.broker.restart()                      # boards and gateway reconnect; the session queue survives
    at(8)
    a.kill_gateway()                        # mid-stream, no goodbye
    b.kill_gateway()
    at(10)
    a.start_gateway()
    b.start_gateway()
    at(12)
    influxdb.stop()                          # the uplink keeps everything in the outbox meanwhile
    at(20)
    influxdb.start()

    wait_all_sewn(network, timeout=90)
    truth = assert_exact(network, influxdb, timeout=90)
    assert_capacity_reports(network, truth, influxdb)
