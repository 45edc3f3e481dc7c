"""The gateway's durable store: dedup, deterministic timestamps, the outbox of lines to ship.

One SQLite file in WAL mode with synchronous=FULL, so a committed batch survives a power cut of
the Raspberry Pi. Every batch of MQTT messages is handled in ONE transaction (validate -> dedup ->
timestamp -> append); the ingest side acknowledges the messages to the broker only after that
commit, which is what makes "acked" mean "on disk".

The object is shared by the ingest task, the uplink task and the web page, each calling it from a
worker thread (asyncio.to_thread / FastAPI's thread pool); one lock serialises them on the one
connection so the in-memory caches (anchors, last timestamp per series, devices) always match
what is committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, TypeVar
from zoneinfo import ZoneInfo

from . import store_salvage, store_schema
from .alerts import Alert
from .store_health import Full as _Full
from .store_health import Replacement as _Replacement
from .store_health import disk_refusal, store_alerts
from .store_schema import StoreVersionError
from .contract import KEEP_REJECTED_BYTES, REASONS, Rejected, Status, Summary, encode_line, validate

log = logging.getLogger("sewnet.gateway.store")
T = TypeVar("T")

#: The WAL is cut back to this after a checkpoint (it keeps its largest size otherwise).
WAL_KEEP_BYTES = 16 * 1024 * 1024
#: A second damaged file within this time is not replaced: the SD card is failing.
REPLACE_AGAIN_AFTER_S = 600
#: How often removing delivered lines is retried while the disk is full.
SETTLE_RETRY_S = 2.0

# A board clock more than this far ahead of the gateway's is not trusted (protocol section 5.1).
MAX_CLOCK_AHEAD_S = 300

# The current schema (version store_schema.latest()); see store_schema.py for how to change it.
# An outbox row is one waiting line: its series key (measurement and tags, kept once per machine
# in series_keys) + " " + its tail (fields and timestamp); the view outbox_lines puts them together
# (for the uplink, and for a technician with the sqlite3 shell).
SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    device TEXT NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (device, boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS anchors (
    device TEXT NOT NULL, boot INTEGER NOT NULL, anchor INTEGER NOT NULL,
    PRIMARY KEY (device, boot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    machine TEXT PRIMARY KEY, last_ts INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series_keys (
    id INTEGER PRIMARY KEY, machine TEXT NOT NULL, key TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, series INTEGER NOT NULL, tail TEXT, stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY, line TEXT NOT NULL, reason TEXT NOT NULL,
    stored_at REAL NOT NULL, failed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
    reason TEXT NOT NULL, detail TEXT NOT NULL, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY, value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, machine TEXT NOT NULL, last_seen REAL,
    state TEXT, state_at REAL, boot INTEGER, seq INTEGER, fw TEXT,
    day TEXT, day_stitches INTEGER NOT NULL DEFAULT 0, total INTEGER
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS outbox_lines AS
    SELECT o.id, k.machine AS series, k.key || coalesce(' ' || o.tail, '') AS line, o.stored_at
    FROM outbox o JOIN series_keys k ON k.id = o.series;
CREATE TABLE IF NOT EXISTS replaced_stores (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, set_aside TEXT NOT NULL, reason TEXT NOT NULL,
    salvaged_lines INTEGER NOT NULL
);
"""


def _line_ts(line: str) -> int:
    """The timestamp at the end of a line (0 if it has none: a line the server will refuse)."""
    last = line.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


class StoreFull(Exception):
    """The store's disk policy refuses new data now: nothing of the batch was written, so the
    caller must not acknowledge it (the broker keeps it) and should retry later."""


class StoreDamaged(Exception):
    """The store file is damaged and could not be replaced by a new one: nothing is stored."""


class _Damaged(Exception):
    """PRAGMA quick_check found problems (its first lines are the message)."""


@dataclass(slots=True)
class Incoming:
    """One MQTT message as it left the broker, with the gateway clock when it arrived."""

    topic: str
    payload: bytes
    received_at: float
    retained: bool = False
    #: The payload's length on the wire when ingest kept only its first KEEP_REJECTED_BYTES (an
    #: oversize payload is cut as it arrives, so a board cannot make the gateway hold megabytes).
    size: int | None = None


@dataclass(slots=True)
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    statuses: int = 0
    rejected: Counter = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)  # lines appended by this batch, in order


@dataclass(slots=True, frozen=True)
class PendingLine:
    id: int
    series: str
    ts: int
    line: str
    stored_at: int  # whole seconds


@dataclass(slots=True)
class _Device:
    device: str
    machine: str
    last_seen: float | None = None
    state: str | None = None
    state_at: float | None = None
    boot: int | None = None
    seq: int | None = None
    fw: str | None = None
    day: str | None = None
    day_stitches: int = 0
    total: int | None = None


class Outbox:
    """Durable store of one gateway. Thread-safe; every method is one short transaction."""

    def __init__(
        self,
        path: str | Path,
        workshop: str,
        registry: Mapping[str, str],
        *,
        synchronous: str = "FULL",
        timezone: str = "Asia/Seoul",
        rejected_keep: int = 10_000,
        seen_keep_s: float = 7 * 86400,
        min_free_bytes: int = 0,
        max_store_bytes: int = 0,
        inspect: bool = False,
    ) -> None:
        """Open (or create) the store, check it and bring its schema up to date.

        A damaged file is set aside and a new store started (see store_salvage.py). A store of a
        newer gateway raises StoreVersionError. min_free_bytes / max_store_bytes (0: no limit) are
        the disk policy: ingest refuses new data (StoreFull) when the filesystem would have less
        free, or the store would hold more. inspect=True is for a second process (`sewnet gateway
        status`) reading beside the running gateway: no check, no upgrade, never sets aside.
        """
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous={synchronous!r}: not an SQLite synchronous level")
        self.path = Path(path)
        self.workshop = workshop
        self.registry = dict(registry)
        self.tz = ZoneInfo(timezone)
        self.rejected_keep = rejected_keep
        self.seen_keep_s = seen_keep_s
        self.synchronous = synchronous.upper()
        self.min_free_bytes = min_free_bytes
        self.max_store_bytes = max_store_bytes
        self._lock = threading.Lock()
        self._day_span: tuple[float, float, str] = (0.0, 0.0, "")
        self._closed = False
        self._failing: str | None = None  # why nothing can be stored any more
        # Lines the server accepted (None) or refused (the reason) whose removal from the outbox
        # failed for lack of space: never handed out again, removed when space returns.
        self._settled: dict[int, str | None] = {}
        self._settle_retry_at = 0.0
        self._full: _Full | None = None
        self._replaced_at: float | None = None
        self._replacements: list[_Replacement] = []
        # After a replacement while running, new lines get ids above every id handed out before,
        # so a late confirm() of the old file's lines cannot remove a new line.
        self._id_floor = 0
        self._max_id_out = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if inspect:
                self._db = self._connect(check=False, upgrade=False)
            else:
                self._open()
        except sqlite3.OperationalError as exc:
            # SQLite needs a few KB (its WAL and shared memory files) just to open the store.
            st = os.statvfs(self.path.parent)
            if st.f_bavail * st.f_frsize < 1024 * 1024 or store_salvage.is_full(exc):
                raise StoreFull(f"the disk of {self.path.parent} is full: the store cannot even be opened;"
                                " make room on it") from None
            raise
        self._load_caches()

    def _connect(self, *, check: bool, upgrade: bool = True) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) so one batch
        # is exactly one transaction, never split by the sqlite3 module's implicit ones.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            # After a big backlog drains, give the WAL's space back to the SD card (the file would
            # otherwise stay at its largest size for good).
            db.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
            if check:
                problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
                if problems != ["ok"]:
                    raise _Damaged("; ".join(problems)[:300])
            if upgrade:
                store_schema.bring_up_to_date(db, SCHEMA)
            else:
                store_schema.check_current(db)
        except BaseException:
            db.close()
            raise
        return db

    def _open(self) -> None:
        try:
            self._db = self._connect(check=True)
        except (sqlite3.DatabaseError, _Damaged) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not store_salvage.is_damage(exc):
                raise
            self._replace(str(exc), running=False)
        self._replacements = self._load_replacements()

    def _load_replacements(self) -> list[_Replacement]:
        return [_Replacement(*r) for r in self._db.execute(
            "SELECT at, set_aside, salvaged_lines FROM replaced_stores ORDER BY at")]

    def _replace(self, reason: str, *, running: bool) -> None:
        """Set the damaged file aside, start a new store with what can be read from the old one."""
        now = time.time()
        if running and self._replaced_at is not None and now - self._replaced_at < REPLACE_AGAIN_AFTER_S:
            # A new file damaged within minutes: the SD card itself is failing. Setting aside
            # file after file would hide that; stop and say so.
            self._failing = "the store was damaged again minutes after it was replaced: the SD card may be failing"
            log.error("store %s: %s (%s); the gateway stops storing", self.path, self._failing, reason)
            raise StoreDamaged(self._failing)
        with contextlib.suppress(sqlite3.Error, AttributeError):
            self._db.close()
        try:
            aside = store_salvage.set_aside(self.path, now)
        except OSError as exc:
            raise StoreDamaged(f"the store {self.path} is damaged ({reason}) and cannot be moved aside:"
                               f" {exc.strerror}") from None
        log.error("store %s is damaged (%s): set aside as %s; starting a new store and carrying on",
                  self.path, reason, aside.name)
        self._db = self._connect(check=False)
        copied = store_salvage.salvage(aside, self._db)
        self._db.execute("BEGIN IMMEDIATE")
        # A line whose series key was on an unreadable page cannot be rebuilt: it stays aside.
        lost = self._db.execute("DELETE FROM outbox WHERE series NOT IN (SELECT id FROM series_keys)").rowcount
        lines = copied.get("outbox", 0) - lost
        self._db.execute("INSERT INTO replaced_stores(at, set_aside, reason, salvaged_lines) VALUES (?,?,?,?)",
                         (now, aside.name, reason[:300], lines))
        self._db.execute("COMMIT")
        self._replacements = self._load_replacements()
        log.warning("from %s: %d waiting lines and %s recovered into the new store", aside.name, lines,
                    ", ".join(f"{n} {t}" for t, n in copied.items() if t != "outbox") or "nothing else")
        self._replaced_at = now
        self._id_floor = self._max_id_out
        if running:
            self._load_caches()

    # ---- caches -------------------------------------------------------------------------------
    def _load_caches(self) -> None:
        self._anchors: dict[tuple[str, int], int] = {}
        self._last_ts: dict[str, int] = dict(self._db.execute("SELECT machine, last_ts FROM series"))
        self._series_ids: dict[str, int] = {k: i for i, k in self._db.execute("SELECT id, key FROM series_keys")}
        self._devices: dict[str, _Device] = {}
        for row in self._db.execute(
            "SELECT device, machine, last_seen, state, state_at, boot, seq, fw, day, day_stitches, total FROM devices"
        ):
            self._devices[row[0]] = _Device(*row)

    def _anchor(self, device: str, boot: int, received_at: float, uptime_ms: int) -> int:
        key = (device, boot)
        anchor = self._anchors.get(key)
        if anchor is None:
            row = self._db.execute("SELECT anchor FROM anchors WHERE device=? AND boot=?", key).fetchone()
            if row is None:
                anchor = math.floor(received_at - uptime_ms / 1000)
                self._db.execute("INSERT INTO anchors(device, boot, anchor) VALUES (?,?,?)", (device, boot, anchor))
            else:
                anchor = row[0]
            self._anchors[key] = anchor
        return anchor

    def _day(self, ts: float) -> str:
        start, end, name = self._day_span
        if start <= ts < end:
            return name
        d = dt.datetime.fromtimestamp(ts, self.tz).date()
        start_dt = dt.datetime(d.year, d.month, d.day, tzinfo=self.tz)
        end_dt = start_dt + dt.timedelta(days=1)
        self._day_span = (start_dt.timestamp(), end_dt.timestamp(), d.isoformat())
        return d.isoformat()

    # ---- ingest -------------------------------------------------------------------------------
    def ingest(self, messages: Sequence[Incoming]) -> BatchResult:
        """Validate, dedup, timestamp and append a batch in ONE transaction.

        When this returns, everything in `messages` is durably decided (appended, dropped as a
        duplicate, rejected and kept, or recorded as status): only then may it be acknowledged.
        """
        with self._lock:
            self._usable()
            for attempt in (1, 2):
                try:
                    self._settle()
                    self._refuse_if_full()
                    res = self._ingest(messages)
                except StoreFull:
                    raise
                except BaseException as exc:
                    self._rollback()
                    if store_salvage.is_damage(exc) and attempt == 1:
                        self._replace(str(exc), running=True)
                        continue  # the same batch into the new store: it was not acknowledged
                    # The caches may hold values of the rolled-back transaction.
                    self._load_caches()
                    if store_salvage.is_full(exc):
                        self._full = _Full("sqlite", time.time() if self._full is None else self._full.since)
                        log.error("store: the disk is full; new data is refused until there is room")
                        raise StoreFull("the disk is full: SQLite could not write the batch") from None
                    raise
                self._full = None
                return res
        raise AssertionError("unreachable")

    def _ingest(self, messages: Sequence[Incoming]) -> BatchResult:
        db = self._db
        res = BatchResult()
        counts: Counter = Counter()
        touched: set[str] = set()
        last_ts = self._last_ts
        series_touched: set[str] = set()
        rejected_rows = []
        outbox_rows = []  # in arrival order: the rowid order is the uplink's "oldest first"
        db.execute("BEGIN IMMEDIATE")
        for msg in messages:
            result = validate(msg.topic, msg.payload, self.registry, msg.size)
            if type(result) is Summary:
                s = result
                cur = db.execute(
                    "INSERT OR IGNORE INTO seen(device, boot, seq, received_at) VALUES (?,?,?,?)",
                    (s.device, s.boot, s.seq, msg.received_at),
                )
                if cur.rowcount == 0:
                    res.duplicates += 1
                    continue
                machine = self.registry[s.device]
                anchor = self._anchor(s.device, s.boot, msg.received_at, s.uptime_ms)
                if s.time is not None and s.time <= msg.received_at + MAX_CLOCK_AHEAD_S:
                    ts = s.time
                else:
                    ts = anchor + s.uptime_ms // 1000
                last = last_ts.get(machine)
                if last is not None and ts <= last:
                    ts = last + 1
                last_ts[machine] = ts
                series_touched.add(machine)
                line = encode_line(self.workshop, machine, s, ts)
                outbox_rows.append((machine, ts, line, msg.received_at))
                res.lines.append(line)
                res.accepted += 1
                self._note_summary(s, machine, ts, msg.received_at, counts)
                touched.add(s.device)
            elif type(result) is Status:
                res.statuses += 1
                self._note_status(result, msg)
                touched.add(result.device)
            else:
                assert isinstance(result, Rejected)
                res.rejected[result.reason] += 1
                rejected_rows.append(
                    (msg.topic[:512], msg.payload[:KEEP_REJECTED_BYTES], result.reason, result.detail, msg.received_at)
                )
        if outbox_rows:
            self._append(outbox_rows)
        if rejected_rows:
            db.executemany(
                "INSERT INTO rejected(topic, payload, reason, detail, received_at) VALUES (?,?,?,?,?)", rejected_rows
            )
            # Keep the newest `rejected_keep`: a misbehaving board must not fill the Pi's SD card.
            db.execute(
                "DELETE FROM rejected WHERE id <= (SELECT max(id) FROM rejected) - ?", (self.rejected_keep,)
            )
        if series_touched:
            db.executemany(
                "INSERT INTO series(machine, last_ts) VALUES (?,?) ON CONFLICT(machine) DO UPDATE SET last_ts=excluded.last_ts",
                [(m, last_ts[m]) for m in series_touched],
            )
        if touched:
            db.executemany(
                "INSERT OR REPLACE INTO devices(device, machine, last_seen, state, state_at, boot, seq, fw, day,"
                " day_stitches, total) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [self._device_row(self._devices[d]) for d in touched],
            )
        counts["accepted"] += res.accepted
        counts["duplicate"] += res.duplicates
        counts["status"] += res.statuses
        for reason, n in res.rejected.items():
            counts["rejected." + reason] += n
        self._add_counters(counts)
        db.execute("COMMIT")
        return res

    @staticmethod
    def _device_row(d: _Device) -> tuple:
        return (d.device, d.machine, d.last_seen, d.state, d.state_at, d.boot, d.seq, d.fw, d.day, d.day_stitches, d.total)

    def _device(self, device: str) -> _Device:
        d = self._devices.get(device)
        machine = self.registry[device]
        if d is None:
            d = self._devices[device] = _Device(device=device, machine=machine)
        d.machine = machine  # the registry may have moved the board to another machine
        return d

    def _note_summary(self, s: Summary, machine: str, ts: int, received_at: float, counts: Counter) -> None:
        d = self._device(s.device)
        d.last_seen = received_at if d.last_seen is None else max(d.last_seen, received_at)
        # Gap accounting from the identity: a jump in seq within one boot means summaries that
        # have not arrived (yet); a late one filling the hole takes its count back.
        if d.boot == s.boot and d.seq is not None:
            if s.seq > d.seq + 1:
                counts["missing"] += s.seq - d.seq - 1
            elif s.seq < d.seq:
                counts["missing"] -= 1
        if d.boot is None or s.boot > d.boot or (s.boot == d.boot and s.seq > (d.seq or 0)):
            d.boot, d.seq, d.total = s.boot, s.seq, s.total
        day = self._day(ts)
        if d.day == day:
            d.day_stitches += s.stitches
        elif d.day is None or day > d.day:
            d.day, d.day_stitches = day, s.stitches
        # else: a summary of an earlier day arriving late does not count toward today.

    def _note_status(self, st: Status, msg: Incoming) -> None:
        d = self._device(st.device)
        d.state, d.state_at, d.fw = st.state, msg.received_at, st.fw
        # A retained status may be days old: only a live one proves the board is there now.
        if not msg.retained:
            d.last_seen = msg.received_at if d.last_seen is None else max(d.last_seen, msg.received_at)

    def _add_counters(self, counts: Mapping[str, int]) -> None:
        rows = [(k, v) for k, v in counts.items() if v]
        if rows:
            self._db.executemany(
                "INSERT INTO counters(name, value) VALUES (?,?) ON CONFLICT(name) DO UPDATE SET value=value+excluded.value",
                rows,
            )

    def prune_seen(self, now: float | None = None) -> int:
        """Forget identities older than seen_keep_s (boards replay at most an hour of queue)."""
        now = time.time() if now is None else now
        with self._lock:
            cur = self._db.execute("DELETE FROM seen WHERE received_at < ?", (now - self.seen_keep_s,))
            return cur.rowcount

    # ---- outbox -------------------------------------------------------------------------------
    def _append(self, rows: Sequence[tuple[str, int, str, float]]) -> None:
        """Append (machine, ts, line, stored_at) rows, in order, inside the caller's transaction."""
        out = []
        for machine, _ts, line, stored_at in rows:
            key, space, tail = line.partition(" ")
            series = self._series_ids.get(key)
            if series is None:
                cur = self._db.execute("INSERT INTO series_keys(machine, key) VALUES (?,?)", (machine, key))
                series = cur.lastrowid
                self._series_ids[key] = series
            out.append((series, tail if space else None, math.floor(stored_at)))
        if self._id_floor:
            last = self._db.execute("SELECT max(id) FROM outbox").fetchone()[0] or 0
            first = max(last, self._id_floor) + 1
            self._db.executemany("INSERT INTO outbox(id, series, tail, stored_at) VALUES (?,?,?,?)",
                                 [(first + k, *row) for k, row in enumerate(out)])
        else:
            self._db.executemany("INSERT INTO outbox(series, tail, stored_at) VALUES (?,?,?)", out)

    # ---- uplink -------------------------------------------------------------------------------
    def pending(self, limit: int) -> list[PendingLine]:
        """The oldest `limit` lines, sorted by series then time (as InfluxDB likes a batch)."""

        def read() -> list[tuple]:
            self._settle()
            # Lines already delivered but not yet removed (disk full) are skipped: they are the
            # oldest, so `limit` more than their number is enough.
            rows = self._db.execute(
                "SELECT id, series, line, stored_at FROM outbox_lines ORDER BY id LIMIT ?",
                (limit + len(self._settled),),
            ).fetchall()
            if self._settled:
                rows = [r for r in rows if r[0] not in self._settled]
            rows = sorted(rows)[:limit]
            if rows:
                self._max_id_out = max(self._max_id_out, rows[-1][0])
            return rows

        rows = self._guarded(read)
        out = [PendingLine(i, machine, _line_ts(line), line, stored_at) for i, machine, line, stored_at in rows]
        out.sort(key=lambda p: (p.series, p.ts, p.id))
        return out

    def confirm(self, ids: Iterable[int]) -> int:
        """Remove lines the server accepted (2xx). Call only after the confirmation.

        Returns how many of them were waiting. If the disk is too full to remove them, they are
        remembered and never handed out again, and removed as soon as there is room.
        """
        wanted = dict.fromkeys(ids)
        return self._guarded(lambda: self._settle_now(wanted))

    def dead_letter(self, ids: Iterable[int], reason: str, now: float | None = None) -> int:
        """Move lines the server refused as bad data out of the queue, keeping its reason."""
        wanted = dict.fromkeys(ids, reason[:1000])
        return self._guarded(lambda: self._settle_now(wanted, now))

    def _settle_now(self, wanted: dict[int, str | None], now: float | None = None) -> int:
        """Settle lines (None: sent; text: dead-letter reason); on a full disk, remember them."""
        wanted = {i: r for i, r in wanted.items() if i not in self._settled}
        try:
            return self._remove(wanted, now)
        except sqlite3.OperationalError as exc:
            self._rollback()
            if not store_salvage.is_full(exc):
                raise
        waiting = self._existing(list(wanted))
        self._settled.update((i, wanted[i]) for i in waiting)
        log.error("store: the disk is full; %d delivered lines are kept aside in memory and removed when"
                  " there is room (they will not be sent again)", len(self._settled))
        return len(waiting)

    def _settle(self, force: bool = False) -> None:
        """Retry removing the lines settled while the disk was full (at most every few seconds)."""
        if not self._settled or (not force and time.monotonic() < self._settle_retry_at):
            return
        self._settle_retry_at = time.monotonic() + SETTLE_RETRY_S
        try:
            self._remove(self._settled)
        except sqlite3.OperationalError as exc:
            self._rollback()
            if not store_salvage.is_full(exc):
                raise
            return
        log.info("store: there is room again; %d delivered lines removed from the outbox", len(self._settled))
        self._settled = {}

    def _remove(self, lines: Mapping[int, str | None], now: float | None = None) -> int:
        """One transaction: dead-letter the lines with a reason, delete them all, count them."""
        now = time.time() if now is None else now
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        dead = [(reason, now, i) for i, reason in lines.items() if reason is not None]
        if dead:
            db.executemany(
                "INSERT INTO dead_letter(line, reason, stored_at, failed_at)"
                " SELECT line, ?, stored_at, ? FROM outbox_lines WHERE id=?",
                dead,
            )
        n_sent = self._delete([i for i, reason in lines.items() if reason is None])
        n_dead = self._delete([i for _, _, i in dead])
        self._add_counters({"sent": n_sent, "dead_letter": n_dead})
        db.execute("COMMIT")
        return n_sent + n_dead

    def _existing(self, ids: list[int]) -> list[int]:
        out = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out += [r[0] for r in self._db.execute(
                f"SELECT id FROM outbox WHERE id IN ({','.join('?' * len(chunk))})", chunk)]
        return out

    def _delete(self, ids: list[int]) -> int:
        n = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur = self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            n += cur.rowcount
        return n

    def pending_stats(self) -> tuple[int, float | None]:
        """(number of pending lines, stored_at of the oldest one or None)."""

        def read() -> tuple[int, float | None]:
            self._settle()
            n = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0] - len(self._settled)
            rows = self._db.execute("SELECT id, stored_at FROM outbox ORDER BY id LIMIT ?",
                                    (len(self._settled) + 1,)).fetchall()
            oldest = next((at for i, at in rows if i not in self._settled), None)
            return n, oldest

        return self._guarded(read)

    # ---- disk policy --------------------------------------------------------------------------
    def usage(self) -> tuple[int, int]:
        """(bytes free for the store, bytes the store holds), as the disk policy counts them.

        Free pages inside the file count as free (SQLite reuses them) and not as held, so both
        figures recover as soon as the uplink has sent a backlog, although the file keeps its size.
        """
        db = self._db
        page = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free_pages = db.execute("PRAGMA freelist_count").fetchone()[0]
        try:
            wal = os.stat(f"{self.path}-wal").st_size
        except FileNotFoundError:
            wal = 0
        st = os.statvfs(self.path.parent)
        return st.f_bavail * st.f_frsize + free_pages * page, (pages - free_pages) * page + wal

    def _policy(self) -> tuple[str | None, int, int]:
        """(why new data is refused now or None, free bytes, store bytes)."""
        free, held = self.usage()
        why = disk_refusal(free, held, self.min_free_bytes, self.max_store_bytes)
        if why is not None:
            # The WAL keeps the pages of the last transactions (the uplink's deletes too) until a
            # checkpoint copies them back; cutting it to nothing gives its blocks back to the disk.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            free, held = self.usage()
            why = disk_refusal(free, held, self.min_free_bytes, self.max_store_bytes)
        return why, free, held

    def _refuse_if_full(self) -> None:
        if not (self.min_free_bytes or self.max_store_bytes):
            return
        why, free, held = self._policy()
        if why is None:
            return
        if self._full is None or self._full.why != why:
            log.error("store: %s; new data is refused (the broker keeps it) until there is room",
                      "the disk is nearly full" if why == "disk" else "the outbox reached store.max_store_mb")
        self._full = _Full(why, time.time() if self._full is None else self._full.since, free, held)
        raise StoreFull(f"{why}: {free} bytes free (at least {self.min_free_bytes} wanted), the store holds"
                        f" {held} bytes (at most {self.max_store_bytes or 'any'})")

    # ---- failures -----------------------------------------------------------------------------
    def _usable(self) -> None:
        if self._failing:
            raise StoreDamaged(self._failing)
        if self._closed:
            raise RuntimeError("the store is closed")

    def _rollback(self) -> None:
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _guarded(self, op: Callable[[], T]) -> T:
        """op() under the lock; if the file turns out damaged, replace it and run op() once more."""
        with self._lock:
            self._usable()
            try:
                return op()
            except sqlite3.DatabaseError as exc:
                self._rollback()
                if not store_salvage.is_damage(exc):
                    raise
                self._replace(str(exc), running=True)
            return op()

    # ---- inspection ---------------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        return self._guarded(lambda: dict(self._db.execute("SELECT name, value FROM counters")))

    def rejected(self, limit: int = 100) -> list[dict]:
        """Newest kept rejections first."""
        rows = self._guarded(lambda: self._db.execute(
            "SELECT id, topic, payload, reason, detail, received_at FROM rejected ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall())
        return [
            {"id": r[0], "topic": r[1], "payload": bytes(r[2]), "reason": r[3], "detail": r[4], "received_at": r[5]}
            for r in rows
        ]

    def dead_letters(self, limit: int = 100) -> list[dict]:
        rows = self._guarded(lambda: self._db.execute(
            "SELECT id, line, reason, stored_at, failed_at FROM dead_letter ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall())
        return [{"id": r[0], "line": r[1], "reason": r[2], "stored_at": r[3], "failed_at": r[4]} for r in rows]

    def devices(self, now: float | None = None) -> list[dict]:
        """Every registered device with what the gateway knows of it, for the operator page."""
        now = time.time() if now is None else now
        with self._lock:
            today = self._day(now)
            out = []
            for device, machine in sorted(self.registry.items(), key=lambda kv: (kv[1], kv[0])):
                d = self._devices.get(device) or _Device(device=device, machine=machine)
                out.append(
                    {
                        "device": device,
                        "machine": machine,
                        "state": d.state,
                        "state_at": d.state_at,
                        "last_seen": d.last_seen,
                        "boot": d.boot,
                        "seq": d.seq,
                        "fw": d.fw,
                        "stitches_today": d.day_stitches if d.day == today else 0,
                        "total": d.total,
                    }
                )
        return out

    def alerts(self) -> list[Alert]:
        """The store's current problems for the operator page (clock, disk, damaged file)."""
        with self._lock:
            if self._full is not None and self._full.why != "sqlite" and (self.min_free_bytes or self.max_store_bytes):
                # Say what is true now: the uplink may have made room since the last batch.
                with contextlib.suppress(sqlite3.Error, OSError):
                    if self._policy()[0] is None:
                        self._full = None
            return store_alerts(
                full=self._full,
                settled=len(self._settled),
                replacements=[r for r in self._replacements if (self.path.parent / r.set_aside).exists()],
                failing=self._failing,
            )

    def close(self) -> None:
        with self._lock:
            # Last chance to remove lines delivered while the disk was full: kept only in memory,
            # they would be sent once more after the restart.
            with contextlib.suppress(sqlite3.Error):
                if not self._closed and not self._failing:
                    self._settle(force=True)
            if self._settled and not self._closed:
                log.warning("store: the disk is still full; %d delivered lines could not be removed and will be"
                            " sent once more after the restart (the server overwrites them)", len(self._settled))
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._closed = True

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Outbox", "Incoming", "BatchResult", "PendingLine", "REASONS", "StoreFull", "StoreDamaged",
           "StoreVersionError"]
