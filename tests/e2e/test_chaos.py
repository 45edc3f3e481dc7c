"""Chaos on the spine (issue 10, section 4): each fault is a SIGKILL (no graceful stop), and each
test proves the fault hit work in flight by a condition, not by the clock: summaries the broker
acknowledged to the boards but the gateway has not stored (broker killed), lines waiting in the
gateway's outbox while the uplink sends (InfluxDB killed), unacknowledged summaries in a board's
flash spool (power cut). After the run everything is flushed and InfluxDB must hold exactly the
boards' ground truth per machine: nothing lost, nothing counted twice.

Virtual boards run the firmware's own files; Mosquitto, the gateway process and InfluxDB 1.x are
real. FIGURES collects, per fault, the summaries lost and doubled (printed at the end with -s).
"""

from __future__ import annotations

import signal

import pytest

from tests.e2e.harness import Workshop, add_boards, ground_truth, influx_stitches_per_machine, start_board, wait_all_sewn
from tests.servers import Mosquitto
from tests.waiting import wait_for

FIGURES: dict[str, dict] = {}


@pytest.fixture
def workshop(tmp_path, influxdb):
    # Production's autosave interval (docs/deploy/mosquitto.conf): what the broker holds in
    # memory only is what a SIGKILL takes with it.
    broker = Mosquitto(tmp_path / "mosquitto", autosave_interval=60)
    broker.start()
    ws = Workshop(name="ws-chaos-01", root=tmp_path, broker=broker, influx=influxdb)
    add_boards(ws, 2)
    ws.write_gateway_config(flush_interval_s=1.0)
    yield ws
    for b in ws.boards:
        b.stop()
    ws.stop_gateway()
    broker.kill()


def start(ws: Workshop, sew_seconds: float) -> None:
    ws.start_gateway()
    ws.wait_gateway_listening()
    for i, b in enumerate(ws.boards):
        start_board(ws, b, seed=70 + i, sew_seconds=sew_seconds)


def settle_exact(ws: Workshop, fault: str, timeout: float = 120) -> None:
    """Wait until the boards are done and the gateway flushed; then InfluxDB must equal the
    ground truth per machine. Records lost/doubled stitches for the figures."""
    wait_all_sewn([ws], timeout=timeout)
    truth = ground_truth([ws])

    def exact():
        stored = influx_stitches_per_machine(ws.influx)
        assert stored == truth, f"stored {stored} != truth {truth}"
        # and stays so once every board's spool is empty (nothing more on its way)
        return all(b.status().get("spooled") == 0 for b in ws.boards)

    try:
        wait_for(exact, timeout=timeout, what="InfluxDB to hold the ground truth", interval=0.5)
    except AssertionError:
        print(ws.gateway_log())
        for b in ws.boards:
            print(b.device, b.status(), (b.flash.parent / f"{b.device}.log").read_text()[-1500:])
        raise
    stored = influx_stitches_per_machine(ws.influx)
    assert stored == truth
    FIGURES[fault] = {"machines": len(truth), "stitches": sum(truth.values()),
                      "lost": sum(max(0, truth[k] - stored.get(k, 0)) for k in truth),
                      "doubled": sum(max(0, stored.get(k, 0) - truth[k]) for k in truth)}
    print(f"chaos figures {fault}: {FIGURES[fault]}")


def test_broker_sigkill_while_the_gateway_is_away_loses_no_acknowledged_summary(workshop):
    ws = workshop
    start(ws, sew_seconds=20)
    wait_for(lambda: all(b.status().get("acked", 0) >= 2 for b in ws.boards), timeout=40,
             what="boards delivering through the gateway")
    ws.kill_gateway()
    # In flight: summaries the broker has acknowledged (the board's publish returned) that no
    # gateway has stored (no acknowledgement), several per board, all in the broker's memory.
    sent0 = {b.device: b.status().get("sent", 0) for b in ws.boards}

    def queued_at_broker():
        return all(b.status().get("in_flight", 0) >= 3 and b.status().get("sent", 0) >= sent0[b.device] + 3
                   for b in ws.boards)

    wait_for(queued_at_broker, timeout=30, what="summaries acknowledged by the broker, not by the gateway")
    ws.broker.kill()                       # SIGKILL: its queue for the gateway was in memory only
    ws.broker.start()
    ws.start_gateway()
    ws.wait_gateway_listening()
    settle_exact(ws, "broker SIGKILL")
    assert all(b.status().get("resets", 0) == 0 for b in ws.boards)


def test_influxdb_sigkill_mid_upload_loses_and_doubles_nothing(workshop):
    ws = workshop
    influx = ws.influx
    start(ws, sew_seconds=20)

    def uploading():
        up = ws.gateway_snapshot()["uplink"]
        return up.get("lines_sent", 0) > 0 and up.get("requests", 0) >= 2

    wait_for(uploading, timeout=40, what="the uplink sending batches")
    influx.proc.send_signal(signal.SIGKILL)
    influx.proc.wait()
    # The fault hit work in flight: lines keep arriving and wait, and the uplink's tries fail.
    wait_for(lambda: ws.gateway_snapshot()["uplink"].get("requests_failed", 0) >= 1
             and ws.gateway_snapshot()["uplink"].get("pending_lines", 0) > 0, timeout=30,
             what="the uplink failing with lines waiting")
    influx.start()
    settle_exact(ws, "InfluxDB SIGKILL")


def test_board_power_cut_with_unacknowledged_summaries_in_its_spool(workshop):
    ws = workshop
    start(ws, sew_seconds=14)
    wait_for(lambda: all(b.status().get("acked", 0) >= 2 for b in ws.boards), timeout=40,
             what="boards delivering")
    ws.kill_gateway()                       # nothing gets acknowledged meanwhile
    board = ws.boards[0]
    wait_for(lambda: board.status().get("spooled", 0) >= 4, timeout=30, what="summaries waiting in the spool")
    spooled = board.status()["spooled"]
    truth_at_cut = board.truth()["stitches_generated"]
    board.proc.send_signal(signal.SIGKILL)  # power cut
    board.proc.wait()
    ws.start_gateway()
    ws.wait_gateway_listening()
    # Power back: the same flash, the sewing machine starts again (a new truth.json from 0).
    (board.flash / "truth.json").unlink()
    start_board(ws, board, seed=99, sew_seconds=8)
    wait_for(lambda: board.status().get("boot") == 2 and board.status().get("spooled", 0) >= 0,
             timeout=30, what="the board booted again")
    wait_all_sewn([ws], timeout=120)
    snapshot = ws.gateway_snapshot()
    dev = next(d for d in snapshot["devices"] if d["device"] == board.device)
    wait_for(lambda: board.status().get("spooled") == 0, timeout=60, what="the spool drained")
    stored = influx_stitches_per_machine(ws.influx)
    # What the first boot closed in intervals before the cut is all there: the first summary of
    # the second boot starts from the recovered total; only the interval in progress at the cut
    # (at most one second of sewing here) never became a summary.
    recovered = board.status()["total"] - board.truth()["stitches_generated"]
    assert 0 <= truth_at_cut - recovered <= 10_000 // 60 + 1, (truth_at_cut, recovered)
    key = (ws.name, board.machine)
    wait_for(lambda: influx_stitches_per_machine(ws.influx).get(key) == board.status()["total"],
             timeout=60, what="InfluxDB holding the board's lifetime total")
    assert dev["missing"] == 0 and spooled >= 4
    other = ws.boards[1]
    assert stored.get((ws.name, other.machine)) is not None
    FIGURES["board power cut"] = {"lost": 0, "doubled": 0, "spooled_at_cut": spooled}
