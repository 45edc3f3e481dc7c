"""The firmware's asyncio application (sn_app.App with its spool, acknowledgement window, MQTT
client and supervisor) on the real MicroPython VM: the official WebAssembly build from npm
(@micropython/micropython-webassembly-pyscript, tests/mpvm) under Node, in virtual time.

tests/mpvm/shims stand in for what the VM lacks (machine, network, socket) and give virtual time
(time.py); vm.py turns the port's asyncio loop itself and plays the broker and the gateway. The
firmware files are the board's own, unchanged.

Figures (printed with -s): summaries lost and doubled, flash writes per board-hour, the heap in
use on the VM after a simulated day.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MPVM = REPO / "tests" / "mpvm"
FIRMWARE = REPO / "firmware"

SETUP = """
import sys, os, gc
sys.path.insert(0, '/flash')
os.chdir('/flash')
with open('sewnet.json', 'w') as f:
    f.write(%r)
import time, vm, machine, asyncio, json
import sn_app, sn_config
broker = vm.Broker()
asyncio.open_connection = broker.open_connection
app = sn_app.App(sn_config.load())
def report(tag, **kw):
    print(tag + ' ' + json.dumps(kw))
"""
NEXT = "\n#--- next call\n"


def config(**over) -> str:
    c = {"device": "sn-3c71bf0a12f4", "password": "x", "wifi": {"ssid": "w"},
         "broker": {"host": "192.168.0.2"}, "ntp_host": None,
         # The harness has a broker and no OTA server: its open_connection would hand the updater's
         # HTTP request to the broker (a stream kept per check, 21 KB a day of the harness's memory).
         "ota_port": 0}
    c.update(over)
    return json.dumps(c)


def run_vm(parts: list[str], timeout: float = 600) -> dict[str, list[dict]]:
    node = shutil.which("node")
    assert node, "Node.js is needed (make test installs it)"
    assert (MPVM / "node_modules" / "@micropython").is_dir(), "run `npm ci` in tests/mpvm (make test does)"
    script = MPVM / ".run.py"
    script.write_text(NEXT.join(parts))
    try:
        r = subprocess.run([node, "run.mjs", script.name, "shims", str(FIRMWARE)], cwd=MPVM,
                           capture_output=True, text=True, timeout=timeout)
    finally:
        script.unlink(missing_ok=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out: dict[str, list[dict]] = {}
    for line in r.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        if tag.isupper() and rest.startswith("{"):
            out.setdefault(tag, []).append(json.loads(rest))
    return out


def test_it_is_the_micropython_vm():
    out = run_vm(["import sys\nprint('IMPL ' + '{\"name\": \"%s\", \"build\": \"%s\"}' % "
                  "(sys.implementation.name, sys.implementation._build))"])
    assert out["IMPL"] == [{"name": "micropython", "build": "pyscript"}]


def test_a_simulated_day_loses_nothing_and_the_heap_stays_flat():
    hours = 24
    parts = [SETUP % config() + "vm.run(app.main(), 60)",
             "gc.collect()\nreport('START', heap=gc.mem_alloc())"]
    for _ in range(hours):
        # Per hour: the figures, then the test broker forgets what it keeps per summary (its
        # memory is the test's, not the board's).
        parts.append("vm.run(None, 3600)\n"
                     "report('HOUR', received=broker.received, stitches=broker.stitches, copies=broker.copies,"
                     " seq=app.seq, acked=app.acked, spooled=len(app.spool), total=app.tally.total,"
                     " writes=app.spool.writes, feeds=machine.wdt_feeds)\n"
                     "broker.summaries.clear()\nbroker.done.clear()")
    parts.append("gc.collect()\nreport('END', heap=gc.mem_alloc(), free=gc.mem_free(), made=machine.stitches_made)")
    out = run_vm(parts, timeout=900)
    last = out["HOUR"][-1]
    start_heap, end = out["START"][0]["heap"], out["END"][0]
    # Every summary the board made arrived once and was acknowledged; the stitches add up.
    assert last["received"] == last["seq"] == last["acked"] >= hours * 360 - 1
    assert last["copies"] == 0 and last["spooled"] == 0
    assert last["total"] <= end["made"]
    assert 0 <= last["total"] - last["stitches"] <= 1200, "only the interval in progress is not yet summarised"
    writes_per_hour = (out["HOUR"][-1]["writes"] - out["HOUR"][0]["writes"]) / (hours - 1)
    assert writes_per_hour <= 450
    assert last["feeds"] >= hours * 3600 - 60, "the watchdog fed every second all day"
    # No leak: the live heap after a day is what it was after the first minute, give or take.
    assert abs(end["heap"] - start_heap) < 8 * 1024, (start_heap, end["heap"])
    print(f"\nVM figures: a simulated day: {last['seq']} summaries, lost 0, doubled {last['copies']},"
          f" flash writes per board-hour {writes_per_hour:.0f}, heap in use {start_heap} B after the"
          f" first minute and {end['heap']} B after the day")


def test_a_broker_crash_while_the_gateway_is_away_loses_nothing():
    out = run_vm([
        SETUP % config(ack_timeout_ms=30000) + "vm.run(app.main(), 600)\n"
        "report('BEFORE', received=broker.received, acked=app.acked)\n"
        # The gateway goes away: the broker takes summaries, acknowledges them, holds them.
        "broker.gateway = False\n"
        "vm.run(None, 600)\n"
        "held = list(broker.held)\n"
        "report('AWAY', held=len(held), in_flight=len(app.window), spooled=len(app.spool))\n"
        # SIGKILL between autosaves: what it held is gone; then it and the gateway come back.
        "broker.crash(held)\nbroker.held = []\nbroker.gateway = True\n"
        "vm.run(None, 900)\n"
        "report('AFTER', received=broker.received, seq=app.seq, acked=app.acked, spooled=len(app.spool),"
        " lost_at_broker=broker.lost, stitches=broker.stitches, total=app.tally.total, copies=broker.copies)",
    ])
    away, after = out["AWAY"][0], out["AFTER"][0]
    # The fault hit work in flight: the window was full of summaries only the broker had.
    assert away["held"] >= 16 and away["in_flight"] == 16 and away["spooled"] > 16
    assert after["lost_at_broker"] >= 16
    assert after["received"] == after["seq"] == after["acked"] and after["spooled"] == 0
    assert after["stitches"] == after["total"]
    print(f"\nVM figures: broker crash: {away['held']} held at the broker and lost there, "
          f"delivered again: lost 0, doubled 0 ({after['copies']} copies sent again and dropped as copies)")


def test_a_power_cut_keeps_the_spool_and_the_total():
    out = run_vm([
        SETUP % config() + "broker.gateway = False\nvm.run(app.main(), 600)\n"
        "report('CUT', spooled=len(app.spool), total=app.tally.total, seq=app.seq,"
        " spooled_total=app.spool.last_total)",
        # Power back: a new App on the same flash (the old one's loop is simply abandoned), its
        # ticks from 0 again.
        "import asyncio.core as core\ncore.new_event_loop()\ntime.power_on()\n"
        "broker2 = vm.Broker()\nasyncio.open_connection = broker2.open_connection\n"
        "app2 = sn_app.App(sn_config.load())\nvm.run(app2.main(), 900)\n"
        "boots = sorted(set(k[0] for k in broker2.summaries))\n"
        "first = min(s for (b, n, s) in broker2.summaries if b == 1)\n"
        "boot1 = sum(v for k, v in broker2.summaries.items() if k[0] == 1)\n"
        "report('BACK', boot=app2.boot, boots=boots, first_of_boot1=first, spooled=len(app2.spool), refused=broker2.refused,"
        " received=broker2.received, stitches=broker2.stitches, boot1_stitches=boot1, total=app2.tally.total)",
    ])
    cut, back = out["CUT"][0], out["BACK"][0]
    assert cut["spooled"] == cut["seq"] >= 50, "nothing was acknowledged before the cut"
    assert back["boot"] == 2 and back["boots"] == [1, 2]
    # Boot 1's summaries go out with boot 1's own uptime as sent_ms: boot 2's clock (younger than
    # theirs) would make the gateway refuse them as sent before their interval ended.
    assert back["refused"] == 0
    # Every summary of boot 1 came out of the spool after the cut, from seq 1 on.
    assert back["first_of_boot1"] == 1 and back["spooled"] == 0
    # Every stitch of boot 1's closed intervals arrived; only the interval in progress at the cut
    # (at most 10 s, 1,200 stitches here) never became a summary.
    assert back["boot1_stitches"] == cut["spooled_total"] and 0 <= cut["total"] - cut["spooled_total"] <= 1200
    # The lifetime total went on from the spool's newest summary: the summaries add up to it
    # but for boot 2's interval in progress, nothing counted twice.
    assert 0 <= back["total"] - back["stitches"] <= 1200


def test_a_dead_task_stops_the_watchdog_feeds():
    out = run_vm([
        SETUP % config() + "vm.run(app.main(), 30)\n"
        "def broken(after=-1):\n    raise OSError(5, 'flash read failed')\n"
        "app.spool.next_unacked = broken\n"
        "app.seq_before = app.seq\n"
        "vm.run(None, 20)\nfeeds = machine.wdt_feeds\nvm.run(None, 120)\n"
        "report('DEAD', failed=app.failed, alive=app.alive, feeds_then=feeds, feeds_now=machine.wdt_feeds,"
        " counting=app.seq > app.seq_before, timeout=machine.wdt_timeout)",
    ])
    dead = out["DEAD"][0]
    assert dead["failed"] == "publisher" and dead["alive"]["publisher"] is False
    assert dead["counting"], "the sampler still counts: a board that looks fine from outside"
    assert dead["feeds_now"] == dead["feeds_then"], "no feed since the publisher died: the watchdog resets the board"
    assert dead["timeout"] == 60000, "on by default"
