"""A damaged store file is set aside, what is readable is carried over, and ingest goes on.

The damage is real: bytes of the SQLite file are overwritten on disk, as a failing SD card or a
power cut during a write would leave them. Nothing is mocked.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from pathlib import Path

import pytest

from edge_gateway import store_schema
from edge_gateway.outbox import StoreDamaged
from tests.unit.boards import D1, D2, T0, msg, store_at

SEQS = 1500  # per board: enough for the tables to span dozens of pages


def filled_store(path: Path) -> list[str]:
    """A closed store with SEQS summaries of each board waiting; returns the waiting lines."""
    with store_at(path) as s:
        for start in range(1, SEQS + 1, 500):
            s.ingest([msg(d, q) for q in range(start, start + 500) for d in (D1, D2)])
        lines = [p.line for p in s.pending(10 * SEQS)]
    assert len(lines) == 2 * SEQS
    return lines


def checkpoint(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def leaf_pages(path: Path, table: str) -> list[tuple[int, int]]:
    """(page number, rows on it) of the table's leaf pages, in key order."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT pageno, ncell FROM dbstat WHERE name=? AND pagetype='leaf' ORDER BY path",
                      (table,)).fetchall()
    db.close()
    return rows


def last_leaf(path: Path, table: str) -> int:
    """The page where the table's highest keys are: where the next summary of the last board goes."""
    return leaf_pages(path, table)[-1][0]


def smash(path: Path, page: int, seed: int = 5) -> None:
    """Overwrite one page of the file with noise, behind SQLite's back."""
    size = 4096
    with open(path, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(random.Random(seed).randbytes(size))


def touch(path: Path) -> None:
    """Another connection's write (of the version it has): the store's connection drops its page
    cache and reads the file again, as it would after any commit of a long-running gateway."""
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {store_schema.latest()}")
    db.close()


def damaged_files(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if ".damaged-" in p.name)


def missing(store) -> dict[str, int]:
    return {d["device"]: d["missing"] for d in store.devices(now=T0)}


def store_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "sewnet.gateway.store" and r.levelno >= logging.ERROR]


def test_a_file_with_a_garbage_header_is_set_aside_with_one_clear_line_and_ingest_goes_on(tmp_path, caplog):
    path = tmp_path / "gateway.sqlite"
    filled_store(path)
    checkpoint(path)
    with open(path, "r+b") as f:
        f.write(b"this is not an SQLite header, a bad SD card wrote it" * 2)
    damaged = path.read_bytes()
    caplog.set_level(logging.INFO)
    with store_at(path) as s:
        # Nothing could be read (the header is gone), but the gateway stores again at once.
        assert s.pending_stats()[0] == 0
        assert s.ingest([msg(D1, 1), msg(D2, 1)]).accepted == 2
        alerts = s.alerts()
    (aside,) = damaged_files(path)
    assert aside.read_bytes() == damaged, "the damaged file is kept as it was, for a technician"
    (line,) = store_errors(caplog)
    assert "damaged" in line.getMessage() and aside.name in line.getMessage() and line.exc_info is None
    (alert,) = alerts
    assert alert.key == "store_replaced" and aside.name in alert.ko and aside.name in alert.en
    assert "0건" in alert.ko and "기술 담당자" in alert.ko
    # Started again: the new file is healthy, no second file is set aside, the alert stays
    # until someone has dealt with the set-aside file...
    with store_at(path) as s:
        assert s.pending_stats()[0] == 2 and [a.key for a in s.alerts()] == ["store_replaced"]
        aside.unlink()
        # ... and goes once they have.
        assert s.alerts() == []
    assert damaged_files(path) == []


def test_one_bad_page_in_the_middle_loses_only_the_lines_on_it(tmp_path, caplog):
    path = tmp_path / "gateway.sqlite"
    lines = filled_store(path)
    checkpoint(path)
    outbox_pages = leaf_pages(path, "outbox")
    bad, on_bad_page = outbox_pages[len(outbox_pages) // 2]
    smash(path, bad)
    # Every later summary of the second board takes its second in this page of `stamps`, so
    # without a check at start ingest fails for good (and the gateway stays up, storing nothing).
    smash(path, last_leaf(path, "stamps"), seed=6)
    caplog.set_level(logging.INFO)
    with store_at(path) as s:
        kept = [p.line for p in s.pending(10 * SEQS)]
        # Every line not on the bad page was carried over, in order; the others are in the
        # set-aside file.
        assert len(kept) == len(lines) - on_bad_page
        assert set(kept) < set(lines)
        assert sorted(kept) == sorted(ln for ln in lines if ln in set(kept))
        r = s.ingest([msg(D2, SEQS + 1), msg(D1, SEQS + 1)])
        assert r.accepted == 2
        # What could be carried over of the dedup table still drops a replay.
        assert s.ingest([msg(D1, 1)]).duplicates == 1
        (alert,) = s.alerts()
        assert f"{len(kept)}건" in alert.ko and f"{len(kept)} summaries" in alert.en
    assert len(damaged_files(path)) == 1
    assert len(store_errors(caplog)) == 1


def test_damage_found_while_running_sets_the_file_aside_and_keeps_the_batch(tmp_path, caplog):
    path = tmp_path / "gateway.sqlite"
    lines = filled_store(path)
    with store_at(path) as s:
        handed_out = s.pending(100)  # the uplink is sending these while the file goes bad
        checkpoint(path)
        smash(path, last_leaf(path, "stamps"))
        touch(path)
        caplog.set_level(logging.INFO)
        r = s.ingest([msg(D1, SEQS + 1), msg(D2, SEQS + 1)])  # D2's second goes into the bad page
        # The batch that met the damage went into the new store: it was not acknowledged yet,
        # and must not wait for the broker's redelivery.
        assert r.accepted == 2
        assert [a.key for a in s.alerts()] == ["store_replaced"]
        now = s.pending(10 * SEQS)
        assert {p.line for p in now} >= set(lines[:100])  # the outbox itself was readable
        # The uplink's late confirmation of lines handed out before the replacement removes
        # exactly those, never a new line that took a reused id.
        assert s.confirm([p.id for p in handed_out]) == len(handed_out)
        left = {p.line for p in s.pending(10 * SEQS)}
        assert left == {p.line for p in now} - {p.line for p in handed_out}
        assert len(left) == 2 * SEQS + 2 - 100
    assert len(damaged_files(path)) == 1
    (line,) = store_errors(caplog)
    assert "malformed" in line.getMessage() and line.exc_info is None


def test_a_second_damage_within_minutes_stops_storing_and_says_the_card_may_be_failing(tmp_path, caplog):
    path = tmp_path / "gateway.sqlite"
    filled_store(path)
    with store_at(path) as s:
        for round_ in range(2):
            s.ingest([msg(d, SEQS + 1 + q, boot=10 + round_) for q in range(1500) for d in (D1, D2)])
            checkpoint(path)
            smash(path, last_leaf(path, "stamps"), seed=round_)
            touch(path)
            if round_ == 0:  # (a later second than every other: it goes into the bad page)
                assert s.ingest([msg(D2, 3 * SEQS, boot=50)]).accepted == 1
        with pytest.raises(StoreDamaged, match="SD card"):
            s.ingest([msg(D2, 4 * SEQS, boot=60)])
        # Refused from now on, with no SQL on the bad file, and said on the page.
        with pytest.raises(StoreDamaged):
            s.ingest([msg(D1, 1, boot=70)])
        assert "store_failing" in [a.key for a in s.alerts()]
    assert len(damaged_files(path)) == 1


def test_a_bad_page_in_the_dedup_table_keeps_replays_duplicates_holes_and_seconds(tmp_path):
    """The page of `boots` (every boot's highest seq and anchor) goes bad, and the last page of
    `stamps` with it. The new store still drops the broker's redelivery of what was stored, of the
    latest boots and the older ones, keeps the holes it knew, and gives no waiting line's second
    to another summary."""
    path = tmp_path / "gateway.sqlite"
    filled_store(path)  # boot 1 of both boards, seqs 1..SEQS
    with store_at(path) as s:
        s.ingest([msg(D1, SEQS + 5)])  # board 1 misses SEQS+1..SEQS+4
        # Board 2 reboots twice; its boot 2 misses seq 2.
        older = [msg(D2, q, boot=2, synced=False, at=T0 + 20_000 + 10 * q) for q in (1, 3)]
        s.ingest(older + [msg(D2, 1, boot=3, synced=False, at=T0 + 30_000)])
        assert missing(s) == {D1: 4, D2: 1}
        waiting = s.pending(10 * SEQS)
    checkpoint(path)
    ((boots_page, _),) = leaf_pages(path, "boots")
    smash(path, boots_page)
    smash(path, last_leaf(path, "stamps"), seed=7)
    with store_at(path) as s:
        assert [a.key for a in s.alerts()] == ["store_replaced"] and len(s.pending(10 * SEQS)) == len(waiting)
        assert missing(s) == {D1: 4, D2: 1} and s.counters()["missing"] == 5
        replay = [msg(d, q) for q in (1, SEQS // 2, SEQS) for d in (D1, D2)] + [msg(D1, SEQS + 5)] + older
        r = s.ingest(replay)
        assert (r.accepted, r.duplicates) == (0, len(replay))
        # A summary that had not arrived still fills its hole.
        assert s.ingest([msg(D1, SEQS + 2)]).accepted == 1 and missing(s) == {D1: 3, D2: 1}
        # Board 2's next boot claims the second of its boot 2's seq 1, still waiting to be sent.
        taken = next(p.ts for p in waiting if p.line.startswith("sewing,machine=m02") and p.ts > T0 + 20_000)
        (line,) = s.ingest([msg(D2, 1, boot=4, time=taken, at=taken + 0.5)]).lines
        assert line.endswith(f" {taken + 1}")
        assert "rejected.store_error" not in s.counters()
