"""HTTP to the hub, one piece for the gateway's two checks on the hub link's connection: the work
offers (hub_link.py) and the firmware releases (release_link.py).

A check asks with If-None-Match, so an unchanged answer is a 304 without a body; it reads at most
a bound of the body (a hub gone wrong cannot fill the Pi's memory); it sorts a failure the same way
for both (the network, the hub's server, the workshop token, a refusal), so the page words it the
same; and it counts its bytes as HTTP/1.1 puts them on the wire: the request line, every header and
the body, the status line, every header and the body as received (gzip'd). The LTE link is paid by
the byte, so the requests carry only Host, Authorization, If-None-Match and Accept-Encoding
(bench/bench_offer_bytes.py measures the same on the socket).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import httpx

from .uplink import transport_problem


def _header_bytes(headers: list[tuple[bytes, bytes]]) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers) + 2  # "k: v\r\n" each, then "\r\n"


def request_bytes(req: httpx.Request) -> int:
    target = req.url.raw_path
    return len(req.method) + 1 + len(target) + len(b" HTTP/1.1\r\n") + _header_bytes(req.headers.raw) + len(req.content)


def response_bytes(r: httpx.Response) -> int:
    status_line = f"HTTP/1.1 {r.status_code} {r.reason_phrase}\r\n".encode()
    return len(status_line) + _header_bytes(r.headers.raw) + r.num_bytes_downloaded


def problem_of(status: int) -> str:
    """The problem a hub's answer other than 200 or 304 stands for (hub_link.PROBLEMS' keys)."""
    if status == 401 or status == 403:
        return "token"
    if status == 429 or status >= 500:
        return "server_error"
    return "refused"


@dataclass
class CheckHealth:
    """A periodic check of the hub: its counts and, while it fails, its problem in one word.
    Each check's own health adds its fields; `as_dict` is the JSON twin's."""

    checks: int = 0            # checks the hub answered
    not_modified: int = 0      # ... of which 304
    changes: int = 0           # ... 200s with a new document
    checks_failed: int = 0
    bytes_up: int = 0          # every request, headers included
    bytes_down: int = 0        # every response as received (gzip'd)
    last_check_at: float | None = None    # the hub last answered this check
    #: The check's problem now (hub_link.PROBLEMS' keys and the check's own), None when it works.
    problem: str | None = None
    failing_since: float | None = None
    last_error: str | None = None  # the library's or the hub's own words: logs and JSON only

    #: What the log calls this check, and where it logs.
    what: ClassVar[str] = "hub"
    log: ClassVar[logging.Logger] = logging.getLogger("sewnet.gateway.hub")

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def ok(self, now: float) -> bool:
        if self.problem:
            self.log.info("hub: %s checks work again", self.what)
        self.last_check_at, self.problem, self.failing_since = now, None, None
        return True

    def failed(self, problem: str, detail: str, now: float) -> bool:
        self.checks_failed += 1
        if self.problem != problem:  # once per problem, not once a minute
            self.log.warning("hub: %s check failed (%s): %s", self.what, problem, detail)
        self.problem, self.last_error = problem, detail
        self.failing_since = self.failing_since or now
        return False


@dataclass
class Reply:
    status: int
    body: bytes          # at most one chunk more than the limit it was read with
    etag: str | None     # the ETag's opaque value (weak or strong): what the next If-None-Match quotes
    limit: int

    def document(self) -> tuple[Any, str | None]:
        """The JSON body, or None and why it cannot be read, in plain words."""
        if len(self.body) > self.limit:
            return None, f"more than {self.limit:,} bytes"
        try:
            return json.loads(self.body), None
        except ValueError:
            return None, "not JSON"


async def get(client: httpx.AsyncClient, url: str, headers: dict[str, str], limit: int,
              health: CheckHealth) -> Reply:
    """One GET; its bytes counted in `health`. The body is read only up to `limit` (and a chunk)."""
    request = client.build_request("GET", url, headers=headers)
    health.bytes_up += request_bytes(request)
    response = await client.send(request, stream=True)
    try:
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                break
    finally:
        await response.aclose()
        health.bytes_down += response_bytes(response)
    etag = (response.headers.get("etag") or "").strip().removeprefix("W/").strip('"') or None
    return Reply(response.status_code, body, etag, limit)


async def check(client: httpx.AsyncClient, url: str, auth: dict[str, str], etag: str | None, limit: int,
                health: CheckHealth, clock: Callable[[], float] = time.time) -> Reply | None:
    """One conditional check, counted in `health`: the hub's 304 or 200, or None when it failed
    (the problem is in `health`; the caller tries again later). The caller settles a 304 or a
    usable 200 with `health.ok`."""
    headers = dict(auth)
    if etag:
        headers["If-None-Match"] = f'"{etag}"'
    try:
        reply = await get(client, url, headers, limit, health)
    except httpx.HTTPError as exc:
        health.failed(*transport_problem(exc), clock())
        return None
    if reply.status == 304:
        health.checks += 1
        health.not_modified += 1
        return reply
    if reply.status != 200:
        health.failed(problem_of(reply.status), f"HTTP {reply.status}: {reply.body[:300]!r}", clock())
        return None
    health.checks += 1
    return reply
