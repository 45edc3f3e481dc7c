"""The operator's local page: alerts, machines, today's stitches, uplink health, rejections.

Login is a form (Korean first) with the operator password, which opens a session cookie
remembered on that device for `session_days`: signed with HMAC, HttpOnly, SameSite=Lax. The cookie
carries a keyed fingerprint of the password it was opened with, so changing the password (and
restarting the gateway) ends every old session. Any UTF-8 password works: both sides are
NFC-normalised (a phone keyboard may compose Hangul differently from the one that set it) and
compared in constant time as UTF-8 bytes.

Failed logins are counted and limited per client address (`limits`, moving window): after
`login_max_failures` in `login_window_s` that address is refused, even with the right password,
until the window frees up, and the page says when. Scripts read `GET /api/v1/devices` with the
session cookie or `Authorization: Bearer <operator password>` (UTF-8), under the same limit.
No page, API or API documentation is served without login.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import time
import unicodedata
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool


from . import machine_state, offer_store
from .contract import REASONS, TOPIC
from .hub_link import HubLink
from .outbox import Outbox, StoreDamaged, StoreFull
from .uplink import duration_words, uplink_words

log = logging.getLogger("sewnet.gateway.web")

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SESSION_COOKIE = "sewnet_gateway_session"
# Longer is not a password anyone types; it only costs hashing.
PASSWORD_MAX_CHARS = 1024
LOGIN_BODY_MAX_BYTES = 16 * 1024

# A board sends a summary every 10 s by default; three missed ones is worth showing.
QUIET_AFTER_S = 60

FORM_BODY_MAX_BYTES = 16 * 1024
#: What a store write may raise when the disk or the file fails (not the caller's mistake).
STORE_ERRORS = (sqlite3.Error, StoreFull, StoreDamaged)

# Why messages were refused, in plain words (contract.REASONS); one missing here is "other".
REASON_WORDS = {
    "oversized": ("너무 큰 메시지", "message too large"),
    "bad_topic": ("잘못된 주소(토픽)", "wrong topic"),
    "malformed_json": ("읽을 수 없는 내용", "unreadable content"),
    "unsupported_version": ("지원하지 않는 버전", "unsupported version"),
    "schema": ("빠지거나 잘못된 값", "missing or wrong values"),
    "device_mismatch": ("다른 기기의 이름으로 보냄", "sent under another device's name"),
    "unknown_device": ("등록되지 않은 기기", "device not registered"),
    "implausible_time": ("시간이 맞지 않음", "time does not fit"),
    "store_error": ("저장할 수 없는 내용", "could not be stored"),
}
#: An offer's status on the hub, in words (contract statuses).
OFFER_WORDS = {
    "offered": ("답을 기다립니다", "Waiting for your answer"),
    "accepted": ("수락함", "Accepted"),
    "declined": ("거절함", "Declined"),
    "expired": ("답할 기한이 지남", "Expired: not answered in time"),
    "withdrawn": ("취소됨 (계획이 바뀜)", "Withdrawn: the plan changed"),
}
#: Rejected messages listed by board on the page (the newest this many are read).
REJECTED_SHOWN = 500
#: An offer id in the hub's words ("이 작업장에 of-1a2b 제안이 없습니다"): a code the owner never saw.
OFFER_ID_IN_WORDS = re.compile(r"\s*\bof-[0-9A-Za-z_-]+")


def hub_reason_words(reason: str | None) -> tuple[str, str] | None:
    """The hub's reason for a result ("<ko> / <en>", contract) as (ko, en), without offer ids."""
    if not reason:
        return None
    ko, sep, en = OFFER_ID_IN_WORDS.sub("", reason).partition(" / ")
    return ko.strip(), (en if sep else ko).strip()


def order_label(document: dict | None, order_id: str | None) -> tuple[str, str] | None:
    """How the page names an order: its style and due date, from the workshop's offers of it
    (never the order's or an offer's id)."""
    if not order_id:
        return None
    mine = [o for o in (document or {}).get("offers", []) if (o.get("order_id") or o["id"]) == order_id]
    if not mine:
        return ("끝난 일감", "finished work")
    o = next((o for o in mine if o.get("status") == "accepted"), mine[0])
    due = f" · 납기 {o['due'][5:]}" if o.get("due") else ""
    due_en = f" · due {o['due'][5:]}" if o.get("due") else ""
    return o.get("style", "") + due, o.get("style", "") + due_en


def load_session_key(path: Path) -> bytes:
    """The key that signs session cookies, made once per gateway and kept (mode 0600) so that
    sessions survive a restart."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    os.replace(tmp, path)
    return bytes.fromhex(path.read_text().strip())


def password_bytes(password: str) -> bytes:
    """What is compared: NFC, then UTF-8 (lone surrogates kept as such, never an exception)."""
    return unicodedata.normalize("NFC", password).encode("utf-8", "surrogatepass")


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "— (없음 never)"
    if now - ts >= 86400:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
    ko, en = duration_words(now - ts)
    return f"{ko} 전 ({en} ago)"


def _view(d: dict, now: float) -> dict:
    d = dict(d)
    quiet = d["last_seen"] is None or now - d["last_seen"] > QUIET_AFTER_S
    if d["state"] == "offline":
        d["view_state"], d["state_ko"], d["state_en"] = "offline", "꺼짐", "offline"
    elif d["state"] == "online" and not quiet:
        d["view_state"], d["state_ko"], d["state_en"] = "online", "켜짐", "online"
    elif d["state"] == "online":
        d["view_state"], d["state_ko"], d["state_en"] = "online", "켜짐 (소식 없음)", "online, quiet"
    else:
        d["view_state"], d["state_ko"], d["state_en"] = "", "모름", "unknown"
    d["last_seen_text"] = _ago(d["last_seen"], now)
    return d


def uplink_advice(problem: str | None) -> tuple[str, str] | None:
    """What the owner can do about the uplink, in plain words."""
    if problem in ("network", "timeout"):
        return ("인터넷 공유기(라우터)와 LTE 모뎀의 전원을 확인하세요. 데이터는 이 기기에 보관되고 연결되면 자동으로 보냅니다.",
                "Check the power of the internet router and the LTE modem. Data is kept here and sent by itself once connected.")
    if problem in ("busy", "server_error"):
        return ("할 일 없음: 서버가 돌아오면 자동으로 보냅니다.", "Nothing to do: sent by itself when the server is back.")
    if problem in ("credentials", "not_found", "refused"):
        return ("설치 기술자에게 연락하세요. 데이터는 안전하게 보관 중입니다.", "Call your installer. Data is kept safely.")
    return None


def _alert_view(a: dict, now: float) -> dict:
    a = dict(a)
    if a.get("since"):
        ko, en = duration_words(now - a["since"])
        a["since_ko"], a["since_en"] = f"{ko} 전부터", f"for {en}"
    return a


class LoginNeeded(Exception):
    """Raised by the `operator` dependency of a page or form the operator alone may use."""


class Logins:
    """Failed logins per client address: counted, limited, and locked out when over the limit."""

    def __init__(self, max_failures: int, window_s: int):
        self._limit = RateLimitItemPerSecond(max_failures, window_s)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.counts = {"ok": 0, "failed": 0, "locked_out": 0}

    def locked_until(self, client: str) -> float | None:
        """When `client` may try again, or None if it may try now."""
        if self._limiter.test(self._limit, "login", client):
            return None
        return self._limiter.get_window_stats(self._limit, "login", client).reset_time

    def tries_left(self, client: str) -> int:
        return max(0, self._limiter.get_window_stats(self._limit, "login", client).remaining)

    def failed(self, client: str) -> None:
        self.counts["failed"] += 1
        self._limiter.hit(self._limit, "login", client)
        if self.locked_until(client) is not None:
            log.warning("operator page: %d failed logins from one address; it is locked out for %d min",
                        self._limit.amount, self._limit.get_expiry() // 60)

    def refused_while_locked(self) -> None:
        self.counts["locked_out"] += 1

    def succeeded(self, client: str) -> None:
        self.counts["ok"] += 1
        self._limiter.clear(self._limit, "login", client)


def create_app(
    outbox: Outbox,
    *,
    workshop: str,
    operator_password: str,
    health: Callable[[], dict[str, Any]] | None = None,
    session_key: bytes | None = None,
    session_days: float = 30.0,
    login_max_failures: int = 5,
    login_window_s: int = 900,
    timezone: str = "Asia/Seoul",
    hub: HubLink | None = None,
    ota=None,
    ota_passwd_file: Path | None = None,
) -> FastAPI:
    """`health()` returns {"uplink": {...}, "ingest": {...}, "alerts": [...]} from the running
    tasks. Without `session_key` sessions last as long as the process."""
    if not operator_password:
        raise ValueError("the operator page needs a password")
    app = FastAPI(title=f"SewNet gateway {workshop}", docs_url=None, redoc_url=None, openapi_url=None)
    key = session_key or secrets.token_bytes(32)
    expected = hashlib.sha256(password_bytes(operator_password)).digest()
    # Names the password a session was opened with, without revealing it to anyone lacking the key.
    fingerprint = hmac.new(key, b"operator-password:" + password_bytes(operator_password),
                           hashlib.sha256).hexdigest()[:16]
    max_age = int(session_days * 86400)
    sessions = URLSafeTimedSerializer(key, salt="sewnet-gateway-session")
    logins = Logins(login_max_failures, login_window_s)
    tz = ZoneInfo(timezone)
    app.state.logins = logins

    def password_ok(presented: str) -> bool:
        if len(presented) > PASSWORD_MAX_CHARS:
            return False
        return hmac.compare_digest(hashlib.sha256(password_bytes(presented)).digest(), expected)

    def client_of(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def has_session(request: Request) -> bool:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or len(cookie) > 512:
            return False
        try:
            return sessions.loads(cookie, max_age=max_age) == fingerprint
        except BadSignature:  # forged, expired or from another key
            return False

    async def operator(request: Request) -> None:
        """The operator's pages and forms: without a session, the answer is the login form."""
        if not has_session(request):
            raise LoginNeeded

    @app.exception_handler(LoginNeeded)
    async def to_login(request: Request, exc: LoginNeeded) -> Response:
        return RedirectResponse("/login", status_code=303)

    operator_only = [Depends(operator)]

    def lockout_words(until: float) -> tuple[str, str]:
        at = datetime.fromtimestamp(until, tz).strftime("%H:%M")
        ko, en = duration_words(max(60.0, until - time.time()))
        return (f"로그인 시도가 너무 많습니다. {at} 이후에 다시 해 보세요 (약 {ko} 후).",
                f"Too many tries. Try again after {at} (in about {en}).")

    def login_page(request: Request, status: int = 200, error: tuple[str, str] | None = None,
                   headers: dict | None = None) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "gateway_login.html",
                                          {"workshop": workshop, "error": error}, status_code=status,
                                          headers=headers)

    def bearer_password(request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        try:  # headers arrive as latin-1; a UTF-8 password comes as its bytes
            return value.strip().encode("latin-1").decode("utf-8")
        except UnicodeError:
            return "\ufffd"  # not a password anyone has: counts as a wrong one

    def api_refusal(request: Request) -> JSONResponse | None:
        """None if the request may read the API, else the answer that says why not."""
        if has_session(request):
            return None
        presented = bearer_password(request)
        if presented is None:
            return JSONResponse({"detail": "로그인이 필요합니다 / login required"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="SewNet gateway"'})
        client = client_of(request)
        until = logins.locked_until(client)
        if until is not None:
            logins.refused_while_locked()
            ko, en = lockout_words(until)
            return JSONResponse({"detail": f"{ko} / {en}"}, status_code=429,
                                headers={"Retry-After": str(max(1, int(until - time.time())))})
        if not password_ok(presented):
            logins.failed(client)
            return JSONResponse({"detail": "비밀번호가 틀렸습니다 / wrong password"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="SewNet gateway", error="invalid_token"'})
        logins.succeeded(client)
        return None

    def snapshot() -> dict:
        now = time.time()
        counters = outbox.counters()
        h = health() if health else {}
        uplink = dict(h.get("uplink") or {})
        if "pending_lines" not in uplink:
            n, oldest = outbox.pending_stats()
            uplink.update(pending_lines=n, oldest_pending_at=oldest)
        return {
            "workshop": workshop,
            "now": now,
            "alerts": list(h.get("alerts") or []),
            "devices": outbox.devices(now),
            "uplink": uplink,
            "ingest": h.get("ingest") or {},
            "rejected": {r: counters.get("rejected." + r, 0) for r in REASONS if counters.get("rejected." + r)},
            "counters": counters,
            "logins": dict(logins.counts),
            "hub": None if hub is None else {**hub.health.as_dict(), **hub.status(now)},
            "releases": None if hub is None or hub.releases is None else {**hub.releases.health.as_dict(),
                                                                          **hub.releases.status()},
        }

    @app.get("/api/v1/devices")
    def devices_json(request: Request):
        refusal = api_refusal(request)
        return refusal if refusal is not None else snapshot()

    def local_time(ts: float | None, now: float) -> str:
        if not ts:
            return "—"
        at = datetime.fromtimestamp(ts, tz)
        return at.strftime("%H:%M" if at.date() == datetime.fromtimestamp(now, tz).date() else "%m-%d %H:%M")

    def parse_time(text: str | None) -> float | None:
        try:
            return datetime.fromisoformat(text).timestamp() if text else None
        except ValueError:
            return None

    def machines_view(devices: list[dict], now: float, doc: dict | None,
                      on_order: dict[str, str | None]) -> tuple[list[dict], list[dict]]:
        """Machine cards (state words from recent summaries, today's stitches as a bar) and the
        workshop's stitches per hour today."""
        rows = outbox.activity(now - 2 * 86400)
        per_machine: dict[str, list[tuple[int, int, int]]] = {}
        for machine, minute, st, run in rows:
            per_machine.setdefault(machine, []).append((minute, st, run))
        out = []
        for d in devices:
            v = _view(d, now)
            ms = machine_state.state_of(per_machine.get(d["machine"], []), last_seen=d["last_seen"],
                                        board_state=d["state"], now=now, tz=tz)
            order = on_order.get(d["machine"])
            v.update(run_state=ms.state, run_ko=ms.ko, run_en=ms.en, order_id=order,
                     order_label=order_label(doc, order))
            out.append(v)
        top = max((v["stitches_today"] for v in out), default=0) or 1
        for v in out:
            v["bar_pct"] = round(100 * v["stitches_today"] / top)
        hours: dict[int, int] = {}
        for minutes in per_machine.values():
            for h, n in machine_state.hours_today(minutes, now, tz):
                hours[h] = hours.get(h, 0) + n
        if not hours:
            hours = dict(machine_state.hours_today([], now, tz))
        peak = max(hours.values(), default=0) or 1
        bars = [{"hour": h, "stitches": n, "pct": round(100 * n / peak)} for h, n in sorted(hours.items())]
        return out, bars

    def rejected_by_board(now: float) -> list[dict]:
        """The kept rejected messages, by board (device id from the topic) and reason, in words."""
        groups: dict[tuple[str, str], dict] = {}
        for r in outbox.rejected(REJECTED_SHOWN):
            m = TOPIC.fullmatch(r["topic"])
            device = m.group(1) if m else "?"
            g = groups.setdefault((device, r["reason"]), {"device": device, "n": 0, "last": r["received_at"]})
            g["n"] += 1
            g["last"] = max(g["last"], r["received_at"])
            g["ko"], g["en"] = REASON_WORDS.get(r["reason"], ("기타 사유", "other reason"))
            g["machine"] = outbox.registry.get(device)
        out = sorted(groups.values(), key=lambda g: -g["last"])
        for g in out:
            g["last_text"] = _ago(g["last"], now)
        return out

    def offers_view(now: float, doc: dict | None, fetched: float | None, on_order: dict[str, str | None],
                    status: dict) -> dict:
        """The hub's offers as the page shows them, with what the owner did here."""
        if hub is None:
            return {"enabled": False}
        local = offer_store.by_offer(outbox)
        listed = {o["id"]: o for o in (doc or {}).get("offers", [])}
        offers = []
        for o in (doc or {}).get("offers", []):
            o = dict(o)
            mine = local.get(o["id"], {})
            answer, count = mine.get("answer"), mine.get("count")
            o["status_ko"], o["status_en"] = OFFER_WORDS.get(o["status"], ("알 수 없음", "unknown"))
            o["answer"] = answer
            o["can_answer"] = o["status"] == "offered" and not (answer and (answer["waiting"] or answer["result"] in ("applied", "duplicate")))
            if answer and answer["waiting"]:
                verb = ("수락", "Accept") if answer["answer"] == "accept" else ("거절", "Decline")
                o["local_ko"] = f"{verb[0]} 보내는 중 — 인터넷이 돌아오면 전달됩니다"
                o["local_en"] = f"{verb[1]}: sending — delivered when the internet is back"
            elif answer and answer["result"] in ("too_late", "refused"):
                ko, en = offer_store.RESULT_WORDS[answer["result"]]
                why = hub_reason_words(answer["reason_words"])
                o["local_ko"], o["local_en"] = (f"{ko}: {why[0]}", f"{en}: {why[1]}") if why else (ko, en)
                o["local_bad"] = True
            if count and count["result"] == "refused":
                why = hub_reason_words(count["reason_words"])
                ko, en = "입력한 개수를 허브가 받지 않음", "The hub did not take your count"
                o["count_bad_ko"], o["count_bad_en"] = (f"{ko}: {why[0]}", f"{en}: {why[1]}") if why else (ko, en)
            changed = o.get("changed") or {}
            if isinstance(changed.get("from_pieces"), int):
                at = local_time(parse_time(changed.get("at")), now) if changed.get("at") else None
                when_ko, when_en = (f" ({at})", f" ({at})") if at and at != "—" else ("", "")
                if changed["from_pieces"] != o["pieces"]:
                    o["change_ko"] = f"수량 변경: {changed['from_pieces']:,}벌 → {o['pieces']:,}벌{when_ko}"
                    o["change_en"] = f"quantity changed: {changed['from_pieces']:,} → {o['pieces']:,} pieces{when_en}"
                else:
                    o["change_ko"], o["change_en"] = f"날짜 변경{when_ko}", f"days changed{when_en}"
            if o.get("adds_to"):
                base = listed.get(o["adds_to"])
                if base is not None and base.get("status") == "accepted":
                    o["extra_ko"] = f"추가 주문: 이미 수락한 {base['pieces']:,}벌에 {o['pieces']:,}벌 더"
                    o["extra_en"] = f"{o['pieces']:,} more on top of the {base['pieces']:,} you accepted"
                    o["base_pieces"] = base["pieces"]
                else:
                    o["extra_ko"], o["extra_en"] = f"추가 주문: {o['pieces']:,}벌 더", f"{o['pieces']:,} more pieces"
            if o.get("decline_reason") in offer_store.DECLINE_REASONS:
                o["decline_ko"], o["decline_en"] = offer_store.DECLINE_REASONS[o["decline_reason"]]
            p = o.get("progress") or {}
            o["counted"] = p.get("counted") or 0
            o["estimated"] = int(p.get("estimated") or 0)
            if count:
                o["my_count"] = count["pieces"]
                o["my_count_waiting"] = count["waiting"]
            o["respond_by_text"] = local_time(parse_time(o.get("respond_by")), now)
            o["machines"] = sorted(m for m, order in on_order.items() if order == (o.get("order_id") or o["id"]))
            o["done_pct"] = min(100, round(100 * max(o["counted"], o["estimated"]) / o["pieces"])) if o.get("pieces") else 0
            offers.append(o)
        order = {"offered": 0, "accepted": 1, "declined": 2, "expired": 3, "withdrawn": 4}
        offers.sort(key=lambda o: (order.get(o["status"], 9), o.get("respond_by") or ""))
        return {"enabled": True, "offers": offers, "fetched_text": local_time(fetched, now) if fetched else None,
                "status": status}

    def offer_in(doc: dict | None, offer_id: str) -> dict | None:
        return next((o for o in (doc or {}).get("offers", []) if o.get("id") == offer_id), None)

    def find_offer(offer_id: str) -> dict | None:
        if hub is None:
            return None
        return offer_in(offer_store.load_document(outbox)[1], offer_id)

    async def read_form(request: Request, max_bytes: int = FORM_BODY_MAX_BYTES,
                        max_fields: int = 50) -> dict[str, str] | None:
        """The url-encoded form (the browser's default), first value per field; None when the body
        is longer than `max_bytes` (nobody types that much: it is not held), {} when it has more
        than `max_fields` fields."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                return None
        try:
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=max_fields,
                                           errors="replace")
        except ValueError:  # too many fields
            return {}
        return {k: v[0] for k, v in fields.items()}

    def message_page(request: Request, ko: str, en: str, status: int = 400) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "gateway_message.html",
                                          {"workshop": workshop, "ko": ko, "en": en}, status_code=status)

    def not_kept(request: Request, exc: Exception) -> HTMLResponse:
        """The owner's tap could not be written (disk full, store damaged): nothing was kept, so
        say it in words and ask for another tap, not a server error page in English."""
        log.error("page: the owner's answer could not be stored: %s: %s", type(exc).__name__, exc)
        return message_page(request, "저장하지 못했습니다: 게이트웨이의 저장 공간에 문제가 있습니다. 잠시 후 다시 눌러 보고,"
                            " 계속되면 설치 기술자에게 연락하세요.",
                            "Not saved: the gateway's storage has a problem. Tap again in a moment; if it goes on,"
                            " call your installer.", 503)

    def no_offer(request: Request) -> HTMLResponse:
        return message_page(request, "그 일감을 찾을 수 없습니다. 목록이 바뀌었을 수 있습니다.",
                            "That offer is not on the list (the list may have changed).", 404)

    def back(anchor: str = "") -> RedirectResponse:
        return RedirectResponse("/" + anchor, status_code=303)

    @app.get("/", response_class=HTMLResponse, dependencies=operator_only)
    def page(request: Request):
        s = snapshot()
        now = s["now"]
        up = s["uplink"]
        up["level"], up["words_ko"], up["words_en"] = uplink_words(up, now)
        up["oldest_text"] = _ago(up.get("oldest_pending_at"), now) if up.get("pending_lines") else "—"
        up["last_success_text"] = _ago(up.get("last_success_at"), now)
        up["kbytes_sent"] = round((up.get("bytes_sent") or 0) / 1024, 1)
        up["what_to_do"] = uplink_advice(up.get("problem"))
        # The offers document is read (and parsed) once per render, for the machines and the offers.
        _, doc, fetched = offer_store.load_document(outbox) if hub is not None else (None, None, None)
        on_order = offer_store.machine_orders(outbox, doc) if hub is not None else {}
        machines, hour_bars = machines_view(s["devices"], now, doc, on_order)
        return TEMPLATES.TemplateResponse(
            request,
            "gateway.html",
            {
                "workshop": workshop,
                "alerts": [_alert_view(a, now) for a in s["alerts"]],
                "devices": machines,
                "hour_bars": hour_bars,
                "uplink": up,
                "ingest": s["ingest"],
                "rejected_boards": rejected_by_board(now),
                "duplicates": s["counters"].get("duplicate", 0),
                "offers": offers_view(now, doc, fetched, on_order, s["hub"]),
                "reasons": offer_store.DECLINE_REASONS,
                "ota_enabled": ota is not None,
            },
        )

    @app.post("/offers/{offer_id}/accept", dependencies=operator_only)
    def accept(request: Request, offer_id: str):
        offer = find_offer(offer_id)
        if offer is None:
            return no_offer(request)
        if offer["status"] != "offered":
            return message_page(request, "이 일감은 이미 답했거나 마감되었습니다.", "This offer was already answered or closed.", 409)
        try:
            offer_store.queue_answer(outbox, offer_id, "accept")
        except STORE_ERRORS as exc:
            return not_kept(request, exc)
        hub.wake()
        return back(f"#offer-{offer_id}")

    @app.get("/offers/{offer_id}/decline", response_class=HTMLResponse, dependencies=operator_only)
    def decline_form(request: Request, offer_id: str):
        _, doc, _ = offer_store.load_document(outbox) if hub is not None else (None, None, None)
        offer = offer_in(doc, offer_id)
        if offer is None:
            return no_offer(request)
        base = next((o for o in (doc or {}).get("offers", [])
                     if offer.get("adds_to") and o["id"] == offer["adds_to"] and o.get("status") == "accepted"), None)
        return TEMPLATES.TemplateResponse(request, "gateway_decline.html", {
            "workshop": workshop, "offer": offer, "reasons": offer_store.DECLINE_REASONS, "base": base})

    # The POST handlers below are async only to read the body; the store work (a read under the
    # store's lock, a FULL-synchronous commit) runs in a worker thread: the loop also serves ingest
    # and the uplinks and must never wait on the SD card.
    @app.post("/offers/{offer_id}/decline", dependencies=operator_only)
    async def decline(request: Request, offer_id: str):
        fields = await read_form(request) or {}
        return await run_in_threadpool(decline_now, request, offer_id, fields.get("reason"))

    def decline_now(request: Request, offer_id: str, reason: str | None) -> Response:
        offer = find_offer(offer_id)
        if offer is None:
            return no_offer(request)
        if reason not in offer_store.DECLINE_REASONS:
            return message_page(request, "거절하는 이유를 하나 골라 주세요.", "Please pick a reason for declining.", 422)
        if offer["status"] != "offered":
            return message_page(request, "이 일감은 이미 답했거나 마감되었습니다.", "This offer was already answered or closed.", 409)
        try:
            offer_store.queue_answer(outbox, offer_id, "decline", reason)
        except STORE_ERRORS as exc:
            return not_kept(request, exc)
        hub.wake()
        return back(f"#offer-{offer_id}")

    @app.get("/offers/{offer_id}/count", response_class=HTMLResponse, dependencies=operator_only)
    def count_form(request: Request, offer_id: str):
        offer = find_offer(offer_id)
        if offer is None:
            return no_offer(request)
        return TEMPLATES.TemplateResponse(request, "gateway_count.html", {
            "workshop": workshop, "offer": offer, "error": None,
            "estimated": int(((offer.get("progress") or {}).get("estimated")) or 0)})

    @app.post("/offers/{offer_id}/count", response_class=HTMLResponse, dependencies=operator_only)
    async def count(request: Request, offer_id: str):
        fields = await read_form(request) or {}
        return await run_in_threadpool(count_now, request, offer_id, fields.get("pieces"))

    def count_now(request: Request, offer_id: str, pieces: str | None) -> Response:
        offer = find_offer(offer_id)
        if offer is None:
            return no_offer(request)
        text = (pieces or "").strip().replace(",", "")
        error = None
        if not text.isdigit():
            error = ("완성된 개수를 숫자로 적어 주세요.", "Write the number of finished pieces.")
        elif int(text) > max(offer.get("pieces") or 0, 1) * 2:
            error = (f"너무 큽니다: 이 일감은 {offer.get('pieces'):,}벌입니다.",
                     f"Too large: this offer is {offer.get('pieces'):,} pieces.")
        elif offer["status"] != "accepted":
            error = ("수락한 일감만 개수를 적을 수 있습니다.", "Counts are for accepted offers only.")
        if error:
            return TEMPLATES.TemplateResponse(request, "gateway_count.html", {
                "workshop": workshop, "offer": offer, "error": error, "value": text[:12],
                "estimated": int(((offer.get("progress") or {}).get("estimated")) or 0)}, status_code=422)
        try:
            offer_store.queue_count(outbox, offer_id, int(text))
        except STORE_ERRORS as exc:
            return not_kept(request, exc)
        hub.wake()
        return back(f"#offer-{offer_id}")

    def order_choices(doc: dict | None) -> list[dict]:
        """The orders a machine can work on: those the workshop holds accepted offers of, each once
        (an accepted extra adds its pieces to its order's), open ones first."""
        out: dict[str, dict] = {}
        open_ = offer_store.open_orders(doc)
        for o in (doc or {}).get("offers", []):
            if o.get("status") != "accepted":
                continue
            order = o.get("order_id") or o["id"]
            c = out.setdefault(order, {"order_id": order, "pieces": 0, "open": order in open_})
            c["pieces"] += o.get("pieces") or 0
            c["ko"], c["en"] = order_label(doc, order)
        return sorted(out.values(), key=lambda c: not c["open"])

    @app.get("/machines/{machine}/assign", response_class=HTMLResponse, dependencies=operator_only)
    def assign_form(request: Request, machine: str):
        if hub is None or machine not in set(outbox.registry.values()):
            return message_page(request, "그 재봉틀을 찾을 수 없습니다.", "No such machine.", 404)
        _, doc, _ = offer_store.load_document(outbox)
        return TEMPLATES.TemplateResponse(request, "gateway_assign.html", {
            "workshop": workshop, "machine": machine, "orders": order_choices(doc),
            "current": offer_store.machine_orders(outbox, doc).get(machine)})

    @app.post("/machines/{machine}/assign", dependencies=operator_only)
    async def assign(request: Request, machine: str):
        fields = await read_form(request) or {}
        return await run_in_threadpool(assign_now, request, machine, fields.get("order") or "")

    def assign_now(request: Request, machine: str, chosen: str) -> Response:
        if hub is None or machine not in set(outbox.registry.values()):
            return message_page(request, "그 재봉틀을 찾을 수 없습니다.", "No such machine.", 404)
        _, doc, _ = offer_store.load_document(outbox)
        if chosen == "none":
            order_id = None
        elif offer_store.report_offer(doc, chosen) is None:
            return message_page(request, "수락한 일감 중에서 골라 주세요.", "Pick one of the accepted orders.", 422)
        else:
            order_id = chosen
        try:
            changed = offer_store.assign(outbox, machine, order_id, doc)
        except STORE_ERRORS as exc:
            return not_kept(request, exc)
        if changed:
            hub.wake()
        return back(f"#machine-{machine}")

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request):
        if has_session(request):
            return RedirectResponse("/", status_code=303)
        return login_page(request)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request):
        client = client_of(request)
        until = logins.locked_until(client)
        if until is not None:
            logins.refused_while_locked()
            return login_page(request, 429, lockout_words(until),
                              {"Retry-After": str(max(1, int(until - time.time())))})
        fields = await read_form(request, LOGIN_BODY_MAX_BYTES, max_fields=20)
        if fields is None:
            return login_page(request, 413, ("입력이 너무 깁니다.", "That is too long."))
        # Anything but a url-encoded form reads as a wrong password.
        presented = fields.get("password")
        if presented is None or not password_ok(presented):
            logins.failed(client)
            until = logins.locked_until(client)
            if until is not None:
                return login_page(request, 429, lockout_words(until),
                                  {"Retry-After": str(max(1, int(until - time.time())))})
            left = logins.tries_left(client)
            return login_page(request, 401, (f"비밀번호가 틀렸습니다. 남은 시도 {left}번.",
                                             f"Wrong password. {left} tries left."))
        logins.succeeded(client)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, sessions.dumps(fingerprint), max_age=max_age,
                            httponly=True, samesite="lax", path="/", secure=request.url.scheme == "https")
        return response

    @app.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    # Board updates and settings (issue 10 §2): the boards' API and the operator's /updates page.
    if ota is not None:
        from . import ota_web

        ota_web.install(app, ota, passwd_file=ota_passwd_file or Path("/etc/sewnet/boards.passwd"), hub=hub,
                        operator_only=operator_only, templates=TEMPLATES, workshop=workshop, timezone=timezone,
                        registry=dict(outbox.registry), read_form=read_form, message_page=message_page)
    return app
