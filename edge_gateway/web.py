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
import secrets
import time
import unicodedata
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


from .contract import REASONS
from .outbox import Outbox
from .uplink import duration_words, uplink_words

log = logging.getLogger("sewnet.gateway.web")

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SESSION_COOKIE = "sewnet_gateway_session"
# Longer is not a password anyone types; it only costs hashing.
PASSWORD_MAX_CHARS = 1024
LOGIN_BODY_MAX_BYTES = 16 * 1024

# A board sends a summary every 10 s by default; three missed ones is worth showing.
QUIET_AFTER_S = 60

# Why messages were refused, in plain words (contract.REASONS); one missing here is "other".
REASON_WORDS = {
    "oversized": ("너무 큰 메시지", "message too large"),
    "bad_topic": ("잘못된 주소(토픽)", "wrong topic"),
    "malformed_json": ("읽을 수 없는 내용", "unreadable content"),
    "unsupported_version": ("지원하지 않는 버전", "unsupported version"),
    "schema": ("빠지거나 잘못된 값", "missing or wrong values"),
    "device_mismatch": ("다른 기기의 이름으로 보냄", "sent under another device's name"),
    "unknown_device": ("등록되지 않은 기기", "device not registered"),
}


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


def _alert_view(a: dict, now: float) -> dict:
    a = dict(a)
    if a.get("since"):
        ko, en = duration_words(now - a["since"])
        a["since_ko"], a["since_en"] = f"{ko} 전부터", f"for {en}"
    return a


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
        }

    @app.get("/api/v1/devices")
    def devices_json(request: Request):
        refusal = api_refusal(request)
        return refusal if refusal is not None else snapshot()

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request):
        if not has_session(request):
            return RedirectResponse("/login", status_code=303)
        s = snapshot()
        now = s["now"]
        up = s["uplink"]
        up["level"], up["words_ko"], up["words_en"] = uplink_words(up, now)
        up["oldest_text"] = _ago(up.get("oldest_pending_at"), now) if up.get("pending_lines") else "—"
        up["last_success_text"] = _ago(up.get("last_success_at"), now)
        up["kbytes_sent"] = round((up.get("bytes_sent") or 0) / 1024, 1)
        rejected = [(*REASON_WORDS.get(r, ("기타 사유", "other reason")), n) for r, n in s["rejected"].items()]
        return TEMPLATES.TemplateResponse(
            request,
            "gateway.html",
            {
                "workshop": workshop,
                "alerts": [_alert_view(a, now) for a in s["alerts"]],
                "devices": [_view(d, now) for d in s["devices"]],
                "uplink": up,
                "ingest": s["ingest"],
                "rejected": rejected,
                "duplicates": s["counters"].get("duplicate", 0),
            },
        )

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
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > LOGIN_BODY_MAX_BYTES:  # nobody types that much: do not hold it
                return login_page(request, 413, ("입력이 너무 깁니다.", "That is too long."))
        # The form is url-encoded (the browser's default); anything else reads as a wrong password.
        try:
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20, errors="replace")
        except ValueError:  # too many fields
            fields = {}
        presented = (fields.get("password") or [None])[0]
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

    return app
