"""A board against the workshop's broker: a real Mosquitto with the shipped conf.d snippet, and
the demo's amqtt broker behind its front door. A board cannot take the gateway's client id (and
wipe its queue) or another board's, cannot leave a last will under another board's topic, and
cannot send a big message; a legitimate summary still passes.

The gateway here is a paho client with the gateway's user and a persistent session, as
edge_gateway.ingest holds one; what is tested is the broker's treatment of that session."""

from __future__ import annotations

import json
import socket
import threading

import paho.mqtt.client as mqtt
import pytest

from tests.conftest import _serve
from tests.servers import DemoBroker, Mosquitto
from tests.waiting import wait_for

BOARDS = ["sn-b0a4d0000001", "sn-b0a4d0000002"]
GATEWAY_ID = "sewnet-gateway-ws-test-01"  # predictable: workshop id after a fixed prefix


@pytest.fixture(params=["mosquitto", "demo"])
def broker(request, tmp_path):
    if request.param == "mosquitto":
        server = Mosquitto(tmp_path / "mosquitto")
        for device in BOARDS:
            server.add_device(device)
    else:
        server = DemoBroker(tmp_path / "demo-broker", BOARDS)
    yield from _serve(server, request)


class Peer:
    """One MQTT client that records what it receives, its CONNACK and its disconnects."""

    def __init__(self, broker, user: str, client_id: str, *, clean: bool = True, subscribe: str | None = None,
                 will: tuple[str, bytes] | None = None):
        self.received: list[tuple[str, bytes, bool]] = []
        self.connacks: list = []
        self.disconnects: list = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        c.username_pw_set(user, broker.passwords[user])
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda cl, ud, flags, rc, props: self.disconnects.append(rc)
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self._ready.set()
        self.topic = subscribe
        self.client = c
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert self._ready.wait(15), f"{user}: no CONNACK/SUBACK"

    def _on_connect(self, client, userdata, flags, rc, props):
        self.connacks.append(rc)
        if rc.is_failure:
            self._ready.set()
        elif self.topic:
            client.subscribe(self.topic, qos=1)
        else:
            self._ready.set()

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.received.append((msg.topic, msg.payload, msg.retain))

    @property
    def accepted(self) -> bool:
        return bool(self.connacks) and not self.connacks[0].is_failure

    def messages(self, topic: str | None = None) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return [m for m in self.received if topic is None or m[0] == topic]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(15)

    def stop(self) -> None:
        """A clean goodbye: DISCONNECT, so the broker keeps a persistent session and sends no will."""
        self.client.disconnect()
        self.client.loop_stop()

    def die(self) -> None:
        """Gone without DISCONNECT, as a board losing power: the broker publishes its will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def summary(device: str, seq: int, size: int | None = None) -> bytes:
    body = {"v": 1, "device": device, "boot": 1, "seq": seq, "uptime_ms": 10_000 * seq, "interval_ms": 10_000,
            "stitches": 10, "run_ms": 100, "stops": 0, "peak_spm": 0, "total": 10 * seq}
    raw = json.dumps(body, separators=(",", ":"))
    if size is not None:  # pad with a key the contract does not know, to an exact size
        body["pad"] = ""
        raw = json.dumps(body, separators=(",", ":"))
        body["pad"] = "x" * (size - len(raw))
        raw = json.dumps(body, separators=(",", ":"))
    return raw.encode()


def test_a_board_with_the_gateways_client_id_does_not_wipe_its_queue(broker):
    gateway = Peer(broker, broker.gateway_user, GATEWAY_ID, clean=False, subscribe="sewnet/v1/+/summary")
    gateway.stop()  # the gateway restarts: the broker queues for its session meanwhile
    board = Peer(broker, BOARDS[0], BOARDS[0])
    for seq in range(1, 51):
        board.publish(f"sewnet/v1/{BOARDS[0]}/summary", summary(BOARDS[0], seq))
    # Another board logs in with its own password but the gateway's client id and a clean session.
    thief = Peer(broker, BOARDS[1], GATEWAY_ID, clean=True)
    assert thief.accepted  # Mosquitto lets it in, under its own user name as client id
    thief.stop()
    gateway = Peer(broker, broker.gateway_user, GATEWAY_ID, clean=False, subscribe="sewnet/v1/+/summary")

    def all_50():
        seqs = {json.loads(p)["seq"] for _, p, _ in gateway.messages()}
        assert len(seqs) == 50, f"{len(seqs)} of 50 queued summaries arrived"
        return True

    wait_for(all_50, timeout=20, what="the gateway's queued summaries")
    for c in (board, gateway):
        c.stop()


def test_a_board_cannot_kick_another_board_or_the_gateway(broker):
    victim = Peer(broker, BOARDS[0], BOARDS[0])
    gateway = Peer(broker, broker.gateway_user, GATEWAY_ID, clean=False, subscribe="sewnet/v1/+/summary")
    thieves = [Peer(broker, BOARDS[1], BOARDS[0]), Peer(broker, BOARDS[1], GATEWAY_ID)]
    # A kicked client notices when its socket closes; a QoS 1 round trip on each connection
    # after the thieves came in shows whether it is still the same connection.
    victim.publish(f"sewnet/v1/{BOARDS[0]}/summary", summary(BOARDS[0], 1))
    wait_for(lambda: gateway.messages(), timeout=10, what="the victim's summary at the gateway")
    assert victim.disconnects == [] and gateway.disconnects == []
    assert victim.connacks[1:] == [] and gateway.connacks[1:] == [], "reconnected after being kicked"
    for c in (victim, gateway, *thieves):
        c.stop()


def test_a_boards_last_will_cannot_land_on_another_boards_status(broker):
    watcher = Peer(broker, broker.gateway_user, "watcher", subscribe="sewnet/v1/+/status")
    other_status = f"sewnet/v1/{BOARDS[1]}/status"
    forger = Peer(broker, BOARDS[0], BOARDS[0], will=(other_status, b'{"state":"offline","forged":true}'))
    honest = Peer(broker, BOARDS[1], BOARDS[1], will=(other_status, b'{"state":"offline"}'))
    # The broker either refuses the forger's CONNECT or never publishes that will. Both die;
    # once the honest board's will has arrived, the forger's (dead first) would have too.
    if forger.accepted:
        forger.die()
    else:
        forger.stop()
    honest.die()
    wait_for(lambda: watcher.messages(other_status), timeout=20, what="the honest board's will")
    assert [p for _, p, _ in watcher.messages(other_status)] == [b'{"state":"offline"}']
    late = Peer(broker, broker.gateway_user, "late-watcher", subscribe=other_status)  # what is retained
    wait_for(lambda: late.messages(), timeout=10, what="the retained status")
    assert [p for _, p, _ in late.messages()] == [b'{"state":"offline"}']
    for c in (watcher, late):
        c.stop()


def test_a_big_publish_is_refused_and_a_summary_passes(broker):
    gateway = Peer(broker, broker.gateway_user, GATEWAY_ID, subscribe="sewnet/v1/+/summary")
    big = Peer(broker, BOARDS[0], BOARDS[0])
    big.client.publish(f"sewnet/v1/{BOARDS[0]}/summary", b"x" * (1 << 20), qos=1)
    # Mosquitto closes the connection at the packet's header (max_packet_size), and so does the
    # demo broker's front door.
    wait_for(lambda: big.disconnects, timeout=10, what="the broker closing the big publisher")
    big.client.loop_stop()
    board = Peer(broker, BOARDS[1], BOARDS[1])
    topic = f"sewnet/v1/{BOARDS[1]}/summary"
    contract_max, slightly_over = summary(BOARDS[1], 1, size=512), summary(BOARDS[1], 2, size=1000)
    board.publish(topic, contract_max)
    board.publish(topic, slightly_over)  # still delivered: the gateway counts it as `oversized`
    wait_for(lambda: len(gateway.messages()) >= 2, timeout=10, what="both summaries at the gateway")
    assert [len(p) for _, p, _ in gateway.messages()] == [512, 1000]
    board.publish(topic, summary(BOARDS[1], 3, size=1025))  # over message_size_limit: acked, dropped
    board.publish(topic, summary(BOARDS[1], 4, size=300))
    wait_for(lambda: len(gateway.messages()) >= 3, timeout=10, what="the summary after the dropped one")
    assert [len(p) for _, p, _ in gateway.messages()] == [512, 1000, 300]
    assert board.disconnects == []
    for c in (board, gateway):
        c.stop()


def test_mosquitto_does_not_read_a_huge_publish_into_memory(tmp_path, request):
    server = Mosquitto(tmp_path / "mosquitto")
    server.add_device(BOARDS[0])
    for broker in _serve(server, request):
        big = Peer(broker, BOARDS[0], BOARDS[0])
        big.client.publish(f"sewnet/v1/{BOARDS[0]}/summary", b"x" * (64 << 20), qos=1)
        wait_for(lambda: big.disconnects, timeout=30, what="the broker closing the big publisher")
        big.client.loop_stop()
        status = dict(ln.split(":", 1) for ln in open(f"/proc/{broker.proc.pid}/status").read().splitlines())
        peak_kib = int(status["VmHWM"].split()[0])
        # Without max_packet_size Mosquitto holds the whole 64 MiB before it can drop it.
        assert peak_kib < 32 * 1024, f"broker peak memory {peak_kib} KiB"
