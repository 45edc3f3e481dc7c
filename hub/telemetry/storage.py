"""The hub's embedded time-series store: the demo's stand-in for InfluxDB, in SQLite.

Points live in SQLite (WAL, synchronous=FULL: a 204 means the batch survives a power cut, which
the gateway relies on before it deletes its copy). A point is keyed by (series, timestamp), and a
rewrite merges its fields over the stored ones, last write wins, as InfluxDB 1.x/2.x do: that is
what makes the gateway's retries idempotent. InfluxDB's HTTP API in front of it is
hub.telemetry.routes; the capacity service reads it through hub.telemetry.embedded.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from hub.telemetry import line_protocol as lp
from hub.telemetry import schema

log = logging.getLogger("sewnet.hub.embedded_store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,           -- measurement and sorted tags, escaped as in line protocol
    measurement TEXT NOT NULL,
    tags TEXT NOT NULL,                 -- JSON object
    workshop TEXT,                      -- copies of the two tags capacity groups by
    machine TEXT
);
CREATE TABLE IF NOT EXISTS point (
    series_id INTEGER NOT NULL REFERENCES series(id),
    time_ns INTEGER NOT NULL,
    fields TEXT NOT NULL,               -- JSON object
    -- The fields capacity sums, pulled out once on write so a query reads plain columns.
    stitches INTEGER GENERATED ALWAYS AS (json_extract(fields, '$.stitches')) STORED,
    run_ms INTEGER GENERATED ALWAYS AS (json_extract(fields, '$.run_ms')) STORED,
    interval_ms INTEGER GENERATED ALWAYS AS (json_extract(fields, '$.interval_ms')) STORED,
    PRIMARY KEY (series_id, time_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS point_by_time ON point(time_ns);  -- for pruning
CREATE INDEX IF NOT EXISTS series_by_workshop ON series(workshop);  -- one workshop's reads
CREATE TABLE IF NOT EXISTS field_type (
    measurement TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (measurement, name)
) WITHOUT ROWID;
"""

_PRUNE_EVERY_S = 3600
_DAY_NS = 86_400 * 10**9


def fixed_offset_ns(zone: ZoneInfo, first_ns: int, last_ns: int) -> int:
    """The zone's UTC offset in nanoseconds, if it is the same all through first..last (Seoul has
    kept +09:00 since 1988). Buckets in a zone whose offset changes inside the range (a daylight
    saving switch) would need InfluxDB's per-bucket rules, which this store does not copy: it
    refuses them with ValueError instead of answering differently."""
    first_ns = max(first_ns, 0)
    last_ns = max(last_ns, first_ns)
    steps = (last_ns - first_ns) // (_DAY_NS // 4)
    if steps > 4 * 3660:
        raise ValueError("the range is too long to group by time in a time zone (at most 10 years)")

    def offset(ns: int) -> int:
        t = datetime.fromtimestamp(ns // 10**9, timezone.utc)
        return round(zone.utcoffset(t).total_seconds()) * 10**9  # type: ignore[union-attr]

    # Every 6 hours is finer than any two offset changes ever came.
    offsets = {offset(first_ns + i * (_DAY_NS // 4)) for i in range(steps + 1)} | {offset(last_ns)}
    if len(offsets) != 1:
        raise ValueError(f"the time zone {zone.key} changes its UTC offset inside the range")
    return offsets.pop()


@dataclass
class WriteOutcome:
    written: int = 0
    # InfluxDB's "field type conflict" drops: the point is refused, the rest of the batch is kept.
    conflicts: list[str] = field(default_factory=list)
    # `sewing` points with values the contract does not allow (hub/telemetry/schema.py), dropped likewise.
    out_of_contract: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return len(self.conflicts) + len(self.out_of_contract)


class EmbeddedStore:
    def __init__(self, path: Path | str, retention: timedelta = timedelta(days=35),
                 clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.retention_ns = round(retention.total_seconds() * 1e9)
        self.clock = clock
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._types: dict[tuple[str, str], str] = {
            (m, n): t for m, n, t in self._writer.execute("SELECT measurement, name, type FROM field_type")}
        self._series_ids: dict[str, int] = {}
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._last_prune = 0.0
        self._closed = False

    def now_ns(self) -> int:
        return int(self.clock() * 1e9)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        """One read connection per thread: WAL lets readers run beside the writer."""
        if self._closed:
            raise sqlite3.ProgrammingError("the embedded store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        self._closed = True
        with self._write_lock:
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # ------------------------------------------------------------------ writing
    def _series_id(self, point: lp.Point) -> int:
        key = point.series_key
        sid = self._series_ids.get(key)
        if sid is None:
            tags = dict(point.tags)
            self._writer.execute(
                "INSERT OR IGNORE INTO series(key, measurement, tags, workshop, machine) VALUES (?,?,?,?,?)",
                (key, point.measurement, json.dumps(tags, ensure_ascii=False), tags.get("workshop"),
                 tags.get("machine")))
            sid = self._writer.execute("SELECT id FROM series WHERE key = ?", (key,)).fetchone()[0]
            self._series_ids[key] = sid
        return sid

    def write(self, points: list[lp.Point]) -> WriteOutcome:
        """Store points in one transaction. A field whose type differs from the type the field
        already has in its measurement refuses the whole point, as InfluxDB does; so does a
        `sewing` value outside the contract's ranges, which InfluxDB would keep but capacity
        cannot use."""
        outcome = WriteOutcome()
        accepted = []
        for point in points:
            problem = schema.contract_problem(point)
            if problem is None:
                accepted.append(point)
            else:
                outcome.out_of_contract.append(f"point {lp.shorten(point.series_key)} at {point.time_ns}: {problem}")
        points = accepted
        if not points:
            return outcome
        with self._write_lock:
            if self._closed:
                raise sqlite3.ProgrammingError("the embedded store is closed")
            new_types: dict[tuple[str, str], str] = {}
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                for point in points:
                    conflict = None
                    for name, value in point.fields.items():
                        have = self._types.get((point.measurement, name)) or new_types.get((point.measurement, name))
                        got = lp.field_type(value)
                        if have is not None and have != got:
                            conflict = (f'field type conflict: input field "{lp.shorten(name, 64)}" on measurement '
                                        f'"{lp.shorten(point.measurement, 64)}" is type {got}, '
                                        f'already exists as type {have}')
                            break
                    if conflict:
                        outcome.conflicts.append(conflict)
                        continue
                    for name, value in point.fields.items():
                        if (point.measurement, name) not in self._types:
                            new_types[(point.measurement, name)] = lp.field_type(value)
                    sid = self._series_id(point)
                    self._writer.execute(
                        "INSERT INTO point(series_id, time_ns, fields) VALUES (?,?,?) "
                        "ON CONFLICT(series_id, time_ns) DO UPDATE SET fields = json_patch(fields, excluded.fields)",
                        (sid, point.time_ns, json.dumps(point.fields, ensure_ascii=False)))
                    outcome.written += 1
                self._writer.executemany(
                    "INSERT OR IGNORE INTO field_type(measurement, name, type) VALUES (?,?,?)",
                    [(m, n, t) for (m, n), t in new_types.items()])
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                # Series ids handed out inside the rolled-back transaction no longer exist.
                self._series_ids.clear()
                raise
            self._types.update(new_types)
            self._maybe_prune()
        return outcome

    def _maybe_prune(self) -> None:
        now = self.clock()
        if now - self._last_prune < _PRUNE_EVERY_S:
            return
        self._last_prune = now
        cutoff = self.now_ns() - self.retention_ns
        deleted = self._writer.execute("DELETE FROM point WHERE time_ns < ?", (cutoff,)).rowcount
        if deleted:
            log.info("pruned %d points older than the retention", deleted)

    # ------------------------------------------------------------------ reading
    # Rows come in InfluxDB's order of series: by tag values, tag keys sorted (machine, workshop).
    # Every read takes a closed range of times, first_ns <= time <= last_ns: InfluxQL's `>`, `<`
    # and `<=` all map onto it in integers, so the query endpoint and the adapter share one meaning.
    @staticmethod
    def _counted(column: str) -> str:
        """A sum that counts a value outside the contract's range as missing, so no sum can
        overflow (SQLite's sum() raises on overflow, which once took capacity down for everyone)."""
        low, high = schema.SEWING_FIELDS[column]
        return f"sum(CASE WHEN p.{column} BETWEEN {low} AND {high} THEN p.{column} END)"

    @staticmethod
    def _series_filter(workshop: str | None) -> str:
        """The series a read walks: every `sewing` series, or one workshop's through its index
        (the workshop itself is a bound parameter, never SQL text)."""
        return "s.measurement = 'sewing'" + (" AND s.workshop = ?" if workshop is not None else "")

    @staticmethod
    def _series_args(workshop: str | None) -> tuple:
        return (workshop,) if workshop is not None else ()

    def activity(self, first_ns: int, last_ns: int) -> list[tuple[str, str, int, int, int]]:
        """Per (workshop, machine): sums of stitches, run_ms and interval_ms over first <= time <= last."""
        # Series first, then a primary-key range per series (CROSS JOIN fixes that order in
        # SQLite): ten times faster than walking the time index and grouping 360k rows by text.
        return self._reader().execute(
            f"""SELECT coalesce(workshop, ''), coalesce(machine, ''), sum(st), sum(r), sum(i) FROM (
                   SELECT s.workshop, s.machine, {self._counted("stitches")} AS st, {self._counted("run_ms")} AS r,
                          {self._counted("interval_ms")} AS i
                   FROM series s CROSS JOIN point p
                        ON p.series_id = s.id AND p.time_ns >= ? AND p.time_ns <= ?
                   WHERE s.measurement = 'sewing' GROUP BY s.id)
               GROUP BY 1, 2 ORDER BY 2, 1""", (first_ns, last_ns)).fetchall()

    def activity_buckets(self, first_ns: int, last_ns: int, bucket_ns: int, offset_ns: int = 0,
                         workshop: str | None = None) -> list[tuple[str, str, int, int, int, int]]:
        """Per (workshop, machine, bucket): the bucket's start and the sums over first <= time <=
        last. Buckets are `bucket_ns` long and start where (time + offset_ns) is a multiple of it:
        offset_ns is a fixed-offset zone's UTC offset (9 h for Seoul), so a day starts at local
        midnight. Only buckets holding points are returned (InfluxQL's fill(none)). With
        `workshop`, that workshop's series alone."""
        if bucket_ns <= 0:
            raise ValueError("a bucket must be longer than zero")
        bucket_ns, offset_ns = int(bucket_ns), int(offset_ns)  # formatted into the SQL: integers only
        # Floored modulo (SQLite's % truncates toward zero), so times before 1970 bucket alike.
        start = f"(p.time_ns + {offset_ns}) - ((((p.time_ns + {offset_ns}) % {bucket_ns}) + {bucket_ns}) % {bucket_ns}) - {offset_ns}"
        return self._reader().execute(
            f"""SELECT coalesce(workshop, ''), coalesce(machine, ''), b, sum(st), sum(r), sum(i) FROM (
                   SELECT s.workshop, s.machine, {start} AS b, {self._counted("stitches")} AS st,
                          {self._counted("run_ms")} AS r, {self._counted("interval_ms")} AS i
                   FROM series s CROSS JOIN point p
                        ON p.series_id = s.id AND p.time_ns >= ? AND p.time_ns <= ?
                   WHERE {self._series_filter(workshop)} GROUP BY s.id, b)
               GROUP BY 1, 2, 3 ORDER BY 2, 1, 3""", (first_ns, last_ns, *self._series_args(workshop))).fetchall()

    def last_seen(self, first_ns: int, last_ns: int, workshop: str | None = None,
                  ran: bool = False) -> list[tuple[str, str, int, int]]:
        """Per (workshop, machine): time and stitches of the latest point with a stitches field
        in first <= time <= last (with `ran`, the latest whose run_ms is above zero and within
        the contract: when the needle last ran). A point stamped in the future is not the latest
        until its time comes, so a gateway clock running ahead cannot keep a machine online.
        With `workshop`, that workshop's series alone."""
        # Per series, the primary key walked backwards from `last`: one seek in the common case.
        # A (workshop, machine) pair normally is one series; max() covers extra tags making more.
        condition = f"run_ms BETWEEN 1 AND {schema.SEWING_FIELDS['run_ms'][1]}" if ran else "stitches IS NOT NULL"
        return self._reader().execute(
            f"""SELECT coalesce(s.workshop, ''), coalesce(s.machine, ''), max(p.time_ns), p.stitches
               FROM series s CROSS JOIN point p ON p.series_id = s.id AND p.time_ns = (
                   SELECT time_ns FROM point WHERE series_id = s.id AND time_ns >= ? AND time_ns <= ?
                       AND {condition} ORDER BY time_ns DESC LIMIT 1)
               WHERE {self._series_filter(workshop)}
               GROUP BY 1, 2 ORDER BY 2, 1""", (first_ns, last_ns, *self._series_args(workshop))).fetchall()

    def point_count(self) -> int:
        return self._reader().execute("SELECT count(*) FROM point").fetchone()[0]

    def fields_at(self, series_key: str, time_ns: int) -> dict | None:
        row = self._reader().execute(
            "SELECT p.fields FROM point p JOIN series s ON s.id = p.series_id WHERE s.key = ? AND p.time_ns = ?",
            (series_key, time_ns)).fetchone()
        return json.loads(row[0]) if row else None
