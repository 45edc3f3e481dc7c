"""Offers over HTTP (docs/offer-contract.md): the gateway's pull and answers behind a workshop
token, the coordinator's view of an order's offers and progress behind the API token, and the
phone link's page behind its signature.

    GET  /api/v1/workshops/{workshop_id}/offers     workshop token; ETag / If-None-Match -> 304; gzip
    POST /api/v1/workshops/{workshop_id}/answers    workshop token; answers and reports, each once
    GET  /api/v1/orders/{order_id}/offers           API token: every offer of the order, with progress
    GET  /api/v1/orders/{order_id}/progress         API token: counted, estimated, planned by now, behind
    GET  /offer/{offer_id}?exp=&sig=                the signed link: one offer, accept / decline
    POST /offer/{offer_id}                          the link's buttons (exp and sig in the form)

A wrong workshop token is counted per address at its own door ("workshop") like the other tokens,
so a gateway mistyping cannot lock out the coordinator, nor the other way round.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
import uuid
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import anyio
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.exc import IntegrityError

from hub.core.db import Database
from hub.core.dependencies import (body_at_most, client_address, get_database, get_guard, get_rejections,
                                   get_settings, require_api_token)
from hub.core.lockout import LoginGuard
from hub.core.pages import render, templates_for
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.planning import offers, progress, service
from hub.planning.offer_tables import DECLINE_REASONS

log = logging.getLogger("sewnet.hub.planning.offers")

#: The contract's limit on an answers body (inflated, when it comes gzip'd).
MAX_BODY_BYTES = 64 * 1024
#: A workshop's progress is read from telemetry at most this often for its gateway's polls.
PROGRESS_TTL_S = 60.0
ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
TEMPLATES = templates_for(Path(__file__).parent / "templates")

Db = Annotated[Database, Depends(get_database)]
Settings = Annotated[HubSettings, Depends(get_settings)]
Rejected = Annotated[Rejections, Depends(get_rejections)]


# ----------------------------------------------------------------------------- the workshop token
def require_workshop_token(request: Request, workshop_id: str, db: Db, rejections: Rejected,
                           guard: Annotated[LoginGuard, Depends(get_guard)]) -> str:
    """`Authorization: Bearer <workshop token>` of this very workshop; 401 otherwise (a token of
    another workshop too, counted as a wrong one), 429 for an address that sent too many."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        rejections.add("offers", "no_token", f"{request.method} {request.url.path}")
        raise HTTPException(401, "a workshop token is required: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    client = client_address(request)
    locked = guard.locked_out("workshop", client)
    if locked is not None:
        rejections.add("offers", "locked_out", f"{request.method} {request.url.path}: refused for "
                                               f"{locked.retry_after_s} s")
        raise HTTPException(429, locked.message, headers=locked.headers)
    with db.session() as session:
        owner = offers.workshop_for_token(session, value)
    if owner != workshop_id:
        guard.failed("workshop", client)
        rejections.add("offers", "bad_token", f"{request.method} {request.url.path}")
        raise HTTPException(401, "이 작업장의 토큰이 아닙니다 / the token is not valid for this workshop",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return owner


gateway = APIRouter(prefix="/api/v1/workshops/{workshop_id}", tags=["offers"],
                    dependencies=[Depends(require_workshop_token)],
                    responses={401: {"description": "no token, or not this workshop's"},
                               429: {"description": "too many wrong tokens from this address"}})


# ----------------------------------------------------------------------------- the background keeper
class OfferKeeper:
    """Expires offers every `offer_expiry_check_s` and re-plans the orders a decline or an expiry
    left short; a decline wakes it at once. Started in the hub's lifespan (hub.app)."""

    def __init__(self, database: Database, telemetry: Any, settings: HubSettings, solver: Any = None):
        self.database, self.telemetry, self.settings, self.solver = database, telemetry, settings, solver
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.runs = 0

    def wake(self) -> None:
        """Check now (from any thread: the sync routes run in FastAPI's thread pool)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                await offers.expire_offers(self.database, self.telemetry, self.settings, solver=self.solver)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the keeper: it tries again next round
                log.exception("checking offers failed; trying again in %s s", self.settings.offer_expiry_check_s)
            self.runs += 1
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.offer_expiry_check_s)
            except asyncio.TimeoutError:
                pass


def _keeper(request: Request) -> OfferKeeper | None:
    return getattr(request.app.state, "offer_keeper", None)


# ----------------------------------------------------------------------------- GET offers
async def _workshop_progress(request: Request, settings: HubSettings, db: Database, workshop_id: str) -> dict:
    cache = getattr(request.app.state, "offer_progress_cache", None)
    if cache is None:
        cache = request.app.state.offer_progress_cache = {}
    hit = cache.get(workshop_id)
    if hit is not None and time.monotonic() - hit[0] < PROGRESS_TTL_S:
        return hit[1]
    dropped = _progress_dropped(request)
    before = dropped.get(workshop_id, 0)
    found = await progress.workshop_progress(db, getattr(request.app.state, "telemetry", None), settings,
                                             workshop_id)
    # A count or assignment that arrived while this read ran dropped the cache: what was read may
    # predate it, so it is not kept (else the page would miss the count for PROGRESS_TTL_S).
    if dropped.get(workshop_id, 0) == before:
        cache[workshop_id] = (time.monotonic(), found)
    return found


def _progress_dropped(request: Request) -> dict[str, int]:
    """How often each workshop's cached progress was dropped by a new report."""
    dropped = getattr(request.app.state, "offer_progress_dropped", None)
    if dropped is None:
        dropped = request.app.state.offer_progress_dropped = {}
    return dropped


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return any(tag.strip().removeprefix("W/").strip('"') in (etag, "*") for tag in header.split(","))


@gateway.get("/offers", summary="The workshop's offers (conditional: 304 when nothing changed)")
async def workshop_offers(request: Request, db: Db, settings: Settings, workshop_id: str):
    """Every offer to the workshop whose order is due no more than 14 days ago, answered ones too.
    `If-None-Match` with the last ETag answers 304 with no body while nothing it shows changed."""
    found = await _workshop_progress(request, settings, db, workshop_id)

    def read() -> tuple[dict, str]:
        with db.session() as session:
            return offers.workshop_document(session, workshop_id, progress=found)

    doc, etag = await anyio.to_thread.run_sync(read)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = gzip.compress(body, compresslevel=9, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


# ----------------------------------------------------------------------------- POST answers
class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer_id: str = Field(pattern=ID_PATTERN)
    offer_id: str = Field(pattern=ID_PATTERN)
    answer: Literal["accept", "decline"]
    reason: Optional[Literal[DECLINE_REASONS]] = None  # type: ignore[valid-type]
    answered_at: AwareDatetime


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    report_id: str = Field(pattern=ID_PATTERN)
    kind: Literal["count", "assign"]
    offer_id: str = Field(pattern=ID_PATTERN)
    pieces: Optional[int] = Field(None, ge=0, le=10_000_000)
    machines: Optional[list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]]] = Field(None, max_length=500)
    at: AwareDatetime

    @model_validator(mode="after")
    def _kind_fits(self) -> "ReportBody":
        if self.kind == "count" and self.pieces is None:
            raise ValueError("count_needs_pieces")
        if self.kind == "assign" and self.machines is None:
            raise ValueError("assign_needs_machines")
        return self


class AnswersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: list[AnswerBody] = Field([], max_length=1000)
    reports: list[ReportBody] = Field([], max_length=1000)


_WORDS: dict[str, tuple[str, str]] = {
    "missing": ("값이 없습니다", "is missing"),
    "extra_forbidden": ("약속된 형식에 없는 항목입니다", "is not part of the agreed format"),
    "string_pattern_mismatch": ("영문, 숫자, - _ . : 만 쓸 수 있고 64자까지입니다",
                                "may hold letters, digits and - _ . : only, at most 64 characters"),
    "literal_error": ("정해진 값 중 하나여야 합니다", "must be one of the agreed values"),
    "timezone_aware": ("시간대가 붙은 시각이어야 합니다 (예: 2026-11-26T04:01:02+00:00)",
                       "must be a time with its zone, like 2026-11-26T04:01:02+00:00"),
    "datetime_from_date_parsing": ("시각이어야 합니다 (예: 2026-11-26T04:01:02+00:00)",
                                   "must be a time, like 2026-11-26T04:01:02+00:00"),
    "datetime_parsing": ("시각이어야 합니다 (예: 2026-11-26T04:01:02+00:00)",
                         "must be a time, like 2026-11-26T04:01:02+00:00"),
    "datetime_type": ("시각이어야 합니다 (예: 2026-11-26T04:01:02+00:00)", "must be a time, like 2026-11-26T04:01:02+00:00"),
    "int_type": ("정수여야 합니다", "must be a whole number"),
    "int_parsing": ("정수여야 합니다", "must be a whole number"),
    "int_from_float": ("정수여야 합니다", "must be a whole number"),
    "greater_than_equal": ("0 이상이어야 합니다", "must be at least 0"),
    "less_than_equal": ("너무 큽니다", "is too large"),
    "string_type": ("글자여야 합니다", "must be text"),
    "list_type": ("목록이어야 합니다", "must be a list"),
    "too_long": ("항목이 너무 많습니다", "has too many items"),
    "model_type": ("객체여야 합니다 ({...})", "must be an object ({...})"),
    "model_attributes_type": ("객체여야 합니다 ({...})", "must be an object ({...})"),
    "dict_type": ("객체여야 합니다 ({...})", "must be an object ({...})"),
    "count_needs_pieces": ("count 보고에는 pieces(센 수량)가 필요합니다", "a count report needs pieces"),
    "assign_needs_machines": ("assign 보고에는 machines 목록이 필요합니다 (없으면 [])",
                              "an assign report needs machines (an empty list for none)"),
}


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def problems_from(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors:
        kind = e.get("type", "")
        code = str((e.get("ctx") or {}).get("error", "")) if kind == "value_error" else kind
        ko, en = _WORDS.get(code, ("약속된 형식에 맞지 않습니다", "does not fit the agreed format"))
        if kind == "literal_error" and (e.get("ctx") or {}).get("expected"):
            en = f"must be one of {e['ctx']['expected']}"
            ko = f"다음 중 하나여야 합니다: {e['ctx']['expected']}"
        out.append({"field": _field(tuple(e.get("loc", ()))), "ko": ko, "en": en})
    return out


def _refuse_body(request: Request, rejections: Rejections, status: int, error: str, ko: str, en: str,
                 problems: list[dict] | None = None) -> JSONResponse:
    detail = "; ".join(f"{p['field']}: {p['en']}" for p in problems or []) or en
    rejections.add("offers", error, f"{request.method} {request.url.path}: {detail}"[:500])
    body: dict[str, Any] = {"error": error, "ko": ko, "en": en}
    if problems is not None:
        body["problems"] = problems
    return JSONResponse(body, status_code=status)


async def _read_limited(request: Request) -> bytes | None:
    """The body, inflated when gzip'd; None past MAX_BODY_BYTES (read no further than that)."""
    raw = await body_at_most(request, MAX_BODY_BYTES)
    if raw is None:
        return None
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error:
            raise ValueError("gzip") from None
        if len(out) > MAX_BODY_BYTES:
            return None
        return out
    return raw


@gateway.post("/answers", summary="The owner's answers and reports, each applied once")
async def workshop_answers(request: Request, db: Db, rejections: Rejected, workshop_id: str):
    """Body: {"answers": [...], "reports": [...]} (at most 64 KiB); each item gets its result:
    applied, duplicate (a repeat: nothing changes), too_late (expired or withdrawn) or refused,
    with the reason in Korean and English. A body not in this shape: 422 with every problem."""
    try:
        raw = await _read_limited(request)
    except ValueError:
        return _refuse_body(request, rejections, 400, "bad_gzip", "gzip로 압축된 내용을 풀 수 없습니다",
                            "the gzip'd body cannot be inflated")
    if raw is None:
        return _refuse_body(request, rejections, 413, "too_large", "보낸 내용이 64 KiB보다 큽니다: 나눠서 보내세요",
                            "the body is over 64 KiB: send it in smaller parts")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _refuse_body(request, rejections, 422, "invalid_body", "JSON이 아닙니다", "the body is not JSON",
                            [{"field": "body", "ko": "JSON이 아닙니다", "en": "is not JSON"}])
    try:
        body = AnswersBody.model_validate(data)
    except ValidationError as e:
        problems = problems_from(e.errors(include_url=False))
        return _refuse_body(request, rejections, 422, "invalid_body",
                            f"약속된 형식에 맞지 않는 곳이 {len(problems)}군데 있습니다",
                            f"the body has {len(problems)} problem{'' if len(problems) == 1 else 's'} with the agreed "
                            "format", problems)
    answers = [offers.AnswerIn(a.answer_id, a.offer_id, a.answer, a.reason, a.answered_at) for a in body.answers]
    reports = [offers.ReportIn(r.report_id, r.kind, r.offer_id, r.at, r.pieces,
                               tuple(dict.fromkeys(r.machines)) if r.machines is not None else None)
               for r in body.reports]
    result, replan = await anyio.to_thread.run_sync(offers.apply_answers, db, workshop_id, answers, reports)
    for item in result["answers"] + result["reports"]:
        if item["result"] == "refused":
            rejections.add("offers", "refused_item", f"{workshop_id}: {item}"[:500])
    cache = getattr(request.app.state, "offer_progress_cache", None)
    if reports:  # a new count or assignment shows on the next poll
        dropped = _progress_dropped(request)
        dropped[workshop_id] = dropped.get(workshop_id, 0) + 1
        if cache is not None:
            cache.pop(workshop_id, None)
    if replan and (keeper := _keeper(request)) is not None:
        keeper.wake()
    return JSONResponse(result)


# ----------------------------------------------------------------------------- the coordinator's view
coordinator = APIRouter(prefix="/api/v1/orders", tags=["offers"], dependencies=[Depends(require_api_token)],
                        responses={401: {"description": "no or wrong API token"}})


def _not_found(order_id: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "ko": f"주문 {order_id}이 없습니다", "en": f"no order {order_id}"},
                        status_code=404)


@coordinator.get("/{order_id}/offers", summary="Every offer of the order, with progress")
async def order_offers(request: Request, db: Db, settings: Settings, order_id: str):
    found = await progress.order_progress(db, getattr(request.app.state, "telemetry", None), settings, order_id)

    def read() -> list[dict] | None:
        with db.session() as session:
            try:
                return offers.offers_for_order(session, order_id, found["offers"])
            except service.NotFound:
                return None

    items = await anyio.to_thread.run_sync(read)
    if items is None:
        return _not_found(order_id)
    return {"order_id": order_id, "behind": found["behind"], "offers": items}


@coordinator.get("/{order_id}/progress", summary="Pieces counted and estimated against the plan, and whether "
                                                 "the order is behind")
async def order_progress(request: Request, db: Db, settings: Settings, order_id: str):
    def exists() -> bool:
        with db.session() as session:
            return service.get_order(session, order_id) is not None

    if not await anyio.to_thread.run_sync(exists):
        return _not_found(order_id)
    return await progress.order_progress(db, getattr(request.app.state, "telemetry", None), settings, order_id)


@coordinator.post("/{order_id}/replan-behind",
                  summary="Propose a re-plan for the workshops behind plan (progress.behind_change)",
                  responses={404: {"description": "no such order"},
                             409: {"description": "nothing is behind, or no accepted plan to start from"}})
async def replan_behind(request: Request, db: Db, settings: Settings, order_id: str):
    """No body. Reads the order's progress; when it is behind, re-plans from the accepted plan with
    each workshop behind reduced to the share of its capacity its pace shows and done pieces kept,
    and stores that as the next version, a proposal (order `replanned`) to accept with
    `POST …/accept`. 409 `not_behind` when no workshop is behind."""
    from hub.planning.routes import day_cache, solver_turn

    try:
        view = await offers.replan_behind(db, getattr(request.app.state, "telemetry", None), settings, order_id,
                                          cache=day_cache(request, settings), solver=solver_turn(request))
    except service.NotFound:
        return _not_found(order_id)
    except service.Conflict as e:
        return JSONResponse({"error": "conflict", "ko": e.ko, "en": e.en}, status_code=409)
    except IntegrityError:
        return JSONResponse({"error": "conflict", "ko": "같은 주문을 동시에 두 번 계획했습니다: 다시 해 주세요",
                             "en": "the order was planned twice at the same moment: send it again"}, status_code=409)
    if view is None:
        return JSONResponse({"error": "not_behind", "ko": "지금은 계획보다 늦은 작업장이 없습니다",
                             "en": "no workshop is behind plan now: nothing to re-plan"}, status_code=409)
    return view


# ----------------------------------------------------------------------------- the phone link
link = APIRouter(tags=["offers"], include_in_schema=False)

_LINK_WORDS = {
    "expired": ("이 링크는 기한이 지났습니다. 조정 담당자에게 새 링크를 받으세요.",
                "This link has expired. Ask the coordinator for a new one."),
    "tampered": ("이 링크는 올바르지 않습니다. 받은 링크를 그대로 여세요.",
                 "This link is not valid. Open the link exactly as you received it."),
    "missing": ("이 제안을 찾을 수 없습니다.", "This offer cannot be found."),
}


def _link_page(request: Request, status: int, **context: Any) -> HTMLResponse:
    return render(TEMPLATES, request, "offer_link.html",
                  {"reasons": [(k, *offers.REASON_WORDS[k]) for k in DECLINE_REASONS], **context}, status=status)


def _open_link(db: Database, settings: HubSettings, offer_id: str, exp: str | None, sig: str | None
               ) -> tuple[str, dict | None]:
    state = offers.check_link(settings, offer_id, exp, sig)
    if state != "ok":
        return state, None
    with db.session() as session:
        view = offers.offer_for_link(session, offer_id)
    return ("ok", view) if view is not None else ("missing", None)


@link.get("/offer/{offer_id}", response_class=HTMLResponse)
def offer_page(request: Request, db: Db, settings: Settings, rejections: Rejected, offer_id: str,
               exp: Optional[str] = None, sig: Optional[str] = None):
    state, view = _open_link(db, settings, offer_id, exp, sig)
    if state != "ok":
        rejections.add("offers", f"link_{state}", f"GET /offer/{offer_id}")
        return _link_page(request, 410 if state == "expired" else 403 if state == "tampered" else 404,
                          problem=_LINK_WORDS[state], offer=None)
    return _link_page(request, 200, offer=view, exp=exp, sig=sig, problem=None)


@link.post("/offer/{offer_id}", response_class=HTMLResponse)
def offer_answer(request: Request, db: Db, settings: Settings, rejections: Rejected, offer_id: str,
                 exp: Annotated[str, Form(max_length=20)] = "", sig: Annotated[str, Form(max_length=100)] = "",
                 answer: Annotated[str, Form(max_length=10)] = "", reason: Annotated[str, Form(max_length=40)] = ""):
    state, view = _open_link(db, settings, offer_id, exp, sig)
    if state != "ok":
        rejections.add("offers", f"link_{state}", f"POST /offer/{offer_id}")
        return _link_page(request, 410 if state == "expired" else 403 if state == "tampered" else 404,
                          problem=_LINK_WORDS[state], offer=None)
    if answer not in ("accept", "decline") or (answer == "decline" and reason not in DECLINE_REASONS):
        return _link_page(request, 422, offer=view, exp=exp, sig=sig, problem=None,
                          outcome=("거절하려면 이유를 하나 고르세요.", "To decline, pick a reason.", "refused"))
    now = datetime.now(timezone.utc)
    item = offers.AnswerIn(f"link-{uuid.uuid4()}", offer_id, answer, reason if answer == "decline" else None, now)
    result, replan = offers.apply_answers(db, view["workshop_id"], [item], [], now)
    outcome = result["answers"][0]
    if replan and (keeper := _keeper(request)) is not None:
        keeper.wake()
    with db.session() as session:
        view = offers.offer_for_link(session, offer_id)
    ko, _, en = outcome["reason"].partition(" / ")
    return _link_page(request, 200, offer=view, exp=exp, sig=sig, problem=None, outcome=(ko, en, outcome["result"]))
