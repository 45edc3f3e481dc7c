"""The operator's local page: machines, today's stitches, uplink health, rejections.

Login is HTTP Basic with the operator password (any user name): the browser asks once and
remembers it, nothing to build or store server-side, and it is as safe as a session cookie on the
same plain-HTTP workshop network. Compared in constant time.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any, Callable

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.templating import Jinja2Templates

from .contract import REASONS
from .outbox import Outbox

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

# A board sends a summary every 10 s by default; three missed ones is worth showing.
QUIET_AFTER_S = 60


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "— (없음 never)"
    s = max(0, int(now - ts))
    if s < 60:
        return f"{s}초 전 ({s} s ago)"
    if s < 3600:
        return f"{s // 60}분 전 ({s // 60} min ago)"
    if s < 86400:
        return f"{s // 3600}시간 전 ({s // 3600} h ago)"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


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


def create_app(
    outbox: Outbox,
    *,
    workshop: str,
    operator_password: str,
    health: Callable[[], dict[str, Any]] | None = None,
) -> FastAPI:
    """`health()` returns {"uplink": {...}, "ingest": {...}} from the running tasks."""
    if not operator_password:
        raise ValueError("the operator page needs a password")
    app = FastAPI(title=f"SewNet gateway {workshop}", docs_url=None, redoc_url=None, openapi_url=None)
    basic = HTTPBasic(realm="SewNet gateway")
    expected = operator_password.encode()

    def operator(credentials: HTTPBasicCredentials = Depends(basic)) -> None:
        if not secrets.compare_digest(credentials.password.encode(), expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="wrong password / 비밀번호가 틀렸습니다",
                headers={"WWW-Authenticate": 'Basic realm="SewNet gateway"'},
            )

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
            "devices": outbox.devices(now),
            "uplink": uplink,
            "ingest": h.get("ingest") or {},
            "rejected": {r: counters.get("rejected." + r, 0) for r in REASONS if counters.get("rejected." + r)},
            "counters": counters,
        }

    @app.get("/api/v1/devices", dependencies=[Depends(operator)])
    def devices_json() -> dict:
        return snapshot()

    @app.get("/", response_class=HTMLResponse, dependencies=[Depends(operator)])
    def page(request: Request):
        s = snapshot()
        now = s["now"]
        up = s["uplink"]
        up["oldest_text"] = _ago(up.get("oldest_pending_at"), now) if up.get("pending_lines") else "—"
        up["last_success_text"] = _ago(up.get("last_success_at"), now)
        return TEMPLATES.TemplateResponse(
            request,
            "gateway.html",
            {
                "workshop": workshop,
                "devices": [_view(d, now) for d in s["devices"]],
                "uplink": up,
                "ingest": s["ingest"],
                "rejected": s["rejected"],
                "duplicates": s["counters"].get("duplicate", 0),
            },
        )

    return app
