"""Disk policy and a full disk, on a real small filesystem (tests/disks.py): the store refuses new
data before the disk is full, survives a full disk while removing sent lines, and recovers by
itself when there is room again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge_gateway.outbox import StoreFull
from edge_gateway.store_health import disk_refusal
from tests.disks import fill, free_bytes, rows_on_disk, small_filesystem
from tests.unit.boards import D1, D2, T0, msg, store_at
from tests.waiting import wait_for

MB = 1024 * 1024


@pytest.fixture
def disk(tmp_path):
    with small_filesystem(tmp_path / "sd", 8 * MB) as where:
        yield where


def batch(first: int, n: int = 250) -> list:
    return [msg(d, q) for q in range(first, first + n) for d in (D1, D2)]



def checkpoint(path: Path) -> None:
    # The WAL back to 0 bytes: the next write must take new blocks of the disk, as it does
    # after every checkpoint of a running gateway.
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def test_disk_refusal_is_the_policy():
    assert disk_refusal(free_bytes=10, store_bytes=10, min_free_bytes=0, max_store_bytes=0) is None
    assert disk_refusal(99, 5, 100, 0) == "disk"
    assert disk_refusal(100, 5, 100, 0) is None
    assert disk_refusal(10**9, 50, 100, 50) == "store"
    assert disk_refusal(10**9, 49, 100, 50) is None


def test_the_policy_refuses_before_the_disk_is_full_writing_nothing_and_recovers_when_sent(disk):
    path = disk / "gateway.sqlite"
    with store_at(path, min_free_bytes=5 * MB) as s:
        first = 1
        with pytest.raises(StoreFull):
            while True:
                s.ingest(batch(first))
                first += 250
        # The disk still has room: the policy stopped first, not the disk.
        assert free_bytes(disk) >= 4 * MB
        stored, counters = s.pending_stats()[0], s.counters()
        assert stored == 2 * (first - 1) and counters["accepted"] == stored
        with pytest.raises(StoreFull):
            s.ingest(batch(first))
        # Refused means not written: nothing of the batch in the outbox, the counters or dedup.
        assert s.pending_stats()[0] == stored and s.counters() == counters
        (alert,) = s.alerts()
        assert alert.key == "disk_low" and alert.level == "error"
        assert alert.ko.startswith("저장 공간 부족") and "인터넷" in alert.ko and "MQTT" in alert.en
        # The uplink sends the backlog: the file keeps its size, but its free pages are room.
        while lines := s.pending(1000):
            s.confirm(p.id for p in lines)
        assert s.alerts() == []
        r = s.ingest(batch(first))
        assert (r.accepted, r.duplicates) == (500, 0)


def test_the_store_size_limit_refuses_and_recovers(tmp_path):
    with store_at(tmp_path / "gw.sqlite", max_store_bytes=1 * MB) as s:
        first = 1
        with pytest.raises(StoreFull, match="store"):
            while True:
                s.ingest(batch(first))
                first += 250
        assert [a.key for a in s.alerts()] == ["disk_low"] and "한도" in s.alerts()[0].ko
        s.confirm(p.id for p in s.pending(2 * (first - 1)))
        assert s.alerts() == [] and s.ingest(batch(first)).accepted == 500


def test_a_full_disk_refuses_the_batch_cleanly_even_without_a_policy(disk):
    path = disk / "gateway.sqlite"
    with store_at(path) as s:
        s.ingest(batch(1))
        checkpoint(path)
        ballast = fill(disk)
        # SQLite itself hits ENOSPC: the batch is refused as StoreFull (not acknowledged, kept
        # by the broker), not as an error that would make the ingest loop reconnect.
        with pytest.raises(StoreFull):
            s.ingest(batch(251))
        assert s.pending_stats()[0] == 500 and s.counters()["accepted"] == 500
        assert [a.key for a in s.alerts()] == ["disk_low"]
        ballast.unlink()
        assert s.ingest(batch(251)).accepted == 500
        assert s.alerts() == []


def test_lines_sent_while_the_disk_is_full_are_never_handed_out_again_and_removed_later(disk):
    path = disk / "gateway.sqlite"
    with store_at(path) as s:
        s.ingest(batch(1, 1000))
        sent = s.pending(600)
        refused = [p for p in s.pending(601) if p not in sent]
        checkpoint(path)
        ballast = fill(disk)
        # The server accepted `sent` and refused one more line as bad data; removing them
        # fails for lack of space.
        assert s.confirm(p.id for p in sent) == 600
        assert s.dead_letter([refused[0].id], "HTTP 400: bad line") == 1
        assert rows_on_disk(path) == 2000, "the lines are still in the file: the delete failed"
        # ... yet they are not handed out again, and not counted as waiting.
        rest = s.pending(5000)
        assert len(rest) == 2000 - 601 and not {p.id for p in rest} & {p.id for p in sent + refused}
        assert s.pending_stats()[0] == 2000 - 601
        assert s.confirm(p.id for p in sent) == 0, "a late duplicate confirmation counts nothing"
        alerts = {a.key: a for a in s.alerts()}
        assert "601건" in alerts["sent_not_removed"].ko and "601 summaries" in alerts["sent_not_removed"].en
        # Room again: the removal is retried by itself, the waiting lines are as before.
        ballast.unlink()
        # (The uplink asks for pending lines every few seconds; the retry rides on that.)
        wait_for(lambda: s.pending_stats() and rows_on_disk(path) == 2000 - 601, timeout=10,
                 what="delivered lines removed", interval=0.2)
        assert s.counters()["sent"] == 600 and s.counters()["dead_letter"] == 1
        assert [d["line"] for d in s.dead_letters()] == [refused[0].line]
        assert "sent_not_removed" not in {a.key for a in s.alerts()}
        assert s.pending(5000) == rest


def test_pruning_on_a_full_disk_waits_for_room_instead_of_failing_the_ingest_loop(disk):
    """prune_seen runs in the ingest loop: an error there would make the loop reconnect (and it
    raised SQLite's "database or disk is full")."""
    path = disk / "gateway.sqlite"
    with store_at(path, seen_keep_s=3600) as s:
        s.ingest(batch(1))
        checkpoint(path)
        ballast = fill(disk)
        assert s.prune_seen(now=T0 + 86400) == 0  # deleting writes to the WAL first: nothing forgotten yet
        ballast.unlink()
        assert s.prune_seen(now=T0 + 86400) == 500  # the seconds taken a day ago
        assert s.ingest(batch(251)).accepted == 500
