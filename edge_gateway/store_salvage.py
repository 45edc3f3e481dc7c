"""Setting a damaged store aside and copying what is still readable out of it.

SQLite reports damage as SQLITE_CORRUPT ("database disk image is malformed") or SQLITE_NOTADB
("file is not a database"). Nothing a gateway does fixes that in place, and a damaged page may
fail every later transaction that touches it: the file is renamed (with its -wal and -shm, so the
set-aside file still opens with every committed transaction in it) and a new store is started.

The salvage is cheap and partial, not SQLite's `.recover`: it reads each table through SQLite
and keeps every row it can read. A row table (outbox) is walked by its id, skipping over an
unreadable stretch by growing jumps, so one bad page costs only the rows on it; a WITHOUT ROWID
table is read until the first unreadable page. What cannot be read stays in the set-aside file
for a technician (`sqlite3 FILE .recover` gets more out of it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterator

from . import store_schema

log = logging.getLogger("sewnet.gateway.store")

#: Kept in the set-aside file only: history for people, not state the gateway needs to go on.
#: (The dedup and time state, `boots`, `gaps`, `boards`, `stamps`, `gateway_clock`, is carried
#: over: without it the broker's redelivery of what was stored would be stored twice, and a late
#: summary could take a waiting line's second. Outbox._mend_after_salvage mends what was lost.)
NOT_SALVAGED = frozenset({"dead_letter", "rejected"})

def is_damage(exc: BaseException) -> bool:
    """True for SQLite's "the file is damaged" errors (not for full disks, locks, bugs)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def is_full(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) == sqlite3.SQLITE_FULL


def set_aside(path: Path, now: float | None = None) -> Path:
    """Rename `path` (and its -wal, -shm) to `<name>.damaged-<UTC time>`; return the new path."""
    now = time.time() if now is None else now
    stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    # The WAL first: renamed alone, the main file would open without its newest transactions.
    for suffix in ("-wal", "-shm", ""):
        src = Path(f"{path}{suffix}")
        if src.exists():
            os.replace(src, Path(f"{aside}{suffix}"))
    return aside


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]


def _rowid_key(db: sqlite3.Connection, table: str) -> str | None:
    """The INTEGER PRIMARY KEY column of a row table (the rowid alias), else None."""
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
    if "WITHOUT ROWID" in sql.upper():
        return None
    pk = [r for r in db.execute(f"PRAGMA table_info({table})") if r[5]]
    if len(pk) == 1 and pk[0][2].upper() == "INTEGER":
        return pk[0][1]
    return None


def _read_by_id(old: sqlite3.Connection, table: str, cols: list[str], key: str) -> Iterator[tuple]:
    """Every readable row in id order, stepping over unreadable stretches."""
    # LIMIT on every read: the sqlite3 module steps to the next row before it returns one, so a
    # read running into a bad page would also lose the row before it; with LIMIT it stops first.
    select = f"SELECT {', '.join(cols)} FROM {table} WHERE {key} >= ? ORDER BY {key} LIMIT ?"
    at = cols.index(key)

    def read(start: int, n: int) -> list[tuple] | None:
        try:
            return old.execute(select, (start, n)).fetchall()
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                return None
            raise

    start = -(2**63)
    while True:
        rows = read(start, 500)
        if rows is None:
            # A bad page in this stretch: take the rows before it one at a time.
            while (rows := read(start, 1)) is not None:
                if not rows:
                    return
                yield rows[0]
                start = rows[0][at] + 1
            # Jump over the bad page: double a jump until reading works again, then halve back
            # to the first id that reads, so only the rows on the bad page are left behind (a
            # hole of n ids costs about 2*log2(n) reads).
            lo, jump = start, 1
            while read(start + jump, 1) is None:
                lo = start + jump
                jump *= 2
                if jump > 2**40:
                    return
            hi = start + jump
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if read(mid, 1) is None:
                    lo = mid
                else:
                    hi = mid
            start = hi
            continue
        if not rows:
            return
        yield from rows
        start = rows[-1][at] + 1


def _read_scan(old: sqlite3.Connection, table: str, cols: list[str]) -> Iterator[tuple]:
    """The rows of a full scan up to the end or to the first unreadable page."""
    try:
        yield from old.execute(f"SELECT {', '.join(cols)} FROM {table}")
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise


def salvage(damaged: Path, fresh: sqlite3.Connection) -> dict[str, int]:
    """Copy the readable rows of every gateway table of `damaged` into the empty store `fresh`.

    Returns rows copied per table. Copies nothing when the damaged file cannot be opened or has
    another schema version (its rows might not mean the same thing).
    """
    copied: dict[str, int] = {}
    try:
        old = sqlite3.connect(damaged, isolation_level=None)
    except sqlite3.Error:
        return copied
    try:
        try:
            version = store_schema.found_version(old)
            tables = [r[0] for r in fresh.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            old_tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except (sqlite3.DatabaseError, store_schema.StoreVersionError) as exc:
            log.warning("nothing could be read from %s: %s", damaged.name, exc)
            return copied
        if version != fresh.execute("PRAGMA user_version").fetchone()[0]:
            log.warning("%s has schema version %s: its rows are left in it", damaged.name, version)
            return copied
        for table in tables:
            if table in NOT_SALVAGED or table not in old_tables:
                continue
            try:
                cols = _columns(fresh, table)
                if _columns(old, table) != cols:
                    continue
                key = _rowid_key(old, table)
            except sqlite3.DatabaseError:
                continue
            rows = _read_by_id(old, table, cols, key) if key else _read_scan(old, table, cols)
            insert = f"INSERT OR IGNORE INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            fresh.execute("BEGIN IMMEDIATE")
            try:
                copied[table] = 0
                while chunk := list(itertools.islice(rows, 5000)):  # a big `stamps` must not fill the Pi's RAM
                    copied[table] += fresh.executemany(insert, chunk).rowcount
                fresh.execute("COMMIT")
            except BaseException:
                fresh.execute("ROLLBACK")
                raise
    finally:
        old.close()
    return copied
