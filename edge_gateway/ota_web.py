"""The OTA part of the gateway's web server: the boards' API (HTTP Basic with each board's MQTT
user and password, checked against the broker's password file) and the operator's page
`/updates` (versions per board, a rollout, settings sent to boards)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .contract import DEVICE_ID
from .ota import CHECK_BODY_MAX, FILE_NAME, VERSION, Ota, OtaError, board_password_ok

log = logging.getLogger("sewnet.gateway.ota")

ROLLOUT_WORDS = {
    "first": ("첫 보드에서 시험 중", "trying it on the first board"),
    "rest": ("나머지 보드에 설치 중", "installing on the other boards"),
    "done": ("모든 보드 완료", "every board done"),
    "stopped": ("중단됨", "stopped"),
}
BOARD_WORDS = {
    "waiting": ("차례 기다림", "waiting its turn"),
    "offered": ("설치 중", "installing"),
    "installed": ("정상", "healthy"),
    "failed": ("실패: 이전 버전으로 되돌림", "failed: back on the old version"),
    "stopped": ("하지 않음 (중단)", "not done (stopped)"),
}
CONFIG_WORDS = {
    "offered": ("보내는 중", "sending"),
    "applied": ("적용됨", "applied"),
    "refused": ("보드가 거부함", "refused by the board"),
    "rolled_back": ("되돌림", "rolled back"),
}
SOURCE_WORDS = {
    "hub": ("허브에서 받음", "from the hub"),
    "folder": ("폴더에서 추가", "added from a folder"),
}
#: The settings form: field -> (config key, factor to the board's unit, Korean, English)
CONFIG_FIELDS = {
    "interval_s": ("interval_ms", 1000, "요약 간격 (초)", "summary interval (s)"),
    "filter_ns": ("filter_ns", 1, "펄스 필터 (ns)", "pulse filter (ns)"),
    "lockout_us": ("lockout_us", 1, "잡음 무시 시간 (µs)", "bounce lockout (µs)"),
}


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def install(app: FastAPI, ota: Ota, *, passwd_file: Path, operator_only: list, templates,
            workshop: str, timezone: str, registry: dict[str, str], read_form, message_page, hub=None) -> None:
    """`operator_only`: web.py's dependencies that keep a page to the logged-in operator; `hub`:
    the hub link, with its `releases` the page shows what the hub publishes."""
    tz = ZoneInfo(timezone)
    releases_link = hub.releases if hub is not None else None

    def board_refusal(request: Request, device: str) -> Response | None:
        creds = _basic(request)
        try:
            ok = creds is not None and creds[0] == device and bool(DEVICE_ID.fullmatch(device)) \
                and board_password_ok(passwd_file, device, creds[1])
        except OSError as e:
            # Not the board's fault: say so (503, counted, on /updates), never a bare 500.
            ota.counts["passwd_unreadable"] += 1
            log.error("boards cannot log in: the gateway cannot read %s (%s)", passwd_file, e.strerror or e)
            return JSONResponse({"detail": "게이트웨이가 보드 비밀번호 파일을 읽을 수 없습니다 / the gateway cannot read "
                                           "the boards' password file"}, status_code=503)
        if not ok:
            ota.counts["auth_failed"] += 1
            return JSONResponse({"detail": "보드 인증 실패 / board login failed"}, status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="SewNet OTA"'})
        return None

    def passwd_problem() -> tuple[str, str] | None:
        """Why boards cannot log in to the update server at all, for the page."""
        try:
            with open(passwd_file, "rb"):
                return None
        except OSError as e:
            return ("보드가 업데이트 서버에 로그인할 수 없습니다. 게이트웨이가 보드 비밀번호 파일을 읽을 수 없습니다: "
                    "설치 기술자에게 sewnet gateway enable-updates 를 다시 실행해 달라고 하세요",
                    f"Boards cannot log in to the update server: the gateway cannot read {passwd_file} "
                    f"({e.strerror or e}); ask your installer to run `sewnet gateway enable-updates` again")

    # The board API's password check (PBKDF2 over the broker's file) and the store's
    # FULL-synchronous commits run in worker threads: the loop also serves ingest and the
    # uplinks and must never wait on the SD card (web.py).
    @app.post("/ota/v1/boards/{device}/check")
    async def board_check(device: str, request: Request):
        refusal = await run_in_threadpool(board_refusal, request, device)
        if refusal is not None:
            return refusal
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > CHECK_BODY_MAX:
                ota.counts["bad_requests"] += 1
                return JSONResponse({"detail": "보고가 너무 큽니다 / report too large"}, status_code=413)
        return await run_in_threadpool(board_check_now, device, body)

    def board_check_now(device: str, body: bytes) -> Response:
        try:
            report = json.loads(body)
            if not isinstance(report, dict):
                raise ValueError
            offer = ota.check(device, report)
        except (ValueError, RecursionError) as e:   # RecursionError: JSON nested past the parser's depth
            ota.counts["bad_requests"] += 1
            ko, en = (e.ko, e.en) if isinstance(e, OtaError) else ("읽을 수 있는 JSON 객체가 아닙니다",
                                                                   "not a JSON object the gateway can read")
            return JSONResponse({"detail": f"{ko} / {en}"}, status_code=422)
        return JSONResponse(offer.as_dict())

    @app.get("/ota/v1/releases/{version}/{what}")
    def release_meta(version: str, what: str, request: Request):
        if what not in ("manifest.json", "manifest.sig"):
            return JSONResponse({"detail": "없는 파일 / no such file"}, status_code=404)
        return _blob(request, version, what)

    @app.get("/ota/v1/releases/{version}/files/{name}")
    def release_file(version: str, name: str, request: Request):
        if not FILE_NAME.fullmatch(name):
            return JSONResponse({"detail": "없는 파일 / no such file"}, status_code=404)
        return _blob(request, version, name)

    def _blob(request: Request, version: str, what: str) -> Response:
        creds = _basic(request)
        device = creds[0] if creds else ""
        refusal = board_refusal(request, device)
        if refusal is not None:
            return refusal
        if not VERSION.fullmatch(version):
            return JSONResponse({"detail": "없는 버전 / no such version"}, status_code=404)
        blob = ota.release_blob(version, what, device)
        if blob is None:
            return JSONResponse({"detail": "없는 파일 / no such file"}, status_code=404)
        return Response(blob, media_type="application/octet-stream")

    # -- the operator's page ---------------------------------------------------------------------

    def at(ts: float | None) -> str:
        return datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M") if ts else "—"

    def page_view() -> dict:
        v = ota.view()
        rollout = v["rollout"]
        rb = {b["device"]: b for b in (rollout["boards"] if rollout else [])}
        boards = []
        for device, machine in registry.items():
            b = v["boards"].get(device, {})
            c = v["configs"].get(device)
            row = {"device": device, "machine": machine, "firmware": b.get("firmware") or "—",
                   "last_check": at(b.get("last_check")), "trial": bool(b.get("trial")),
                   "kbytes": round((b.get("bytes_served") or 0) / 1024, 1)}
            if device in rb:
                row["rollout_ko"], row["rollout_en"] = BOARD_WORDS.get(rb[device]["state"], ("", ""))
                row["rollout_state"] = rb[device]["state"]
                row["rollout_reason"] = rb[device]["reason"]
            if c:
                row["config_ko"], row["config_en"] = CONFIG_WORDS.get(c["state"], ("", ""))
                row["config_state"] = c["state"]
                row["config_reason"] = c["reason"]
                row["config_values"] = ", ".join(f"{k}={val}" for k, val in sorted(c["values"].items()))
            boards.append(row)
        if rollout:
            rollout["ko"], rollout["en"] = ROLLOUT_WORDS.get(rollout["state"], ("", ""))
            rollout["started"] = at(rollout["started_at"])
        for r in v["releases"]:
            r["from_ko"], r["from_en"] = SOURCE_WORDS.get(r["source"], ("", ""))
            r["added"] = at(r["added_at"])
            r["kbytes"] = round(r["bytes"] / 1024, 1)
        for r in v["refusals"]:
            r["last"] = at(r["last_at"])
        hub_view = None
        if releases_link is not None:
            h = releases_link.health
            hub_view = {**releases_link.status(), "last_check": at(h.last_check_at), "fetched": h.fetched,
                        "refused": h.refused, "withdrawn": h.withdrawn, "last_fetch": h.last_fetch}
        return {"workshop": workshop, "boards": boards, "rollout": rollout, "releases": v["releases"],
                "passwd_problem": passwd_problem(),
                "offered": [r for r in v["releases"] if not r["withdrawn"]], "refusals": v["refusals"],
                "hub": hub_view, "running": bool(rollout and rollout["state"] in ("first", "rest")),
                "fields": CONFIG_FIELDS}

    @app.get("/updates", response_class=HTMLResponse, dependencies=operator_only)
    def updates_page(request: Request):
        return templates.TemplateResponse(request, "gateway_updates.html", page_view())

    @app.post("/updates/rollout", dependencies=operator_only)
    async def start_rollout(request: Request):
        form = await read_form(request) or {}
        try:
            await run_in_threadpool(ota.start_rollout, form.get("version", ""), form.get("first") or None)
        except OtaError as e:
            return message_page(request, e.ko, e.en)
        return RedirectResponse("/updates", status_code=303)

    @app.post("/updates/check-hub", dependencies=operator_only)
    async def check_hub(request: Request):
        if hub is not None:
            hub.check_releases_now()
        return RedirectResponse("/updates", status_code=303)

    @app.post("/updates/stop", dependencies=operator_only)
    async def stop_rollout(request: Request):
        await run_in_threadpool(ota.stop_rollout)
        return RedirectResponse("/updates", status_code=303)

    @app.post("/updates/config", dependencies=operator_only)
    async def send_config(request: Request):
        form = await read_form(request) or {}
        target = form.get("device", "")
        devices = list(registry) if target == "all" else [target]
        values = {}
        for field, (key, factor, ko, en) in CONFIG_FIELDS.items():
            text = (form.get(field) or "").strip().replace(",", "")
            if not text:
                continue
            try:
                number = float(text) * factor
            except ValueError:
                number = math.nan
            if not math.isfinite(number):    # "inf", "nan" and 1e999 read as floats too
                return message_page(request, f"{ko}: 숫자를 적으세요", f"{en}: write a number")
            values[key] = int(round(number))
        try:
            await run_in_threadpool(ota.set_config, devices, values)
        except OtaError as e:
            return message_page(request, e.ko, e.en)
        return RedirectResponse("/updates", status_code=303)

