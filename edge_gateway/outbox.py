"""The gateway's durable store: dedup, deterministic timestamps, the outbox of lines to ship.

One SQLite file in WAL mode with synchronous=FULL, so a committed batch survives a power cut of
the Raspberry Pi. Every batch of MQTT messages is handled in ONE transaction (validate -> dedup ->
timestamp -> append); the ingest side acknowledges the messages to the broker only after that
commit, which is what makes "acked" mean "on disk". A message that still makes the batch fail (a
value the checks missed) is taken out and kept as rejected (`store_error`), so one bad message
never blocks the others; a fault of the store itself is not a message's (see `_fault`).

The time rules live in timekeeping.py (pure); this file keeps their state and picks free seconds.
The schema's versions and upgrades are in store_schema.py, a damaged file's salvage in
store_salvage.py, the disk policy and the store's alerts in store_health.py.

The object is shared by the ingest task, the uplink task and the web page, each calling it from a
worker thread (asyncio.to_thread / FastAPI's thread pool); one lock serialises them on the one
connection so the in-memory caches (boots, the gateway clock, series keys, devices) always match
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
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from dataclasses import replace as _replace
from typing import Callable, Iterable, Literal, Mapping, Sequence, TypeVar
from zoneinfo import ZoneInfo

from . import store_salvage, store_schema
from . import timekeeping as tk
from .alerts import Alert
from .store_health import Full as _Full
from .store_health import Replacement as _Replacement
from .store_health import clock_alert, disk_refusal, store_alerts
from .store_schema import StoreVersionError
from .contract import KEEP_REJECTED_BYTES, REASONS, Rejected, Status, Summary, encode_line, validate
from .sysclock import kernel_clock_synced

log = logging.getLogger("sewnet.gateway.store")
T = TypeVar("T")

#: The WAL is cut back to this after a checkpoint (it keeps its largest size otherwise).
WAL_KEEP_BYTES = 16 * 1024 * 1024
#: A second damaged file within this time is not replaced: the SD card is failing.
REPLACE_AGAIN_AFTER_S = 600
#: How long per-minute activity is kept: today's hourly bars and the last minutes' states.
ACTIVITY_KEEP_S = 2 * 86400
#: How often removing delivered lines is retried while the disk is full.
SETTLE_RETRY_S = 2.0

#: Boots remembered per board for dedup. Boards keep unsent summaries in RAM, so after a reboot
#: only the broker can bring an older boot again, and it does so in order; 64 boots cover even a
#: crash-looping board between two prunes (hourly).
KEEP_BOOTS = 64
#: Boot identities (board's boot number, nonce) remembered per board after their boot was pruned,
#: so a late copy of one is still known: a crash-looping board (one boot per 10 s) fills this in
#: half a day, far longer than any copy waits at the broker or in a board's spool.
KEEP_BOOT_IDS = 4096
#: A v2 boot's key in `boots` is (life << LIFE_SHIFT) | the board's boot number: a board whose
#: flash was erased starts again at boot 1 with a new nonce, a new life whose keys sort after
#: everything of its earlier lives (v1 boots are life 0: their key is their boot number).
LIFE_SHIFT = 31
BOOT_MASK = (1 << LIFE_SHIFT) - 1

# The current schema (version store_schema.latest()); see store_schema.py for how to change it.
# An outbox row is one waiting line: its series key (measurement and tags, kept once per machine
# in series_keys) + " " + its tail (fields and timestamp); the view outbox_lines puts them together
# (for the uplink, and for a technician with the sqlite3 shell).
SCHEMA = """
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
-- One row per boot of a board, for dedup and time (since version 3). A seq from
-- `base` to `max_seq` has arrived unless it lies in `gaps`; start/ref_*/epoch/pend_* are the
-- boot's timekeeping.Anchor (start NULL: none yet).
CREATE TABLE IF NOT EXISTS boots (
    device TEXT NOT NULL, boot INTEGER NOT NULL, base INTEGER NOT NULL, max_seq INTEGER NOT NULL,
    start INTEGER, ref_seq INTEGER, ref_uptime_ms INTEGER, epoch INTEGER,
    pend_seq INTEGER, pend_uptime_ms INTEGER, pend_start REAL,
    PRIMARY KEY (device, boot)
) WITHOUT ROWID;
-- Seqs of a boot that have not arrived, as ranges lo..hi (base <= lo <= hi < max_seq).
CREATE TABLE IF NOT EXISTS gaps (
    device TEXT NOT NULL, boot INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (device, boot, lo)
) WITHOUT ROWID;
-- Per board, boots below forgotten_below were pruned (a copy of one counts as a duplicate);
-- forgotten_missing keeps their unfilled gaps in the board's `missing`.
CREATE TABLE IF NOT EXISTS boards (
    device TEXT PRIMARY KEY, forgotten_below INTEGER NOT NULL, forgotten_missing INTEGER NOT NULL
) WITHOUT ROWID;
-- Seconds taken per series: each summary takes the nearest free second at or after its time, so
-- stamps stay unique without moving anybody else's.
CREATE TABLE IF NOT EXISTS stamps (
    series TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (series, ts)
) WITHOUT ROWID;
-- Stitches and motor time per machine and minute (minute = the summaries' stamp // 60), for the
-- operator page's machine states and hourly bars (machine_state.py); kept ACTIVITY_KEEP_S.
CREATE TABLE IF NOT EXISTS activity (
    machine TEXT NOT NULL, minute INTEGER NOT NULL, stitches INTEGER NOT NULL, run_ms INTEGER NOT NULL,
    PRIMARY KEY (machine, minute)
) WITHOUT ROWID;
-- The hub's last offers document for this workshop (issue 7), so the page shows the offers after a
-- restart with the link down; etag is sent back as If-None-Match.
CREATE TABLE IF NOT EXISTS hub_offers (
    id INTEGER PRIMARY KEY CHECK (id = 1), etag TEXT, document TEXT NOT NULL, fetched_at REAL NOT NULL
);
-- Answers and reports the owner made, waiting for the hub's result (offer_store.py); kind is
-- answer, count or assign; body the item as the contract sends it.
CREATE TABLE IF NOT EXISTS hub_outbox (
    id INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, offer_id TEXT NOT NULL,
    body TEXT NOT NULL, made_at REAL NOT NULL
);
-- ... and once the hub gave its result (applied, duplicate, too_late, refused) with its reason.
CREATE TABLE IF NOT EXISTS hub_results (
    item_id TEXT PRIMARY KEY, kind TEXT NOT NULL, offer_id TEXT NOT NULL, body TEXT NOT NULL,
    made_at REAL NOT NULL, result TEXT NOT NULL, reason TEXT, settled_at REAL NOT NULL
) WITHOUT ROWID;
-- Which offer each machine works on, as the gateway last told the hub (NULL: none); set_by is
-- 'owner' (tapped on the page) or 'default' (the one accepted offer).
CREATE TABLE IF NOT EXISTS assignments (
    machine TEXT PRIMARY KEY, offer_id TEXT, set_by TEXT NOT NULL, at REAL NOT NULL
) WITHOUT ROWID;
-- The gateway clock as the store knows it (timekeeping.ClockState), one row.
-- v2 boots (contract v2): which key in `boots` a board's (boot number, nonce) got. Kept longer
-- than the boot itself (KEEP_BOOT_IDS per board) so a copy of a pruned boot is known.
CREATE TABLE IF NOT EXISTS boot_ids (
    device TEXT NOT NULL, boot INTEGER NOT NULL, nonce INTEGER NOT NULL, key INTEGER NOT NULL,
    PRIMARY KEY (device, boot, nonce)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateway_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL, offset_s REAL NOT NULL,
    kernel_synced INTEGER, newest_arrival REAL, stepped_back_s REAL NOT NULL,
    boards_agree INTEGER NOT NULL, since REAL
);
"""


def _line_ts(line: str) -> int:
    """The timestamp at the end of a line (0 if it has none: a line the server will refuse)."""
    last = line.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


class StoreFull(Exception):
    """The store's disk policy refuses new data now: nothing of the batch was written, so the
    caller must not acknowledge it (the broker keeps it) and should retry later."""


class ClockUnusable(StoreFull):
    """The gateway clock says it is before 2020 (a Pi that booted without network) and no synced
    board tells the time: nothing can be stamped. As for StoreFull: nothing was written, do not
    acknowledge, retry later (the broker keeps the messages until the clock is set)."""


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
    #: v2 summaries this batch decided for good (stored, duplicate, refused for their time), per
    #: (device, boot, nonce): the seqs the gateway acknowledges to the board once committed.
    acks: dict[tuple[str, int, int], list[int]] = field(default_factory=dict)

    def add(self, other: "BatchResult") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.statuses += other.statuses
        self.rejected.update(other.rejected)
        self.lines += other.lines
        for ident, seqs in other.acks.items():
            self.acks.setdefault(ident, []).extend(seqs)

    def decided(self, s: Summary) -> None:
        if s.nonce:
            self.acks.setdefault((s.device, s.boot, s.nonce), []).append(s.seq)


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
        clock_synced: Callable[[], bool | None] = kernel_clock_synced,
    ) -> None:
        """Open (or create) the store, check it and bring its schema up to date.

        A damaged file is set aside and a new store started (see store_salvage.py). A store of a
        newer gateway raises StoreVersionError. min_free_bytes / max_store_bytes (0: no limit) are
        the disk policy: ingest refuses new data (StoreFull) when the filesystem would have less
        free, or the store would hold more. inspect=True is for a second process (`sewnet gateway
        status`) reading beside the running gateway: no check, no upgrade, never sets aside.
        clock_synced: the kernel's word on the gateway clock (tests pass their own).
        """
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous={synchronous!r}: not an SQLite synchronous level")
        self.path = Path(path)
        self.workshop = workshop
        self.registry = dict(registry)
        self.tz = ZoneInfo(timezone)
        self.rejected_keep = rejected_keep
        self.seen_keep_s = seen_keep_s  # how long used seconds per series are remembered
        self._clock_synced = clock_synced
        # Synced boards' (arrival, board time) pairs: evidence about the gateway clock. In memory
        # only: a restart gathers new evidence within minutes, and the conclusion is stored.
        self._samples: defaultdict[str, deque] = defaultdict(lambda: deque(maxlen=64))
        self._held_since: float | None = None  # since when ClockUnusable holds batches back
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
            if st.f_bavail * st.f_frsize < 1024 * 1024 or _fault(exc) == "full":
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
            if isinstance(exc, sqlite3.DatabaseError) and _fault(exc) != "damage":
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
        self._mend_after_salvage()
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

    def _mend_after_salvage(self) -> None:
        """Make the salvaged dedup and time tables agree again, inside the caller's transaction.

        Each table holds what was readable of it, table by table. What the store had on record
        stays a duplicate, so the broker's redelivery of what was stored before the damage is
        not stored twice:
        - A board's latest boot whose row was lost is rebuilt from `devices`: its seqs up to the
          last one seen count as arrived (its holes, if their rows were read, stay holes).
        - Boots older than a board's oldest on record are forgotten, as prune_seen forgets them:
          only the broker brings an older boot again, in order, so after the latest boot they
          are copies. (Lost boots between two on record are not guessed: their holes go, since
          a new row for such a boot would collide with them and refuse its summaries.)
        - The waiting lines' seconds are taken again and `missing` recounted (store_schema).
        """
        db = self._db
        db.execute("INSERT OR IGNORE INTO boots(device, boot, base, max_seq)"
                   " SELECT device, boot, 1, seq FROM devices WHERE boot IS NOT NULL AND seq IS NOT NULL")
        self._load_caches()
        oldest: dict[str, int] = {}
        for device, boot in self._boots:
            oldest[device] = min(boot, oldest.get(device, boot))
        for device, boot in oldest.items():
            if boot > self._forgotten.get(device, (0, 0))[0]:
                self._forget_boots(device, below=boot)
        db.execute("DELETE FROM gaps WHERE NOT EXISTS"
                   " (SELECT 1 FROM boots b WHERE b.device = gaps.device AND b.boot = gaps.boot)")
        for stmt in store_schema.statements(store_schema.TAKE_WAITING_SECONDS + store_schema.RECOUNT_MISSING):
            db.execute(stmt)

    # ---- caches -------------------------------------------------------------------------------
    def _load_caches(self) -> None:
        db = self._db
        # Per series, the seconds already taken (tk.TakenSeconds), read from `stamps` when the
        # series is first stamped: a rolled-back batch or a pruned `stamps` starts them afresh.
        self._taken: dict[str, tk.TakenSeconds] = {}
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
        self._boot_ids: dict[tuple[str, int, int], int] = {
            (d, b, n): k for d, b, n, k in db.execute("SELECT device, boot, nonce, key FROM boot_ids")}
        # Per board, the highest boot key known (kept, pruned or forgotten): its life, and the
        # highest boot number in that life (a v2 boot at or below it with an unknown nonce is a
        # new life: the board's flash was erased or the board replaced under the same id).
        self._top_key: dict[str, int] = {}
        keys = [(d, k) for (d, _b, _n), k in self._boot_ids.items()]
        keys += list(self._boots)
        keys += [(d, below - 1) for d, (below, _m) in self._forgotten.items() if below > 0]
        for d, k in keys:
            if k > self._top_key.get(d, -1):
                self._top_key[d] = k
        self._missing: Counter = Counter({d: m for d, (_, m) in self._forgotten.items()})
        for device, n in db.execute("SELECT device, sum(hi - lo + 1) FROM gaps GROUP BY device"):
            self._missing[device] += n
        row = db.execute(
            "SELECT epoch, offset_s, kernel_synced, newest_arrival, stepped_back_s, boards_agree, since"
            " FROM gateway_clock WHERE id = 1"
        ).fetchone()
        self._clock = tk.ClockState() if row is None else tk.ClockState(
            row[0], row[1], None if row[2] is None else bool(row[2]), row[3], row[4], bool(row[5]), row[6])
        self._series_ids: dict[str, int] = {k: i for i, k in db.execute("SELECT id, key FROM series_keys")}
        self._devices: dict[str, _Device] = {}
        for row in db.execute(
            "SELECT device, machine, last_seen, state, state_at, boot, seq, fw, day, day_stitches, total FROM devices"
        ):
            self._devices[row[0]] = _Device(*row)

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
        A failure is handled by whose fault it is (`_fault`): one message's -> the batch is redone
        message by message and that one kept as rejected (`store_error`); the disk's -> StoreFull
        (so are the disk policy's refusal before the batch and ClockUnusable); a damaged file ->
        set aside, and the batch re-run in a new store; anything else raises. Whatever raises has
        written nothing.
        """
        with self._lock:
            self._usable()
            for attempt in (1, 2):
                try:
                    self._settle()
                    self._refuse_if_full()
                    res = self._ingest(messages)
                except StoreFull:
                    raise  # the disk policy's or the clock's refusal, already said
                except BaseException as exc:
                    self._rollback()
                    fault = _fault(exc)
                    if fault == "damage" and attempt == 1:
                        self._replace(str(exc), running=True)
                        continue  # the same batch into the new store: it was not acknowledged
                    if fault == "full":
                        self._full = _Full("sqlite", time.time() if self._full is None else self._full.since)
                        log.error("store: the disk is full; new data is refused until there is room")
                        raise StoreFull("the disk is full: SQLite could not write the batch") from None
                    raise
                self._full = None
                return res
        raise AssertionError("unreachable")

    def _ingest(self, messages: Sequence[Incoming]) -> BatchResult:
        try:
            return self._transaction(lambda: self._apply(messages))
        except Exception as exc:
            if _fault(exc) != "message":
                raise
            log.warning("a batch of %d failed (%s); storing it message by message", len(messages),
                        type(exc).__name__)
        return self._transaction(lambda: self._apply_one_by_one(messages))

    def _transaction(self, work: Callable[[], T]) -> T:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            result = work()
            self._db.execute("COMMIT")
            return result
        except BaseException:
            self._rollback()
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
                if _fault(exc) != "message":
                    raise  # the store's: _transaction rolls the whole batch back
                db.execute("ROLLBACK TO one")
                db.execute("RELEASE one")
                self._load_caches()
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
        results = [forced or validate(msg.topic, msg.payload, self.registry, msg.size) for msg in messages]
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
        originals: dict[int, Summary] = {}
        for msg, result in zip(messages, results):
            if type(result) is Summary:
                # From here on a summary's `boot` is its boot's key in the store (boot_key).
                s = _replace(result, boot=self._boot_key(result, counts)) if result.nonce else result
                originals[id(s)] = result
                ident = (s.device, s.boot, s.seq)
                if ident in in_batch or self._arrived(s):
                    res.duplicates += 1
                    res.decided(result)
                    continue
                reading = tk.Reading(s.seq, s.uptime_ms, s.interval_ms, msg.received_at + view.offset, s.time,
                                     s.sent_ms)
                why = tk.implausible(reading)
                if why is not None:
                    reject(msg, "implausible_time", why)
                    res.decided(result)
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
        activity: dict[tuple[str, int], list[int]] = {}
        for msg, s, reading in planned:
            anchor = anchors[(s.device, s.boot)]
            assert anchor is not None  # observe() ran for every planned summary
            stamped = tk.stamp(anchor, reading, view)
            if isinstance(stamped, tk.Refusal):
                reject(msg, "implausible_time", stamped.detail)
                res.decided(originals[id(s)])
                continue
            machine = self.registry[s.device]
            ts = self._take_second(machine, stamped.ts, stamped.latest)
            self._mark_arrived(s, counts)
            line = encode_line(self.workshop, machine, s, ts)
            outbox_rows.append((machine, ts, line, msg.received_at))
            act = activity.setdefault((machine, ts // 60), [0, 0])
            act[0] += s.stitches
            act[1] += s.run_ms
            res.lines.append(line)
            res.accepted += 1
            res.decided(originals[id(s)])
            self._note_summary(s, min(ts, reading.arrived), msg.received_at, today)
            touched.add(s.device)

        # 5. Write what the batch decided.
        if outbox_rows:
            self._append(outbox_rows)
        if activity:
            db.executemany(
                "INSERT INTO activity(machine, minute, stitches, run_ms) VALUES (?,?,?,?) ON CONFLICT(machine, minute)"
                " DO UPDATE SET stitches = stitches + excluded.stitches, run_ms = run_ms + excluded.run_ms",
                [(m, minute, st, run) for (m, minute), (st, run) in activity.items()])
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
    def _boot_key(self, s: Summary, counts: Counter) -> int:
        """The key in `boots` of a v2 summary's boot (board's boot number, nonce), given once and
        kept in `boot_ids` (inside the caller's transaction).

        A boot number above every boot of the board's current life continues that life (an
        ordinary restart). One at or below it with a nonce never seen cannot be a copy (a copy
        carries its boot's nonce): the board started over (flash erased, or replaced under the
        same id) and this is a new life, counted as `new_life`, whose summaries are kept,
        never dropped as duplicates of the old life's."""
        ident = (s.device, s.boot, s.nonce)
        key = self._boot_ids.get(ident)
        if key is not None:
            return key
        top = self._top_key.get(s.device, 0)
        life = top >> LIFE_SHIFT
        if s.boot <= top & BOOT_MASK and top > 0:
            life += 1
            counts["new_life"] += 1
            log.warning("board %s started over (boot %d again with a new nonce): a new life, kept apart",
                        s.device, s.boot)
        key = (life << LIFE_SHIFT) | s.boot
        self._boot_ids[ident] = key
        self._top_key[s.device] = max(top, key)
        self._db.execute("INSERT INTO boot_ids(device, boot, nonce, key) VALUES (?,?,?,?)", (*ident, key))
        return key

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
            self._top_key[s.device] = max(self._top_key.get(s.device, 0), s.boot)
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
        are all taken, the nearest free one before `ts` (tk.free_second). (Only a board sending far
        more summaries than its intervals allow crowds a series like that; its data is kept, in
        the past.)"""
        taken = self._taken.get(series)
        if taken is None:
            taken = self._taken[series] = tk.TakenSeconds(
                t for (t,) in self._db.execute("SELECT ts FROM stamps WHERE series=?", (series,)))
        free = taken.take(ts, latest)
        self._db.execute("INSERT INTO stamps(series, ts) VALUES (?,?)", (series, free))
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

        Called from the ingest loop, so the store's faults are handled as for a batch: a damaged
        file is set aside (`_guarded`); on a full disk (a delete writes to the WAL first) nothing
        is pruned and 0 returned, to be tried at the next prune, instead of an error that would
        make the ingest loop reconnect.
        """
        now = time.time() if now is None else now

        def prune() -> int:
            try:
                deleted = self._transaction(lambda: self._prune(now))
            except sqlite3.Error as exc:
                if _fault(exc) != "full":
                    raise
                log.warning("store: the disk is full; old boots and used seconds are forgotten when there is room")
                return 0
            self._load_caches()  # the forgotten boots leave the caches too
            return deleted

        return self._guarded(prune)

    def _forget_boots(self, device: str, below: int) -> int:
        """Forget the boots of `device` below `below`: a copy of one counts as a duplicate, their
        holes stay counted in the board's `missing`. Returns the rows deleted."""
        db = self._db
        before, carried = self._forgotten.get(device, (0, 0))
        carried += db.execute("SELECT coalesce(sum(hi - lo + 1), 0) FROM gaps WHERE device=? AND boot<?",
                              (device, below)).fetchone()[0]
        deleted = db.execute("DELETE FROM gaps WHERE device=? AND boot<?", (device, below)).rowcount
        deleted += db.execute("DELETE FROM boots WHERE device=? AND boot<?", (device, below)).rowcount
        db.execute("INSERT OR REPLACE INTO boards(device, forgotten_below, forgotten_missing) VALUES (?,?,?)",
                   (device, max(before, below), carried))
        return deleted

    def _prune(self, now: float) -> int:
        db = self._db
        deleted = 0
        by_device: dict[str, list[int]] = defaultdict(list)
        for device, boot in self._boots:
            by_device[device].append(boot)
        for device, boots in by_device.items():
            old = sorted(boots, reverse=True)[KEEP_BOOTS:]
            if old:
                deleted += self._forget_boots(device, below=max(old) + 1)
        deleted += db.execute(
            "DELETE FROM boot_ids WHERE key < (SELECT coalesce(min(key), 0) FROM (SELECT key FROM boot_ids b"
            " WHERE b.device = boot_ids.device ORDER BY key DESC LIMIT ?))", (KEEP_BOOT_IDS,)).rowcount
        view = tk.view(self._clock, now)
        if view.trusted:
            deleted += db.execute("DELETE FROM stamps WHERE ts < ?", (now + view.offset - self.seen_keep_s,)).rowcount
            deleted += db.execute("DELETE FROM activity WHERE minute < ?",
                                  (int(now + view.offset - ACTIVITY_KEEP_S) // 60,)).rowcount
            self._taken.clear()
        return deleted

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
            if _fault(exc) != "full":
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
            if _fault(exc) != "full":
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
                if _fault(exc) != "damage":
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
                        # The board's own boot number; `life` > 0 once it started over (new_life).
                        "boot": None if d.boot is None else d.boot & BOOT_MASK,
                        "life": None if d.boot is None else d.boot >> LIFE_SHIFT,
                        "seq": d.seq,
                        "fw": d.fw,
                        "stitches_today": d.day_stitches if d.day == today else 0,
                        "total": d.total,
                        # Summaries of this board known not to have arrived (docs/protocol.md 5).
                        "missing": self._missing.get(device, 0),
                    }
                )
        return out

    def activity(self, since: float) -> list[tuple[str, int, int, int]]:
        """(machine, minute, stitches, run_ms) of the minutes from `since` (Unix time) on."""
        return self._guarded(lambda: self._db.execute(
            "SELECT machine, minute, stitches, run_ms FROM activity WHERE minute >= ? ORDER BY machine, minute",
            (int(since) // 60,)).fetchall())

    def locked(self, op: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        """op(connection) under the store's lock, for the offers' tables (offer_store.py); with
        write=True inside one transaction (`_transaction`, as ingest's: rolled back on failure)."""
        if not write:
            return self._guarded(lambda: op(self._db))
        return self._guarded(lambda: self._transaction(lambda: op(self._db)))

    def alerts(self) -> list[Alert]:
        """The store's current problems for the operator page (clock, disk, damaged file)."""
        with self._lock:
            if self._full is not None and self._full.why != "sqlite" and (self.min_free_bytes or self.max_store_bytes):
                # Say what is true now: the uplink may have made room since the last batch.
                with contextlib.suppress(sqlite3.Error, OSError):
                    if self._policy()[0] is None:
                        self._full = None
            alerts = store_alerts(
                full=self._full,
                settled=len(self._settled),
                replacements=[r for r in self._replacements if (self.path.parent / r.set_aside).exists()],
                failing=self._failing,
            )
            clock = clock_alert(self._clock, self._held_since)
        return alerts + ([clock] if clock is not None else [])

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


_Fault = Literal["message", "full", "damage", "store"]


def _fault(exc: BaseException) -> _Fault:
    """Whose fault a failure is. The one place that decides it; the store acts on the answer:

    - "full": the disk (SQLite's SQLITE_FULL, or StoreFull: the disk policy, ClockUnusable).
      Nothing is written and the batch not acknowledged: the broker keeps it until there is room.
    - "damage": the file (SQLITE_CORRUPT, SQLITE_NOTADB): it is set aside and a new store started.
    - "store": any other fault of SQLite or the system (I/O error, locked, read-only, out of
      memory; a DatabaseError without a more precise class): raised, with nothing written.
    - "message": anything else raised while deciding one message (a value SQLite or the calendar
      cannot hold, a constraint): that message is taken out and kept as rejected (store_error).
    """
    if isinstance(exc, StoreFull) or store_salvage.is_full(exc):
        return "full"
    if store_salvage.is_damage(exc):
        return "damage"
    if isinstance(exc, (MemoryError, sqlite3.OperationalError, sqlite3.InternalError)):
        return "store"
    if type(exc) is sqlite3.DatabaseError or not isinstance(exc, Exception):
        return "store"
    return "message"


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


__all__ = ["Outbox", "Incoming", "BatchResult", "PendingLine", "REASONS", "StoreFull", "ClockUnusable",
           "StoreDamaged", "StoreVersionError"]
