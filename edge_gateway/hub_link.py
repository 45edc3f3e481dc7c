"""The gateway's link to the hub's work offers (issue 7; the contract is in edge_gateway/README.md).

Two asyncio tasks on the gateway's loop, neither ever blocking it (the store is reached through
worker threads, httpx is async):
- the offer check: `GET /api/v1/workshops/{id}/offers` every `poll_interval_s` with If-None-Match,
  so an unchanged list is a 304 without a body. A 200's document is checked and kept in the store
  (`hub_offers`) before it replaces the one shown; a document that is not the contract's shape is
  refused (counted, said on the page) and the last good one stays.
- the answers: what the owner tapped waits in the store (`hub_outbox`, offer_store.py) and is sent
  as soon as it is there, then with backoff while the hub or the network fails. An item leaves the
  queue only when the hub returned a result for it.

The conditional GET, its bounds, its failures and its bytes on the wire are hub_http.py's, shared
with the release check (release_link.py), which runs on this poll and connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from . import hub_http, offer_store
from .alerts import Alert
from .config import ConfigError, HubConfig
from .outbox import Outbox
from .hub_http import CheckHealth, problem_of, request_bytes, response_bytes
from .uplink import NETWORK, PROBLEM_WORDS, TIMEOUT, duration_words, transport_problem

log = logging.getLogger("sewnet.gateway.hub")

#: The most of an offers document read (the hub's is a few KB for a dozen offers).
DOCUMENT_MAX_BYTES = 2 * 1024 * 1024
OFFER_STATUSES = ("offered", "accepted", "declined", "expired", "withdrawn")
RESULTS = ("applied", "duplicate", "too_late", "refused")

# Problems, in words for the owner, with what to do. Keys are for tests and the JSON twin.
PROBLEMS: dict[str, tuple[str, str]] = {
    # The same link as the uplink's (uplink.transport_problem sorts both): the same words.
    NETWORK: PROBLEM_WORDS[NETWORK],
    TIMEOUT: PROBLEM_WORDS[TIMEOUT],
    "server_error": ("허브 서버 고장, 자동으로 다시 시도합니다", "Hub server failing, trying again by itself"),
    "token": ("허브가 작업장 토큰을 거부함, 설치 기술자에게 연락하세요",
              "The hub refuses the workshop token, call your installer"),
    "refused": ("허브가 요청을 거부함, 설치 기술자에게 연락하세요", "The hub refuses the request, call your installer"),
    "bad_document": ("허브가 읽을 수 없는 일감 목록을 보냄, 설치 기술자에게 알려 주세요",
                     "The hub sent an offer list the gateway cannot read, tell your installer"),
}
NEEDS_A_PERSON = frozenset({"token", "refused", "bad_document"})
#: While the hub refuses the token, how often the token file is read again.
TOKEN_WATCH_S = 2.0


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Progress(_Loose):
    counted: int | None = None
    estimated: int | float | None = None
    stitches_per_piece: float | None = None


class _Day(_Loose):
    day: str
    pieces: int


class _Offer(_Loose):
    id: str
    order_id: str | None = None
    style: str = ""
    pieces: int
    status: str
    days: list[_Day] = []
    due: str | None = None
    respond_by: str | None = None
    price_per_piece_krw: int | float | None = None
    decline_reason: str | None = None
    progress: _Progress = _Progress()


class _Document(_Loose):
    workshop: str
    offers: list[_Offer]


def check_document(data: Any, workshop: str) -> str | None:
    """Why an offers document cannot be used (plain words), or None. Unknown fields are allowed:
    a newer hub may add some."""
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
    if doc.workshop != workshop:
        return f"the document is for workshop {doc.workshop!r}, not {workshop!r}"
    for o in doc.offers:
        if o.status not in OFFER_STATUSES:
            return f"offer {o.id}: unknown status {o.status!r}"
    return None


@dataclass
class HubHealth(CheckHealth):
    """The offer check's (CheckHealth: checks, 304s, failures, bytes, its problem) and the answers'."""
    bad_documents: int = 0
    last_change_at: float | None = None
    answers_sent: int = 0  # items the hub returned a result for
    answer_requests: int = 0
    answer_requests_failed: int = 0
    last_delivery_at: float | None = None
    #: The answers' problem now, None when they go through (or nothing waits).
    send_problem: str | None = None
    send_failing_since: float | None = None

    what: ClassVar[str] = "offer"


class HubLink:
    def __init__(self, config: HubConfig, outbox: Outbox, *, workshop: str,
                 transport: httpx.AsyncBaseTransport | None = None,
                 on_change: Callable[[], None] | None = None, releases=None):
        self.config = config
        self.outbox = outbox
        self.workshop = workshop
        self.health = HubHealth()
        self._token = config.secret() or ""
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._send_wake = asyncio.Event()
        self._check_wake = asyncio.Event()
        self._on_change = on_change
        #: Firmware releases (edge_gateway/release_link.py), checked on this poll when due; None
        #: without an [ota] section.
        self.releases = releases
        self._loop: asyncio.AbstractEventLoop | None = None  # set by run()
        self._offers_url = f"{config.url}/api/v1/workshops/{workshop}/offers"
        self._answers_url = f"{config.url}/api/v1/workshops/{workshop}/answers"

    # ---- from the page --------------------------------------------------------------------------
    def wake(self) -> None:
        """Something was queued: send it now (thread-safe: the page runs in worker threads)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._send_wake.set)

    def check_now(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._check_wake.set)

    def check_releases_now(self) -> None:
        """The operator asked for the hub's newest release (thread-safe)."""
        if self.releases is not None:
            self.releases.check_now()
            self.check_now()

    # ---- words for the page ---------------------------------------------------------------------
    def status(self, now: float | None = None) -> dict:
        """The offers link in plain words: level (ok/warning/error), ko, en, and the answers waiting."""
        now = time.time() if now is None else now
        h = self.health
        waiting, oldest = offer_store.waiting_stats(self.outbox)
        if h.problem:
            ko, en = PROBLEMS[h.problem]
            level = "error" if h.problem in NEEDS_A_PERSON else "warning"
            _, _, fetched = offer_store.load_document(self.outbox)
            if fetched:
                ago_ko, ago_en = duration_words(now - fetched)
                ko += f": {ago_ko} 전에 받은 일감을 보여 줍니다"
                en += f": showing the offers as of {ago_en} ago"
        elif h.last_check_at:
            ago_ko, ago_en = duration_words(now - h.last_check_at)
            level, ko, en = "ok", f"정상: {ago_ko} 전에 확인함", f"Working: checked {ago_en} ago"
        else:
            level, ko, en = "ok", "아직 확인하지 못함", "Not checked yet"
        send_ko = send_en = None
        if waiting:
            if h.send_problem:
                send_ko = f"보내는 중 — 인터넷이 돌아오면 전달됩니다 ({waiting}건 대기)"
                send_en = f"Sending — delivered when the internet is back ({waiting} waiting)"
                if h.send_problem in NEEDS_A_PERSON:
                    p_ko, p_en = PROBLEMS[h.send_problem]
                    send_ko, send_en = f"{p_ko} ({waiting}건 대기)", f"{p_en} ({waiting} waiting)"
            else:
                send_ko, send_en = f"보내는 중 ({waiting}건)", f"Sending ({waiting})"
        return {"level": level, "ko": ko, "en": en, "waiting": waiting, "oldest_waiting_at": oldest,
                "send_ko": send_ko, "send_en": send_en}

    def alerts(self, now: float | None = None) -> list[Alert]:
        now = time.time() if now is None else now
        out = []
        h = self.health
        for key, problem, since in (("hub_offers", h.problem, h.failing_since),
                                    ("hub_answers", h.send_problem, h.send_failing_since)):
            if problem in NEEDS_A_PERSON:
                ko, en = PROBLEMS[problem]
                out.append(Alert(key, "error", f"일감(허브): {ko}", f"Offers (hub): {en}", since))
        return out

    # ---- the loops ------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # httpx drops an idle connection after 5 s by default: every check a minute apart
            # would pay a new TCP (and TLS) handshake over LTE. Keep it a little past the poll;
            # the hub keeps its side 75 s (keep_alive_s), and a connection the hub closed is
            # noticed before reuse and replaced.
            limits = httpx.Limits(max_connections=4, keepalive_expiry=self.config.poll_interval_s + 10)
            self._client = httpx.AsyncClient(timeout=self.config.timeout_s, transport=self._transport,
                                             follow_redirects=False, limits=limits)
            # Every header is paid for on LTE, once a minute: keep only what the hub reads.
            for name in ("user-agent", "accept", "connection"):
                self._client.headers.pop(name, None)
            self._client.headers["Accept-Encoding"] = "gzip"
        return self._client

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def _reread_token(self) -> None:
        """After a 401: a workshop_token_file fixed meanwhile takes effect without a restart."""
        try:
            token = await asyncio.to_thread(self.config.secret)
        except ConfigError:
            return
        if token and token != self._token:
            log.warning("hub: the workshop token changed; trying with the new one")
            self._token = token

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.gather(self._check_loop(), self._send_loop())
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the kept connection to the hub (`run` does it when it ends; `check` opens it again)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _sleep(self, event: asyncio.Event, delay: float) -> None:
        try:
            await asyncio.wait_for(event.wait(), delay)
        except asyncio.TimeoutError:
            pass
        event.clear()

    async def _wait_for_a_person(self, delay: float, event: asyncio.Event | None = None) -> None:
        """The refused backoff (up to refused_backoff_max_s), cut short when the token file
        changes: whoever fixes the token should not wait a quarter of an hour to see it work."""
        refused = self._token
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            if event is not None:
                await self._sleep(event, min(TOKEN_WATCH_S, left))
            else:
                await asyncio.sleep(min(TOKEN_WATCH_S, left))
            if self._token != refused:  # the other loop found the new token first
                return
            try:
                token = await asyncio.to_thread(self.config.secret)
            except ConfigError:
                continue
            if token and token != self._token:
                log.warning("hub: the workshop token changed; trying with the new one")
                self._token = token
                return

    async def _check_loop(self) -> None:
        c = self.config
        backoff = c.poll_interval_s
        while True:
            ok = await self.check()
            # Releases on the same poll and connection, when due: the hub answers both or neither.
            if ok and self.releases is not None and self.releases.due():
                await self.releases.check(self._http(), self._auth())
            if ok:
                backoff = c.poll_interval_s
                delay = c.poll_interval_s * random.uniform(0.95, 1.05)  # gateways spread out
            else:
                cap = c.refused_backoff_max_s if self.health.problem in NEEDS_A_PERSON else c.backoff_max_s
                backoff = min(max(backoff * 2, c.poll_interval_s), max(cap, c.poll_interval_s))
                delay = backoff * random.uniform(0.5, 1.0)
                if self.health.problem == "token":
                    await self._wait_for_a_person(delay, self._check_wake)
                    continue
            await self._sleep(self._check_wake, delay)

    async def check(self) -> bool:
        """One offer check. True when the hub answered with a usable 200 or a 304."""
        h = self.health
        etag, _, _ = await asyncio.to_thread(offer_store.load_document, self.outbox)
        reply = await hub_http.check(self._http(), self._offers_url, self._auth(), etag, DOCUMENT_MAX_BYTES, h)
        if reply is None:
            if h.problem == "token":
                await self._reread_token()
            return False
        now = time.time()
        if reply.status == 304:
            await asyncio.to_thread(offer_store.touch_document, self.outbox, now)
            return h.ok(now)
        data, why = reply.document()
        if why is None:
            why = check_document(data, self.workshop)
        if why is not None:
            h.bad_documents += 1
            return h.failed("bad_document", why, now)
        new_etag = reply.etag or data.get("revision")
        await asyncio.to_thread(offer_store.save_document, self.outbox, new_etag,
                                json.dumps(data, ensure_ascii=False, separators=(",", ":")), now)
        h.changes += 1
        h.last_change_at = now
        await self._default_assignment(data)
        if self._on_change is not None:
            self._on_change()
        return h.ok(now)

    async def _default_assignment(self, document: dict) -> None:
        """Contract: by default every machine works on the one open order (an order with an
        accepted, unfinished offer: two accepted offers of one order are still one order)."""
        orders = offer_store.open_orders(document)
        if len(orders) != 1:
            return
        machines = sorted(set(self.outbox.registry.values()))
        placed = await asyncio.to_thread(offer_store.assign_default, self.outbox, machines, orders[0], document)
        if placed:
            log.info("hub: machines %s work on order %s (the one open order)", ", ".join(placed), orders[0])
            self._send_wake.set()

    async def _send_loop(self) -> None:
        c = self.config
        backoff = 2.0
        while True:
            items = await asyncio.to_thread(offer_store.pending, self.outbox)
            if not items:
                await self._sleep(self._send_wake, c.poll_interval_s)
                continue
            ok = await self.send(items)
            if ok:
                backoff = 2.0
                continue  # more may wait
            cap = c.refused_backoff_max_s if self.health.send_problem in NEEDS_A_PERSON else c.backoff_max_s
            delay = backoff * random.uniform(0.5, 1.0)
            backoff = min(backoff * 2, cap)
            # A new tap does not hurry a failing hub: the item waits for the backoff with the rest.
            if self.health.send_problem == "token":
                await self._wait_for_a_person(delay)
            else:
                await asyncio.sleep(delay)

    async def send(self, items: list[offer_store.Item]) -> bool:
        """POST one body of waiting items; settle those the hub returned a result for."""
        h = self.health
        client = self._http()
        body = json.dumps(offer_store.body_of(items), ensure_ascii=False, separators=(",", ":")).encode()
        request = client.build_request("POST", self._answers_url, content=body,
                                       headers={**self._auth(), "Content-Type": "application/json"})
        h.bytes_up += request_bytes(request)
        try:
            response = await client.send(request)
        except httpx.HTTPError as exc:
            return self._send_failed(*transport_problem(exc))
        h.bytes_down += response_bytes(response)
        h.answer_requests += 1
        if response.status_code != 200:
            if response.status_code == 401:
                await self._reread_token()
            return self._send_failed(problem_of(response.status_code),
                                     f"HTTP {response.status_code}: {response.text[:300]!r}")
        results = self._results(response, items)
        if not results:
            return self._send_failed("refused", f"no result for any item: {response.text[:300]!r}")
        n = await asyncio.to_thread(offer_store.settle, self.outbox, results)
        h.answers_sent += n
        h.last_delivery_at = time.time()
        for item_id, (result, reason) in results.items():
            if result in ("too_late", "refused"):
                log.warning("hub: %s %s: %s", item_id, result, reason)
        if h.send_problem:
            log.info("hub: answers go through again")
        h.send_problem = h.send_failing_since = None
        self._check_wake.set()  # show the hub's new word on the page soon
        return len(results) == len(items)

    @staticmethod
    def _results(response: httpx.Response, items: list[offer_store.Item]) -> dict[str, tuple[str, str | None]]:
        """Per item the gateway sent, the hub's result; anything else in the answer is ignored."""
        try:
            data = response.json()
        except ValueError:
            return {}
        sent = {i.item_id for i in items}
        out: dict[str, tuple[str, str | None]] = {}
        if not isinstance(data, dict):
            return out
        for part, key in (("answers", "answer_id"), ("reports", "report_id")):
            for r in data.get(part) or []:
                if (isinstance(r, dict) and r.get(key) in sent and r.get("result") in RESULTS):
                    reason = r.get("reason")
                    out[r[key]] = (r["result"], reason if isinstance(reason, str) else None)
        return out

    def _send_failed(self, problem: str, detail: str) -> bool:
        h = self.health
        h.answer_requests_failed += 1
        if h.send_problem != problem:
            log.warning("hub: sending answers failed (%s): %s; they stay stored and are sent again", problem, detail)
        h.send_problem, h.last_error = problem, detail
        h.send_failing_since = h.send_failing_since or time.time()
        return False
