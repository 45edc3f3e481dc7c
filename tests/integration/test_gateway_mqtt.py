"""The gateway's MQTT ingest against a REAL Mosquitto: acknowledgement only after the commit,
a store that refuses or fails, a broker out of reach, oversize payloads, protocol versions.

Stores that refuse, fail or hang are small Outbox subclasses: the disk policy and the poison
message handling of the store itself are tested with the store; here they are the ingest's input.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_gateway.config import parse_config
from edge_gateway.contract import KEEP_REJECTED_BYTES, MAX_PAYLOAD_BYTES
from edge_gateway.ingest import SUBSCRIPTIONS, Ingest
from edge_gateway.outbox import Outbox, StoreFull
from tests.integration.test_gateway_ingest import (
    DEVICES, ROOT, accepted, gateway_config, seq_of, start_gateway, store_rows, summary, toml,
)
from tests.mqtt_helpers import mosquitto_without_size_limit, proc_status_kib, publish_as, publish_sync
from tests.servers import Mosquitto, free_port
from tests.waiting import async_wait_for, wait_for

DEVICE, MACHINE = next(iter(DEVICES.items()))
TOPIC = f"sewnet/v1/{DEVICE}/summary"


@pytest.fixture
def board(mosquitto) -> str:
    """The broker password of one registered board."""
    return mosquitto.add_device(DEVICE)


@pytest.fixture
def unlimited(tmp_path, request):
    """A broker without SewNet's size limits (a workshop that skipped the snippet), with the board
    registered: for the gateway's own defence against big payloads."""
    broker = mosquitto_without_size_limit(tmp_path / "mosquitto-unlimited")
    password = broker.add_device(DEVICE)
    broker.start()
    yield broker, password
    broker.kill()


def summaries(seqs) -> list[tuple[str, bytes, bool]]:
    return [(TOPIC, summary(DEVICE, s), False) for s in seqs]


def open_store(cfg, cls=Outbox, **kwargs) -> Outbox:
    return cls(cfg.store_path, cfg.workshop, cfg.registry, **kwargs)


def stored_seqs(store: Outbox) -> list[int]:
    return seqs([p.line for p in store.pending(100_000)])


def seqs(lines: list[str]) -> list[int]:
    return sorted(seq_of(line) for line in lines if f"machine={MACHINE}" in line)


class Running:
    """An Ingest task on this event loop, cancelled on exit."""

    def __init__(self, ingest: Ingest):
        self.ingest = ingest

    async def __aenter__(self) -> Ingest:
        self.task = asyncio.create_task(self.ingest.run())
        await async_wait_for(lambda: self.ingest.health.subscribed, timeout=15, what="ingest subscribed")
        return self.ingest

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


# ---- acknowledgement only after the commit ----------------------------------------------------

def test_sigkill_while_a_batch_is_in_its_commit_loses_and_doubles_nothing(tmp_path, mosquitto, board):
    config_path = tmp_path / "gateway.toml"
    config_path.write_text(toml(gateway_config(tmp_path, mosquitto)))
    store, marker, log_path = tmp_path / "gw" / "gateway.sqlite", tmp_path / "commits", tmp_path / "gateway.log"

    def commits() -> list[int]:
        return [int(n) for n in marker.read_text().split()] if marker.exists() else []

    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.integration.observed_ingest", str(config_path),
                                 str(marker)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        # Until its first subscription the broker keeps no session for the gateway.
        wait_for(lambda: b"connected to mqtt" in log_path.read_bytes(), timeout=20, what=f"subscribed ({log_path})")
        # Two batches, one at a time: after the first one the ingest prunes old identities (a
        # write, once an hour); with the second one stored, that is done too.
        for seq in (1, 2):
            publish_sync(mosquitto, DEVICE, board, summaries([seq]))
            wait_for(lambda: accepted(store) == seq, timeout=20, what=f"summary {seq} stored ({log_path})")
        begun = len(commits())
        # Another connection holds SQLite's write lock: the gateway's next transaction waits in
        # BEGIN, with its batch received and not acknowledged.
        lock = sqlite3.connect(store, isolation_level=None, timeout=10)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            publish_sync(mosquitto, DEVICE, board, summaries(range(3, 43)))
            wait_for(lambda: len(commits()) > begun, timeout=20, what="a batch in its commit")
            in_flight = commits()[begun]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert in_flight >= 1 and accepted(store) == 2, "the kill did not hit a batch in its commit"

        # The real gateway, restarted: the broker redelivers what was never acknowledged.
        proc = start_gateway(config_path, log_path)
        wait_for(lambda: accepted(store) >= 42, timeout=30, what=f"all 42 summaries stored ({log_path})")
        assert seqs([line for (line,) in store_rows(store, "SELECT line FROM outbox_lines")]) == list(range(1, 43)), (
            "a summary lost or stored twice")
        counters = dict(store_rows(store, "SELECT name, value FROM counters"))
        assert counters.get("accepted") == 42 and not counters.get("duplicate"), counters
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_a_batch_whose_commit_never_happens_is_redelivered(tmp_path, mosquitto, board):
    """Manual acknowledgement is on: were paho acknowledging on arrival (its default), the broker
    would count these as delivered and never send them again."""
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    entered, release = threading.Event(), threading.Event()

    class HungStore(Outbox):  # a commit that never finishes, as on a hung SD card
        def ingest(self, messages):
            entered.set()
            release.wait(60)
            raise RuntimeError("released by the test")

    hung = HungStore(tmp_path / "hung.sqlite", cfg.workshop, cfg.registry)
    try:
        async with Running(Ingest(cfg, hung)) as ingest:
            await publish_as(mosquitto, DEVICE, board, summaries(range(1, 11)))
            await async_wait_for(lambda: ingest.health.received == 10 and entered.is_set(),
                                 what="10 summaries received, a commit begun")
            assert ingest.health.messages == 0
    finally:
        release.set()
        hung.close()
    with open_store(cfg) as store:
        async with Running(Ingest(cfg, store)) as ingest:
            await async_wait_for(lambda: store.counters().get("accepted") == 10, what="the 10 redelivered")
            assert stored_seqs(store) == list(range(1, 11))
            assert ingest.health.protocol == "5"


async def test_keepalives_go_on_while_a_commit_outlasts_the_keepalive(tmp_path):
    """The commit runs in a worker thread, so the event loop goes on sending PINGREQs while the
    store is slow: a broker stricter than this Mosquitto would otherwise drop the gateway."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.conf_file.write_text(broker.conf_file.read_text() + "log_type all\n")  # logs each PINGREQ
    password = broker.add_device(DEVICE)
    broker.start()
    raw = gateway_config(tmp_path, broker)
    raw["mqtt"]["keepalive_s"] = 5
    cfg = parse_config(raw)
    commit: list[float] = []

    class SlowStore(Outbox):  # an SD card taking 8 s for one commit
        def ingest(self, messages):
            commit.append(time.time())
            time.sleep(8)
            commit.append(time.time())
            return super().ingest(messages)

    try:
        with open_store(cfg, SlowStore) as store:
            async with Running(Ingest(cfg, store)) as ingest:
                await publish_as(broker, DEVICE, password, summaries([1]))
                await async_wait_for(lambda: store.counters().get("accepted") == 1, timeout=20,
                                     what="the slow commit")
                assert ingest.health.reconnects == 0
        pings = [int(line.split(":")[0]) for line in broker.log_tail(1_000_000).splitlines()
                 if f"PINGREQ from {cfg.mqtt.username}" in line]  # client id = user name
        # Mosquitto stamps its log in whole seconds: a ping strictly inside the commit.
        assert any(commit[0] < t + 1 and t < commit[1] - 1 for t in pings), (commit, pings)
    finally:
        broker.kill()


async def test_a_session_begun_with_mqtt_3_1_1_is_resumed_over_mqtt_5(tmp_path, mosquitto, board):
    """A gateway upgraded from the MQTT 3.1.1 ingest finds what its old session queued."""
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    subscribed = threading.Event()
    old = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cfg.mqtt.client_id, clean_session=False,
                      protocol=paho.MQTTv311)
    old.username_pw_set(mosquitto.gateway_user, mosquitto.gateway_password)
    old.on_connect = lambda c, *_: c.subscribe(SUBSCRIPTIONS)
    old.on_subscribe = lambda *_: subscribed.set()
    old.connect(mosquitto.host, mosquitto.port)
    old.loop_start()
    try:
        assert await asyncio.to_thread(subscribed.wait, 10), "old-style session not subscribed"
    finally:
        old.disconnect()
        old.loop_stop()
    await publish_as(mosquitto, DEVICE, board, summaries(range(1, 6)))  # queued for the old session
    with open_store(cfg) as store:
        async with Running(Ingest(cfg, store)):
            await async_wait_for(lambda: store.counters().get("accepted") == 5, what="the queued summaries")
            assert stored_seqs(store) == [1, 2, 3, 4, 5]


async def test_mqtt_3_1_1_for_a_broker_without_mqtt_5(tmp_path):
    from sewnet.embedded_broker import start_broker  # the demo's amqtt broker

    port, passwords = free_port(), {"gateway": "gw-pass-1234", DEVICE: "board-pass-1234"}
    broker = await start_broker(port, tmp_path / "amqtt", passwords, "gateway")
    amqtt = SimpleNamespace(host="127.0.0.1", port=port, gateway_user="gateway", gateway_password=passwords["gateway"])
    raw = gateway_config(tmp_path, amqtt)
    raw["mqtt"]["protocol"] = "3.1.1"
    cfg = parse_config(raw)
    try:
        with open_store(cfg) as store:
            async with Running(Ingest(cfg, store)) as ingest:
                assert ingest.health.protocol == "3.1.1"
                await publish_as(amqtt, DEVICE, passwords[DEVICE], summaries([1]))
                await async_wait_for(lambda: store.counters().get("accepted") == 1, what="a summary via amqtt")
    finally:
        await broker.shutdown()


# ---- a store that refuses or fails ---------------------------------------------------------------

class RefusingStore(Outbox):
    """Raises `error` (having written nothing) while `refusing` is set; notes when it was asked."""

    error: Exception = StoreFull("test: the disk policy refuses new data")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refusing = threading.Event()
        self.refused_at: list[float] = []

    def ingest(self, messages):
        if self.refusing.is_set():
            self.refused_at.append(time.monotonic())
            raise self.error
        return super().ingest(messages)


async def test_store_full_holds_the_messages_unacknowledged_and_ingest_resumes_by_itself(
        tmp_path, mosquitto, board):
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    with open_store(cfg, RefusingStore) as store:
        store.refusing.set()
        async with Running(Ingest(cfg, store)) as ingest:
            await publish_as(mosquitto, DEVICE, board, summaries(range(1, 21)))
            await async_wait_for(lambda: len(store.refused_at) >= 3, what="three refused attempts")
            h = ingest.health
            assert h.store_full_since is not None and h.messages == 0 and h.received == 20
            # Retried in place, spaced by a growing backoff: no reconnect, no tight loop.
            assert h.connected and h.reconnects == 0
            gaps = [b - a for a, b in zip(store.refused_at, store.refused_at[1:])]
            assert gaps[0] >= 0.2 and gaps[1] >= gaps[0], gaps

        # The gateway restarts while the disk is still full: the broker still has all 20.
        refused_before = len(store.refused_at)
        async with Running(Ingest(cfg, store)) as ingest:
            await publish_as(mosquitto, DEVICE, board, summaries(range(21, 31)))
            await async_wait_for(lambda: ingest.health.received == 30 and len(store.refused_at) > refused_before,
                                 what="the 20 redelivered and 10 more, refused again")
            assert store.counters().get("accepted") is None

            store.refusing.clear()  # space again
            await async_wait_for(lambda: store.counters().get("accepted") == 30, what="ingest resumed")
            assert stored_seqs(store) == list(range(1, 31))
            assert not store.counters().get("duplicate")
            h = ingest.health
            assert h.store_full_since is None and h.reconnects == 0 and h.store_errors == 0


async def test_a_failing_store_is_counted_logged_once_alerted_and_retried_with_backoff(
        tmp_path, mosquitto, board, caplog):
    cfg = parse_config(gateway_config(tmp_path, mosquitto))

    class FailingStore(RefusingStore):
        error = RuntimeError("test: the transaction failed")

    caplog.set_level(logging.ERROR, logger="sewnet.gateway.ingest")
    with open_store(cfg, FailingStore) as store:
        async with Running(Ingest(cfg, store)) as ingest:
            store.refusing.set()
            await publish_as(mosquitto, DEVICE, board, summaries(range(1, 6)))
            await async_wait_for(lambda: len(store.refused_at) >= 4, what="four failed attempts")
            h = ingest.health
            assert h.store_errors >= 4 and "RuntimeError" in h.store_error and h.store_error_since
            assert h.connected and h.reconnects == 0 and h.messages == 0
            logged = [r for r in caplog.records if r.exc_info and "test: the transaction failed" in str(r.exc_info[1])]
            assert len(logged) == 1, "one log entry per distinct error, not one per retry"
            gaps = [b - a for a, b in zip(store.refused_at, store.refused_at[1:])]
            assert min(gaps) >= 0.2 and gaps[-1] > gaps[0], gaps
            (alert,) = ingest.alerts()
            assert alert.key == "store_error" and alert.level == "error"
            assert "저장" in alert.ko and "installer" in alert.en and "RuntimeError" not in alert.ko + alert.en

            store.refusing.clear()
            await async_wait_for(lambda: store.counters().get("accepted") == 5, what="ingest resumed")
            assert stored_seqs(store) == [1, 2, 3, 4, 5] and ingest.alerts() == []
            assert h.store_error_since is None


# ---- the broker out of reach -----------------------------------------------------------------------

async def test_broker_out_of_reach_for_a_minute_is_an_alert_until_it_is_back(tmp_path):
    broker = Mosquitto(tmp_path / "mosquitto")  # not started yet
    cfg = parse_config(gateway_config(tmp_path, broker))
    t0 = time.time()
    with open_store(cfg) as store:
        ingest = Ingest(cfg, store)
        task = asyncio.create_task(ingest.run())
        try:
            await async_wait_for(lambda: ingest.health.last_error, what="a refused connection")
            assert ingest.alerts() == [], "not a minute yet"
            (alert,) = ingest.alerts(now=time.time() + 61)
            assert alert.key == "broker_unreachable" and alert.level == "error"
            assert t0 <= alert.since <= time.time()
            assert "브로커" in alert.ko and "1분" in alert.ko and "broker" in alert.en
            assert "Error" not in alert.ko + alert.en  # plain words, no exception text

            await asyncio.to_thread(broker.start)
            await async_wait_for(lambda: ingest.health.subscribed, timeout=15, what="connected once it is back")
            assert ingest.alerts(now=time.time() + 3600) == []

            broker.kill()
            await async_wait_for(lambda: not ingest.health.connected, what="the loss noticed")
            assert [a.key for a in ingest.alerts(now=time.time() + 61)] == ["broker_unreachable"]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            broker.kill()


async def test_a_refused_login_is_retried_with_backoff_and_reported(tmp_path, mosquitto):
    raw = gateway_config(tmp_path, mosquitto)
    raw["mqtt"]["password"] = "not-the-password"
    cfg = parse_config(raw)
    with open_store(cfg) as store:
        ingest = Ingest(cfg, store)
        task = asyncio.create_task(ingest.run())
        try:
            await async_wait_for(lambda: "Not authorized" in (ingest.health.last_error or ""),
                                 what="the refusal reported")
            assert not ingest.health.connected and ingest.health.disconnected_since is not None
            assert [a.key for a in ingest.alerts(now=time.time() + 61)] == ["broker_unreachable"]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# ---- oversize payloads ---------------------------------------------------------------------------

class RecordingStore(Outbox):
    """Notes the longest payload ingest handed it."""

    longest = 0

    def ingest(self, messages):
        self.longest = max([self.longest, *(len(m.payload) for m in messages)])
        return super().ingest(messages)


async def test_an_oversize_payload_is_cut_on_arrival_and_counted_with_its_size(tmp_path, unlimited):
    mosquitto, board = unlimited
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    big = b'{"v":1,"pad":"' + b"x" * 60_000
    small = summary(DEVICE, 99, pad="y" * 500)
    with open_store(cfg, RecordingStore) as store:
        async with Running(Ingest(cfg, store)):
            await publish_as(mosquitto, DEVICE, board, [(TOPIC, big, False), (TOPIC, small, False), *summaries([1])])
            await async_wait_for(lambda: store.counters().get("accepted") == 1, what="the valid summary")
            assert store.counters().get("rejected.oversized") == 2
            assert store.longest <= KEEP_REJECTED_BYTES, "a payload waited whole before the store"
            kept = {r["detail"]: r["payload"] for r in store.rejected() if r["reason"] == "oversized"}
            assert kept == {f"{len(big)} bytes > {MAX_PAYLOAD_BYTES}": big[:KEEP_REJECTED_BYTES],
                            f"{len(small)} bytes > {MAX_PAYLOAD_BYTES}": small}


def test_a_64_mib_payload_does_not_grow_the_gateway_process(tmp_path):
    """A broker set up without message_size_limit: the gateway's MQTT 5 Maximum Packet Size keeps
    the broker from sending it the payload at all (before: the gateway peaked at ~4x the payload)."""
    broker = mosquitto_without_size_limit(tmp_path / "mosquitto")
    password = broker.add_device(DEVICE)
    broker.start()
    config_path = tmp_path / "gateway.toml"
    config_path.write_text(toml(gateway_config(tmp_path, broker)))
    store, log_path = tmp_path / "gw" / "gateway.sqlite", tmp_path / "gateway.log"
    gw = start_gateway(config_path, log_path)
    try:
        wait_for(lambda: b"connected to mqtt" in log_path.read_bytes(), timeout=20, what=f"subscribed ({log_path})")
        publish_sync(broker, DEVICE, password, summaries([1]))
        wait_for(lambda: accepted(store) == 1, timeout=30, what=f"gateway up and storing ({log_path})")
        before_kib = proc_status_kib(gw.pid, "VmRSS")
        publish_sync(broker, DEVICE, password, [(TOPIC, b"{" + b"x" * (64 * 2**20 - 1), False)], timeout=120)
        publish_sync(broker, DEVICE, password, summaries([2]))
        # The broker sends in order: with the next summary stored, the big one has been dealt with.
        wait_for(lambda: accepted(store) == 2, timeout=60, what="the summary after the big payload")
        grown_mib = (proc_status_kib(gw.pid, "VmHWM") - before_kib) / 1024
        assert gw.poll() is None
        assert grown_mib < 16, f"gateway peak RSS grew by {grown_mib:.0f} MiB for a 64 MiB payload"
    finally:
        gw.kill()
        gw.wait()
        broker.kill()


# ---- fuzzing the boundary --------------------------------------------------------------------------

def _payloads():
    valid = st.builds(lambda seq, stitches: summary(DEVICE, seq, stitches=stitches),
                      st.integers(1, 10**6), st.integers(0, 20_000))
    json_ish = st.dictionaries(st.sampled_from(["v", "device", "boot", "seq", "stitches", "fw", "state"]),
                               st.one_of(st.integers(-2**63, 2**64), st.text(max_size=40), st.none(),
                                         st.booleans(), st.floats(allow_nan=True)),
                               max_size=7).map(lambda d: json.dumps(d).encode())
    raw = st.binary(max_size=700)
    # Anything up to the gateway's Maximum Packet Size reaches it; the first bytes vary so a
    # kept prefix can be matched to what was sent.
    big = st.tuples(st.binary(min_size=8, max_size=8), st.integers(MAX_PAYLOAD_BYTES + 1, 60_000)).map(
        lambda t: t[0] + b"z" * (t[1] - 8))
    return st.one_of(valid, json_ish, raw, big)


async def test_fuzzed_messages_are_each_decided_once_and_never_kept_whole_when_oversize(tmp_path, unlimited):
    mosquitto, board = unlimited
    cfg = parse_config(gateway_config(tmp_path, mosquitto))
    kinds = st.sampled_from(["summary", "status"])

    with open_store(cfg, RecordingStore) as store:
        async with Running(Ingest(cfg, store)) as ingest:

            @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
            @given(st.lists(st.tuples(kinds, _payloads(), st.booleans()), min_size=1, max_size=6))
            def check(messages):
                before = ingest.health.messages
                publish_sync(mosquitto, DEVICE, board,
                             [(f"sewnet/v1/{DEVICE}/{kind}", payload, retain) for kind, payload, retain in messages])
                # Every message decided (stored, dropped as duplicate, kept as rejected) and acked.
                wait_for(lambda: ingest.health.messages >= before + len(messages), timeout=20,
                         what="every fuzzed message decided")
                assert store.longest <= KEEP_REJECTED_BYTES
                details = {r["detail"] for r in store.rejected(10_000) if r["reason"] == "oversized"}
                for _, payload, _ in messages:
                    if len(payload) > MAX_PAYLOAD_BYTES:
                        assert f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}" in details

            await asyncio.to_thread(check)
            c = store.counters()
            decided = sum(v for k, v in c.items()
                          if k in ("accepted", "duplicate", "status") or k.startswith("rejected."))
            assert decided == ingest.health.messages
            h = ingest.health
            assert h.connected and h.reconnects == 0 and h.store_errors == 0
