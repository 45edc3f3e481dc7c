"""The gateway's SQLite store: dedup, durability across reopen, delete-after-confirm, counters."""

from __future__ import annotations

import json
import sqlite3

import pytest

from edge_gateway.outbox import Incoming, StoreFull
from tests.unit.boards import D1, D2, T0, msg, open_store


def test_store_is_wal_with_full_sync(tmp_path):
    with open_store(tmp_path) as s:
        assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_duplicates_dropped_within_a_batch_and_across_reopen(tmp_path):
    with open_store(tmp_path) as s:
        r = s.ingest([msg(D1, 1), msg(D1, 2), msg(D1, 1), msg(D2, 1)])
        assert (r.accepted, r.duplicates) == (3, 1)
    with open_store(tmp_path) as s:
        # Same identity again after a restart (the broker's redelivery): dropped and counted.
        r = s.ingest([msg(D1, 2), msg(D2, 1), msg(D1, 3)])
        assert (r.accepted, r.duplicates) == (1, 2)
        # Same seq in a new boot is a new summary.
        assert s.ingest([msg(D1, 1, boot=2)]).accepted == 1
        assert s.counters() == {"accepted": 5, "duplicate": 3}
        assert s.pending_stats()[0] == 5


def test_rows_survive_reopen_in_order(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, i) for i in range(1, 6)] + [msg(D2, i) for i in range(1, 4)])
        before = s.pending(100)
    with open_store(tmp_path) as s:
        after = s.pending(100)
    assert after == before and len(after) == 8
    # Sorted by series then time within the batch.
    assert [(p.series, p.ts) for p in after] == sorted((p.series, p.ts) for p in after)


def test_pending_takes_the_oldest_first_then_sorts_by_series(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D2, 1), msg(D1, 1)])
        s.ingest([msg(D2, 2), msg(D1, 2)])
        first = s.pending(3)
        # The three oldest rows (D2#1, D1#1, D2#2), presented series-sorted.
        assert [(p.series, p.ts) for p in first] == [("m01", T0 + 10), ("m02", T0 + 10), ("m02", T0 + 20)]


def test_lines_are_deleted_only_by_confirm(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, i) for i in range(1, 11)])
        batch = s.pending(4)
        # Reading is not sending: without a confirmation the same lines come back.
        assert s.pending(4) == batch
    with open_store(tmp_path) as s:
        assert s.pending(4) == batch
        assert s.confirm([p.id for p in batch]) == 4
        rest = s.pending(100)
        assert len(rest) == 6 and not {p.id for p in rest} & {p.id for p in batch}
        # Confirming again (a late duplicate 2xx) deletes nothing and counts nothing.
        assert s.confirm([p.id for p in batch]) == 0
        assert s.counters()["sent"] == 4
    with open_store(tmp_path) as s:
        assert s.pending(100) == rest


def test_dead_letter_moves_lines_with_reason(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, i) for i in range(1, 4)])
        bad = s.pending(1)[0]
        assert s.dead_letter([bad.id], "HTTP 400: partial write", now=T0) == 1
        assert [p.id for p in s.pending(10)] != [] and bad.id not in [p.id for p in s.pending(10)]
        dead = s.dead_letters()
        assert dead == [{"id": dead[0]["id"], "line": bad.line, "reason": "HTTP 400: partial write",
                         "stored_at": bad.stored_at, "failed_at": T0}]
        assert s.counters()["dead_letter"] == 1


def test_counters_per_reason_and_rejections_kept_up_to_the_limit(tmp_path):
    with open_store(tmp_path, rejected_keep=3) as s:
        batch = [
            Incoming(f"sewnet/v1/{D1}/summary", b"not json", T0),
            Incoming(f"sewnet/v1/{D1}/summary", b"x" * 600, T0),
            Incoming(f"sewnet/v1/{D1}/summary", b'{"v":7}', T0),
            Incoming(f"sewnet/v1/{D1}/summary", b"[]", T0),
            msg(D1, 1, stitches=-5),
            msg(D1, 2),
        ]
        r = s.ingest(batch)
        assert r.accepted == 1 and sum(r.rejected.values()) == 5
        assert s.counters() == {"accepted": 1, "rejected.malformed_json": 2, "rejected.oversized": 1,
                                "rejected.unsupported_version": 1, "rejected.schema": 1}
        kept = s.rejected()
        assert [k["reason"] for k in kept] == ["schema", "malformed_json", "unsupported_version"]


def test_a_store_fault_rolls_the_whole_batch_back_and_raises(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, 1)])
        # The file may not grow any more: SQLite's own "database or disk is full", no mock. That is
        # the store's fault, not a message's: nothing of the batch may stick and ingest must raise
        # StoreFull (the caller then does not acknowledge, and the broker keeps the batch).
        pages = s._db.execute("PRAGMA page_count").fetchone()[0]
        s._db.execute(f"PRAGMA max_page_count={pages}")
        with pytest.raises(StoreFull, match="full"):
            s.ingest([msg(D1, i) for i in range(2, 500)] + [msg(D2, 1)])
        s._db.execute("PRAGMA max_page_count=1073741823")
        # Not the lines, not the identities, not the counters, not the seconds taken.
        assert s.pending_stats()[0] == 1 and s.counters() == {"accepted": 1}
        r = s.ingest([msg(D1, 2), msg(D2, 1)])
        assert (r.accepted, r.duplicates) == (2, 0)
        assert [p.ts for p in s.pending(10) if p.series == "m01"] == [T0 + 10, T0 + 20]


def test_status_and_todays_stitches(tmp_path):
    with open_store(tmp_path, timezone="Asia/Seoul") as s:
        status = {"v": 1, "device": D1, "state": "offline", "boot": 1, "fw": "0.1.0", "counter": "irq",
                  "interval_ms": 10_000}
        s.ingest([Incoming(f"sewnet/v1/{D1}/status", json.dumps(status).encode(), T0, retained=True)])
        d = {x["device"]: x for x in s.devices(now=T0)}
        assert d[D1]["state"] == "offline" and d[D1]["last_seen"] is None  # retained: not proof of life
        s.ingest([msg(D1, i, stitches=100) for i in range(1, 4)])
        s.ingest([msg(D1, 2, stitches=100)])  # a duplicate must not count twice
        d = {x["device"]: x for x in s.devices(now=T0 + 60)}
        assert d[D1]["stitches_today"] == 300 and d[D1]["last_seen"] == T0 + 30.5
        assert d[D2]["stitches_today"] == 0 and d[D2]["state"] is None
        # T0 is 2025-11-23 21:13 in Seoul: a day later the count starts again.
        assert {x["device"]: x for x in s.devices(now=T0 + 86400)}[D1]["stitches_today"] == 0


def test_missing_summaries_are_counted_from_seq_gaps(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, 1), msg(D1, 4)])
        assert s.counters()["missing"] == 2
        s.ingest([msg(D1, 2)])  # one of them arrives late
        assert s.counters()["missing"] == 1


def test_refuses_a_bogus_synchronous_level(tmp_path):
    with pytest.raises(ValueError):
        open_store(tmp_path, synchronous="FULL; DROP TABLE outbox")


def test_other_process_can_read_while_open(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, 1)])
        ro = sqlite3.connect(f"file:{tmp_path / 'gw.sqlite'}?mode=ro", uri=True)
        assert ro.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
        ro.close()
