"""The gateway's acknowledgement to a board (contract v2, docs/protocol.md 1), through a REAL
Mosquitto with the shipped ACL: sent on the board's own `ack` topic only after the batch is on the
gateway's disk, readable by that board alone."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import paho.mqtt.client as paho

from edge_gateway.config import parse_config
from edge_gateway.service import Gateway
from tests.integration.test_gateway_ingest import DEVICES, gateway_config
from tests.waiting import async_wait_for

D1, D2 = list(DEVICES)[:2]


def v2_summary(device: str, seq: int, nonce: int = 424242) -> bytes:
    body = {"v": 2, "device": device, "boot": 3, "nonce": nonce, "seq": seq, "uptime_ms": 10_000 * seq,
            "sent_ms": 10_000 * seq + 40, "interval_ms": 10_000, "stitches": 10, "run_ms": 1_000, "stops": 0,
            "peak_spm": 600, "total": 10 * seq}
    return json.dumps(body, separators=(",", ":")).encode()


class AckListener:
    """A board's MQTT session listening on a topic; notes, per message, how many summaries the
    gateway's store held at that moment."""

    def __init__(self, mosquitto, user: str, password: str, topic: str, store) -> None:
        self.messages: list[tuple[dict, int]] = []
        self.store = store
        self.subscribed = threading.Event()
        c = self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=user)
        c.username_pw_set(user, password)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self.subscribed.set()
        c.on_message = self._on_message
        c.connect(mosquitto.host, mosquitto.port)
        c.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        stored = 0
        if self.store.exists():
            db = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=10)
            try:
                row = db.execute("SELECT value FROM counters WHERE name='accepted'").fetchone()
                stored = row[0] if row else 0
            finally:
                db.close()
        self.messages.append((json.loads(msg.payload), stored))

    def acked(self) -> set[int]:
        return {q for body, _ in self.messages for lo, hi in body["seqs"] for q in range(lo, hi + 1)}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_the_gateway_acknowledges_to_the_board_after_its_commit_on_the_boards_own_topic(
        tmp_path, mosquitto):
    pw = {d: mosquitto.add_device(d) for d in (D1, D2)}
    store = tmp_path / "gw" / "gateway.sqlite"
    gw = Gateway(parse_config(gateway_config(tmp_path, mosquitto)))
    task = asyncio.create_task(gw.run())
    # D1's own listener reads D1's acks; the ACL gives another board's login nothing of them.
    mosquitto_acl = mosquitto.acl_file.read_text()
    assert "pattern readwrite sewnet/v1/%u/#" in mosquitto_acl
    own = AckListener(mosquitto, D1, pw[D1], f"sewnet/v1/{D1}/ack", store)
    spy = AckListener(mosquitto, D2, pw[D2], f"sewnet/v1/{D1}/ack", store)
    try:
        await async_wait_for(lambda: gw.ingest.health.subscribed and own.subscribed.is_set()
                             and spy.subscribed.is_set(), timeout=15, what="gateway and listeners subscribed")
        # The board's own publishing session is the listener (one session per board, as on a board).
        for seq in (1, 2, 3):
            info = own.client.publish(f"sewnet/v1/{D1}/summary", v2_summary(D1, seq), qos=1)
            await asyncio.to_thread(info.wait_for_publish, 10)
        await async_wait_for(lambda: own.acked() == {1, 2, 3}, timeout=15, what="acks for seqs 1-3")
        # Each acknowledgement left the gateway after its summaries were committed.
        for body, stored in own.messages:
            assert body["boot"] == 3 and body["nonce"] == 424242 and body["v"] == 2
            assert stored >= max(hi for _, hi in body["seqs"]), (body, stored)
        # A copy (the board resending after a lost ack) is acknowledged again, not stored again.
        before = len(own.messages)
        info = own.client.publish(f"sewnet/v1/{D1}/summary", v2_summary(D1, 2), qos=1)
        await asyncio.to_thread(info.wait_for_publish, 10)
        await async_wait_for(lambda: len(own.messages) > before, timeout=15, what="ack of the copy")
        assert own.messages[-1][0]["seqs"] == [[2, 2]]
        assert gw.outbox.counters()["accepted"] == 3 and gw.outbox.counters()["duplicate"] == 1
        assert gw.ingest.health.board_acks >= 2
        assert spy.messages == []
    finally:
        own.close()
        spy.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
