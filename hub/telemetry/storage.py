"""The hub's embedded time-series store: the demo's stand-in for InfluxDB.

It speaks InfluxDB's write API (`POST /api/v2/write`, `POST /write`) so the gateway ships to it
unchanged, and answers the two InfluxQL statements of docs/protocol.md section 7 on `GET /query`
so `InfluxQLTelemetry` works against it as against InfluxDB. Nothing else of InfluxQL is served.

Points live in SQLite (WAL, synchronous=FULL: a 204 means the batch survives a power cut, which
the gateway relies on before it deletes its copy). A point is keyed by (series, timestamp), and a
rewrite merges its fields over the stored ones, last write wins, as InfluxDB 1.x/2.x do: that is
what makes the gateway's retries idempotent.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sqlite3
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Callable

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from hub.telemetry import line_protocol as lp
from hub.telemetry import schema
from hub.core.dependencies import check_secret, get_guard, get_rejections, get_settings
from hub.core.lockout import LockedOut, LoginGuard
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings

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
CREATE TABLE IF NOT EXISTS field_type (
    measurement TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (measurement, name)
) WITHOUT ROWID;
"""

_PRUNE_EVERY_S = 3600


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
    def activity(self, since_ns: int, until_ns: int) -> list[tuple[str, str, int, int, int]]:
        """Per (workshop, machine): sums of stitches, run_ms and interval_ms over since < time <=
        until. A value outside the contract's range counts as missing, so no sum can overflow
        (SQLite's sum() raises on overflow, which once took capacity down for everyone)."""
        def counted(column: str) -> str:
            low, high = schema.SEWING_FIELDS[column]
            return f"sum(CASE WHEN p.{column} BETWEEN {low} AND {high} THEN p.{column} END)"

        # Series first, then a primary-key range per series (CROSS JOIN fixes that order in
        # SQLite): ten times faster than walking the time index and grouping 360k rows by text.
        return self._reader().execute(
            f"""SELECT coalesce(workshop, ''), coalesce(machine, ''), sum(st), sum(r), sum(i) FROM (
                   SELECT s.workshop, s.machine, {counted("stitches")} AS st, {counted("run_ms")} AS r,
                          {counted("interval_ms")} AS i
                   FROM series s CROSS JOIN point p
                        ON p.series_id = s.id AND p.time_ns > ? AND p.time_ns <= ?
                   WHERE s.measurement = 'sewing' GROUP BY s.id)
               GROUP BY 1, 2 ORDER BY 1, 2""", (since_ns, until_ns)).fetchall()

    def last_seen(self, since_ns: int, until_ns: int) -> list[tuple[str, str, int, int]]:
        """Per (workshop, machine): time and stitches of the latest point with a stitches field
        in since < time <= until. A point stamped in the future is not the latest until its time
        comes, so a gateway clock running ahead cannot keep a machine online."""
        # Per series, the primary key walked backwards from `until`: one seek in the common case.
        # A (workshop, machine) pair normally is one series; max() covers extra tags making more.
        return self._reader().execute(
            """SELECT coalesce(s.workshop, ''), coalesce(s.machine, ''), max(p.time_ns), p.stitches
               FROM series s CROSS JOIN point p ON p.series_id = s.id AND p.time_ns = (
                   SELECT time_ns FROM point WHERE series_id = s.id AND time_ns > ? AND time_ns <= ?
                       AND stitches IS NOT NULL ORDER BY time_ns DESC LIMIT 1)
               WHERE s.measurement = 'sewing'
               GROUP BY 1, 2 ORDER BY 1, 2""", (since_ns, until_ns)).fetchall()

    def point_count(self) -> int:
        return self._reader().execute("SELECT count(*) FROM point").fetchone()[0]

    def fields_at(self, series_key: str, time_ns: int) -> dict | None:
        row = self._reader().execute(
            "SELECT p.fields FROM point p JOIN series s ON s.id = p.series_id WHERE s.key = ? AND p.time_ns = ?",
            (series_key, time_ns)).fetchone()
        return json.loads(row[0]) if row else None


# ====================================================================== HTTP: InfluxDB's write API
router = APIRouter(tags=["embedded store"])


class _Refused(Exception):
    def __init__(self, status: int, reason: str, detail: str):
        self.status, self.reason, self.detail = status, reason, detail


def _store(request: Request) -> EmbeddedStore:
    return request.app.state.embedded_store


def _credentials(request: Request, u: str | None, p: str | None) -> str | None:
    """The secret a client presented: `Authorization: Token x` (v2), Basic or u/p (v1), Bearer."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme in ("token", "bearer") and value.strip():
        return value.strip()
    if scheme == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return None
    return p if p else None


async def _read_body(request: Request, limit: int) -> tuple[bytes, bool]:
    """The request body as sent, and whether it is gzip'd; refused past `limit` bytes. Only the
    reading happens here, on the event loop; inflating it is _inflate's, in a worker thread."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise _Refused(415, "content_encoding", f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, "oversized", f"request body of {declared} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, "oversized", f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks), encoding == "gzip"


def _inflate(body: bytes, limit: int) -> bytes:
    """Gunzip every member of a body, as InfluxDB (Go's gzip reader) does: `cat a.gz b.gz` is one
    body of both. The limit holds across all members, so a small bomb cannot fill the memory."""
    out: list[bytes] = []
    size = 0
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(rest, limit - size + 1)
        except zlib.error as e:
            raise _Refused(400, "bad_gzip", f"body is not valid gzip: {e}") from None
        size += len(data)
        if size > limit or inflater.unconsumed_tail:
            raise _Refused(413, "oversized", f"decompressed body is over the limit of {limit} bytes")
        if not inflater.eof:
            raise _Refused(400, "bad_gzip", "gzip body is truncated")
        out.append(data)
        rest = inflater.unused_data
        if not rest:
            return b"".join(out)


def _error(api: str, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """InfluxDB's error bodies: v1 `{"error": ...}`, v2 `{"code": ..., "message": ...}`."""
    if api == "v1":
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    code = {400: "invalid", 401: "unauthorized", 404: "not found", 413: "request too large",
            415: "unsupported media type", 429: "too many requests"}.get(status, "internal error")
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


#: Rejected lines and points recorded (and logged) one by one per request; the rest of a request's
#: are recorded as one count per reason, so one request of 10,000 bad lines costs a few log lines.
DETAILED_PER_REQUEST = 20


def _record(rejections: Rejections, problems: list[tuple[str, str]]) -> None:
    """Record a request's (reason, detail) problems: the first few each, the rest summed."""
    for reason, detail in problems[:DETAILED_PER_REQUEST]:
        rejections.add("write", reason, detail)
    rest = Counter(reason for reason, _ in problems[DETAILED_PER_REQUEST:])
    for reason, count in rest.items():
        rejections.add("write", reason, f"... and {count} more like it in the same request", count=count)


def _ingest(store: EmbeddedStore, body: bytes, gzipped: bool, precision_ns: int, settings: HubSettings,
            rejections: Rejections) -> tuple[int, list[str], int]:
    """Inflate, decode, parse and store one body: all the CPU a request costs, in a worker thread
    so the event loop keeps answering (a 10 MiB body once held /healthz for 32 s). Returns the
    points written, the problems in InfluxDB's words, and how many parsed points were dropped."""
    if gzipped:
        body = _inflate(body, settings.embedded_max_body_bytes)
    lines = lp.physical_lines(body)
    if lines > settings.embedded_max_lines:
        raise _Refused(413, "too_many_lines", f"the body has {lines} lines, more than the "
                                              f"{settings.embedded_max_lines} lines a request may carry: "
                                              "send fewer lines per request")
    parsed = lp.parse(body.decode("utf-8", "surrogateescape"), precision_ns, store.now_ns())
    outcome = store.write(parsed.points) if parsed.points else WriteOutcome()
    problems = ([("line_protocol", bad.describe()) for bad in parsed.rejected]
                + [("field_type_conflict", c) for c in outcome.conflicts]
                + [("out_of_contract", c) for c in outcome.out_of_contract])
    _record(rejections, problems)
    return outcome.written, [detail for _, detail in problems], outcome.dropped


async def _write(request: Request, api: str, database: str | None, precision: str, secret: str | None,
                 settings: HubSettings, rejections: Rejections, guard: LoginGuard) -> Response:
    try:
        write_token = settings.embedded_write_token
        if write_token is None:
            raise _Refused(401, "unauthorized", "the hub has no write token configured (SEWNET_HUB_EMBEDDED_WRITE_TOKEN)")
        tid = check_secret(request, "store", "write", secret, [write_token.get_secret_value()], guard, rejections)
        if isinstance(tid, LockedOut):
            return _error(api, 429, tid.message, tid.headers)
        if tid is None:
            raise _Refused(401, "unauthorized", "authorization failed" if api == "v1" else "unauthorized access")
        if not database:
            raise _Refused(400 if api == "v1" else 404, "no_database",
                           "database is required" if api == "v1" else 'bucket "" not found')
        if database != settings.embedded_database:
            raise _Refused(404, "unknown_database", f"database not found: \"{database}\"" if api == "v1"
                           else f'bucket "{database}" not found')
        allowed = lp.PRECISION_NS if api == "v1" else lp.V2_PRECISIONS
        if precision not in allowed:
            raise _Refused(400, "bad_precision", f"invalid precision {precision!r}: use one of {', '.join(allowed)}")
        body, gzipped = await _read_body(request, settings.embedded_max_body_bytes)
        written, problems, dropped = await anyio.to_thread.run_sync(
            _ingest, _store(request), body, gzipped, lp.PRECISION_NS[precision], settings, rejections,
            limiter=request.app.state.ingest_limiter)
    except _Refused as e:
        rejections.add("write", e.reason, e.detail)
        return _error(api, e.status, e.detail)
    except sqlite3.Error as e:
        log.error("embedded store write failed: %s", e)
        rejections.add("write", "store_error", str(e))
        return _error(api, 503, f"the embedded store cannot write now: {e}")

    if not problems:
        return Response(status_code=204)
    shown = "\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more" if len(problems) > 20 else "")
    if written == 0 and not dropped:
        return _error(api, 400, shown)
    return _error(api, 400, f"partial write: {shown} dropped={dropped}")


@router.post("/api/v2/write", status_code=204, summary="InfluxDB v2 write API (line protocol)")
async def write_v2(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
    bucket: str | None = None,
    org: str | None = None,  # accepted and ignored: the embedded store has one organisation
    precision: str = "ns",
) -> Response:
    return await _write(request, "v2", bucket, precision, _credentials(request, None, None), settings, rejections,
                        guard)


@router.post("/write", status_code=204, summary="InfluxDB v1 write API (line protocol)")
async def write_v1(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
    db: str | None = None,
    precision: str = "ns",
    rp: str | None = None,  # accepted and ignored: retention is the store's own
    u: str | None = None,
    p: str | None = None,
) -> Response:
    return await _write(request, "v1", db, precision, _credentials(request, u, p), settings, rejections, guard)


# ====================================================================== HTTP: the two InfluxQL reads
# Units are case-sensitive in InfluxQL ("1H" is not a duration) though keywords are not.
_DURATION = r"(?-i:([0-9]+)(ns|u|µ|ms|s|m|h|d|w))"
# The window ends at now() when the statement says so, as the hub's own queries do: a point
# stamped in the future must not count before its time. Without that clause, InfluxDB (and this
# store, to answer alike) has no upper bound.
_WINDOW = (r'WHERE\s+time\s*>\s*now\(\)\s*-\s*' + _DURATION
           + r'(\s+AND\s+time\s*<=\s*now\(\))?\s+GROUP\s+BY\s+"workshop"\s*,\s*"machine"\s*;?\s*\Z')
_ACTIVITY = re.compile(
    r'SELECT\s+sum\("stitches"\)\s+AS\s+stitches\s*,\s*sum\("run_ms"\)\s+AS\s+run_ms\s*,\s*'
    r'sum\("interval_ms"\)\s+AS\s+observed_ms\s+FROM\s+"sewing"\s+' + _WINDOW, re.IGNORECASE)
_LAST_SEEN = re.compile(r'SELECT\s+last\("stitches"\)\s+FROM\s+"sewing"\s+' + _WINDOW, re.IGNORECASE)
_DURATION_NS = {"ns": 1, "u": 1_000, "µ": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
                "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
_INT64_MAX = 2**63 - 1
_EPOCH_NS = {"ns": 1, "n": 1, "u": 1_000, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}


def _rfc3339(ns: int) -> str:
    seconds, rem = divmod(ns, 10**9)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return stamp + (f".{rem:09d}".rstrip("0") if rem else "") + "Z"


def _duration_ns(digits: str, unit: str) -> int:
    """An InfluxQL duration in nanoseconds, refused in InfluxDB's words when it does not fit its
    int64 (`now() - 99999999999999999999w` once answered 500)."""
    if len(digits) > 19 or int(digits) > _INT64_MAX:
        raise _Refused(400, "bad_duration", "error parsing query: invalid duration")
    ns = int(digits) * _DURATION_NS[unit]
    if ns > _INT64_MAX:
        raise _Refused(400, "bad_duration",
                       f"error parsing query: overflowed duration {digits}{unit}: choose a smaller duration or INF")
    return ns


def _series(name: str, workshop: str, machine: str, columns: list[str], row: list) -> dict:
    return {"name": name, "tags": {"machine": machine, "workshop": workshop}, "columns": columns, "values": [row]}


@router.get("/query", summary="The two InfluxQL reads of docs/protocol.md section 7, and nothing else")
async def query(
    request: Request,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    guard: Annotated[LoginGuard, Depends(get_guard)],
    q: Annotated[str, Query(max_length=4096)] = "",
    db: str | None = None,
    epoch: str | None = None,
    u: str | None = None,
    p: str | None = None,
) -> Response:
    secret = _credentials(request, u, p)
    readers = settings.all_api_tokens()
    if settings.embedded_write_token is not None:
        readers.append(settings.embedded_write_token.get_secret_value())
    tid = check_secret(request, "store", "query", secret, readers, guard, rejections)
    if isinstance(tid, LockedOut):
        return _error("v1", 429, tid.message, tid.headers)
    if tid is None:
        rejections.add("query", "unauthorized", "missing or wrong credentials")
        return _error("v1", 401, "authorization failed")
    if db != settings.embedded_database:
        rejections.add("query", "unknown_database", f"db={db!r}")
        return _error("v1", 404 if db else 400, f"database not found: {db}" if db else "database name required")
    if epoch is not None and epoch not in _EPOCH_NS:
        rejections.add("query", "bad_epoch", f"epoch={epoch!r}")
        return _error("v1", 400, f"invalid epoch {epoch!r}")
    store = _store(request)
    statement = q.strip()
    activity, last = _ACTIVITY.match(statement), _LAST_SEEN.match(statement)
    if not (activity or last):
        rejections.add("query", "unsupported_statement", statement[:300])
        return _error("v1", 400, "error parsing query: the embedded store serves only the two capacity "
                                 "queries of docs/protocol.md section 7")
    m = activity or last
    try:
        window_ns = _duration_ns(m.group(1), m.group(2))
    except _Refused as e:
        rejections.add("query", e.reason, statement[:300])
        return _error("v1", e.status, e.detail)
    now_ns = store.now_ns()
    # now_ns - window_ns stays inside int64 (both are in it and now is positive); the clamp keeps
    # the range start a time InfluxDB could hold.
    since_ns = max(now_ns - window_ns, lp.MIN_TIME_NS - 1)
    until_ns = now_ns if m.group(3) else lp.MAX_TIME_NS

    def stamp(ns: int):
        return ns // _EPOCH_NS[epoch] if epoch else _rfc3339(ns)

    try:
        if activity:
            rows = await anyio.to_thread.run_sync(store.activity, since_ns, until_ns)
            # Like InfluxDB, an aggregate without GROUP BY time() is stamped with the range start.
            series = [_series("sewing", w, mc, ["time", "stitches", "run_ms", "observed_ms"],
                              [stamp(since_ns + 1), s, r, o]) for w, mc, s, r, o in rows]
        else:
            rows = await anyio.to_thread.run_sync(store.last_seen, since_ns, until_ns)
            series = [_series("sewing", w, mc, ["time", "last"], [stamp(t), s]) for w, mc, t, s in rows]
    except sqlite3.Error as e:
        return JSONResponse({"results": [{"statement_id": 0, "error": f"embedded store: {e}"}]})
    result: dict = {"statement_id": 0}
    if series:
        result["series"] = series
    return JSONResponse({"results": [result]})
