"""MQTT ingest: broker -> validate/dedup/timestamp -> durable outbox -> PUBACK.

The gateway holds a persistent session (fixed client id, QoS 1; in MQTT 5 terms clean_start=False
and a session that never expires), so what the broker has not had acknowledged stays queued at the
broker across gateway restarts and broker restarts (Mosquitto persistence). We acknowledge a
message only after the SQLite transaction holding it has committed. Together that gives "at least
once" into the outbox at any instant of a crash, and dedup on (device, boot, seq) turns it into
"exactly once" there.

The MQTT client is paho's, used through its public API only: manual acknowledgement
(`Client(manual_ack=True)`, `ack()`) and the external-loop interface (`socket()`, `loop_read()`,
`loop_write()`, `loop_misc()`, the socket callbacks), driven by the gateway's asyncio loop in
`_Link` below.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .alerts import Alert
from .config import GatewayConfig, MqttConfig
from .contract import KEEP_REJECTED_BYTES, ack_topic
from .outbox import BatchResult, Incoming, Outbox, StoreFull

log = logging.getLogger("sewnet.gateway.ingest")

SUBSCRIPTIONS = [("sewnet/v1/+/summary", 1), ("sewnet/v1/+/status", 1)]

#: The MQTT 5 Maximum Packet Size the gateway announces. A compliant broker (Mosquitto 2) drops a
#: bigger message for the gateway instead of sending it, so a board publishing 255 MiB cannot make
#: the Pi read it. Board payloads are at most 512 B: up to this size an oversize one still reaches
#: the gateway, and is counted and kept (its start) as `oversized` for the operator.
MAX_PACKET_BYTES = 64 * 1024
#: MQTT 5's form of clean_session=False: the session outlives any outage (0xFFFFFFFF = never expires).
SESSION_NEVER_EXPIRES = 0xFFFFFFFF
#: CONNACK reason of a broker without MQTT 5 (some, like amqtt, do not answer at all).
UNSUPPORTED_PROTOCOL_VERSION = 0x84
NO_MQTT5_HINT = ' (a broker without MQTT 5? then set mqtt.protocol = "3.1.1")'
#: PUBLISH packets read in one turn of the event loop before others get their turn.
READ_BURST = 500
BROKER_ALERT_AFTER_S = 60.0
STORE_RETRY_FIRST_S = 0.5
STORE_RETRY_MAX_S = 30.0
#: Seq ranges per acknowledgement message: keeps one well under the broker's 1 KiB message limit.
ACK_RANGES_PER_MESSAGE = 40


def ack_payloads(acks: dict[tuple[str, int, int], list[int]]) -> list[tuple[str, bytes]]:
    """(topic, payload) of the acknowledgements for a committed batch (docs/protocol.md 1 and 4):
    per board boot, the decided seqs as ranges, `{"v":2,"boot":B,"nonce":N,"seqs":[[lo,hi],...]}`."""
    out = []
    for (device, boot, nonce), seqs in acks.items():
        ranges: list[list[int]] = []
        for q in sorted(set(seqs)):
            if ranges and ranges[-1][1] == q - 1:
                ranges[-1][1] = q
            else:
                ranges.append([q, q])
        for i in range(0, len(ranges), ACK_RANGES_PER_MESSAGE):
            body = {"v": 2, "boot": boot, "nonce": nonce, "seqs": ranges[i:i + ACK_RANGES_PER_MESSAGE]}
            out.append((ack_topic(device), json.dumps(body, separators=(",", ":")).encode()))
    return out


class LinkLost(Exception):
    """The connection to the broker ended, was refused, or never came up."""


@dataclass
class IngestHealth:
    connected: bool = False
    #: True once the broker has confirmed the subscriptions of this connection. From the first
    #: time on, the persistent session queues everything for the gateway even while it is down.
    subscribed: bool = False
    connected_since: float | None = None
    #: Since when the broker has been out of reach (None while connected): the operator's alert.
    disconnected_since: float | None = None
    protocol: str = "5"  # MQTT version spoken (mqtt.protocol)
    last_error: str | None = None
    last_error_at: float | None = None
    reconnects: int = 0
    received: int = 0  # messages taken from the broker, redelivered copies included
    batches: int = 0
    messages: int = 0  # messages committed to the store and acknowledged
    #: Acknowledgements published to boards (contract v2: after the commit, on their ack topic).
    board_acks: int = 0
    largest_batch: int = 0
    #: Since when the store has refused new data (StoreFull); the messages wait unacknowledged.
    store_full_since: float | None = None
    store_errors: int = 0  # failed store transactions other than StoreFull (a fault, not the disk)
    store_error: str | None = None
    store_error_since: float | None = None  # None once a batch commits again


class _Link:
    """One connection to the broker: a paho client driven by the gateway's asyncio loop.

    The loop watches paho's socket: readable -> `loop_read()`; paho has bytes to send (it says so
    through the register/unregister-write callbacks) -> `loop_write()`; every second
    `loop_misc()` for keepalives. Apart from `connect()` (a worker thread, see `open`) paho is only
    ever called from the loop's thread, so its state needs no locking of ours.
    """

    def __init__(self, m: MqttConfig, password: str | None, health: IngestHealth) -> None:
        self.loop = asyncio.get_running_loop()
        self.v5 = m.protocol == "5"
        self.health = health
        client = self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=m.client_id,
            clean_session=None if self.v5 else False,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            reconnect_on_failure=False,  # Ingest.run reconnects, with its own backoff
            # paho would otherwise acknowledge every message as it is parsed, before we have
            # stored it; a crash in between would lose it (the broker considers it delivered).
            manual_ack=True,
        )
        client.username_pw_set(m.username, password)
        if log.isEnabledFor(logging.DEBUG):  # paho formats a record per packet: only when asked
            client.enable_logger(log.getChild("paho"))
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        #: (mid, qos, message) in arrival order, not yet acknowledged.
        self.arrived: deque[tuple[int, int, Incoming]] = deque()
        self.lost: LinkLost | None = None
        self._connack = False
        self._suback = False
        self._changed = asyncio.Event()
        self._tick: asyncio.TimerHandle | None = None

    # ---- the coroutine side ---------------------------------------------------------------------
    async def open(self, host: str, port: int, keepalive: int, receive_max: int) -> None:
        """Connect, wait for the CONNACK, subscribe, wait for the SUBACK."""
        client = self.client
        kwargs = {}
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_NEVER_EXPIRES
            props.MaximumPacketSize = MAX_PACKET_BYTES
            # Unacknowledged messages the broker may send us: bounds what waits in `arrived`
            # whatever the broker's max_inflight_messages (Mosquitto's default 20 would cap batches).
            props.ReceiveMaximum = receive_max
            kwargs = {"clean_start": False, "properties": props}
        # connect() resolves the name and opens the TCP connection blocking (up to paho's connect
        # timeout): a worker thread keeps the loop (page, uplink) running. One resolution per attempt.
        connecting = asyncio.ensure_future(asyncio.to_thread(client.connect, host, port, keepalive, **kwargs))
        try:
            await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # The thread cannot be stopped. Let it finish so close() shuts what it opened: a stray
            # connection under our client id would take the session over from our successor.
            with contextlib.suppress(Exception):
                await connecting
            raise
        sock = client.socket()
        client.on_socket_close = self._socket_closed
        client.on_socket_register_write = lambda c, _, s: self.loop.add_writer(s, c.loop_write)
        client.on_socket_unregister_write = lambda c, _, s: self.loop.remove_writer(s)
        self.loop.add_reader(sock, self._readable)
        if client.want_write():  # connect() wrote CONNECT in the thread; anything left is ours
            self.loop.add_writer(sock, client.loop_write)
        self._keepalive()
        wait = max(10, keepalive)
        try:
            await self._until(lambda: self._connack, timeout=wait)
        except TimeoutError:
            raise LinkLost(f"no answer to CONNECT in {wait} s{NO_MQTT5_HINT if self.v5 else ''}") from None
        self.health.connected, self.health.connected_since = True, time.time()
        client.subscribe(SUBSCRIPTIONS)
        await self._until(lambda: self._suback, timeout=max(10, keepalive))

    async def wait_arrived(self) -> None:
        await self._until(lambda: bool(self.arrived))

    async def pause(self, seconds: float) -> None:
        """Sleep, but raise LinkLost as soon as the connection ends."""
        with contextlib.suppress(TimeoutError):
            await self._until(lambda: False, timeout=seconds)

    def ack(self, batch: list[tuple[int, int, Incoming]]) -> None:
        # In arrival order, as MQTT requires. If the connection dropped meanwhile, these cannot
        # go out and the broker redelivers on the next connection: dedup drops the copies.
        if self.lost is not None:
            return
        client, sock = self.client, self.client.socket()
        # paho writes each PUBACK with its own send(); corked, a batch's acks leave in a few full
        # TCP segments, which costs the gateway and the broker (same Pi) less CPU per message.
        cork = sock is not None and hasattr(socket, "TCP_CORK")
        if cork:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        for mid, qos, _ in batch:
            if qos:
                client.ack(mid, qos)
        client.loop_write()
        if cork and client.socket() is sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    def publish_acks(self, acks: dict[tuple[str, int, int], list[int]]) -> int:
        """Tell each v2 board which of its summaries are now on the gateway's disk: only then may
        it forget them (the broker's PUBACK is not enough: Mosquitto keeps its queue in memory
        between autosaves). QoS 1, so the broker keeps them for a board that is away; one lost
        anyway (a broker crash) costs the board a resend, which is dropped here as a copy."""
        if self.lost is not None or not acks:
            return 0
        sent = 0
        for topic, payload in ack_payloads(acks):
            self.client.publish(topic, payload, qos=1)
            sent += 1
        self.client.loop_write()
        return sent

    def close(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
        client = self.client
        if client.is_connected():
            # A clean DISCONNECT (after any acks still queued): the broker keeps the session.
            client.disconnect()
            client.loop_write()
        sock = client.socket()
        if sock is not None:  # never got connected, or the DISCONNECT could not be written now
            self._socket_closed(client, None, sock)
            sock.close()

    async def _until(self, done: Callable[[], bool], timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            while True:
                if self.lost is not None:
                    raise self.lost
                if done():
                    return
                self._changed.clear()
                await self._changed.wait()

    # ---- paho's side (called from loop_read/loop_write/loop_misc on the loop's thread) ----------
    def _readable(self) -> None:
        # loop_read() handles one packet per call. Reading on while PUBLISHes keep coming takes
        # a burst in one turn of the loop, so the next batch (one commit) holds all of it.
        for _ in range(READ_BURST):
            before = self.health.received
            if self.client.loop_read() != mqtt.MQTT_ERR_SUCCESS or self.health.received == before:
                break

    def _keepalive(self) -> None:
        # Sends PINGREQ when due and notices a broker that stopped answering (on_disconnect).
        if self.client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:
            self._tick = self.loop.call_later(1.0, self._keepalive)

    def _socket_closed(self, client, userdata, sock) -> None:
        # paho calls this before closing the socket: the loop must forget it while it is valid.
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            hint = NO_MQTT5_HINT if reason.value == UNSUPPORTED_PROTOCOL_VERSION else ""
            self._lose(LinkLost(f"broker refused the connection: {reason}{hint}"))
        else:
            self._connack = True
            self._changed.set()

    def _on_subscribe(self, client, userdata, mid, reasons, properties) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            # Without the subscriptions nothing arrives: an error to see, not a quiet gateway.
            self._lose(LinkLost(f"broker refused the subscriptions: {', '.join(refused)}"))
        else:
            self._suback = True
            self._changed.set()

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        payload, size = msg.payload, None
        if len(payload) > KEEP_REJECTED_BYTES:
            # Oversize: only its start is ever kept (as a rejected message), so cut it now,
            # before it waits anywhere; the store learns the size it had.
            payload, size = payload[:KEEP_REJECTED_BYTES], len(payload)
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # not a topic the contract knows: rejected as bad_topic
            topic = "(not UTF-8)"
        self.arrived.append((msg.mid, msg.qos, Incoming(topic, payload, time.time(), msg.retain, size)))
        self.health.received += 1
        self._changed.set()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self._lose(LinkLost(f"connection to the broker lost: {reason}"))

    def _lose(self, exc: LinkLost) -> None:
        if self.lost is None:
            self.lost = exc
        self._changed.set()


class Ingest:
    def __init__(
        self,
        config: GatewayConfig,
        outbox: Outbox,
        on_committed: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.on_committed = on_committed
        self.health = IngestHealth(protocol=config.mqtt.protocol)
        self._password = config.mqtt.secret()
        self._next_prune = 0.0
        self._store_retry = STORE_RETRY_FIRST_S
        self._logged_store_errors: set[str] = set()

    def alerts(self, now: float | None = None) -> list[Alert]:
        """Ingest's current problems for the operator page (broker out of reach, store failing)."""
        now = time.time() if now is None else now
        h, out = self.health, []
        if h.disconnected_since is not None and now - h.disconnected_since > BROKER_ALERT_AFTER_S:
            minutes = int((now - h.disconnected_since) // 60)
            out.append(Alert(
                "broker_unreachable", "error",
                ko=f"게이트웨이가 MQTT 브로커에 {minutes}분째 연결하지 못하고 있습니다. 재봉기 기록이 저장되지"
                   " 않고 있으며, 한 시간 넘게 계속되면 기록을 잃을 수 있습니다. 라즈베리파이를 껐다 켜 보고,"
                   " 그래도 계속되면 설치 담당자에게 연락하세요.",
                en=f"The gateway has not reached the MQTT broker for {minutes} min. Machine records are not"
                   " being stored; if this lasts over an hour, records can be lost. Turn the Raspberry Pi"
                   " off and on again; if it goes on, call your installer.",
                since=h.disconnected_since,
            ))
        if h.store_error_since is not None:
            out.append(Alert(
                "store_error", "error",
                ko="게이트웨이가 받은 기록을 저장하지 못하고 있습니다(프로그램 문제). 기록은 브로커에 남아 있어"
                   " 아직 잃지 않았습니다. 설치 담당자에게 연락하세요.",
                en="The gateway cannot store the records it receives (a software problem). They wait at the"
                   " broker and are not lost yet. Call your installer.",
                since=h.store_error_since,
            ))
        return out

    async def run(self) -> None:
        """Consume until cancelled; reconnect with capped exponential backoff and jitter."""
        m, h = self.config.mqtt, self.health
        backoff = 0.25
        h.disconnected_since = time.time()
        while True:
            link = _Link(m, self._password, h)
            try:
                # Room for the batch being committed and the next one arriving meanwhile.
                await link.open(m.host, m.port, m.keepalive_s, receive_max=min(65535, 2 * m.batch_max))
                h.disconnected_since, backoff = None, 0.25
                h.subscribed = True
                log.info("connected to mqtt://%s:%s (MQTT %s)", m.host, m.port, h.protocol)
                await self._consume(link)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone, refused, timed out: retry later
                h.last_error = f"{type(exc).__name__}: {exc}"
                h.last_error_at = time.time()
                log.warning("mqtt ingest: %s; retrying in %.1f s", h.last_error, backoff)
            finally:
                link.close()
                if h.connected:
                    h.reconnects += 1
                if h.disconnected_since is None:
                    h.disconnected_since = time.time()
                h.connected = h.subscribed = False
            # Jitter keeps a workshop's gateway from hammering a broker that just came back in
            # lock-step with every other client.
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, m.reconnect_max_s)

    async def _consume(self, link: _Link) -> None:
        batch_max = self.config.mqtt.batch_max
        h = self.health
        while True:
            await link.wait_arrived()
            # Whatever has arrived (up to batch_max) goes in one transaction: a bigger batch
            # costs the same one fsync. It leaves `arrived` only once committed.
            batch = list(itertools.islice(link.arrived, batch_max))
            try:
                # SQLite's commit waits for fsync; a worker thread keeps the event loop (and so
                # the MQTT socket and keepalives) running meanwhile.
                result = await asyncio.to_thread(self.outbox.ingest, [m for _, _, m in batch])
            except Exception as exc:
                # Nothing acknowledged: the broker keeps these (and queues what follows once its
                # in-flight window is full). Holding them and retrying, rather than reconnecting,
                # keeps the broker from resending the same window for nothing.
                await link.pause(self._store_refused(exc, len(batch)))
                continue
            for _ in batch:
                link.arrived.popleft()
            # Only now, with the batch committed, may the broker forget these messages, and the
            # boards theirs.
            link.ack(batch)
            h.board_acks += link.publish_acks(result.acks)
            self._store_accepted()
            h.batches += 1
            h.messages += len(batch)
            h.largest_batch = max(h.largest_batch, len(batch))
            if self.on_committed is not None:
                self.on_committed(result)
            now = time.time()
            if now >= self._next_prune:
                self._next_prune = now + 3600
                await asyncio.to_thread(self.outbox.prune_seen, now)

    def _store_refused(self, exc: Exception, held: int) -> float:
        """Note why the store did not take a batch; return how long to wait before retrying."""
        h, now = self.health, time.time()
        if isinstance(exc, StoreFull):
            if h.store_full_since is None:
                h.store_full_since = now
                log.warning("store full: %d messages wait unacknowledged at the broker; retrying", held)
        else:
            # A fault (e.g. a message the store cannot hold): counted, shown, logged once per
            # distinct error, and retried with backoff, never a silent loop.
            # Shown as JSON on the page: no lone surrogates (the poison that may have caused it).
            text = f"{type(exc).__name__}: {exc}"[:500].encode("utf-8", "backslashreplace").decode()
            h.store_errors += 1
            h.store_error = text
            if h.store_error_since is None:
                h.store_error_since = now
            if text not in self._logged_store_errors:
                if len(self._logged_store_errors) >= 100:  # errors that differ each time
                    self._logged_store_errors.clear()
                self._logged_store_errors.add(text)
                log.error("store refused a batch of %d messages; they wait at the broker", held, exc_info=exc)
        delay = self._store_retry * random.uniform(0.5, 1.0)
        self._store_retry = min(self._store_retry * 2, STORE_RETRY_MAX_S)
        return delay

    def _store_accepted(self) -> None:
        h = self.health
        if h.store_full_since is not None or h.store_error_since is not None:
            log.info("store accepts again")
        h.store_full_since = h.store_error_since = None
        self._store_retry = STORE_RETRY_FIRST_S
