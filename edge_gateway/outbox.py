"""The gateway's durable store: dedup, deterministic timestamps, the outbox of lines to ship.

One SQLite file in WAL mode with synchronous=FULL, so a committed batch survives a power cut of
the Raspberry Pi. Every batch of MQTT messages is handled in ONE transaction (validate -> dedup ->
timestamp -> append); the ingest side acknowledges the messages to the broker only after that
commit, which is what makes "acked" mean "on disk". A message that still makes the batch fail (a
value the checks missed) is taken out and kept as rejected (`store_error`), so one bad message
never blocks the others; a fault of the store itself (disk full, I/O) still raises.

The time rules live in timekeeping.py (pure); this file keeps their state and picks free seconds.

The object is shared by the ingest task, the uplink task and the web page, each calling it from a
worker thread (asyncio.to_thread / FastAPI's thread pool); one lock serialises them on the one
connection so the in-memory caches (anchors, last timestamp per series, devices) always match
what is committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from . import timekeeping as tk
from .alerts import Alert
from .contract import KEEP_REJECTED_BYTES, REASONS, Rejected, Status, Summary, encode_line, validate
from .sysclock import kernel_clock_synced

log = logging.getLogger("sewnet.gateway.store")

#: Boots remembered per board for dedup. Boards keep unsent summaries in RAM, so after a reboot
#: only the broker can bring an older boot again, and it does so in order; 64 boots cover even a
#: crash-looping board between two prunes (hourly).
KEEP_BOOTS = 64

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
-- a1-time: one row per boot of a board, replacing `seen` (dedup) and `anchors` (time). A seq from
-- `base` to `max_seq` has arrived unless it lies in `gaps`; start/ref_*/epoch/pend_* are the
-- boot's timekeeping.Anchor (start NULL: none yet).
CREATE TABLE IF NOT EXISTS boots (
    device TEXT NOT NULL, boot INTEGER NOT NULL, base INTEGER NOT NULL, max_seq INTEGER NOT NULL,
    start INTEGER, ref_seq INTEGER, ref_uptime_ms INTEGER, epoch INTEGER,
    pend_seq INTEGER, pend_uptime_ms INTEGER, pend_start REAL,
    PRIMARY KEY (device, boot)
) WITHOUT ROWID;
-- a1-time: seqs of a boot that have not arrived, as ranges lo..hi (base <= lo <= hi < max_seq).
CREATE TABLE IF NOT EXISTS gaps (
    device TEXT NOT NULL, boot INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (device, boot, lo)
) WITHOUT ROWID;
-- a1-time: per board, boots below forgotten_below were pruned (a copy of one counts as a
-- duplicate); forgotten_missing keeps their unfilled gaps in the board's `missing`.
CREATE TABLE IF NOT EXISTS boards (
    device TEXT PRIMARY KEY, forgotten_below INTEGER NOT NULL, forgotten_missing INTEGER NOT NULL
) WITHOUT ROWID;
-- a1-time: seconds taken per series (replacing `series`): each summary takes the nearest free
-- second at or after its time, so stamps stay unique without moving anybody else's.
CREATE TABLE IF NOT EXISTS stamps (
    series TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (series, ts)
) WITHOUT ROWID;
-- a1-time: the gateway clock as the store knows it (timekeeping.ClockState), one row.
CREATE TABLE IF NOT EXISTS gateway_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL, offset_s REAL NOT NULL,
    kernel_synced INTEGER, newest_arrival REAL, stepped_back_s REAL NOT NULL,
    boards_agree INTEGER NOT NULL, since REAL
);
"""


class StoreFull(Exception):
    """The store's disk policy refuses new data now: nothing of the batch was written, so the
    caller must not acknowledge it (the broker keeps it) and should retry later."""


class ClockUnusable(StoreFull):
    """The gateway clock says it is before 2020 (a Pi that booted without network) and no synced
    board tells the time: nothing can be stamped. As for StoreFull: nothing was written, do not
    acknowledge, retry later (the broker keeps the messages until the clock is set)."""


@dataclass(slots=True)
class Incoming:
    """One MQTT message as it left the broker, with the gateway clock when it arrived."""

    topic: str
    payload: bytes
    received_at: float
    retained: bool = False


@dataclass(slots=True)
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    statuses: int = 0
    rejected: Counter = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)  # lines appended by this batch, in order

    def add(self, other: "BatchResult") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.statuses += other.statuses
        self.rejected.update(other.rejected)
        self.lines += other.lines


@dataclass(slots=True)
class _Boot:
    """Dedup and time state of one boot of a board (the `boots` table)."""

    base: int  # lowest seq that counts: 1, or for the first boot this store saw, the lowest seen
    max_seq: int
    anchor: tk.Anchor | None = None


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
        clock_synced: Callable[[], bool | None] = kernel_clock_synced,
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous={synchronous!r}: not an SQLite synchronous level")
        self.path = Path(path)
        self.workshop = workshop
        self.registry = dict(registry)
        self.tz = ZoneInfo(timezone)
        self.rejected_keep = rejected_keep
        self.seen_keep_s = seen_keep_s  # how long used seconds per series are remembered
        self._clock_synced = clock_synced  # the kernel's word on the gateway clock (tests pass their own)
        # Synced boards' (arrival, board time) pairs: evidence about the gateway clock. In memory
        # only: a restart gathers new evidence within minutes, and the conclusion is stored.
        self._samples: defaultdict[str, deque] = defaultdict(lambda: deque(maxlen=64))
        self._held_since: float | None = None
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) so one batch
        # is exactly one transaction, never split by the sqlite3 module's implicit ones.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.executescript(SCHEMA)
        self._adopt_legacy_time_tables()
        self._day_span: tuple[float, float, str] = (0.0, 0.0, "")
        self._load_caches()

    # ---- caches -------------------------------------------------------------------------------
    def _load_caches(self) -> None:
        db = self._db
        self._boots: dict[tuple[str, int], _Boot] = {}
        for (device, boot, base, max_seq, start, ref_seq, ref_uptime, epoch, pend_seq, pend_uptime,
             pend_start) in db.execute(
            "SELECT device, boot, base, max_seq, start, ref_seq, ref_uptime_ms, epoch, pend_seq, pend_uptime_ms,"
            " pend_start FROM boots"
        ):
            anchor = None
            if start is not None:
                anchor = tk.Anchor(start, ref_seq, ref_uptime, epoch, pend_seq, pend_uptime, pend_start)
            self._boots[(device, boot)] = _Boot(base, max_seq, anchor)
        self._forgotten: dict[str, tuple[int, int]] = {
            d: (below, missing) for d, below, missing in db.execute(
                "SELECT device, forgotten_below, forgotten_missing FROM boards")
        }
        self._missing: Counter = Counter({d: m for d, (_, m) in self._forgotten.items()})
        for device, n in db.execute("SELECT device, sum(hi - lo + 1) FROM gaps GROUP BY device"):
            self._missing[device] += n
        row = db.execute(
            "SELECT epoch, offset_s, kernel_synced, newest_arrival, stepped_back_s, boards_agree, since"
            " FROM gateway_clock WHERE id = 1"
        ).fetchone()
        self._clock = tk.ClockState() if row is None else tk.ClockState(
            row[0], row[1], None if row[2] is None else bool(row[2]), row[3], row[4], bool(row[5]), row[6])
        self._devices: dict[str, _Device] = {}
        for row in db.execute(
            "SELECT device, machine, last_seen, state, state_at, boot, seq, fw, day, day_stitches, total FROM devices"
        ):
            self._devices[row[0]] = _Device(*row)

    def _adopt_legacy_time_tables(self) -> None:
        """a1-time: a store written before the `boots` table keeps its dedup and anchors.

        Runs once, when `boots` is empty and the old `seen` table is not: each boot's seqs become
        max_seq/gaps with base 1 (seqs below the lowest one remembered count as arrived: the old
        store forgot identities after a week), its anchor is kept with the boot start as reference
        (seq 0 at uptime 0), pending lines and each series' last second keep their seconds, and
        `missing` is recounted. (Seconds of lines already sent are not known one by one; a late
        summary could still meet one of them.) For the lead: the migration step to this layout.
        """
        db = self._db
        if db.execute("SELECT 1 FROM boots LIMIT 1").fetchone() or not db.execute(
            "SELECT 1 FROM seen LIMIT 1"
        ).fetchone():
            return
        anchors = {(d, b): a for d, b, a in db.execute("SELECT device, boot, anchor FROM anchors")}
        db.execute("BEGIN IMMEDIATE")
        missing = 0
        boot_seqs: dict[tuple[str, int], list[int]] = defaultdict(list)
        for device, boot, seq in db.execute("SELECT device, boot, seq FROM seen ORDER BY device, boot, seq"):
            boot_seqs[(device, boot)].append(seq)
        for (device, boot), seqs in boot_seqs.items():
            for lo, hi in zip(seqs, seqs[1:]):
                if hi > lo + 1:
                    db.execute("INSERT INTO gaps(device, boot, lo, hi) VALUES (?,?,?,?)", (device, boot, lo + 1, hi - 1))
                    missing += hi - lo - 1
            start = anchors.get((device, boot))
            db.execute(
                "INSERT INTO boots(device, boot, base, max_seq, start, ref_seq, ref_uptime_ms, epoch)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (device, boot, 1, seqs[-1], start, None if start is None else 0,
                 None if start is None else 0, None if start is None else 0),
            )
        db.execute("INSERT OR IGNORE INTO stamps(series, ts) SELECT series, ts FROM outbox")
        db.execute("INSERT OR IGNORE INTO stamps(series, ts) SELECT machine, last_ts FROM series")
        db.execute(
            "INSERT INTO counters(name, value) VALUES ('missing', ?)"
            " ON CONFLICT(name) DO UPDATE SET value=excluded.value", (missing,))
        db.execute("COMMIT")

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
        If the batch fails because of one message, the batch is redone message by message and
        that message is kept as rejected (`store_error`). Faults of the store itself (disk full,
        I/O error, a damaged file; StoreFull, ClockUnusable) raise with nothing written.
        """
        with self._lock:
            try:
                return self._transaction(lambda: self._apply(messages))
            except Exception as exc:
                if not _message_fault(exc):
                    raise
                log.warning("a batch of %d failed (%s); storing it message by message", len(messages),
                            type(exc).__name__)
            return self._transaction(lambda: self._apply_one_by_one(messages))

    def _transaction(self, work: Callable[[], BatchResult]) -> BatchResult:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            result = work()
            self._db.execute("COMMIT")
            return result
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            # The caches may hold values of the rolled-back transaction.
            self._load_caches()
            raise

    def _apply_one_by_one(self, messages: Sequence[Incoming]) -> BatchResult:
        db = self._db
        res = BatchResult()
        for msg in messages:
            db.execute("SAVEPOINT one")
            try:
                part = self._apply([msg])
            except Exception as exc:
                db.execute("ROLLBACK TO one")
                db.execute("RELEASE one")
                self._load_caches()
                if not _message_fault(exc):
                    raise
                log.warning("message on %r could not be stored (%s); kept as rejected", _printable(msg.topic)[:120],
                            type(exc).__name__)
                detail = f"the store could not keep it: {type(exc).__name__}: {_printable(str(exc))[:300]}"
                part = self._apply([msg], forced=Rejected("store_error", detail))
            else:
                db.execute("RELEASE one")
            res.add(part)
        return res

    def _apply(self, messages: Sequence[Incoming], forced: Rejected | None = None) -> BatchResult:
        """Decide every message of `messages` inside the caller's transaction."""
        db = self._db
        res = BatchResult()
        counts: Counter = Counter()
        touched: set[str] = set()
        rejected_rows: list[tuple] = []

        def reject(msg: Incoming, reason: str, detail: str) -> None:
            res.rejected[reason] += 1
            rejected_rows.append((_printable(msg.topic)[:512], _payload(msg.payload), reason, _printable(detail),
                                  msg.received_at))

        # 1. Validate; synced boards' clocks are evidence about the gateway's.
        results = [forced or validate(msg.topic, msg.payload, self.registry) for msg in messages]
        summaries = [(m, r) for m, r in zip(messages, results) if type(r) is Summary]
        for msg, s in summaries:
            if s.time is not None:
                self._samples[s.device].append((msg.received_at, s.time))

        # 2. The gateway clock for this batch (only summaries need it).
        clock, now = self._clock, 0.0
        if summaries:
            now = max(m.received_at for m, _ in summaries)
            clock = tk.advance(self._clock, now=now, kernel_synced=self._kernel_synced(),
                               offsets=tk.witnesses(self._samples, now))
            if not tk.usable(clock, now):
                self._held_since = self._held_since or now
                raise ClockUnusable(f"the gateway clock says {dt.datetime.fromtimestamp(now, dt.timezone.utc):%Y-%m-%d}")
            self._held_since = None
        view = tk.view(clock, now)

        # 3. Dedup and each boot's anchor, in arrival order.
        anchors: dict[tuple[str, int], tk.Anchor | None] = {}
        planned: list[tuple[Incoming, Summary, tk.Reading]] = []
        in_batch: set[tuple[str, int, int]] = set()
        for msg, result in zip(messages, results):
            if type(result) is Summary:
                s = result
                ident = (s.device, s.boot, s.seq)
                if ident in in_batch or self._arrived(s):
                    res.duplicates += 1
                    continue
                reading = tk.Reading(s.seq, s.uptime_ms, s.interval_ms, msg.received_at + view.offset, s.time)
                why = tk.implausible(reading)
                if why is not None:
                    reject(msg, "implausible_time", why)
                    continue
                in_batch.add(ident)
                key = (s.device, s.boot)
                if key not in anchors:
                    boot = self._boots.get(key)
                    anchors[key] = boot.anchor if boot is not None else None
                anchors[key] = tk.observe(anchors[key], reading, view.epoch)
                planned.append((msg, s, reading))
            elif type(result) is Status:
                res.statuses += 1
                self._note_status(result, msg)
                touched.add(result.device)
            else:
                assert isinstance(result, Rejected)
                reject(msg, result.reason, result.detail)

        # 4. Stamps against each boot's final anchor (a replayed burst is spaced by uptime even when
        # its first summary arrived late), in arrival order: the rowid order is the uplink's.
        today = self._day(now + view.offset) if planned else ""
        outbox_rows = []
        for msg, s, reading in planned:
            anchor = anchors[(s.device, s.boot)]
            assert anchor is not None  # observe() ran for every planned summary
            stamped = tk.stamp(anchor, reading, view)
            if isinstance(stamped, tk.Refusal):
                reject(msg, "implausible_time", stamped.detail)
                continue
            machine = self.registry[s.device]
            ts = self._take_second(machine, stamped.ts, stamped.latest)
            self._mark_arrived(s, counts)
            line = encode_line(self.workshop, machine, s, ts)
            outbox_rows.append((machine, ts, line, msg.received_at))
            res.lines.append(line)
            res.accepted += 1
            self._note_summary(s, min(ts, reading.arrived), msg.received_at, today)
            touched.add(s.device)

        # 5. Write what the batch decided.
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
        boot_rows = []
        for key, anchor in anchors.items():
            boot = self._boots.get(key)
            if boot is None:
                continue  # nothing of this boot was accepted: it has no record to anchor
            boot.anchor = anchor
            boot_rows.append(_boot_row(key, boot))
        if boot_rows:
            db.executemany(
                "INSERT OR REPLACE INTO boots(device, boot, base, max_seq, start, ref_seq, ref_uptime_ms, epoch,"
                " pend_seq, pend_uptime_ms, pend_start) VALUES (?,?,?,?,?,?,?,?,?,?,?)", boot_rows)
        if touched:
            db.executemany(
                "INSERT OR REPLACE INTO devices(device, machine, last_seen, state, state_at, boot, seq, fw, day,"
                " day_stitches, total) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [self._device_row(self._devices[d]) for d in touched],
            )
        if clock != self._clock:
            db.execute(
                "INSERT OR REPLACE INTO gateway_clock(id, epoch, offset_s, kernel_synced, newest_arrival,"
                " stepped_back_s, boards_agree, since) VALUES (1,?,?,?,?,?,?,?)",
                (clock.epoch, clock.offset, clock.kernel_synced, clock.newest_arrival, clock.stepped_back_s,
                 clock.boards_agree, clock.since),
            )
            if clock.epoch != self._clock.epoch or clock.offset != self._clock.offset:
                log.warning("gateway clock: offset now %+.0f s (epoch %d); boots will be re-anchored",
                            clock.offset, clock.epoch)
            self._clock = clock
        counts["accepted"] += res.accepted
        counts["duplicate"] += res.duplicates
        counts["status"] += res.statuses
        for reason, n in res.rejected.items():
            counts["rejected." + reason] += n
        self._add_counters(counts)
        return res

    def _kernel_synced(self) -> bool | None:
        # A probe that fails is "cannot tell", never a reason to refuse the batch's messages.
        try:
            return self._clock_synced()
        except Exception:
            log.exception("asking the kernel about the clock failed")
            return None

    # ---- dedup and gaps -----------------------------------------------------------------------
    # A boot's arrived seqs are base..max_seq minus the `gaps` ranges: the store needs one row per
    # boot and one per hole, not one per summary, and no clock (a clock jump cannot let a copy in).
    def _arrived(self, s: Summary) -> bool:
        forgotten = self._forgotten.get(s.device)
        if forgotten is not None and s.boot < forgotten[0]:
            return True  # a boot pruned long ago (KEEP_BOOTS newer ones since): taken as seen
        boot = self._boots.get((s.device, s.boot))
        if boot is None or s.seq > boot.max_seq or s.seq < boot.base:
            return False
        return self._gap_at(s.device, s.boot, s.seq) is None

    def _gap_at(self, device: str, boot: int, seq: int) -> tuple[int, int] | None:
        row = self._db.execute(
            "SELECT lo, hi FROM gaps WHERE device=? AND boot=? AND lo<=? ORDER BY lo DESC LIMIT 1", (device, boot, seq)
        ).fetchone()
        return (row[0], row[1]) if row is not None and row[1] >= seq else None

    def _mark_arrived(self, s: Summary, counts: Counter) -> None:
        key = (s.device, s.boot)
        boot = self._boots.get(key)
        if boot is None:
            # A new boot counts from seq 1 if this store knew the board before it (seq 2 before seq 1
            # is then one missing until seq 1 comes); the first boot a store sees counts from the
            # lowest seq seen, since the store cannot know what came before it listened.
            known = s.device in self._forgotten or any(d == s.device and b < s.boot for d, b in self._boots)
            boot = self._boots[key] = _Boot(base=1 if known else s.seq, max_seq=s.seq)
            self._add_gap(key, boot.base, s.seq - 1, counts)
        elif s.seq > boot.max_seq:
            self._add_gap(key, boot.max_seq + 1, s.seq - 1, counts)
            boot.max_seq = s.seq
        elif s.seq < boot.base:
            self._add_gap(key, s.seq + 1, boot.base - 1, counts)
            boot.base = s.seq
        else:
            gap = self._gap_at(s.device, s.boot, s.seq)
            assert gap is not None, "dedup let a seen seq through"
            lo, hi = gap
            self._db.execute("DELETE FROM gaps WHERE device=? AND boot=? AND lo=?", (*key, lo))
            if lo < s.seq:
                self._db.execute("INSERT INTO gaps(device, boot, lo, hi) VALUES (?,?,?,?)", (*key, lo, s.seq - 1))
            if s.seq < hi:
                self._db.execute("INSERT INTO gaps(device, boot, lo, hi) VALUES (?,?,?,?)", (*key, s.seq + 1, hi))
            self._missing[s.device] -= 1
            counts["missing"] -= 1
        # (The boot's row is written once per batch, with its anchor, by _apply.)

    def _add_gap(self, key: tuple[str, int], lo: int, hi: int, counts: Counter) -> None:
        if lo > hi:
            return
        self._db.execute("INSERT INTO gaps(device, boot, lo, hi) VALUES (?,?,?,?)", (*key, lo, hi))
        self._missing[key[0]] += hi - lo + 1
        counts["missing"] += hi - lo + 1

    def _take_second(self, series: str, ts: int, latest: int) -> int:
        """Take the nearest free second at or after `ts` for `series`, up to `latest`; when those
        are all taken, the nearest free one before `ts`. (Only a board sending far more summaries
        than its intervals allow crowds a series like that; its data is kept, in the past.)"""
        db = self._db
        if db.execute("INSERT OR IGNORE INTO stamps(series, ts) VALUES (?,?)", (series, ts)).rowcount:
            return ts
        # The end of the run of taken seconds starting at ts: the first taken one whose next is free.
        free = db.execute(
            "SELECT a.ts + 1 FROM stamps a WHERE a.series=? AND a.ts>=? AND NOT EXISTS"
            " (SELECT 1 FROM stamps b WHERE b.series=a.series AND b.ts=a.ts + 1) ORDER BY a.ts LIMIT 1",
            (series, ts),
        ).fetchone()[0]
        if free > latest:
            free = db.execute(
                "SELECT a.ts - 1 FROM stamps a WHERE a.series=? AND a.ts<=? AND NOT EXISTS"
                " (SELECT 1 FROM stamps b WHERE b.series=a.series AND b.ts=a.ts - 1) ORDER BY a.ts DESC LIMIT 1",
                (series, ts),
            ).fetchone()[0]
        db.execute("INSERT INTO stamps(series, ts) VALUES (?,?)", (series, free))
        return free

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

    def _note_summary(self, s: Summary, when: float, received_at: float, today: str) -> None:
        """`when`: the stamp, or the arrival if the stamp is later (a board clock ahead counts today)."""
        d = self._device(s.device)
        # The latest arrival, not the largest: after the gateway clock was set back, a "last seen"
        # from the wrong clock must not stay in the future.
        d.last_seen = received_at
        if d.boot is None or s.boot > d.boot or (s.boot == d.boot and s.seq > (d.seq or 0)):
            d.boot, d.seq, d.total = s.boot, s.seq, s.total
        day = self._day(when)
        if d.day == day:
            d.day_stitches += s.stitches
        elif d.day is None or day > d.day or d.day > today:
            # (A day after today was counted on a wrong clock: start again.)
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
        """Forget what dedup and stamping no longer need; returns the rows deleted.

        Dedup forgets by count, never by the clock: per board only the newest KEEP_BOOTS boots are
        kept (their unfilled gaps stay counted in `missing`). Used seconds are forgotten after
        seen_keep_s, and only while the gateway clock is trusted: a clock running a year ahead
        must not wipe the seconds of the present.
        """
        now = time.time() if now is None else now
        with self._lock:
            db = self._db
            deleted = 0
            db.execute("BEGIN IMMEDIATE")
            try:
                by_device: dict[str, list[int]] = defaultdict(list)
                for device, boot in self._boots:
                    by_device[device].append(boot)
                for device, boots in by_device.items():
                    old = sorted(boots, reverse=True)[KEEP_BOOTS:]
                    if not old:
                        continue
                    below, carried = self._forgotten.get(device, (0, 0))
                    for boot in old:
                        carried += db.execute("SELECT coalesce(sum(hi - lo + 1), 0) FROM gaps WHERE device=? AND boot=?",
                                              (device, boot)).fetchone()[0]
                        deleted += db.execute("DELETE FROM gaps WHERE device=? AND boot=?", (device, boot)).rowcount
                        deleted += db.execute("DELETE FROM boots WHERE device=? AND boot=?", (device, boot)).rowcount
                    db.execute("INSERT OR REPLACE INTO boards(device, forgotten_below, forgotten_missing) VALUES (?,?,?)",
                               (device, max(below, max(old) + 1), carried))
                view = tk.view(self._clock, now)
                if view.trusted:
                    deleted += db.execute("DELETE FROM stamps WHERE ts < ?",
                                          (now + view.offset - self.seen_keep_s,)).rowcount
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self._load_caches()
            return deleted

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
                        # Summaries of this board known not to have arrived (docs/protocol.md 5).
                        "missing": self._missing.get(device, 0),
                    }
                )
        return out

    def alerts(self) -> list[Alert]:
        """The store's current problems for the operator page (clock, disk, damaged file)."""
        with self._lock:
            clock, held = self._clock, self._held_since
        alert = clock_alert(clock, held)
        return [alert] if alert is not None else []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _message_fault(exc: BaseException) -> bool:
    """Is this failure tied to the message being stored (take it out) or to the store (raise)?

    SQLite's OperationalError is the store's: disk full, I/O error, locked, read-only. So is a
    damaged file (DatabaseError: corrupt / not a database) and StoreFull. Anything else raised
    while deciding one message (a value SQLite or the calendar cannot hold, a constraint) is the
    message's.
    """
    if isinstance(exc, (StoreFull, MemoryError, sqlite3.OperationalError, sqlite3.InternalError)):
        return False
    if type(exc) is sqlite3.DatabaseError:
        return False
    return isinstance(exc, Exception)


def _printable(text: str) -> str:
    """Text SQLite can store: a lone surrogate (say, in a topic) becomes a visible escape."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _payload(payload) -> bytes:
    try:
        return bytes(payload[:KEEP_REJECTED_BYTES])
    except TypeError:
        return repr(payload)[:KEEP_REJECTED_BYTES].encode("utf-8", "backslashreplace")


def _boot_row(key: tuple[str, int], boot: _Boot) -> tuple:
    a = boot.anchor
    if a is None:
        return (*key, boot.base, boot.max_seq, None, None, None, None, None, None, None)
    return (*key, boot.base, boot.max_seq, a.start, a.ref_seq, a.ref_uptime_ms, a.epoch, a.pend_seq,
            a.pend_uptime_ms, a.pend_start)


def _duration(seconds: float) -> tuple[str, str]:
    """(Korean, English) for a clock error, in the largest unit that fits."""
    s = abs(seconds)
    if s >= 2 * 86400:
        return f"{s / 86400:.0f}일", f"{s / 86400:.0f} days"
    if s >= 2 * 3600:
        return f"{s / 3600:.0f}시간", f"{s / 3600:.0f} hours"
    return f"{max(1, round(s / 60))}분", f"{max(1, round(s / 60))} minutes"


def clock_alert(clock: tk.ClockState, held_since: float | None) -> Alert | None:
    """The operator page's words for the gateway clock (key "clock_unsynced"), or None if fine."""
    what_to_do_ko = ("게이트웨이의 인터넷(LTE) 연결을 확인해 주세요. 연결되면 시계는 저절로 맞춰집니다. "
                     "계속되면 설치 기사에게 연락해 주세요.")
    what_to_do_en = ("Check the gateway's internet (LTE) connection; once it is online the clock sets itself. "
                     "If this stays, call your installer.")
    if held_since is not None:
        return Alert("clock_unsynced", "error",
                     "게이트웨이 시계가 맞지 않아(2020년 이전) 재봉 기록을 아직 저장하지 못하고 있습니다. "
                     "기록은 중계기(브로커)에 안전하게 보관되어 있습니다. " + what_to_do_ko,
                     "The gateway's clock is wrong (before 2020), so sewing records cannot be stored yet. "
                     "They are waiting safely in the broker. " + what_to_do_en,
                     held_since)
    if clock.since is None:
        return None
    if clock.offset:
        ko_d, en_d = _duration(clock.offset)
        way_ko, way_en = ("늦습니다", "behind") if clock.offset > 0 else ("빠릅니다", "ahead")
        return Alert("clock_unsynced", "warning",
                     f"재봉틀 장치들의 시계로 보면 게이트웨이 시계가 약 {ko_d} {way_ko}. 기록 시각은 장치들의 시계로 "
                     "고쳐서 저장하고 있습니다. " + what_to_do_ko,
                     f"The sewing-machine boards' clocks show the gateway's clock about {en_d} {way_en}. "
                     "Record times are being corrected by the boards' clocks. " + what_to_do_en,
                     clock.since)
    if clock.stepped_back_s:
        ko_d, en_d = _duration(clock.stepped_back_s)
        return Alert("clock_unsynced", "warning",
                     f"게이트웨이 시계가 약 {ko_d} 뒤로 돌아갔습니다. 시계가 맞지 않으면 기록 시각이 틀릴 수 있습니다. "
                     + what_to_do_ko,
                     f"The gateway's clock went back by about {en_d}. While it is not set, record times may be "
                     "off. " + what_to_do_en,
                     clock.since)
    return Alert("clock_unsynced", "warning",
                 "게이트웨이 시계가 인터넷 시간과 맞춰지지 않았습니다. 기록은 계속 저장되지만 시각이 틀릴 수 "
                 "있습니다. " + what_to_do_ko,
                 "The gateway's clock is not set from the internet. Records are still stored, but their times may "
                 "be off. " + what_to_do_en,
                 clock.since)


__all__ = ["Outbox", "Incoming", "BatchResult", "PendingLine", "REASONS", "StoreFull", "ClockUnusable"]
