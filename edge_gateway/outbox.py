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

import datetime as dt
import math
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from .alerts import Alert
from .contract import KEEP_REJECTED_BYTES, REASONS, Rejected, Status, Summary, encode_line, validate

# A board clock more than this far ahead of the gateway's is not trusted (protocol section 5.1).
MAX_CLOCK_AHEAD_S = 300

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
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, series TEXT NOT NULL, ts INTEGER NOT NULL,
    line TEXT NOT NULL, stored_at REAL NOT NULL
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
"""


class StoreFull(Exception):
    """The store's disk policy refuses new data now: nothing of the batch was written, so the
    caller must not acknowledge it (the broker keeps it) and should retry later."""


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
    stored_at: float


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
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous={synchronous!r}: not an SQLite synchronous level")
        self.path = Path(path)
        self.workshop = workshop
        self.registry = dict(registry)
        self.tz = ZoneInfo(timezone)
        self.rejected_keep = rejected_keep
        self.seen_keep_s = seen_keep_s
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) so one batch
        # is exactly one transaction, never split by the sqlite3 module's implicit ones.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.executescript(SCHEMA)
        self._day_span: tuple[float, float, str] = (0.0, 0.0, "")
        self._load_caches()

    # ---- caches -------------------------------------------------------------------------------
    def _load_caches(self) -> None:
        self._anchors: dict[tuple[str, int], int] = {}
        self._last_ts: dict[str, int] = dict(self._db.execute("SELECT machine, last_ts FROM series"))
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
            try:
                return self._ingest(messages)
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                # The caches may hold values of the rolled-back transaction.
                self._load_caches()
                raise

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
            db.executemany("INSERT INTO outbox(series, ts, line, stored_at) VALUES (?,?,?,?)", outbox_rows)
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

    # ---- uplink -------------------------------------------------------------------------------
    def pending(self, limit: int) -> list[PendingLine]:
        """The oldest `limit` lines, sorted by series then time (as InfluxDB likes a batch)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, series, ts, line, stored_at FROM"
                " (SELECT * FROM outbox ORDER BY id LIMIT ?) ORDER BY series, ts, id",
                (limit,),
            ).fetchall()
        return [PendingLine(*r) for r in rows]

    def confirm(self, ids: Iterable[int]) -> int:
        """Delete lines the server accepted (2xx). Call only after the confirmation."""
        ids = list(ids)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            n = self._delete(ids)
            self._add_counters({"sent": n})
            self._db.execute("COMMIT")
        return n

    def dead_letter(self, ids: Iterable[int], reason: str, now: float | None = None) -> int:
        """Move lines the server refused as bad data out of the queue, keeping its reason."""
        ids = list(ids)
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO dead_letter(line, reason, stored_at, failed_at)"
                " SELECT line, ?, stored_at, ? FROM outbox WHERE id=?",
                [(reason[:1000], now, i) for i in ids],
            )
            n = self._delete(ids)
            self._add_counters({"dead_letter": n})
            self._db.execute("COMMIT")
        return n

    def _delete(self, ids: list[int]) -> int:
        n = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cur = self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            n += cur.rowcount
        return n

    def pending_stats(self) -> tuple[int, float | None]:
        """(number of pending lines, stored_at of the oldest one or None)."""
        with self._lock:
            n = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            row = self._db.execute("SELECT stored_at FROM outbox ORDER BY id LIMIT 1").fetchone()
        return n, (row[0] if row else None)

    # ---- inspection ---------------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM counters"))

    def rejected(self, limit: int = 100) -> list[dict]:
        """Newest kept rejections first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, reason, detail, received_at FROM rejected ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [
            {"id": r[0], "topic": r[1], "payload": bytes(r[2]), "reason": r[3], "detail": r[4], "received_at": r[5]}
            for r in rows
        ]

    def dead_letters(self, limit: int = 100) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, line, reason, stored_at, failed_at FROM dead_letter ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
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
        return []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Outbox", "Incoming", "BatchResult", "PendingLine", "REASONS", "StoreFull"]
