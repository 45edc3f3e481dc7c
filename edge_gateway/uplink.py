"""Uplink: pending lines -> gzip'd line protocol -> InfluxDB, deleted only after a 2xx.

v1 (`/write`, InfluxDB 1.x) is spoken with httpx, keeping only the request headers InfluxDB reads
(every header is paid for on LTE). v2 (`/api/v2/write`, InfluxDB 2.x/3.x) goes through
influxdb-client's synchronous WriteApi in a worker thread, with its own retries off and nothing
batched in its memory: by default it retries inside urllib3 and gives up after a few minutes.
Either way the queue is the SQLite outbox, retries are forever with capped backoff, and every
request is one gzip'd batch.

Decisions per answer:
- 2xx: delete the lines.
- 400/422 (bad data; InfluxDB 1.x also says "partial write" here): split the batch in halves and
  resend each, down to single lines; a single line the server refuses goes to the dead-letter
  table with the server's reason. Resending the good lines is harmless: a point with the same
  measurement, tags and timestamp overwrites itself.
- 413 (too large): split the same way; a single line that is still too large is dead-lettered.
- anything else (network error, timeout, 5xx, 401/403, 404 database not found, 429): keep the
  lines and retry the same batch after an exponential backoff capped at backoff_max_s.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import random
import time
from dataclasses import dataclass
from typing import Sequence

import httpx
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.rest import ApiException

from .alerts import Alert
from .config import UplinkConfig
from .outbox import Outbox, PendingLine

log = logging.getLogger("sewnet.gateway.uplink")

BAD_DATA = {400, 422}
TOO_LARGE = {413}


class RetryLater(Exception):
    """The server or the network failed in a way that a later retry may fix."""


@dataclass
class UplinkHealth:
    pending_lines: int = 0
    oldest_pending_at: float | None = None
    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    requests: int = 0
    lines_sent: int = 0
    bytes_sent: int = 0  # gzip'd bodies only
    dead_lettered: int = 0
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
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._v2: tuple[InfluxDBClient, WriteApi] | None = None

    def alerts(self) -> list[Alert]:
        """The uplink's current problems for the operator page (offline, credentials, database)."""
        return []

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

    def _post_v2(self, text: bytes) -> tuple[int, str]:
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
            return exc.status or 0, str(exc.body or exc.reason or "")[:500].strip()
        except Exception as exc:  # connection refused, reset, timeout: the server is away
            raise RetryLater(f"{type(exc).__name__}: {exc}") from None
        return 204, ""

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._v2 is not None:
            self._v2[0].close()
            self._v2 = None

    async def run(self) -> None:
        """Ship until cancelled."""
        c = self.config
        backoff = 1.0
        await self._refresh_stats()
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
                    self.health.last_error = str(exc)
                    self.health.last_error_at = time.time()
                    delay = backoff * random.uniform(0.5, 1.0)
                    self.health.retry_in_s = delay
                    log.warning("uplink: %s; retrying in %.1f s", exc, delay)
                    backoff = min(backoff * 2, c.backoff_max_s)
                    # Retry the same oldest batch after the backoff, not sooner even if a flush
                    # or new lines arrive meanwhile: hammering a failing server helps no one.
                    await asyncio.sleep(delay)
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

    async def _drain(self, minimum: int) -> None:
        while True:
            batch = await asyncio.to_thread(self.outbox.pending, self.config.batch_lines)
            if not batch or len(batch) < minimum:
                await self._refresh_stats()
                return
            await self._send(batch)
            await self._refresh_stats()

    async def _refresh_stats(self) -> None:
        n, oldest = await asyncio.to_thread(self.outbox.pending_stats)
        self.health.pending_lines, self.health.oldest_pending_at = n, oldest

    async def _send(self, batch: Sequence[PendingLine]) -> None:
        """Deliver one batch or raise RetryLater; splits batches the server calls bad."""
        status, reason = await self._post(batch)
        if 200 <= status < 300:
            await asyncio.to_thread(self.outbox.confirm, [p.id for p in batch])
            self.health.last_success_at = time.time()
            self.health.lines_sent += len(batch)
            return
        if status in BAD_DATA or status in TOO_LARGE:
            if len(batch) == 1:
                n = await asyncio.to_thread(self.outbox.dead_letter, [batch[0].id], f"HTTP {status}: {reason}")
                self.health.dead_lettered += n
                log.error("uplink: dead-lettered %r: HTTP %s %s", batch[0].line, status, reason)
                return
            half = len(batch) // 2
            await self._send(batch[:half])
            await self._send(batch[half:])
            return
        raise RetryLater(f"HTTP {status}: {reason}")

    async def _post(self, batch: Sequence[PendingLine]) -> tuple[int, str]:
        text = ("\n".join(p.line for p in batch) + "\n").encode()
        body = gzip.compress(text, self.config.gzip_level, mtime=0)
        if self.config.api == "v2":
            status, reason = await asyncio.to_thread(self._post_v2, text)
            self.health.requests += 1
            self.health.bytes_sent += len(body)  # the client gzips the same text the same way
            return status, reason
        client = self._http()
        try:
            r = await client.post(self._url, params=self._params, content=body)
        except httpx.HTTPError as exc:
            raise RetryLater(f"{type(exc).__name__}: {exc}") from None
        self.health.requests += 1
        self.health.bytes_sent += len(body)
        return r.status_code, r.text[:500].strip()
