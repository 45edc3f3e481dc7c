"""The embedded store's HTTP face: InfluxDB's write API and the hub's InfluxQL reads.

It speaks InfluxDB's write API (`POST /api/v2/write`, `POST /write`) so the gateway ships to it
unchanged, and answers the InfluxQL statements of docs/protocol.md section 7 (hub.telemetry.reads) on `GET /query`
so `InfluxQLTelemetry` works against it as against InfluxDB. Nothing else of InfluxQL is served.
Mounted only when the hub runs with `telemetry = "embedded"`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import sqlite3
import time
import zlib
from collections import Counter
from datetime import datetime, timezone
from typing import Annotated
from zoneinfo import ZoneInfo

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from hub.core.dependencies import check_secret, get_guard, get_rejections, get_settings
from hub.core.lockout import LockedOut, LoginGuard
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.telemetry import line_protocol as lp
from hub.telemetry.reads import Read, ReadRefused, parse_read
from hub.telemetry.storage import EmbeddedStore, WriteOutcome, fixed_offset_ns

log = logging.getLogger("sewnet.hub.embedded_store")

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


# ====================================================================== HTTP: the InfluxQL reads
_EPOCH_NS = {"ns": 1, "n": 1, "u": 1_000, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}


def _rfc3339(ns: int, zone: ZoneInfo | None = None) -> str:
    """InfluxDB's RFC 3339 time (Go's RFC3339Nano): `Z` in UTC, the zone's offset under tz()."""
    seconds, rem = divmod(ns, 10**9)
    fraction = f".{rem:09d}".rstrip("0") if rem else ""
    if zone is None:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + fraction + "Z"
    local = datetime.fromtimestamp(seconds, timezone.utc).astimezone(zone)
    offset = local.strftime("%z")
    offset = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + fraction + offset


def _series(name: str, workshop: str, machine: str, columns: list[str], rows: list[list]) -> dict:
    return {"name": name, "tags": {"machine": machine, "workshop": workshop}, "columns": columns, "values": rows}


def _answer(store: EmbeddedStore, read: Read, stamp) -> list[dict]:
    """The series InfluxDB would answer `read` with, from the store (runs in a worker thread)."""
    now_ns = store.now_ns()
    first, last = read.range_ns(now_ns)
    if first > last:
        return []
    if read.kind == "last":
        return [_series("sewing", w, mc, ["time", "last"], [[stamp(t), s]]) for w, mc, t, s in store.last_seen(first, last)]
    if read.bucket_ns is None:
        # Like InfluxDB, an aggregate without GROUP BY time() is stamped with the range start.
        return [_series("sewing", w, mc, ["time", "stitches", "run_ms", "observed_ms"], [[stamp(first), s, r, o]])
                for w, mc, s, r, o in store.activity(first, last)]
    offset = fixed_offset_ns(read.zone, first, last) if read.zone is not None else 0
    series: dict[tuple[str, str], list] = {}
    for w, mc, start, s, r, o in store.activity_buckets(first, last, read.bucket_ns, offset):
        series.setdefault((w, mc), []).append([stamp(start), s, r, o])
    return [_series("sewing", w, mc, ["time", "stitches", "run_ms", "observed_ms"], rows)
            for (w, mc), rows in series.items()]


@router.get("/query", summary="The InfluxQL reads of docs/protocol.md section 7, and nothing else")
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
    statement = q.strip()
    try:
        read = parse_read(statement)
    except ReadRefused as e:
        rejections.add("query", e.reason, statement[:300])
        return _error("v1", 400, str(e))

    def stamp(ns: int):
        return ns // _EPOCH_NS[epoch] if epoch else _rfc3339(ns, read.zone)

    try:
        series = await anyio.to_thread.run_sync(_answer, _store(request), read, stamp)
    except ValueError as e:  # a zone whose offset changes inside the range: see fixed_offset_ns
        rejections.add("query", "unsupported_statement", f"{e}: {statement[:300]}")
        return _error("v1", 400, f"error parsing query: {e}")
    except sqlite3.Error as e:
        return JSONResponse({"results": [{"statement_id": 0, "error": f"embedded store: {e}"}]})
    result: dict = {"statement_id": 0}
    if series:
        result["series"] = series
    return JSONResponse({"results": [result]})
