"""MQTT ingest: broker -> validate/dedup/timestamp -> durable outbox -> PUBACK.

The gateway holds a persistent session (fixed client id, clean_session=False, QoS 1), so what the
broker has not had acknowledged stays queued at the broker across gateway restarts and broker
restarts (Mosquitto persistence). We acknowledge a message only after the SQLite transaction
holding it has committed. Together that gives "at least once" into the outbox at any instant of a
crash, and dedup on (device, boot, seq) turns it into "exactly once" there.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Callable

import aiomqtt

from .alerts import Alert
from .config import GatewayConfig
from .outbox import BatchResult, Incoming, Outbox

log = logging.getLogger("sewnet.gateway.ingest")

SUBSCRIPTIONS = [("sewnet/v1/+/summary", 1), ("sewnet/v1/+/status", 1)]


@dataclass
class IngestHealth:
    connected: bool = False
    #: True once the broker has confirmed the subscriptions of this connection. From the first
    #: time on, the persistent session queues everything for the gateway even while it is down.
    subscribed: bool = False
    connected_since: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    reconnects: int = 0
    batches: int = 0
    messages: int = 0
    largest_batch: int = 0


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
        self.health = IngestHealth()
        self._password = config.mqtt.secret()
        self._next_prune = 0.0

    def _client(self) -> aiomqtt.Client:
        m = self.config.mqtt
        client = aiomqtt.Client(
            m.host,
            m.port,
            username=m.username,
            password=self._password,
            identifier=m.client_id,
            clean_session=False,
            keepalive=m.keepalive_s,
        )
        # aiomqtt 2.5 has no public manual-ack API; its paho client does. Without this, paho
        # acknowledges every message as it is parsed, before we have stored it, and a crash in
        # between would lose it: the broker would consider it delivered.
        client._client.manual_ack_set(True)
        if not logging.getLogger("mqtt").isEnabledFor(logging.DEBUG):
            # paho formats a debug record for every packet otherwise: a tenth of the CPU per
            # message at thousands of messages a second.
            client._client.disable_logger()
        return client

    def alerts(self) -> list[Alert]:
        """Ingest's current problems for the operator page (broker unreachable, store full)."""
        return []

    async def run(self) -> None:
        """Consume until cancelled; reconnect with capped exponential backoff and jitter."""
        backoff = 0.25
        while True:
            try:
                async with self._client() as client:
                    self.health.connected = True
                    self.health.connected_since = time.time()
                    backoff = 0.25
                    await client.subscribe(SUBSCRIPTIONS)
                    self.health.subscribed = True
                    log.info("connected to mqtt://%s:%s", self.config.mqtt.host, self.config.mqtt.port)
                    await self._consume(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone, auth refused, store failure: retry later
                self.health.last_error = f"{type(exc).__name__}: {exc}"
                self.health.last_error_at = time.time()
                log.warning("mqtt ingest: %s; retrying in %.1f s", self.health.last_error, backoff)
            finally:
                if self.health.connected:
                    self.health.reconnects += 1
                self.health.connected = self.health.subscribed = False
            # Jitter keeps a workshop's gateway from hammering a broker that just came back in
            # lock-step with every other client.
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.config.mqtt.reconnect_max_s)

    async def _consume(self, client: aiomqtt.Client) -> None:
        batch_max = self.config.mqtt.batch_max
        # The iterator raises MqttError when the connection drops; the queue behind it is read
        # directly to drain what is already there without one asyncio task per message.
        queue: asyncio.Queue[aiomqtt.Message] = client._queue
        messages = client.messages.__aiter__()
        paho = client._client
        while True:
            first = await messages.__anext__()
            # Let paho parse whatever else is already in the socket buffer, then take it all:
            # a bigger batch costs the same one fsync.
            await asyncio.sleep(0)
            batch = [first]
            while len(batch) < batch_max and not queue.empty():
                batch.append(queue.get_nowait())
            now = time.time()
            incoming = [Incoming(m.topic.value, m.payload, now, m.retain) for m in batch]
            # SQLite's commit waits for fsync; a worker thread keeps the event loop (and so the
            # MQTT socket and keepalives) running meanwhile.
            result = await asyncio.to_thread(self.outbox.ingest, incoming)
            # Only now, with the batch committed, may the broker forget these messages. Acks go
            # out in arrival order, as MQTT 3.1.1 requires. If the connection dropped meanwhile,
            # paho cannot send them and the broker will redeliver: dedup drops the copies.
            for m in batch:
                if m.qos:
                    paho.ack(m.mid, m.qos)
            self.health.batches += 1
            self.health.messages += len(batch)
            self.health.largest_batch = max(self.health.largest_batch, len(batch))
            if self.on_committed is not None:
                self.on_committed(result)
            if now >= self._next_prune:
                self._next_prune = now + 3600
                await asyncio.to_thread(self.outbox.prune_seen, now)
