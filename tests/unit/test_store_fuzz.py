"""Fuzzing the store's boundary with hypothesis.

- StoreConfig: any TOML-ish value for any store key either gives a config the store can run
  with, or a ConfigError naming the key.
- The store as a state machine on a REAL small filesystem (tests/disks.py) that the fuzzer fills
  and frees: random batches (with duplicates, bad messages and a message that fails the batch),
  uplink reads, confirmations, dead letters, a full disk at any moment, reopening. Checked
  against a model after every step: each accepted summary is waiting, delivered or dead-lettered
  exactly once; nothing refused was written; the counters agree.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from edge_gateway.config import ConfigError, StoreConfig, parse_config
from edge_gateway.outbox import BatchResult, Incoming, Outbox, StoreFull
from tests.disks import fill, small_filesystem
from tests.unit.boards import D1, D2, REGISTRY, T0, WORKSHOP

MB = 1024 * 1024

values = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=8), st.booleans(),
                   st.none(), st.lists(st.integers(), max_size=2))
store_keys = st.sampled_from(sorted(StoreConfig.model_fields) + ["max_store_bytes", "min_free", "store"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(store_keys, values, max_size=4))
def test_any_store_section_is_usable_or_refused_naming_the_key(section):
    data = {"workshop": "ws-1", "data_dir": "/tmp/x", "uplink": {"url": "http://127.0.0.1:8086"}, "store": section}
    try:
        cfg = parse_config(data)
    except ConfigError as exc:
        assert any(f"store.{k}" in str(exc) for k in section), str(exc)
        return
    s = cfg.store
    assert s.min_free_bytes >= 0 and s.max_store_bytes >= 0 and s.rejected_keep >= 1 and s.seen_keep_days > 0
    assert s.synchronous in ("NORMAL", "FULL", "EXTRA")


DEVICES = [D1, D2, "sn-unregistered1"]


@st.composite
def messages(draw) -> list[Incoming]:
    out = []
    for _ in range(draw(st.integers(1, 25))):
        device = draw(st.sampled_from(DEVICES))
        kind = draw(st.sampled_from(["summary"] * 6 + ["garbage", "status"]))
        if kind == "garbage":
            payload = draw(st.binary(max_size=40))
        elif kind == "status":
            payload = json.dumps({"v": 1, "device": device, "state": "online", "boot": 1, "fw": "0.1.0",
                                  "counter": "irq", "interval_ms": 10_000}).encode()
        else:
            seq, boot = draw(st.integers(1, 60)), draw(st.integers(1, 2))
            payload = json.dumps({"v": 1, "device": device, "boot": boot, "seq": seq, "uptime_ms": 10_000 * seq,
                                  "interval_ms": 10_000, "stitches": draw(st.integers(0, 2000)), "run_ms": 1000,
                                  "stops": 0, "peak_spm": 3000, "total": 10_000 + seq, "time": T0 + 10 * seq}).encode()
        out.append(Incoming(f"sewnet/v1/{device}/{'status' if kind == 'status' else 'summary'}", payload,
                            T0 + draw(st.integers(0, 10_000)) + 0.5))
    return out


class StoreMachine(RuleBasedStateMachine):
    disk: Path  # set by the test: a small tmpfs shared by the examples, emptied between them
    seen: Counter = Counter()  # what the examples went through, to check the fuzzer reaches the faults

    @initialize(config=st.builds(StoreConfig, min_free_mb=st.sampled_from([0, 0, 1, 2]),
                                 max_store_mb=st.sampled_from([0, 0, 1]),
                                 synchronous=st.sampled_from(["NORMAL", "FULL"]),
                                 rejected_keep=st.integers(1, 50)))
    def open(self, config: StoreConfig):
        for p in self.disk.iterdir():
            p.unlink() if p.is_file() else shutil.rmtree(p)
        self.config = config
        self.path = self.disk / "gateway.sqlite"
        self.store = self._open()
        self.pending: Counter = Counter()  # lines waiting
        self.delivered: Counter = Counter()  # lines confirmed by the server
        self.dead: Counter = Counter()
        self.accepted = 0
        self.handed_out: list = []  # the last batch the "uplink" read
        self.ballast: Path | None = None

    def _open(self) -> Outbox:
        c = self.config
        return Outbox(self.path, WORKSHOP, REGISTRY, synchronous=c.synchronous, rejected_keep=c.rejected_keep,
                      min_free_bytes=c.min_free_bytes, max_store_bytes=c.max_store_bytes)

    def teardown(self):
        if hasattr(self, "store"):
            self.store.close()

    @rule(batch=messages())
    def ingest(self, batch):
        self._ingest(batch)

    def _ingest(self, batch) -> BatchResult | None:
        before = self.store.counters()
        try:
            r = self.store.ingest(batch)
        except StoreFull:
            # Refused means nothing written: same counters (and the model does not move).
            assert self.store.counters() == before
            self.seen["refused"] += 1
            return None
        self.seen["accepted"] += r.accepted
        assert r.accepted == len(r.lines)
        self.pending.update(r.lines)
        self.accepted += r.accepted
        return r

    @rule(batch=messages(), at=st.integers(0, 25))
    def ingest_a_message_that_fails_the_batch(self, batch, at):
        """A message that makes the batch's transaction fail (no payload: validation itself raises)
        is taken out and kept as store_error, the rest is stored; on a full disk, nothing is."""
        broken = Incoming(f"sewnet/v1/{D1}/summary", None, T0)  # type: ignore[arg-type]
        r = self._ingest(batch[:at] + [broken] + batch[at:])
        if r is not None:
            assert r.rejected["store_error"] == 1
            self.seen["store_error"] += 1

    @rule(limit=st.integers(1, 80))
    def uplink_reads(self, limit):
        self.handed_out = self.store.pending(limit)
        assert len(self.handed_out) == min(limit, sum(self.pending.values()))

    @rule(limit=st.integers(1, 80), data=st.data())
    def uplink_sends(self, limit, data):
        """Read a batch and settle it at once: most lines accepted, a few refused as bad data."""
        self.uplink_reads(limit)
        if not self.handed_out:
            return
        if self.ballast is None and data.draw(st.booleans()):
            self.disk_fills_up(0)  # while the batch is on its way to the server
        refused = data.draw(st.lists(st.sampled_from(self.handed_out), max_size=2, unique=True))
        if refused:
            self.store.dead_letter([p.id for p in refused], "HTTP 400: fuzzed")
            self._settled(refused, self.dead)
        if self.handed_out:
            self.server_accepts(data)

    @precondition(lambda self: self.handed_out)
    @rule(data=st.data())
    def server_accepts(self, data):
        lines = data.draw(st.lists(st.sampled_from(self.handed_out), min_size=1, unique=True))
        self.store.confirm(p.id for p in lines)
        self._settled(lines, self.delivered)
        if "sent_not_removed" in {a.key for a in self.store.alerts()}:
            self.seen["delivered on a full disk"] += 1

    @precondition(lambda self: self.handed_out)
    @rule(data=st.data())
    def server_refuses(self, data):
        lines = data.draw(st.lists(st.sampled_from(self.handed_out), min_size=1, max_size=3, unique=True))
        self.store.dead_letter([p.id for p in lines], "HTTP 400: fuzzed")
        self._settled(lines, self.dead)

    def _settled(self, lines, into: Counter) -> None:
        for p in lines:
            if self.pending[p.line] > 0 and p in self.handed_out:
                self.pending[p.line] -= 1
                into[p.line] += 1
        self.handed_out = [p for p in self.handed_out if p not in lines]

    @rule(leave=st.sampled_from([0, 0, 4096, 64 * 1024]))
    def disk_fills_up(self, leave):
        self.ballast = fill(self.disk, leave=leave)

    @precondition(lambda self: self.ballast is not None)
    @rule()
    def room_again(self):
        self.ballast.unlink()
        self.ballast = None

    @rule()
    def restart(self):
        self.store.close()
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        in_file = Counter(r[0] for r in db.execute("SELECT line FROM outbox_lines"))
        sent = dict(db.execute("SELECT name, value FROM counters")).get("sent", 0)
        db.close()
        # Lines delivered while the disk was full and still in the file go out once more after
        # a restart (the server overwrites them): back to waiting in the model too.
        for line, n in (in_file - self.pending).items():
            came_from = self.delivered if self.delivered[line] else self.dead
            assert came_from[line] >= n
            came_from[line] -= n
            self.pending[line] += n
        assert in_file == +self.pending
        # Every delivered line that left the file was counted as sent, once.
        assert sent == sum(self.delivered.values())
        try:
            self.store = self._open()
        except StoreFull:
            # Not even room to open the file (SQLite needs a few KB for its WAL): said in one
            # line; the technician makes room.
            assert self.ballast is not None or self.config.min_free_mb == self.config.max_store_mb == 0
            if self.ballast is not None:
                self.room_again()
            self.store = self._open()
        self.handed_out = []
        self.seen["restart"] += 1

    @invariant()
    def every_accepted_summary_is_in_exactly_one_place(self):
        if not hasattr(self, "store"):
            return
        waiting = Counter(p.line for p in self.store.pending(100_000))
        assert waiting == +self.pending
        places = (self.pending, self.delivered, self.dead)
        assert sum(sum((+c).values()) for c in places) == self.accepted
        assert self.store.pending_stats()[0] == sum(self.pending.values())
        counters = self.store.counters()
        assert counters.get("accepted", 0) == self.accepted
        # Delivered/dead lines are counted when they leave the file (possibly later).
        assert counters.get("sent", 0) <= sum(self.delivered.values())
        assert counters.get("dead_letter", 0) <= sum(self.dead.values())


@pytest.fixture
def small_disk(tmp_path):
    with small_filesystem(tmp_path / "sd", 3 * MB) as where:
        yield where


def test_store_state_machine(small_disk):
    StoreMachine.disk = small_disk
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(StoreMachine, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    seen = StoreMachine.seen
    print(dict(seen))
    assert seen["accepted"] and seen["refused"] and seen["delivered on a full disk"] and seen["restart"], seen
    assert seen["store_error"], seen
