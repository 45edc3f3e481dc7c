"""Firmware releases from the hub (issue 10 §2): the gateway pulls them (it sits behind LTE NAT).

On the hub link's poll, at most every `[hub] release_check_s`, the gateway asks the hub's index
(`GET /api/v1/releases`, its workshop token, If-None-Match): unchanged, it is a 304 without a body.
When it changed, the gateway marks what the hub withdrew and takes the newest published release it
does not keep yet: the manifest and its signature first (checked before any file is fetched, so a
release from another key costs a few KB), then each file, then the whole release once more by the
same code as `sewnet gateway release add` (edge_gateway/ota.py: signature, every file's size and
SHA-256) before it is kept. It is then offered on /updates; a rollout is the operator's to start.

A release refused (another key, a file that does not match, a version this gateway keeps as other
bytes) is remembered with its reason in Korean and English and counted, shown on /updates, and
not fetched again for a day unless the gateway's release key changes. A failure of the link (the
network, the hub) is not a refusal: the index's ETag is kept only once the index was handled
whole, so the next check asks again, after a backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from . import hub_http
from .hub_http import CheckHealth, problem_of
from .hub_link import PROBLEMS
from .ota import FILE_MAX, REFUSED_RETRY_S, VERSION, Ota, OtaError, verify_manifest
from .uplink import transport_problem

log = logging.getLogger("sewnet.gateway.releases")

INDEX_MAX_BYTES = 256 * 1024
MANIFEST_MAX_BYTES = 8192          # the board reads at most this much manifest (hub/release/manifest.py)
SHA256 = re.compile(r"[0-9a-f]{64}")
#: While the hub or the network fails, the next try waits this long at first, doubling up to
#: release_check_s.
RETRY_FIRST_S = 60.0

PROBLEM_WORDS: dict[str, tuple[str, str]] = {
    **PROBLEMS,
    "bad_index": ("허브가 읽을 수 없는 릴리스 목록을 보냄, 설치 기술자에게 알려 주세요",
                  "The hub sent a release list the gateway cannot read, tell your installer"),
    "internal": ("게이트웨이 내부 오류, 설치 기술자에게 알려 주세요", "A fault inside the gateway, tell your installer"),
}


class _Refused(Exception):
    def __init__(self, ko: str, en: str):
        super().__init__(en)
        self.ko, self.en = ko, en


@dataclass
class ReleaseHealth(CheckHealth):
    """The index check's (CheckHealth: checks, 304s, failures, bytes, its problem in
    PROBLEM_WORDS' keys) and the releases it brought."""
    bad_indexes: int = 0
    fetched: int = 0           # releases downloaded, checked and kept
    refused: int = 0           # releases refused (each try counts)
    withdrawn: int = 0         # kept releases the hub withdrew
    last_fetch: dict | None = None    # {version, files, bytes_down, seconds, at}

    what: ClassVar[str] = "release"
    log: ClassVar[logging.Logger] = logging.getLogger("sewnet.gateway.releases")


def check_index(data: Any) -> str | None:
    """Why the hub's index cannot be used, or None."""
    if not isinstance(data, dict) or data.get("format") != 1:
        return "not a format 1 release index"
    for part in ("releases", "withdrawn"):
        entries = data.get(part)
        if not isinstance(entries, list) or len(entries) > 100:
            return f"{part}: not a list"
        for e in entries:
            if not isinstance(e, dict) or not isinstance(e.get("version"), str) \
                    or not VERSION.fullmatch(e["version"]) or not isinstance(e.get("manifest_sha256"), str) \
                    or not SHA256.fullmatch(e["manifest_sha256"]):
                return f"{part}: an entry without a valid version and manifest_sha256"
    return None


class ReleaseLink:
    """Run by the hub link (edge_gateway/hub_link.py) on its poll, over its HTTP client."""

    def __init__(self, ota: Ota, hub_url: str, check_every_s: float, clock=time.time):
        self.ota = ota
        self.url = f"{hub_url}/api/v1/releases"
        self.check_every_s = check_every_s
        self.clock = clock
        self.health = ReleaseHealth()
        self._next_at = 0.0              # monotonic: the first poll checks
        self._retry_s = RETRY_FIRST_S

    def check_now(self) -> None:
        """The operator asked (/updates): the next poll checks."""
        self._next_at = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._next_at

    def status(self) -> dict:
        """The release check in plain words for the page: level, ko, en."""
        h = self.health
        if h.problem:
            ko, en = PROBLEM_WORDS.get(h.problem, PROBLEM_WORDS["refused"])
            level = "warning" if h.problem in ("network", "timeout", "server_error") else "error"
        elif h.last_check_at:
            level, ko, en = "ok", "정상", "Working"
        else:
            level, ko, en = "ok", "아직 확인하지 못함", "Not checked yet"
        return {"level": level, "ko": ko, "en": en}

    # ---- one check -------------------------------------------------------------------------------
    async def check(self, client: httpx.AsyncClient, auth: dict[str, str]) -> bool:
        """One release check (and a fetch when there is something new). True when the index was
        handled whole."""
        try:
            ok = await self._check(client, auth)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a fault here must not end the hub link (offers go on): try later
            log.exception("hub: release check failed inside the gateway")
            ok = self._failed("internal", repr(exc)[:300])
        if ok:
            self._retry_s = RETRY_FIRST_S
            self._next_at = time.monotonic() + self.check_every_s
        else:
            self._next_at = time.monotonic() + min(self._retry_s, self.check_every_s)
            self._retry_s = min(self._retry_s * 2, self.check_every_s)
        return ok

    async def _check(self, client: httpx.AsyncClient, auth: dict[str, str]) -> bool:
        h = self.health
        state = await asyncio.to_thread(self.ota.hub_state)
        reply = await hub_http.check(client, self.url, auth, state["etag"], INDEX_MAX_BYTES, h, self.clock)
        if reply is None:
            return False
        now = self.clock()
        if reply.status == 304:
            await asyncio.to_thread(self.ota.hub_checked, now)
            return h.ok(now)
        h.changes += 1
        index, why = reply.document()
        if why is None:
            why = check_index(index)
        if why is not None:
            h.bad_indexes += 1
            return self._failed("bad_index", why)
        for w in index["withdrawn"]:
            reason = w.get("reason") if isinstance(w.get("reason"), str) else ""
            if await asyncio.to_thread(self.ota.withdraw, w["version"], w["manifest_sha256"], reason):
                h.withdrawn += 1
        if index["releases"]:
            handled = await self._take(client, auth, index["releases"][0])
            if not handled:
                return False
        # The ETag is kept only now that the index was handled whole: a check cut short asks again.
        await asyncio.to_thread(self.ota.hub_checked, now, reply.etag)
        return h.ok(now)

    async def _take(self, client: httpx.AsyncClient, auth: dict[str, str], entry: dict) -> bool:
        """The newest published release, kept or refused. False when the link failed meanwhile."""
        version, sha = entry["version"], entry["manifest_sha256"]
        kept = await asyncio.to_thread(self.ota.release_sha, version)
        if kept == sha:
            return True
        before = await asyncio.to_thread(self.ota.refusal, version, sha)
        if before is not None and before["key_id"] == self.ota.key_id \
                and self.clock() - before["last_at"] < REFUSED_RETRY_S:
            return True   # refused already, for these bytes and this key: the answer would be the same
        started, down = time.monotonic(), self.health.bytes_down
        try:
            if kept is not None:
                raise _Refused(f"이 게이트웨이에는 {version} 버전이 다른 내용으로 있습니다",
                               f"this gateway keeps another release under version {version}")
            m = await self._fetch(client, auth, version, sha)
        except _Refused as r:
            n = await asyncio.to_thread(self.ota.refuse, version, sha, r.ko, r.en)
            self.health.refused += 1
            log.warning("release %s from the hub refused (%d time%s): %s", version, n, "" if n == 1 else "s", r.en)
            return True
        except httpx.HTTPError as exc:
            return self._failed(*transport_problem(exc))
        except _LinkFailed as f:
            return self._failed(f.problem, f.detail)
        seconds = time.monotonic() - started
        self.health.fetched += 1
        self.health.last_fetch = {"version": version, "files": len(m["files"]), "seconds": round(seconds, 3),
                                  "bytes_down": self.health.bytes_down - down, "at": self.clock()}
        log.info("release %s fetched from the hub: %d files, %d bytes on the wire in %.1f s; start it on /updates",
                 version, len(m["files"]), self.health.bytes_down - down, seconds)
        return True

    async def _fetch(self, client: httpx.AsyncClient, auth: dict[str, str], version: str, sha: str) -> dict:
        base = f"{self.url}/{version}"
        data = await self._blob(client, auth, f"{base}/manifest.json", MANIFEST_MAX_BYTES)
        if hashlib.sha256(data).hexdigest() != sha:
            raise _Refused("받은 매니페스트가 허브 목록의 것과 다릅니다",
                           "the manifest received is not the one the hub's list names")
        sig = (await self._blob(client, auth, f"{base}/manifest.sig", 1024)).decode("ascii", "replace")
        try:
            # The signature before any file: a release from another key costs only these few KB.
            m = verify_manifest(self.ota.key, data, sig)
        except OtaError as e:
            raise _Refused(e.ko, e.en + self._key_hint()) from None
        blobs = {}
        for f in m["files"]:
            blobs[f["name"]] = await self._blob(client, auth, f"{base}/files/{f['name']}", FILE_MAX)
        try:
            return await asyncio.to_thread(self.ota.keep_release, data, sig, blobs, "hub")
        except OtaError as e:
            raise _Refused(e.ko, e.en) from None

    def _key_hint(self) -> str:
        return f" (this gateway trusts key {self.ota.key_id})"

    async def _blob(self, client: httpx.AsyncClient, auth: dict[str, str], url: str, limit: int) -> bytes:
        reply = await hub_http.get(client, url, auth, limit, self.health)
        if reply.status == 200 and len(reply.body) <= limit:
            return reply.body
        if reply.status == 200:
            raise _Refused("허브가 보낸 파일이 너무 큽니다", f"{url.rsplit('/', 1)[-1]}: more than {limit} bytes")
        if reply.status == 410:
            # Withdrawn while this gateway fetched it: the next index says so.
            raise _LinkFailed("refused", f"HTTP 410 for {url}")
        raise _LinkFailed(problem_of(reply.status), f"HTTP {reply.status} for {url}: {reply.body[:200]!r}")

    def _failed(self, problem: str, detail: str) -> bool:
        return self.health.failed(problem, detail, self.clock())


class _LinkFailed(Exception):
    def __init__(self, problem: str, detail: str):
        super().__init__(detail)
        self.problem, self.detail = problem, detail

