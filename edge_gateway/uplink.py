"""Uplink: pending lines -> gzip'd line protocol -> InfluxDB, deleted only after a 2xx.

v1 (`/write`, InfluxDB 1.x) is spoken with httpx, keeping only the request headers InfluxDB reads
(every header is paid for on LTE). v2 (`/api/v2/write`, InfluxDB 2.x/3.x) goes through
influxdb-client's synchronous WriteApi in a worker thread, with its own retries off and nothing
batched in its memory: by default it retries inside urllib3 and gives up after a few minutes.
Either way the queue is the SQLite outbox, nothing is dropped unless the server said it can never
take it, and every request is one gzip'd batch.

Answers are classified as Telegraf's InfluxDB outputs do (`classify`), because each wrong guess
costs LTE data:
- 2xx: delete the lines.
- 400/422, bad data. InfluxDB says which lines or which kind: `unable to parse '<line>': why`
  names lines; `partial write: points beyond retention policy dropped=N` means the N oldest
  (everything older than the policy's cut-off), `partial write: field type conflict: input field
  "f" on measurement "m" is type T ... dropped=N` the N lines where f has type T. Those go to the
  dead-letter table with the server's reason, in one request however big the batch. The rest is
  sent once more: InfluxDB 1.x reports one kind of problem per answer (a retention drop hides
  unparseable lines, a type conflict hides a retention drop), and a resent point only overwrites
  itself. Only an answer that does not say which lines splits the batch in halves.
- 413: split in halves; a single line still too large is dead-lettered.
- 401/403 (credentials), 404 (database or bucket missing), other 4xx and 1.x's "retention policy
  not found": a person must fix something. Keep the lines, raise an Alert, and retry with a long
  backoff (up to `refused_backoff_max_s`). A password or token file is re-read every few seconds
  meanwhile, so fixing it takes effect at once.
- 429, 5xx, timeouts, network errors: transient; retry with backoff capped at `backoff_max_s`,
  never sooner than the server's Retry-After (itself capped at 10 minutes).
After any failure the next attempts carry a single line (the oldest), not the whole batch: a
refusal or an outage then costs a few hundred bytes per try, and full batches resume with the
first success.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import json
import logging
import random
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import httpx
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.rest import ApiException

from .alerts import Alert
from .config import ConfigError, UplinkConfig
from .outbox import Outbox, PendingLine

log = logging.getLogger("sewnet.gateway.uplink")

# ---- what an answer means (pure, no I/O) ------------------------------------------------------
DELIVERED = "delivered"
BAD_DATA = "bad_data"
TOO_LARGE = "too_large"
# A person must fix something on the server side or in the gateway's configuration.
CREDENTIALS = "credentials"
NOT_FOUND = "not_found"
REFUSED = "refused"
NEEDS_A_PERSON = frozenset({CREDENTIALS, NOT_FOUND, REFUSED})
# Transient: the same request may succeed later.
BUSY = "busy"
SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
NETWORK = "network"

# Alert.key per problem; every transient problem is "uplink_down" once it has lasted.
ALERT_KEYS = {CREDENTIALS: "uplink_credentials", NOT_FOUND: "uplink_database", REFUSED: "uplink_refused"}

# Telegraf's limit too: a server asking for more than this is more likely wrong than right.
RETRY_AFTER_MAX_S = 600.0
# How often a password or token file is re-read while the server refuses the credentials.
SECRET_CHECK_S = 2.0
# Dead letters keep their alert this long.
DEAD_LETTER_ALERT_S = 86400.0
# The most of a server's answer that is read: enough to name every line of a 5,000-line batch.
ANSWER_MAX_CHARS = 4_000_000


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str
    status: int
    message: str  # the server's own words ("error"/"message" of its JSON), for logs and dead letters
    retry_after_s: float | None = None


def server_message(body: str) -> str:
    """InfluxDB 1.x answers {"error": ...}, 2.x {"code": ..., "message": ...}; proxies answer text."""
    try:
        obj = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(obj, dict):
        for key in ("error", "message"):
            if isinstance(obj.get(key), str):
                return obj[key]
    return body.strip()


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), capped; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX_S)


def classify(status: int, body: str, retry_after: str | None = None) -> Answer:
    """What the server's answer to one write means for the lines in it."""
    message = server_message(body)
    if 200 <= status < 300:
        kind = DELIVERED
    elif status < 100:  # no HTTP status at all: the answer never really came
        kind = NETWORK
    elif status == 408:
        kind = TIMEOUT
    elif status == 413:
        kind = TOO_LARGE
    elif status in (401, 403):
        kind = CREDENTIALS
    elif status == 404 or "database not found" in message:
        kind = NOT_FOUND
    elif status in (400, 422):
        kind = BAD_DATA
    elif "retention policy not found" in message:  # 1.x answers 500 for a misnamed `rp`
        kind = REFUSED
    elif status == 429 or status == 503:
        kind = BUSY
    elif status >= 500:
        kind = SERVER_ERROR
    else:  # 405, 406, 415 ...: the address or the request is wrong, not the data
        kind = REFUSED
    wait = retry_after_s(retry_after) if kind in (BUSY, SERVER_ERROR) else None
    return Answer(kind, status, message, wait)


def transport_problem(exc: httpx.HTTPError) -> tuple[str, str]:
    """(TIMEOUT or NETWORK, the library's words) for an httpx request that got no answer; the hub
    link (hub_link.py) sorts its failures the same way."""
    return (TIMEOUT if isinstance(exc, httpx.TimeoutException) else NETWORK), f"{type(exc).__name__}: {exc}"


_UNPARSEABLE = "unable to parse '"
_DROPPED = re.compile(r"dropped=(\d+)\s*\Z")
_CONFLICT = re.compile(
    r'field type conflict: input field "((?:[^"\\]|\\.)*)" on measurement "((?:[^"\\]|\\.)*)" is type (\w+)')


def _named_lines(message: str, by_text: dict[str, list[PendingLine]]) -> dict[int, tuple[PendingLine, str]]:
    """Lines named by `unable to parse '<line>': <why>`, each with its why. A line may itself hold
    "': ", so each candidate end is tried until the text is one of the batch's lines."""
    named: dict[int, tuple[PendingLine, str]] = {}
    start = message.find(_UNPARSEABLE)
    while start != -1:
        begin = start + len(_UNPARSEABLE)
        end = message.find("': ", begin)
        while end != -1 and message[begin:end] not in by_text:
            end = message.find("': ", end + 1)
        if end == -1:
            start = message.find(_UNPARSEABLE, begin)
            continue
        stop = message.find("\n", end)
        why = message[end + 3: len(message) if stop == -1 else stop]
        why = _DROPPED.sub("", why).strip()
        for p in by_text[message[begin:end]]:
            named[p.id] = (p, f"unable to parse: {why}")
        start = message.find(_UNPARSEABLE, end)
    return named


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _value_type(token: str) -> str:
    """InfluxDB's name for the type of a field value as written in line protocol."""
    if token.startswith('"'):
        return "string"
    if token in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
        return "boolean"
    return {"i": "integer", "u": "unsigned"}.get(token[-1:], "float")


def _has_field_type(line: str, measurement: str, field: str, typ: str) -> bool:
    # Every line sent is the gateway's own encode_line output: no escapes, no string fields, so
    # plain splitting reads it exactly (a general parser would be the hub's business).
    head, _, rest = line.partition(" ")
    if head.split(",", 1)[0] != measurement:
        return False
    for pair in rest.rsplit(" ", 1)[0].split(","):
        key, _, value = pair.partition("=")
        if key == field:
            return _value_type(value) == typ
    return False


def refused_lines(batch: Sequence[PendingLine], message: str) -> list[tuple[PendingLine, str]] | None:
    """The lines of `batch` a bad-data answer names or implies, each with the server's reason, or
    None when the answer does not say which (the caller then splits the batch to find them)."""
    by_text: dict[str, list[PendingLine]] = {}
    for p in batch:
        by_text.setdefault(p.line, []).append(p)
    refused = _named_lines(message, by_text) if _UNPARSEABLE in message else {}
    dropped = _DROPPED.search(message)
    n = int(dropped.group(1)) if dropped and "partial write" in message else 0
    if n:
        rest = [p for p in batch if p.id not in refused]
        if n > len(rest):
            return None
        if "points beyond retention policy" in message:
            # Dropped are the points older than the policy's cut-off: the n oldest, unless the
            # n-th and the next share a timestamp and the cut-off cannot be placed between them.
            rest.sort(key=lambda p: p.ts)
            if n < len(rest) and rest[n - 1].ts == rest[n].ts:
                return None
            hits, why = rest[:n], "points beyond retention policy"
        elif conflict := _CONFLICT.search(message):
            field, measurement, typ = _unquote(conflict.group(1)), _unquote(conflict.group(2)), conflict.group(3)
            hits = [p for p in rest if _has_field_type(p.line, measurement, field, typ)]
            # Types are kept per shard: the same type elsewhere in time may have been accepted.
            if len(hits) != n:
                return None
            why = conflict.group(0)
        else:
            return None
        refused.update((p.id, (p, why)) for p in hits)
    return list(refused.values()) or None


def duration_words(seconds: float) -> tuple[str, str]:
    """A wait or an age in plain words, Korean and English: "3시간" / "3 h"."""
    s = max(0, int(seconds))
    if s < 60:
        return "1분 미만", "under 1 min"
    if s < 3600:
        return f"{s // 60}분", f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600}시간", f"{s // 3600} h"
    return f"{s // 86400}일", f"{s // 86400} days"


# What went wrong, in words for the workshop owner, and what to do.
PROBLEM_WORDS: dict[str, tuple[str, str]] = {
    NETWORK: ("인터넷 연결 끊김", "Internet connection down"),
    TIMEOUT: ("인터넷 연결이 너무 느림", "Internet connection too slow"),
    BUSY: ("서버가 바쁨, 자동으로 다시 보냅니다", "Server busy, sending again by itself"),
    SERVER_ERROR: ("서버 고장, 자동으로 다시 보냅니다", "Server failing, sending again by itself"),
    CREDENTIALS: ("서버가 게이트웨이 비밀번호를 거부함, 설치 기술자에게 연락하세요",
                  "Server refuses the gateway's password, call your installer"),
    NOT_FOUND: ("서버에 데이터베이스가 없음, 설치 기술자에게 연락하세요",
                "Server has no database for this data, call your installer"),
    REFUSED: ("서버가 전송을 거부함, 설치 기술자에게 연락하세요",
              "Server refuses the data, call your installer"),
}


def uplink_words(health: dict, now: float) -> tuple[str, str, str]:
    """(level, ko, en) of the uplink's state for the page: "ok", "warning" or "error"."""
    problem = health.get("problem")
    age = health.get("oldest_pending_at")
    wait_ko, wait_en = duration_words(now - age if age else 0)
    if problem in PROBLEM_WORDS:
        ko, en = PROBLEM_WORDS[problem]
        level = "error" if problem in NEEDS_A_PERSON else "warning"
        return level, f"{ko}: 데이터는 안전하게 보관 중 ({wait_ko} 대기)", f"{en}: data kept safely, {wait_en} waiting"
    if health.get("last_success_at"):
        ago_ko, ago_en = duration_words(now - health["last_success_at"])
        return "ok", f"정상: 마지막 전송 {ago_ko} 전", f"Working: last sent {ago_en} ago"
    if health.get("pending_lines"):
        return "ok", f"첫 전송 대기 중 ({wait_ko} 대기)", f"Waiting for the first send, {wait_en} waiting"
    return "ok", "보낼 데이터 없음", "Nothing to send yet"


class RetryLater(Exception):
    """The batch stays queued: the server or the network failed, or a person must fix something."""

    def __init__(self, problem: str, detail: str, retry_after_s: float | None = None):
        super().__init__(detail)
        self.problem = problem
        self.retry_after_s = retry_after_s


@dataclass
class UplinkHealth:
    pending_lines: int = 0
    oldest_pending_at: float | None = None
    last_success_at: float | None = None
    #: One of PROBLEM_WORDS' keys while sending fails, None once it works again.
    problem: str | None = None
    #: When the current run of failures began.
    failing_since: float | None = None
    #: The server's or the library's own words, for logs and the JSON API (never the page).
    last_error: str | None = None
    last_error_at: float | None = None
    requests: int = 0  # requests the server answered, whatever the answer
    requests_failed: int = 0  # answered with an error, or unanswered (network, timeout)
    lines_sent: int = 0
    bytes_sent: int = 0  # gzip'd bodies of the answered requests
    dead_lettered: int = 0
    last_dead_letter_at: float | None = None
    retry_in_s: float | None = None

    def as_dict(self, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        d = dict(self.__dict__)
        d["oldest_pending_age_s"] = None if self.oldest_pending_at is None else max(0.0, now - self.oldest_pending_at)
        return d


class Uplink:
    def __init__(self, config: UplinkConfig, outbox: Outbox, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self.outbox = outbox
        self.health = UplinkHealth()
        self._secret = config.secret()
        self._wake = asyncio.Event()
        # flush() asks for generation N and waits until a full drain that started after the
        # request has finished, so lines committed before the call are surely included.
        self._flush_asked = 0
        self._flush_done = 0
        self._flush_cond = asyncio.Condition()
        self._new_lines = 0
        # After a failure, try with one line until the server takes it (see the module's doc).
        self._probing = False
        self._dead_recent: deque[tuple[float, int]] = deque()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._v2: tuple[InfluxDBClient, WriteApi] | None = None

    def alerts(self, now: float | None = None) -> list[Alert]:
        """The uplink's current problems for the operator page: credentials or database refused
        (at once: a person must act), down for longer than `alert_after_s`, dead letters today."""
        now = time.time() if now is None else now
        h, out = self.health, []
        if h.problem is not None and h.failing_since is not None:
            if h.problem in NEEDS_A_PERSON or now - h.failing_since >= self.config.alert_after_s:
                _, ko, en = uplink_words(h.as_dict(now), now)
                out.append(Alert(ALERT_KEYS.get(h.problem, "uplink_down"), "error", ko, en, h.failing_since))
        while self._dead_recent and now - self._dead_recent[0][0] > DEAD_LETTER_ALERT_S:
            self._dead_recent.popleft()
        if self._dead_recent:
            n = sum(k for _, k in self._dead_recent)
            out.append(Alert(
                "uplink_dead_letters", "warning",
                f"서버가 받을 수 없는 기록 {n:,}건을 따로 보관했습니다. 설치 기술자에게 알려 주세요.",
                f"{n:,} records the server can never accept were set aside. Tell your installer.",
                self._dead_recent[0][0]))
        return out

    # ---- signals from the rest of the gateway -------------------------------------------------
    def notify(self, new_lines: int) -> None:
        """Ingest committed `new_lines` lines (called from the event loop)."""
        if new_lines:
            self._new_lines += new_lines
            # Keep the health figures live between drains without a COUNT(*) per batch.
            self.health.pending_lines += new_lines
            if self.health.oldest_pending_at is None:
                self.health.oldest_pending_at = time.time()
            if self._new_lines >= self.config.batch_lines:
                self._wake.set()

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything committed so far; return True once it is confirmed by the server.

        Returns False if the server keeps failing until `timeout`; the lines stay queued.
        """
        self._flush_asked += 1
        wanted = self._flush_asked
        self._wake.set()

        async def done() -> None:
            async with self._flush_cond:
                await self._flush_cond.wait_for(lambda: self._flush_done >= wanted)

        try:
            await asyncio.wait_for(done(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    # ---- the loop -----------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            c = self.config
            self._url, self._params = f"{c.url}/write", {"db": c.database, "precision": "s"}
            auth = httpx.BasicAuth(c.username, self._secret or "") if c.username else None
            self._client = httpx.AsyncClient(auth=auth, timeout=c.timeout_s, transport=self._transport)
            # Every request header is paid for on the LTE link, 12 times an hour at the defaults:
            # keep only what InfluxDB reads. (Keep-alive is HTTP/1.1's default without saying so,
            # and /write takes line protocol whatever the Content-Type.)
            for name in ("user-agent", "accept", "accept-encoding", "connection"):
                self._client.headers.pop(name, None)
            self._client.headers["Content-Encoding"] = "gzip"
        return self._client

    def _post_v2(self, text: bytes) -> tuple[int, str, str | None]:
        """/api/v2/write through influxdb-client, synchronously in a worker thread. Its own
        retries are off and nothing is batched in its memory: the outbox is the only buffer,
        and the loop above retries for as long as it takes (the client alone gives up)."""
        if self._v2 is None:
            c = self.config
            client = InfluxDBClient(url=c.url, token=self._secret, org=c.org, enable_gzip=True,
                                    timeout=int(c.timeout_s * 1000), retries=False)
            self._v2 = (client, client.write_api(write_options=SYNCHRONOUS))
        try:
            self._v2[1].write(bucket=self.config.bucket, org=self.config.org, record=text,
                              write_precision=WritePrecision.S)
        except ApiException as exc:
            body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or exc.reason or "")
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            return exc.status or 0, body[:ANSWER_MAX_CHARS], retry_after
        except Exception as exc:  # connection refused, reset, timeout: the server is away
            problem = TIMEOUT if "timeout" in type(exc).__name__.lower() else NETWORK
            raise RetryLater(problem, f"{type(exc).__name__}: {exc}") from None
        return 204, "", None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._v2 is not None:
            self._v2[0].close()
            self._v2 = None

    async def _secret_changed(self) -> bool:
        """Re-read the password or token (a file is read anew); True if it changed."""
        try:
            secret = await asyncio.to_thread(self.config.secret)
        except ConfigError:  # being edited, say: keep the one we have
            return False
        if secret == self._secret:
            return False
        self._secret = secret
        await self.aclose()  # the next request builds its client with the new secret
        log.warning("uplink: the %s changed; trying again now", "token" if self.config.api == "v2" else "password")
        return True

    async def _pause(self, delay: float, watch_secret: bool) -> None:
        """Wait `delay` seconds, less if the credentials the server refused were changed."""
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, SECRET_CHECK_S) if watch_secret else left)
            if watch_secret and await self._secret_changed():
                return

    async def run(self) -> None:
        """Ship until cancelled."""
        c = self.config
        backoff = 1.0
        await self._refresh_stats()
        await self._recall_dead_letters()
        # After a restart the backlog is due when its oldest line has waited an interval.
        next_flush = time.monotonic() + c.flush_interval_s
        if self.health.oldest_pending_at is not None:
            waited = max(0.0, time.time() - self.health.oldest_pending_at)
            next_flush = time.monotonic() + max(0.0, c.flush_interval_s - waited)
        if self.health.pending_lines >= c.batch_lines:
            self._wake.set()
        try:
            while True:
                timeout = max(0.0, next_flush - time.monotonic())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()
                asked = self._flush_asked
                due = time.monotonic() >= next_flush or asked > self._flush_done
                self._new_lines = 0
                try:
                    # Interval or explicit flush: everything. Woken by a full batch: full batches
                    # only, back to back; the remainder waits for the interval.
                    await self._drain(minimum=1 if due else c.batch_lines)
                except RetryLater as exc:
                    h = self.health
                    h.last_error, h.last_error_at, h.problem = str(exc), time.time(), exc.problem
                    if h.failing_since is None:
                        h.failing_since = h.last_error_at
                    self._probing = True
                    person = exc.problem in NEEDS_A_PERSON
                    delay = max(backoff * random.uniform(0.5, 1.0), exc.retry_after_s or 0.0)
                    h.retry_in_s = delay
                    log.warning("uplink: %s; retrying in %.1f s", exc, delay)
                    backoff = min(backoff * 2, c.refused_backoff_max_s if person else c.backoff_max_s)
                    # Retry the same oldest line after the backoff, not sooner even if a flush or
                    # new lines arrive meanwhile: hammering a failing server helps no one.
                    await self._pause(delay, watch_secret=exc.problem == CREDENTIALS)
                    next_flush = time.monotonic()
                    continue
                backoff = 1.0
                self.health.retry_in_s = None
                if due:
                    next_flush = time.monotonic() + c.flush_interval_s
                    async with self._flush_cond:
                        self._flush_done = max(self._flush_done, asked)
                        self._flush_cond.notify_all()
        finally:
            await self.aclose()

    async def _recall_dead_letters(self) -> None:
        """Dead letters of the last day from before a restart keep their alert."""
        now = time.time()
        recent = [d["failed_at"] for d in await asyncio.to_thread(self.outbox.dead_letters, 10_000)
                  if d["failed_at"] and now - d["failed_at"] <= DEAD_LETTER_ALERT_S]
        if recent:
            self._dead_recent.append((min(recent), len(recent)))

    async def _drain(self, minimum: int) -> None:
        while True:
            limit = 1 if self._probing else self.config.batch_lines
            batch = await asyncio.to_thread(self.outbox.pending, limit)
            if not batch or (len(batch) < minimum and not self._probing):
                await self._refresh_stats()
                return
            await self._send(batch)
            if self._probing:
                self._probing = False
                h = self.health
                log.info("uplink: sending again after %s", duration_words(time.time() - (h.failing_since or 0))[1])
                h.problem = h.failing_since = None
            await self._refresh_stats()

    async def _refresh_stats(self) -> None:
        n, oldest = await asyncio.to_thread(self.outbox.pending_stats)
        self.health.pending_lines, self.health.oldest_pending_at = n, oldest

    async def _dead_letter(self, refused: Sequence[tuple[PendingLine, str]], status: int) -> None:
        by_reason: dict[str, list[PendingLine]] = {}
        for p, why in refused:
            by_reason.setdefault(f"HTTP {status}: {why}", []).append(p)
        now = time.time()
        for reason, lines in by_reason.items():
            n = await asyncio.to_thread(self.outbox.dead_letter, [p.id for p in lines], reason, now)
            self.health.dead_lettered += n
            log.error("uplink: %d line(s) set aside as dead letters (%s), e.g. %r", n, reason[:300], lines[0].line)
        self._dead_recent.append((now, len(refused)))
        self.health.last_dead_letter_at = now

    async def _send(self, batch: Sequence[PendingLine]) -> None:
        """Deliver one batch or raise RetryLater; dead-letters what the server can never take."""
        answer = await self._post(batch)
        if answer.kind == DELIVERED:
            await asyncio.to_thread(self.outbox.confirm, [p.id for p in batch])
            self.health.last_success_at = time.time()
            self.health.lines_sent += len(batch)
            return
        self.health.requests_failed += 1
        if answer.kind == BAD_DATA and (refused := refused_lines(batch, answer.message)) is not None:
            await self._dead_letter(refused, answer.status)
            gone = {p.id for p, _ in refused}
            rest = [p for p in batch if p.id not in gone]
            if rest:
                # Stored already, most likely; sent again because 1.x names one kind of problem
                # per answer and a resent point only overwrites itself.
                await self._send(rest)
            return
        if answer.kind in (BAD_DATA, TOO_LARGE):
            if len(batch) == 1:
                await self._dead_letter([(batch[0], answer.message[:500])], answer.status)
                return
            half = len(batch) // 2
            await self._send(batch[:half])
            await self._send(batch[half:])
            return
        raise RetryLater(answer.kind, f"HTTP {answer.status}: {answer.message[:500]}", answer.retry_after_s)

    async def _post(self, batch: Sequence[PendingLine]) -> Answer:
        text = ("\n".join(p.line for p in batch) + "\n").encode()
        body = gzip.compress(text, self.config.gzip_level, mtime=0)
        try:
            if self.config.api == "v2":
                status, answer, retry_after = await asyncio.to_thread(self._post_v2, text)
            else:
                client = self._http()
                try:
                    r = await client.post(self._url, params=self._params, content=body)
                except httpx.HTTPError as exc:
                    raise RetryLater(*transport_problem(exc)) from None
                status, answer, retry_after = r.status_code, r.text[:ANSWER_MAX_CHARS], r.headers.get("Retry-After")
        except RetryLater:
            self.health.requests_failed += 1
            raise
        self.health.requests += 1
        self.health.bytes_sent += len(body)  # v2: the client gzips the same text the same way
        return classify(status, answer, retry_after)
