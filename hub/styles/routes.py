"""My Style Lab's API and kiosk page (mounted by hub.app).

API, under /api/v1/styles:

    GET  /recommendations?shopper=&k=12&season=&budget_min=&budget_max=   token
    POST /sessions         no login (the kiosk): quiz likes and skips, colour, budget -> picks;
                           rate-limited per client address; nothing stored, nothing logged
    GET  /quiz?n=16        no login: the cards to like or skip
    GET  /products?q=&shop=&season=&max_krw=&limit=&offset=, /products/{article_id}   token
    GET  /{kind}.csv, POST /{kind}.csv?dry_run=   token: export, import (products, shoppers, purchases)
    GET  /model, POST /model                       token: what is serving; train again

Pages: `/styles` (the kiosk: welcome → quiz → personal colour → budget → picks with a QR code),
public on the kiosk device like `/kiosk`; `/styles/list?…&exp=&sig=` the same picks on a phone,
through the signed link in the QR code (the list is in the link; nothing is stored).

The kiosk's entries travel between its screens inside the page (POSTed fields), never in a URL,
and are never logged: refusals are counted in /api/v1/rejections by reason only."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import threading
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import anyio
import segno
from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.core.auth import sign
from hub.core.db import Database
from hub.core.dependencies import body_at_most, client_address, get_database, get_settings, require_api_token
from hub.core.pages import render_kiosk, screen_asked, shown_as, templates_for
from hub.core.settings import HubSettings
from hub.styles import service
from hub.styles.config import StylesSettings
from hub.styles.recommender import REASON_CODES, Reason
from hub.styles.words import LANGS, SEASON_WORDS, all_langs, budget_words, lang_of, t, term

log = logging.getLogger("sewnet.styles")
templates = templates_for(Path(__file__).parent / "templates")
api = APIRouter(prefix="/api/v1/styles", tags=["styles"])
pages = APIRouter(include_in_schema=False)
Db = Annotated[Database, Depends(get_database)]
Token = Annotated[str, Depends(require_api_token)]

#: The kiosk's budget choices (retail KRW a piece): key -> (low, high).
BUDGETS: dict[str, tuple[int | None, int | None]] = {
    "any": (None, None), "u20": (0, 20_000), "20-40": (20_000, 40_000), "40-70": (40_000, 70_000),
    "70p": (70_000, None)}
COLOURS = ("none", "warm", "cool", "spring", "summer", "autumn", "winter")
#: The largest upload a styles import takes (a purchases file of a few hundred thousand rows).
MAX_UPLOAD_BYTES = 256 * 1024 * 1024


def styles_of(request: Request) -> service.Styles:
    return request.app.state.styles


def styles_settings(request: Request) -> StylesSettings:
    return request.app.state.styles_settings


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _rejected(request: Request, reason: str, detail: str = "") -> None:
    request.app.state.rejections.add("styles", reason, detail)


def _words(key: str, **figures: object) -> dict[str, str]:
    return all_langs(lambda lang: t(key, lang, **figures))


def start_training(styles: service.Styles, *, load: bool = True, train: bool = True) -> bool:
    """Read the database and train in a daemon thread (the event loop never waits on it, and a
    hub that stops does not wait for a training to end). False when one is already running."""
    if styles.training:
        return False

    def run() -> None:
        try:
            if load:
                styles.load()
            if train:
                styles.train()
        except Exception as e:  # noqa: BLE001 - a thread's failure is said in the status, never raised into nowhere
            log.error("styles: loading or training failed: %s", type(e).__name__)
            styles.failed(e)

    threading.Thread(target=run, name="styles-training", daemon=True).start()
    return True


# ============================================================================ API: shop side (token)
def _bad(request: Request, reason: str, ko: str, en: str, status: int = 422) -> JSONResponse:
    _rejected(request, reason)
    return JSONResponse({"error": reason, "ko": ko, "en": en}, status_code=status)


def _refused(request: Request, problems: list[dict[str, str]]) -> JSONResponse:
    """422 naming every problem of a request at once (each counted by its reason): the first's
    reason as `error`, their words joined, and each with its field."""
    for problem in problems:
        _rejected(request, problem["error"])
    return JSONResponse({"error": problems[0]["error"], "ko": "; ".join(p["ko"] for p in problems),
                         "en": "; ".join(p["en"] for p in problems), "problems": problems}, status_code=422)


def _k(request: Request, raw: str | None, problems: list[dict[str, str]]) -> int:
    cfg = styles_settings(request)
    if raw is None or raw == "":
        return cfg.k_default
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if not 1 <= k <= cfg.k_max:
        problems.append({"error": "bad_k", "field": "k", "ko": f"k는 1부터 {cfg.k_max}까지의 정수입니다",
                         "en": f"k must be a whole number from 1 to {cfg.k_max}"})
    return k


def _budget(low: str | None, high: str | None, problems: list[dict[str, str]]) -> service.Budget:
    try:
        lo = int(low) if low not in (None, "") else None
        hi = int(high) if high not in (None, "") else None
    except ValueError:
        lo = hi = -1
    if (lo is not None and lo < 0) or (hi is not None and hi < 0) or (lo is not None and hi is not None and hi < lo):
        problems.append({"error": "bad_budget", "field": "budget_min,budget_max",
                         "ko": "예산은 0 이상의 원 단위 정수이고, 최소가 최대보다 작아야 합니다",
                         "en": "the budget is whole won, 0 or more, with the minimum not above the maximum"})
        return service.Budget()
    return service.Budget(lo, hi)


def _season(raw: str | None, problems: list[dict[str, str]]) -> str | None:
    if raw in (None, "", "none"):
        return None
    if raw not in service.TONES:
        problems.append({"error": "bad_season", "field": "season",
                         "ko": "색은 warm, cool, spring, summer, autumn, winter 중 하나입니다",
                         "en": "colour is one of warm, cool, spring, summer, autumn, winter"})
        return None
    return raw


@api.get("/recommendations", summary="Picks for a known shopper (an unknown one gets the cold start)")
def recommendations(request: Request, _token: Token, shopper: str = "", k: str | None = None,
                    season: str | None = None, budget_min: str | None = None,
                    budget_max: str | None = None) -> JSONResponse:
    problems: list[dict[str, str]] = []
    if not shopper or len(shopper) > 64:
        problems.append({"error": "bad_shopper", "field": "shopper", "ko": "shopper에 고객 id를 넣어 주세요 (64자까지)",
                         "en": "shopper must be a customer id (up to 64 characters)"})
    k_ = _k(request, k, problems)
    season_ = _season(season, problems)
    budget = _budget(budget_min, budget_max, problems)
    if problems:
        return _refused(request, problems)
    styles = styles_of(request)
    if styles.status.state == "loading":
        return JSONResponse({"error": "loading", **_words("loading")}, status_code=503, headers={"Retry-After": "2"})
    answer = styles.for_shopper(shopper, k_, season_, budget)
    return JSONResponse(service.answer_json(answer, styles.catalogue, _now()))


def _whole(raw: str | None, default: int | None) -> int | None:
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        return -1


@api.get("/products", summary="The catalogue: search and list (by article id)")
def list_products(request: Request, db: Db, _token: Token, q: str = "", shop: str = "", season: str = "",
                  max_krw: str | None = None, limit: str | None = None, offset: str | None = None) -> JSONResponse:
    if season and season not in ("all", "ss", "fw"):
        return _bad(request, "bad_season", "season은 all, ss, fw 중 하나입니다", "season is one of all, ss, fw")
    limit_, offset_, max_ = _whole(limit, 50), _whole(offset, 0), _whole(max_krw, None)
    if not 1 <= limit_ <= 1000 or offset_ < 0 or (max_ is not None and max_ < 0):
        return _bad(request, "bad_page", "limit은 1~1000, offset과 max_krw는 0 이상의 정수입니다",
                    "limit is a whole number from 1 to 1,000; offset and max_krw whole numbers, 0 or more")
    with db.session() as session:
        total, rows = service.product_rows(session, q=q[:100] or None, shop_id=shop or None, season=season or None,
                                           max_krw=max_, limit=limit_, offset=offset_)
    styles = styles_of(request)
    return JSONResponse({"total": total, "limit": limit_, "offset": offset_,
                         "items": [_product_json(r, styles) for r in rows]})


@api.get("/products/{article_id}", summary="One product, with its shop and colour reading")
def one_product(request: Request, db: Db, _token: Token, article_id: str) -> JSONResponse:
    found = _whole(article_id, None)
    rows = []
    if found is not None and found > 0:
        with db.session() as session:
            _total, rows = service.product_rows(session, ids=[found])
    if not rows:
        return _bad(request, "not_found", f"상품 {article_id[:20]}이(가) 카탈로그에 없습니다",
                    f"article {article_id[:20]} is not in the catalogue", status=404)
    return JSONResponse(_product_json(rows[0], styles_of(request)))


def _product_json(row: dict, styles: service.Styles) -> dict:
    cat = service.catalogue_of([row], {})
    item = cat.items[int(row["article_id"])]
    shop = styles.catalogue.shops.get(item.shop_id)
    now = _now()
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    out["swatch_hex"] = item.swatch_hex
    out["colour"] = {"undertone": item.reading.undertone, "depth": item.reading.depth,
                     "clarity": item.reading.clarity, "suits": list(item.reading.suits), "why": item.reading.why}
    state = shop.open_state(now) if shop else None
    out["where"] = None if shop is None else {
        "shop_id": shop.id, "name_ko": shop.name_ko, "name_en": shop.name_en, "building_ko": shop.building_ko,
        "building_en": shop.building_en, "floor": shop.floor, "stall": shop.stall,
        "open_now": {"open": True, "closed": False}.get(state.state)}
    return out


@api.get("/{kind}.csv", response_class=Response, summary="Export: products, shoppers or purchases in the import "
                                                         "format", responses={200: {"content": {"text/csv": {}}}})
def export(request: Request, db: Db, _token: Token, kind: str) -> Response:
    if kind not in service.KINDS:
        return _bad(request, "bad_kind", f"{kind[:20]}: products, shoppers, purchases 중 하나입니다",
                    f"{kind[:20]} is not one of products, shoppers, purchases", status=404)
    with db.session() as session:
        text = service.export_csv(session, kind)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'})


@api.post("/{kind}.csv", summary="Import: add new records, update changed ones; a file with any bad row "
                                 "imports nothing")
async def import_file(request: Request, db: Db, _token: Token, kind: str,
                      file: Annotated[UploadFile, File(description="the CSV file (UTF-8)")],
                      dry_run: bool = False) -> JSONResponse:
    if kind not in service.KINDS:
        return _bad(request, "bad_kind", f"{kind[:20]}: products, shoppers, purchases 중 하나입니다",
                    f"{kind[:20]} is not one of products, shoppers, purchases", status=404)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _bad(request, "too_big", f"파일이 {MAX_UPLOAD_BYTES:,}바이트보다 큽니다",
                    f"the file is bigger than {MAX_UPLOAD_BYTES:,} bytes", status=413)

    def run():
        with db.session() as session:
            return service.import_csv(session, kind, data, dry_run=dry_run)

    try:
        report = await anyio.to_thread.run_sync(run)
    except IntegrityError:
        return _bad(request, "conflict", "가져오는 동안 같은 기록이 바뀌었습니다 (동시에 다른 가져오기?). 다시 보내 주세요",
                    "the records changed during the import (another import at the same time?); send the file again",
                    status=409)
    if not report.ok:
        request.app.state.rejections.add("styles", "bad_rows", f"{kind}: {report.bad_rows} of {report.rows} rows",
                                         count=report.bad_rows)
        return JSONResponse({"error": "bad_rows", "kind": kind, "rows": report.rows, "bad_rows": report.bad_rows,
                             "ko": report.summary_ko(), "en": report.summary(),
                             "problems": [{"line": p.line, "column": p.column, "ko": p.ko, "en": p.en}
                                          for p in report.problems]}, status_code=422)
    if report.written and (report.added or report.changed):
        # New products show at once with the model that serves; `POST /model` trains on them.
        start_training(styles_of(request), train=False)
    log.info("styles import %s: %s%s", kind, report.summary(), " (dry run)" if dry_run else "")
    return JSONResponse({"kind": kind, "rows": report.rows, "added": report.added, "changed": report.changed,
                         "unchanged": report.unchanged, "written": report.written, "summary": report.summary()})


@api.get("/model", summary="What serves (recommender or popularity), trained when, on what")
def model_status(request: Request, _token: Token) -> JSONResponse:
    return JSONResponse(styles_of(request).status.as_dict())


@api.post("/model", summary="Read the database again and train the recommender (in the background)")
def retrain(request: Request, _token: Token) -> JSONResponse:
    styles = styles_of(request)
    started = start_training(styles)
    body = styles.status.as_dict()
    if not started:
        return JSONResponse({**body, "error": "already_training", "ko": "이미 학습 중입니다",
                             "en": "a training is already running"}, status_code=409)
    return JSONResponse({**body, "training": True}, status_code=202)


# ============================================================================ API: the kiosk's (no login)
#: The largest session body: 100 article ids, a colour, a budget and k fit in a tenth of it. The
#: endpoint needs no login, so a body is read only up to this, never whole first.
SESSION_BODY_BYTES = 16 * 1024


def _take_session(request: Request) -> int | None:
    """None when this client address may ask for a session now, else the seconds to wait."""
    try:
        request.app.state.styles_limiter.take(client_address(request))
    except service.TooMany as e:
        _rejected(request, "too_many_sessions")
        return e.retry_after_s
    return None


def _whole_number(value: Any) -> bool:
    """A JSON whole number (true and false are not: Python counts them as 1 and 0)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _ids(value: Any, field: str, problems: list[dict]) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 50 or not all(_whole_number(v) and v > 0 for v in value):
        problems.append({"field": field, "ko": f"{field}는 상품 번호(양의 정수) 50개까지의 목록입니다",
                         "en": f"{field} is a list of up to 50 article ids (positive whole numbers)"})
        return ()
    return tuple(value)


@api.post("/sessions", summary="A kiosk session: quiz likes and skips, colour, budget -> picks (no login; "
                               "nothing stored)")
async def session_picks(request: Request) -> JSONResponse:
    wait = _take_session(request)
    if wait is not None:
        return JSONResponse({"error": "too_many", **_words("too_many")}, status_code=429,
                            headers={"Retry-After": str(wait)})
    raw = await body_at_most(request, SESSION_BODY_BYTES)
    if raw is None:
        return _bad(request, "too_big", f"보낸 내용이 {SESSION_BODY_BYTES // 1024} KiB보다 큽니다",
                    f"the body is over {SESSION_BODY_BYTES // 1024} KiB", status=413)
    try:
        body = json.loads(raw or b"{}")
    except ValueError:  # UnicodeDecodeError is one
        body = None
    if not isinstance(body, dict):
        return _bad(request, "invalid_body", "JSON 객체를 보내 주세요: {\"liked\": [...], \"skipped\": [...], "
                    "\"colour\": ..., \"budget_krw\": [최소, 최대]}", "send a JSON object: {\"liked\": [...], "
                    "\"skipped\": [...], \"colour\": ..., \"budget_krw\": [min, max]}")
    problems: list[dict] = []
    liked = _ids(body.get("liked"), "liked", problems)
    skipped = _ids(body.get("skipped"), "skipped", problems)
    tone = body.get("colour", body.get("season"))
    if tone not in (None, "none", *service.TONES):
        problems.append({"field": "colour", "ko": "colour는 warm, cool, spring, summer, autumn, winter 또는 null입니다",
                         "en": "colour is warm, cool, spring, summer, autumn, winter or null"})
    budget = service.Budget()
    raw_budget = body.get("budget_krw")
    if raw_budget is not None:
        ok = (isinstance(raw_budget, list) and len(raw_budget) == 2
              and all(v is None or (_whole_number(v) and v >= 0) for v in raw_budget)
              and not (raw_budget[0] is not None and raw_budget[1] is not None and raw_budget[1] < raw_budget[0]))
        if ok:
            budget = service.Budget(raw_budget[0], raw_budget[1])
        else:
            problems.append({"field": "budget_krw", "ko": "budget_krw는 [최소, 최대] 원입니다 (각각 0 이상의 정수 또는 null)",
                             "en": "budget_krw is [min, max] in won (each a whole number, 0 or more, or null)"})
    k = body.get("k", styles_settings(request).k_default)
    if not _whole_number(k) or not 1 <= k <= styles_settings(request).k_max:
        problems.append({"field": "k", "ko": f"k는 1부터 {styles_settings(request).k_max}까지입니다",
                         "en": f"k is 1 to {styles_settings(request).k_max}"})
    if problems:
        _rejected(request, "invalid_session", ",".join(p["field"] for p in problems))  # field names only
        return JSONResponse({"error": "invalid_body", "ko": "보낸 내용을 확인해 주세요", "en": "please check what was sent",
                             "problems": problems}, status_code=422)
    styles = styles_of(request)
    if styles.status.state == "loading":
        return JSONResponse({"error": "loading", **_words("loading")}, status_code=503, headers={"Retry-After": "2"})
    answer = await anyio.to_thread.run_sync(
        lambda: styles.for_session(liked, skipped, None if tone in (None, "none") else tone, budget, k))
    return JSONResponse(service.answer_json(answer, styles.catalogue, _now()))


@api.get("/quiz", summary="Cards for the kiosk's quiz: like or skip each (no login)")
def quiz(request: Request, n: str | None = None) -> JSONResponse:
    cfg = styles_settings(request)
    n = _whole(n, cfg.quiz_cards)
    if not 10 <= n <= 20:
        return _bad(request, "bad_n", "카드는 10장부터 20장까지입니다", "a quiz has 10 to 20 cards")
    styles = styles_of(request)
    if styles.status.state == "loading":
        return JSONResponse({"error": "loading", **_words("loading")}, status_code=503, headers={"Retry-After": "2"})
    cards = styles.quiz(n, seed=cfg.seed)
    return JSONResponse({"model": styles.status.model, "cards": [
        {"article_id": c.article_id, "names": c.names, "prod_name": c.prod_name, "product_type": c.product_type_name,
         "price_krw": c.retail_krw, "swatch_hex": c.swatch_hex,
         "colour": {"undertone": c.reading.undertone, "depth": c.reading.depth, "clarity": c.reading.clarity,
                    "suits": list(c.reading.suits)}} for c in cards]})


# ============================================================================ the kiosk page
def _page(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
    lang = lang_of(ctx.get("lang"))
    return render_kiosk(templates, request, name, t, {
        "term": lambda key: term(key, lang), "cfg": styles_settings(request), "SEASON_WORDS": SEASON_WORDS,
        "COLOURS": COLOURS, "BUDGETS": BUDGETS, "budget_words": lambda key: budget_words(*BUDGETS[key], lang),
        **ctx}, status)


async def _form(request: Request) -> dict[str, Any] | None:
    """The screen's form, or None when it is far bigger than any screen sends (a quiz screen has
    about 30 fields of a few hundred bytes at most)."""
    try:
        form = await request.form(max_fields=200, max_part_size=4096)
    except StarletteHTTPException:
        return None
    out: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    out["_multi"] = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in ("liked", "skipped", "cards")}
    out["_votes"] = {k[5:]: v for k, v in form.items() if k.startswith("vote-") and isinstance(v, str)}
    return out


def _article_id(text: str) -> int | None:
    """An article id as the page writes it; None for anything else. ASCII digits only: "²" is a
    digit to str.isdigit but not to int(), and a 5,000-digit number is too long for int()."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _int_list(values: list[str], limit: int = 50) -> list[int]:
    out = []
    for v in values:
        for part in v.split(","):
            found = _article_id(part)
            if found is not None and len(out) < limit:
                out.append(found)
    return out


def _state(f: dict) -> dict:
    """The shopper's entries so far, cleaned (a tampered form can only choose what the kiosk offers)."""
    lang, big = shown_as(f)
    cards = _int_list(f["_multi"].get("cards", []), 20)
    liked, skipped = set(_int_list(f["_multi"].get("liked", []))), set(_int_list(f["_multi"].get("skipped", [])))
    # The quiz screen's own answers (one per card, 20 at most) win over the ones carried.
    for raw, vote in list(f.get("_votes", {}).items())[:20]:
        a = _article_id(raw)
        if a is None:
            continue
        liked.discard(a)
        skipped.discard(a)
        (liked if vote == "like" else skipped if vote == "skip" else set()).add(a)
    colour_ = f.get("colour") if f.get("colour") in COLOURS else "none"
    budget = f.get("budget") if f.get("budget") in BUDGETS else "any"
    return {"lang": lang, "big": big, "cards": cards, "liked": sorted(liked)[:50], "skipped": sorted(skipped)[:50],
            "colour": colour_, "budget": budget}


STEPS = ("quiz", "colour", "budget", "results")


@pages.get("/styles", response_class=HTMLResponse)
async def welcome(request: Request, lang: str = "ko", big: str = "0", cleared: str = "") -> HTMLResponse:
    st = {"lang": lang_of(lang), "big": big == "1", "cards": [], "liked": [], "skipped": [], "colour": "none",
          "budget": "any"}
    return _page(request, "styles_welcome.html", {**st, "step": "welcome", "cleared": cleared == "1",
                                                  "status": styles_of(request).status})


@pages.post("/styles", response_class=HTMLResponse)
async def flow(request: Request) -> HTMLResponse:
    """One screen per step: the pressed button says which (`go`); a language or text-size button
    re-draws the screen it was pressed on (`at`)."""
    f = await _form(request)
    if f is None:
        _rejected(request, "bad_form", "too big")
        ctx = {"lang": "ko", "big": False, "cards": [], "liked": [], "skipped": [], "colour": "none", "budget": "any"}
        return _page(request, "styles_message.html", {**ctx, "step": "welcome", "message": t("form_bad", "ko")}, 400)
    st = _state(f)
    go = screen_asked(f, (*STEPS, "welcome"), "welcome")
    styles, lang = styles_of(request), st["lang"]
    if go == "welcome":
        return _page(request, "styles_welcome.html", {**st, "step": "welcome", "status": styles.status})
    if styles.status.state == "loading":
        return _page(request, "styles_message.html", {**st, "step": "welcome", "message": t("loading", lang)}, 503)
    if not st["cards"]:
        st["cards"] = [c.article_id for c in styles.quiz(styles_settings(request).quiz_cards,
                                                         seed=styles_settings(request).seed)]
    cards = [c for c in styles.items(st["cards"]) if c is not None]
    if go == "quiz":
        return _page(request, "styles_quiz.html", {**st, "step": "quiz", "items": cards})
    if go == "colour":
        liked = [c for c in styles.items(st["liked"]) if c is not None]
        tally = {s: sum(1 for c in liked if s in c.reading.suits) for s in service.TONES if s not in ("warm", "cool")}
        return _page(request, "styles_colour.html", {**st, "step": "colour", "liked_items": liked, "tally": tally,
                                                     "reading": lambda c: service.reading_words(c.reading, lang)})
    if go == "budget":
        return _page(request, "styles_budget.html", {**st, "step": "budget"})
    wait = _take_session(request)
    if wait is not None:
        return _page(request, "styles_message.html", {**st, "step": "results", "message": t("too_many", lang)}, 429)
    budget = service.Budget(*BUDGETS[st["budget"]])
    tone = None if st["colour"] == "none" else st["colour"]
    now, k = _now(), styles_settings(request).k_default

    def picks_and_code() -> tuple[service.Answer, str, str]:
        # Both off the event loop: the ranking, and the QR code's mask search (tens of ms).
        found = styles.for_session(st["liked"], st["skipped"], tone, budget, k)
        url = _list_link(request, found, lang, now)
        return found, url, segno.make(url, error="m").svg_data_uri(scale=5, border=2)

    answer, link, qr = await anyio.to_thread.run_sync(picks_and_code)
    return _page(request, "styles_results.html", {
        **st, "step": "results", "answer": answer, "qr": qr, "link": link,
        "cards_words": [service.pick_words(p, styles.catalogue, lang, now) for p in answer.picks]})


# ----------------------------------------------------------------------------- the phone link
#: The reason arguments the words use (hub.styles.words.reason_words): the rest stays off the link.
_LINK_ARGS = ("article_id", "season", "segment", "rank", "price_krw", "low", "high")


def _list_payload(answer: service.Answer) -> str:
    """The picks with their reasons, compact (JSON, deflated, URL-safe base64): the link holds the
    list, so nothing about the session is stored anywhere."""
    data = [[p.item.article_id, [[r.code, {k: v for k, v in r.args.items() if k in _LINK_ARGS}] for r in p.reasons]]
            for p in answer.picks]
    raw = zlib.compress(json.dumps([answer.model, data], separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _list_sig(settings: HubSettings, payload: str, exp: int) -> str:
    return sign(settings.session_key(), f"styles-list:{payload}:{exp}")[:27]


def _list_link(request: Request, answer: service.Answer, lang: str, now: datetime) -> str:
    cfg = styles_settings(request)
    exp = int(now.timestamp() + cfg.link_hours * 3600)
    payload = _list_payload(answer)
    base = (cfg.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/styles/list?l={payload}&lang={lang}&exp={exp}&sig={_list_sig(get_settings(request), payload, exp)}"


def _read_payload(payload: str) -> tuple[str, list[tuple[int, tuple[Reason, ...]]]] | None:
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)), 64_000)
        model, data = json.loads(raw)
        out = []
        for article_id, reasons in data[:100]:
            out.append((int(article_id), tuple(Reason(str(c), dict(a)) for c, a in reasons[:10] if str(c) in REASON_CODES)))
        return str(model), out
    except (ValueError, TypeError, zlib.error):
        return None


@pages.get("/styles/list", response_class=HTMLResponse)
async def phone_list(request: Request, l: str = "", lang: str = "ko", exp: str = "", sig: str = "",
                     big: str = "0") -> HTMLResponse:
    lang = lang_of(lang)
    ctx = {"lang": lang, "big": big == "1", "step": "list"}
    try:
        expires = int(exp)
    except ValueError:
        expires = 0
    good = len(l) < 8000 and hmac.compare_digest(sig.encode(), _list_sig(get_settings(request), l, expires).encode())
    if not good:
        _rejected(request, "list_link", "signature")
        return _page(request, "styles_message.html", {**ctx, "message": t("link_bad", lang)}, 403)
    if expires < time.time():
        _rejected(request, "list_link", "expired")
        return _page(request, "styles_message.html", {**ctx, "message": t("link_expired", lang)}, 410)
    read = _read_payload(l)
    if read is None:
        _rejected(request, "list_link", "unreadable")
        return _page(request, "styles_message.html", {**ctx, "message": t("link_bad", lang)}, 403)
    model, entries = read
    styles, now = styles_of(request), _now()
    picks, gone = [], 0
    for article_id, reasons in entries:
        item = styles.catalogue.items.get(article_id)
        if item is None:
            gone += 1
            continue
        picks.append(service.Pick(item, 0.0, reasons, styles.catalogue.shops.get(item.shop_id)))
    answer = service.Answer(model, tuple(picks), ("model_popular",) if model == "popularity" else ())
    links = {x: f"/styles/list?l={l}&lang={x}&exp={exp}&sig={sig}" for x in LANGS}
    return _page(request, "styles_list.html", {
        **ctx, "answer": answer, "gone": gone, "lang_links": links,
        "cards_words": [service.pick_words(p, styles.catalogue, lang, now) for p in picks]})


__all__ = ["BUDGETS", "COLOURS", "api", "pages", "start_training"]
