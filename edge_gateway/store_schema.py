"""Versions of the gateway store's schema and the steps that bring an older store up to date.

`PRAGMA user_version` in the SQLite header holds the version. Version 1 is the schema gateways
wrote before the store was versioned (they left user_version at 0, so a file with version 0 and
version 1's tables is version 1). Opening a store runs, in ONE transaction, every step after the
file's version, then the current schema's `CREATE ... IF NOT EXISTS` statements, then sets the new
version: a power cut half-way leaves the old version intact, and the next start does it again.

A store written by a NEWER gateway is refused, never used: an older gateway cannot know what a
later step changed, and writing to it could destroy data the newer one relies on.

Rules for changing the schema:
- Adding a table or an index: append it to `SCHEMA` in outbox.py with `IF NOT EXISTS`. No step,
  no new version; older gateways do not read it.
- Changing an existing table (columns, keys, meaning of a value): add a `Step` here with the next
  version and the SQL that turns the previous layout into the new one, and change `SCHEMA` to the
  new layout. tests/unit/test_store_schema.py checks that every migrated store ends up exactly
  like a new one.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Sequence

log = logging.getLogger("sewnet.gateway.store")

#: The tables of version 1, to recognise a store written before versioning.
V1_TABLES = frozenset({"seen", "anchors", "series", "outbox", "dead_letter", "rejected", "counters", "devices"})


class StoreVersionError(Exception):
    """The file is a store this gateway cannot use as it is (newer, or not a gateway store)."""


@dataclass(frozen=True, slots=True)
class Step:
    version: int  # the version the store has after this step
    what: str  # one line for the log
    sql: str  # statements, in order; run inside the upgrade transaction


# The outbox kept each line whole, with its machine and timestamp in two more columns. A line's
# series key ("sewing,machine=m01,workshop=ws-01") is the same for every line of a machine: it is
# now kept once in `series_keys` and each outbox row holds only the rest of its line (fields and
# timestamp), about 50 bytes less per waiting summary (bench/bench_store_bytes.py).
_V2 = """
CREATE TABLE series_keys (
    id INTEGER PRIMARY KEY, machine TEXT NOT NULL, key TEXT NOT NULL UNIQUE
);
INSERT INTO series_keys(key, machine)
    SELECT k, min(series) FROM (
        SELECT CASE WHEN instr(line, ' ') > 0 THEN substr(line, 1, instr(line, ' ') - 1) ELSE line END AS k, series, id
        FROM outbox)
    GROUP BY k ORDER BY min(id);
CREATE TABLE outbox_v2 (
    id INTEGER PRIMARY KEY, series INTEGER NOT NULL, tail TEXT, stored_at INTEGER NOT NULL
);
INSERT INTO outbox_v2(id, series, tail, stored_at)
    SELECT o.id, s.id, CASE WHEN instr(o.line, ' ') > 0 THEN substr(o.line, instr(o.line, ' ') + 1) END,
           CAST(o.stored_at AS INTEGER)
    FROM outbox o JOIN series_keys s
      ON s.key = CASE WHEN instr(o.line, ' ') > 0 THEN substr(o.line, 1, instr(o.line, ' ') - 1) ELSE o.line END;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
"""

# State that can be rebuilt from what a store holds; run by the upgrade to version 3 and again
# after a salvage (outbox.py), whose tables may have lost rows on unreadable pages.
#: The seconds of the waiting lines stay taken: a late summary must never get the timestamp of a
#: line still to be sent (InfluxDB would keep only one of the two). A line's timestamp is the
#: last word of its tail; a line without one (refused by the server later) takes nothing.
TAKE_WAITING_SECONDS = """
INSERT OR IGNORE INTO stamps(series, ts)
    SELECT machine, CAST(ts AS INTEGER) FROM (
        SELECT k.machine, substr(o.tail, length(rtrim(o.tail, replace(o.tail, ' ', ''))) + 1) AS ts
        FROM outbox o JOIN series_keys k ON k.id = o.series)
    WHERE ts <> '' AND ts NOT GLOB '*[^0-9]*';
"""
#: The `missing` counter is the sum of every board's missing summaries (never negative).
RECOUNT_MISSING = """
DELETE FROM counters WHERE name = 'missing';
INSERT INTO counters(name, value)
    SELECT 'missing', n FROM (
        SELECT (SELECT coalesce(sum(hi - lo + 1), 0) FROM gaps)
             + (SELECT coalesce(sum(forgotten_missing), 0) FROM boards) AS n)
    WHERE n > 0;
"""

# Dedup and time were kept per summary: `seen` (device, boot, seq, arrival; forgotten after
# seen_keep_days by the gateway clock, so a clock jump let replays through), `anchors` (boot start)
# and `series` (last timestamp per machine, the "last + 1 s" ratchet that one future timestamp
# ruined for good). Version 3 keeps one row per boot (`boots`: base, highest seq, anchor) and one
# per hole (`gaps`), the seconds taken per machine (`stamps`), pruned boots per board (`boards`)
# and what the store knows of the gateway clock (`gateway_clock`); see timekeeping.py.
# The old content carries over: each boot's seqs become base 1 .. highest seq minus the holes
# between remembered seqs (seqs below the lowest remembered count as arrived: the old store forgot
# identities after a week); its anchor is kept with the boot start as reference (seq 0 at uptime
# 0); the waiting lines' seconds and each machine's last second stay taken; `missing` is
# recounted (the old counter could go negative). Seconds of lines already sent are not known one
# by one: a late summary may still meet one of them.
# (The tables as version 3 created them: SCHEMA in outbox.py may change later, with a new step.)
_V3 = """
CREATE TABLE boots (
    device TEXT NOT NULL, boot INTEGER NOT NULL, base INTEGER NOT NULL, max_seq INTEGER NOT NULL,
    start INTEGER, ref_seq INTEGER, ref_uptime_ms INTEGER, epoch INTEGER,
    pend_seq INTEGER, pend_uptime_ms INTEGER, pend_start REAL,
    PRIMARY KEY (device, boot)
) WITHOUT ROWID;
CREATE TABLE gaps (
    device TEXT NOT NULL, boot INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (device, boot, lo)
) WITHOUT ROWID;
CREATE TABLE boards (
    device TEXT PRIMARY KEY, forgotten_below INTEGER NOT NULL, forgotten_missing INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE stamps (
    series TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (series, ts)
) WITHOUT ROWID;
CREATE TABLE gateway_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL, offset_s REAL NOT NULL,
    kernel_synced INTEGER, newest_arrival REAL, stepped_back_s REAL NOT NULL,
    boards_agree INTEGER NOT NULL, since REAL
);
INSERT INTO boots(device, boot, base, max_seq, start, ref_seq, ref_uptime_ms, epoch)
    SELECT b.device, b.boot, 1, b.max_seq, a.anchor,
           CASE WHEN a.anchor IS NOT NULL THEN 0 END, CASE WHEN a.anchor IS NOT NULL THEN 0 END,
           CASE WHEN a.anchor IS NOT NULL THEN 0 END
    FROM (SELECT device, boot, max(seq) AS max_seq FROM seen GROUP BY device, boot) b
    LEFT JOIN anchors a ON a.device = b.device AND a.boot = b.boot;
INSERT INTO gaps(device, boot, lo, hi)
    SELECT device, boot, seq + 1, next - 1 FROM (
        SELECT device, boot, seq, lead(seq) OVER (PARTITION BY device, boot ORDER BY seq) AS next FROM seen)
    WHERE next > seq + 1;
INSERT OR IGNORE INTO stamps(series, ts) SELECT machine, last_ts FROM series;
""" + TAKE_WAITING_SECONDS + RECOUNT_MISSING + """
DROP TABLE seen;
DROP TABLE anchors;
DROP TABLE series;
"""

STEPS: tuple[Step, ...] = (
    Step(2, "outbox keeps each series key once (series_keys)", _V2),
    Step(3, "dedup and time per boot (boots, gaps, boards, stamps, gateway_clock) instead of seen, anchors, series",
         _V3),
)


def latest(steps: Sequence[Step] = STEPS) -> int:
    return steps[-1].version if steps else 1


def statements(script: str) -> list[str]:
    """Split a script into statements (executescript would COMMIT the open transaction first)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement: {buf.strip()[:80]!r}")
    return out


def found_version(db: sqlite3.Connection) -> int | None:
    """The file's schema version; None for a new (empty) file."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version:
        return version
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return None
    if V1_TABLES <= tables:
        return 1
    raise StoreVersionError(
        "the file is not a SewNet gateway store (it has tables "
        f"{', '.join(sorted(tables)[:5])}); point data_dir at the gateway's own folder"
    )


def _newer(found: int, target: int) -> StoreVersionError:
    return StoreVersionError(
        f"the store was written by a newer gateway (schema version {found}; this one knows up to"
        f" {target}): install that version again, or move the file aside to start an empty store"
    )


def check_current(db: sqlite3.Connection, steps: Sequence[Step] = STEPS) -> None:
    """For a reader beside the running gateway: the store must be at this code's version."""
    found, target = found_version(db), latest(steps)
    if found is not None and found > target:
        raise _newer(found, target)
    if found != target:
        raise StoreVersionError(f"the store has schema version {found} and this program reads {target}:"
                                " start the gateway of this version once to upgrade it")


def bring_up_to_date(db: sqlite3.Connection, schema: str, steps: Sequence[Step] = STEPS) -> tuple[int | None, int]:
    """Create or upgrade the store in one transaction. Returns (version found, version now).

    Raises StoreVersionError for a store of a newer gateway, leaving the file untouched.
    """
    target = latest(steps)
    db.execute("BEGIN IMMEDIATE")
    try:
        found = found_version(db)
        if found is not None and found > target:
            raise _newer(found, target)
        if found is not None:
            for step in steps:
                if step.version > found:
                    for stmt in statements(step.sql):
                        db.execute(stmt)
        for stmt in statements(schema):
            db.execute(stmt)
        if found != target:
            db.execute(f"PRAGMA user_version = {int(target)}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    if found is not None and found < target:
        done = "; ".join(s.what for s in steps if s.version > found)
        log.info("store upgraded from schema version %s to %s (%s)", found, target, done)
    return found, target
