"""API tokens and the page's session cookie, with the standard library only.

A session cookie names the token it was opened with by a short hash (never the token itself) and
its expiry, signed with HMAC-SHA256. Each request checks the named token is still configured, so
removing a token from the hub ends the sessions opened with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

SESSION_COOKIE = "sewnet_hub_session"


def token_id(token: str) -> str:
    """A short, non-reversible name for a token, safe to put in a cookie or a log."""
    return hashlib.sha256(b"sewnet-token:" + token.encode()).hexdigest()[:16]


def check_token(presented: str, tokens: list[str]) -> str | None:
    """The id of the configured token equal to `presented`, else None. Compares digests with
    compare_digest against every token so timing reveals neither which token nor how much matched."""
    if not presented or len(presented) > 1024:
        return None
    digest = hashlib.sha256(presented.encode()).digest()
    found = None
    for token in tokens:
        if hmac.compare_digest(digest, hashlib.sha256(token.encode()).digest()):
            found = token
    return token_id(found) if found is not None else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, message: str) -> str:
    """HMAC-SHA256 of `message`, URL-safe base64 without padding: the session cookie's signature
    and the offers' phone links' (hub.planning.offers)."""
    return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())


def sign_session(key: bytes, tid: str, max_age_s: float, now: float | None = None) -> str:
    payload = _b64(json.dumps({"t": tid, "e": int((now or time.time()) + max_age_s)},
                              separators=(",", ":")).encode())
    return f"{payload}.{sign(key, payload)}"


def read_session(key: bytes, cookie: str | None, valid_token_ids: set[str], now: float | None = None) -> str | None:
    """The token id of a valid, unexpired session for a token still configured, else None."""
    if not cookie or len(cookie) > 512 or "." not in cookie:
        return None
    payload, _, sig = cookie.partition(".")
    if not hmac.compare_digest(sig, sign(key, payload)):
        return None
    try:
        data = json.loads(_unb64(payload))
        tid, expires = data["t"], data["e"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(tid, str) or not isinstance(expires, int) or expires < (now or time.time()):
        return None
    return tid if tid in valid_token_ids else None
