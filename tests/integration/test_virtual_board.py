"""One virtual board process (the firmware's own files under CPython) against a real Mosquitto:
summaries arrive with consecutive seq and add up to the sewing machine's ground truth, the
status is retained and turns offline by last will when the board dies, a Wi-Fi cut loses
nothing, and a board cannot publish under another board's topic.

No gateway runs here: the listener acknowledges each summary on the board's ack topic as the
gateway does after its commit (contract v2), without which a board sends no more than its
window. The gateway's side is tests/integration/test_gateway_board_acks.py and the chaos tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


class Listener:
    """An admin subscriber that records everything under sewnet/v1/<device>/ in arrival order."""

    def __init__(self, broker, topic, client_id, ack=True):
        self.ack = ack
        self.messages: list[tuple[str, dict, bool, float]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        c.username_pw_set(broker.admin_user, broker.admin_password)
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_connect = lambda cl, *a: cl.subscribe(topic, qos=1)
        c.connect(broker.host, broker.port)
        c.loop_start()
        self.client = c
        assert self.subscribed.wait(10), "admin subscription"

    def _on_message(self, client, userdata, msg):
        body = json.loads(msg.payload)
        with self._lock:
            self.messages.append((msg.topic, body, msg.retain, time.monotonic()))
        if self.ack and msg.topic.endswith("/summary") and body.get("v") == 2:
            ack = {"v": 2, "boot": body["boot"], "nonce": body["nonce"], "seqs": [[body["seq"], body["seq"]]]}
            client.publish(msg.topic.rsplit("/", 1)[0] + "/ack", json.dumps(ack), qos=1)

    def of(self, kind):
        with self._lock:
            return [m for m in self.messages if m[0].endswith("/" + kind)]

    def summaries(self):
        """Distinct summaries in order of first arrival (QoS 1 may deliver a copy)."""
        seen, out = set(), []
        for _, p, _, at in self.of("summary"):
            key = (p["boot"], p["seq"])
            if key not in seen:
                seen.add(key)
                out.append((p, at))
        return out

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class Board:
    def __init__(self, flash: Path, device: str, password: str, broker, **opts):
        self.flash = flash
        self.device = device
        args = [sys.executable, "-m", "simulators.virtual_board", "--flash", str(flash),
                "--device", device, "--broker", f"{broker.host}:{broker.port}"]
        opts.setdefault("interval_ms", 1000)
        for k, v in opts.items():
            flag = "--" + k.replace("_", "-")
            if v is True:
                args.append(flag)
            elif v is not False:
                args += [flag, str(v)]
        flash.mkdir(parents=True, exist_ok=True)
        self.log = open(flash.parent / f"{device}.log", "wb")
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, SEWNET_DEVICE_PASSWORD=password))

    def truth(self):
        try:
            return json.loads((self.flash / "truth.json").read_text())
        except (OSError, ValueError):
            return None

    def wifi(self, up: bool):
        flag = self.flash / "wifi_down"
        if up:
            flag.unlink(missing_ok=True)
        else:
            flag.touch()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.log.close()

    def log_text(self):
        return (self.flash.parent / f"{self.device}.log").read_text(errors="replace")


@pytest.fixture
def boards(tmp_path):
    started: list[Board] = []

    def start(device, password, broker, **opts):
        b = Board(tmp_path / device, device, password, broker, **opts)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop(signal.SIGKILL)


def assert_consistent(summaries, device):
    seqs = [p["seq"] for p, _ in summaries]
    assert seqs == list(range(1, len(seqs) + 1)), f"consecutive seq from 1, got {seqs}"
    assert len({p["boot"] for p, _ in summaries}) == 1
    prev_total = None
    for p, _ in summaries:
        assert p["device"] == device and p["v"] == 2 and p["sent_ms"] >= p["uptime_ms"]
        assert p["run_ms"] % 100 == 0 and 0 <= p["run_ms"] <= p["interval_ms"]
        assert p["stitches"] <= p["interval_ms"] // 5
        if prev_total is not None:
            assert p["total"] - prev_total == p["stitches"], f"total chain broken at seq {p['seq']}"
        prev_total = p["total"]


def all_counted(listener, board):
    truth = board.truth()
    if not truth or not truth["sewing_done"]:
        return False
    counted = sum(p["stitches"] for p, _ in listener.summaries())
    assert counted <= truth["stitches_generated"], "more stitches than the machine made"
    return counted == truth["stitches_generated"] and truth


def test_summaries_add_up_to_ground_truth_and_the_will_says_offline(mosquitto, boards):
    counter = "pcnt"
    device = f"sn-vb-{counter}"
    password = mosquitto.add_device(device)
    listener = Listener(mosquitto, f"sewnet/v1/{device}/#", f"admin-{counter}")
    try:
        board = boards(device, password, mosquitto, seed=11, sew_seconds=5, max_spm=10000,
                       glitches=True, stop_scale=0.02)
        truth = wait_for(lambda: all_counted(listener, board), timeout=40,
                         what="summaries adding up to truth.json")
        assert truth["stitches_generated"] > 100 and truth["glitches_generated"] > 0
        summaries = listener.summaries()
        assert_consistent(summaries, device)
        assert summaries[-1][0]["total"] == truth["stitches_generated"], "first boot starts at 0"
        # The clock came from the NTP server on the board's LAN (the gateway's, in a workshop).
        assert "time" in summaries[-1][0] and abs(summaries[-1][0]["time"] - time.time()) < 30

        online = listener.of("status")[0][1]
        assert online["state"] == "online" and online["counter"] == counter
        assert online["boot"] == summaries[0][0]["boot"] and online["interval_ms"] == 1000

        # A late subscriber gets the retained status: the board is online.
        late = Listener(mosquitto, f"sewnet/v1/{device}/status", f"late-{counter}")
        try:
            wait_for(lambda: late.of("status"), timeout=10, what="retained status")
            _, status, retained, _ = late.of("status")[0]
            assert retained and status["state"] == "online"
        finally:
            late.close()

        board.stop(signal.SIGKILL)        # power pulled: no DISCONNECT, the broker sends the will
        wait_for(lambda: any(m[1]["state"] == "offline" for m in listener.of("status")),
                 timeout=20, what="last will")
        will = [m[1] for m in listener.of("status") if m[1]["state"] == "offline"][0]
        assert will == {"v": 2, "device": device, "state": "offline", "boot": online["boot"],
                        "nonce": online["nonce"], "fw": online["fw"], "counter": counter, "interval_ms": 1000}
        after = Listener(mosquitto, f"sewnet/v1/{device}/status", f"after-{counter}")
        try:
            wait_for(lambda: after.of("status"), timeout=10, what="retained will")
            assert after.of("status")[0][1]["state"] == "offline" and after.of("status")[0][2]
        finally:
            after.close()
    finally:
        listener.close()


def test_wifi_cut_for_several_intervals_loses_nothing(mosquitto, boards):
    device = "sn-vb-wifi"
    password = mosquitto.add_device(device)
    listener = Listener(mosquitto, f"sewnet/v1/{device}/#", "admin-wifi")
    try:
        board = boards(device, password, mosquitto, seed=5, sew_seconds=9, max_spm=8000,
                       stop_scale=0.02)
        wait_for(lambda: len(listener.summaries()) >= 2, timeout=20, what="first summaries")
        board.wifi(False)
        cut_at = time.monotonic()
        before = len(listener.summaries())
        # The outage is the scenario: it must span several 1 s intervals.
        time.sleep(4.0)
        during = len(listener.summaries())
        board.wifi(True)
        restored_at = time.monotonic()
        assert during <= before + 1, "nothing gets through a dead link (one may be in the air)"

        truth = wait_for(lambda: all_counted(listener, board), timeout=40,
                         what="every stitch after the link came back")
        summaries = listener.summaries()
        assert_consistent(summaries, device)        # no gap: nothing was lost
        # Intervals that closed in the first 3 s of the 4 s outage were queued on the board and
        # reached the broker only once the link was back (and in seq order: assert_consistent
        # checks seq order of first arrival).
        last_before_cut = summaries[during - 1][0]["uptime_ms"]
        queued = [(p["seq"], at) for p, at in summaries
                  if last_before_cut < p["uptime_ms"] <= last_before_cut + 3000]
        assert len(queued) == 3 and all(at > restored_at for _, at in queued), queued
        statuses = [m[1] for m in listener.of("status") if m[1]["state"] == "online"]
        assert len(statuses) >= 2, "a fresh online status on reconnect"
        assert statuses[-1]["queued"] >= 2, "the backlog was waiting in the board's queue"
        assert statuses[-1]["dropped"] == 0
        assert truth["stitches_generated"] == summaries[-1][0]["total"]
    finally:
        listener.close()


def test_a_board_cannot_publish_under_another_boards_topic(mosquitto):
    mosquitto.add_device("sn-vb-other")
    password = mosquitto.add_device("sn-vb-acl")
    listener = Listener(mosquitto, "sewnet/v1/#", "admin-acl")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sn-vb-acl")
    c.username_pw_set("sn-vb-acl", password)
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect(mosquitto.host, mosquitto.port)
    c.loop_start()
    try:
        assert connected.wait(10)
        forged = c.publish("sewnet/v1/sn-vb-other/summary", b'{"forged":true}', qos=1)
        forged.wait_for_publish(10)
        own = c.publish("sewnet/v1/sn-vb-acl/summary", b'{"own":true}', qos=1)
        own.wait_for_publish(10)
        # Messages of one client arrive in order: once its own has arrived, the forged one
        # would have too.
        wait_for(lambda: any(m[0] == "sewnet/v1/sn-vb-acl/summary" for m in listener.messages),
                 timeout=10, what="the board's message on its own topic")
        assert not [m for m in listener.messages if m[0] == "sewnet/v1/sn-vb-other/summary"]
    finally:
        c.loop_stop()
        c.disconnect()
        listener.close()
