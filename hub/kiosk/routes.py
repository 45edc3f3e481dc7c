"""The kiosk's pages and API. The shopper's pages are public on the kiosk device (no login): the
flow carries its entries from screen to screen inside the page (POSTed hidden fields, never a URL,
nothing stored until the order), so clearing the page clears them. Tracking needs the order's key
(in its QR code); staff actions (ready, picked up) need the hub's login; a workshop reaches the
pattern files through the signed link on its offer.

Words come from hub.kiosk.words in the shopper's language (ko / en / zh), switchable on every screen."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import hashlib
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from hub.core.dependencies import get_database, get_settings, require_reader
from hub.core.pages import render_kiosk, screen_asked, shown_as, templates_for
from hub.kiosk import parts, service
from hub.kiosk.catalogue import CHOICE_WORDS, DESIGNS, OPTION_WORDS, clean_options, colour, price_krw
from hub.kiosk.config import KioskSettings
from hub.kiosk.words import WORDS, lang_of, t

log = logging.getLogger("sewnet.kiosk")
templates = templates_for(Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/kiosk/api", tags=["kiosk"])
STEPS = ("design", "options", "measure", "preview", "promise")


def kiosk_settings(request: Request) -> KioskSettings:
    return request.app.state.kiosk_settings


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _page(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
    return render_kiosk(templates, request, name, t, {
        "WORDS": WORDS, "kiosk": kiosk_settings(request), "DESIGNS": DESIGNS, "CHOICE_WORDS": CHOICE_WORDS,
        "OPTION_WORDS": OPTION_WORDS, **ctx}, status)


def _rejected(request: Request, reason: str, detail: str = "") -> None:
    request.app.state.rejections.add("kiosk", reason, detail)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    out["confirmed"] = {v for v in form.getlist("confirmed") if isinstance(v, str)}
    return out


def _cm_to_mm(raw: dict) -> dict:
    """The screen asks in cm (what shoppers know); the measurements module works in mm."""
    out = dict(raw)
    for f in service.FIELDS:
        v = service._number(raw.get(f))
        if v is not None:
            out[f] = f"{v * 10:g}"
    return out


def _mm_to_cm(values: dict) -> dict:
    out = dict(values)
    for f in service.FIELDS:
        v = service._number(values.get(f))
        if v is not None:
            out[f] = f"{v / 10:g}"
    return out


def _range_cm(field: str, gender: str) -> tuple[float, float] | None:
    r = parts.RANGES.get(field)
    if isinstance(r, dict):
        r = r.get(gender) or next(iter(r.values()))
    if not r:
        return None
    return (r[0] / 10, r[1] / 10) if field != "weight" else (r[0], r[1])


def _range_words(field: str, gender: str, lang: str) -> str | None:
    r = _range_cm(field, gender)
    if r is None:
        return None
    unit = "kg" if field == "weight" else "cm"
    lo, hi = f"{r[0]:g}", f"{r[1]:g}"
    return {"ko": f"{lo}–{hi} {unit} 사이로 넣어 주세요", "en": f"Please enter {lo}–{hi} {unit}",
            "zh": f"请输入 {lo}–{hi} {unit} 之间的数值"}[lang]


def _state(f: dict) -> dict:
    """The shopper's entries so far, cleaned: what every screen carries on."""
    lang, big = shown_as(f)
    design = DESIGNS.get(f.get("pick") or f.get("design") or "")
    options = clean_options(design, f) if design else {}
    return {"lang": lang, "big": big, "design": design, "options": options,
            "values": {k: (f.get(k) or "").strip()[:12] for k in (*service.FIELDS, "weight")},
            "gender": f.get("gender") if f.get("gender") in service.GENDERS else "",
            "confirmed": {c for c in f.get("confirmed", set()) if c in (*service.FIELDS, "weight")},
            "seen_ready": f.get("seen_ready", "")}


_DESIGNERS_TTL_S = 60.0


async def _designers(request: Request) -> dict:
    """The designs' designers, read from the registry at most once a minute (every shopper's first
    screen shows them; they change with a registry import, not by the second)."""
    import time

    state = request.app.state
    cached = getattr(state, "kiosk_designers", None)
    if cached is None or time.monotonic() - cached[0] > _DESIGNERS_TTL_S:
        def read() -> dict:
            with state.db.session() as s:
                return service.designers(s, kiosk_settings(request))

        cached = state.kiosk_designers = (time.monotonic(), await asyncio.to_thread(read))
    return cached[1]


# ----------------------------------------------------------------------------- the flow
@router.get("/kiosk", response_class=HTMLResponse)
async def start(request: Request, lang: str = "ko", big: str = "0", cleared: str = "") -> HTMLResponse:
    st = _state({"lang": lang, "big": big})
    return _page(request, "kiosk_design.html", {**st, "step": "design", "cleared": cleared == "1",
                                                 "designers": await _designers(request)})


@router.post("/kiosk", response_class=HTMLResponse)
async def flow(request: Request) -> HTMLResponse:
    """One screen per step; the pressed button says which (`go`), a language or text-size button
    re-draws the screen it was pressed on (`at`)."""
    f = await _form(request)
    st = _state(f)
    # A design card's button (`pick`) goes on to that design's options.
    go = screen_asked({**f, "go": "options"} if "pick" in f else f, (*STEPS, "estimate"), "design")
    if st["design"] is None:
        go = "design"
    lang = st["lang"]
    if go == "design":
        return _page(request, "kiosk_design.html", {**st, "step": "design", "designers": await _designers(request)})
    design = st["design"]
    if go == "options":
        return _page(request, "kiosk_options.html", {**st, "step": "options"})
    if go == "estimate":
        form = service.estimate_form(design, _cm_to_mm(st["values"] | {"gender": st["gender"]}) | {
            "weight": st["values"]["weight"], "gender": st["gender"]}, lang)
        for k in list(form.errors):
            if k in ("height", "weight") and _range_words(k, st["gender"], lang) and form.values.get(k):
                form.errors[k] = _range_words(k, st["gender"], lang)
        if form.errors:
            _rejected(request, "estimate_refused", ",".join(sorted(form.errors)))  # field names only
        st["values"] = _mm_to_cm(form.values) if not form.errors else st["values"]
        return _page(request, "kiosk_measure.html", {**st, "step": "measure", "errors": form.errors,
                                                      "confirms": {}, "estimated": not form.errors,
                                                      "fields": service.fields_for(design)})
    if go in ("measure",) and not f.get("check"):
        return _page(request, "kiosk_measure.html", {**st, "step": "measure", "errors": {}, "confirms": {},
                                                      "estimated": False, "fields": service.fields_for(design)})
    form = service.read_body(design, _cm_to_mm(st["values"]) | {"gender": st["gender"]}, lang, st["confirmed"])
    for k in list(form.errors):
        if form.values.get(k) and service._number(form.values.get(k)) is not None:
            form.errors[k] = _range_words(k, st["gender"], lang) or form.errors[k]
    if not form.ok:
        _rejected(request, "measurement_refused" if form.errors else "measurement_confirm",
                  ",".join(sorted({**form.errors, **form.confirms})))  # field names only, never values
        return _page(request, "kiosk_measure.html", {**st, "step": "measure", "errors": form.errors,
                                                      "confirms": form.confirms, "estimated": False,
                                                      "fields": service.fields_for(design)})
    body = form.body
    pattern = parts.draft(design.key, body, st["options"])
    if go == "preview" or go == "measure":
        c = colour(design, st["options"]["colour"])
        svg = parts.to_svg(pattern, colour=c.hex)
        return _page(request, "kiosk_preview.html", {
            **st, "step": "preview", "svg": "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
            "fit": parts.fit_map(pattern, body)})
    promise = await service.quote(request.app.state.db, request.app.state.telemetry, request.app.state.settings,
                                  kiosk_settings(request), design, _now())
    return _page(request, "kiosk_promise.html", {**st, "step": "promise", **_promise_ctx(promise, lang, request),
                                                  "price": price_krw(design, st["options"])})


def _promise_ctx(promise: service.Promise | None, lang: str, request: Request, changed: bool = False) -> dict:
    now = _now()
    if promise is None:
        words = t("promise_none", lang, days=request.app.state.settings.capacity_days)
        return {"promise": None, "promise_words": words, "changed": changed, "seen_ready": ""}
    when = service.when_words(promise.ready_at, now, lang)
    kiosk = kiosk_settings(request)
    soon = promise.ready_at - now
    words = t("promise_ready", lang, when=when, store=kiosk.store)
    later = None if soon.total_seconds() <= 36 * 3600 else t("promise_later", lang, when=when)
    return {"promise": promise, "promise_words": words, "promise_later": later, "changed": changed,
            "seen_ready": promise.ready_at.isoformat()}


def _device_ok(request: Request, kiosk: KioskSettings) -> bool:
    if kiosk.device_token is None:
        return True
    want = hashlib.sha256(kiosk.device_token.get_secret_value().encode()).hexdigest()
    return hmac.compare_digest(request.cookies.get("kiosk_device", ""), want)


@router.get("/kiosk/device")
async def device(request: Request, token: str = "") -> Response:
    """Staff open this once on a kiosk (with the device token) to let it place orders."""
    kiosk = kiosk_settings(request)
    if kiosk.device_token is None or not hmac.compare_digest(token, kiosk.device_token.get_secret_value()):
        _rejected(request, "device_token")
        return HTMLResponse("이 기기를 등록할 수 없습니다 / this device cannot be registered", status_code=403)
    response = RedirectResponse("/kiosk", status_code=303)
    response.set_cookie("kiosk_device", hashlib.sha256(token.encode()).hexdigest(), max_age=365 * 86400,
                        httponly=True, samesite="strict", secure=request.app.state.settings.cookie_secure)
    return response


@router.post("/kiosk/order", response_class=HTMLResponse)
async def order(request: Request) -> HTMLResponse:
    """Place the order (rate-limited per address), then the order number and the QR code. The
    answer is this POST's own page, so the tracking key never sits in the kiosk's history."""
    f = await _form(request)
    st = _state(f)
    lang, design, kiosk = st["lang"], st["design"], kiosk_settings(request)
    if design is None:
        return RedirectResponse(f"/kiosk?lang={lang}", status_code=303)
    if not _device_ok(request, kiosk):
        _rejected(request, "not_a_kiosk")
        return HTMLResponse("이 기기에서는 주문할 수 없습니다 / orders are taken on the store's kiosk only", 403)
    form = service.read_body(design, _cm_to_mm(st["values"]) | {"gender": st["gender"]}, lang, st["confirmed"])
    if not form.ok:
        _rejected(request, "measurement_refused", ",".join(sorted({**form.errors, **form.confirms})))
        return _page(request, "kiosk_measure.html", {**st, "step": "measure", "errors": form.errors,
                                                      "confirms": form.confirms, "estimated": False,
                                                      "fields": service.fields_for(design)}, 422)
    try:
        request.app.state.kiosk_limiter.take(request.client.host if request.client else "unknown")
    except service.RateLimited:
        _rejected(request, "too_many_orders")
        return _page(request, "kiosk_message.html", {**st, "step": "promise", "message": t("too_many", lang)}, 429)
    try:
        seen = datetime.fromisoformat(st["seen_ready"]) if st["seen_ready"] else None
    except ValueError:
        seen = None
    app = request.app
    try:
        placed = await service.place(app.state.db, app.state.telemetry, app.state.settings, kiosk, design=design,
                                     options=st["options"], body=form.body, lang=lang, seen_ready=seen,
                                     base_url=str(request.base_url), now=_now(), solver=app.state.planning_solver)
    except service.NoCapacity:
        return _page(request, "kiosk_promise.html", {**st, "step": "promise", **_promise_ctx(None, lang, request),
                                                      "price": price_krw(design, st["options"])})
    except service.PromiseChanged as e:
        return _page(request, "kiosk_promise.html", {**st, "step": "promise",
                                                      **_promise_ctx(e.promise, lang, request, changed=True),
                                                      "price": price_krw(design, st["options"])})
    url = f"{str(request.base_url).rstrip('/')}/kiosk/t/{placed.code}?k={placed.key}&lang={lang}"
    qr = segno.make(url, error="m").svg_data_uri(scale=6, border=2)
    return _page(request, "kiosk_done.html", {**st, "step": "done", "code": placed.code, "qr": qr, "track_url": url,
                                               "price": price_krw(design, st["options"]),
                                               "when": service.when_words(placed.ready_at, _now(), lang)})


# ----------------------------------------------------------------------------- tracking
@router.get("/kiosk/t/{code}", response_class=HTMLResponse)
async def tracking(request: Request, code: str, k: str = "", lang: str = "ko", big: str = "0") -> HTMLResponse:
    app, lang = request.app, lang_of(lang)
    def known() -> bool:
        with app.state.db.session() as s:
            return service.find(s, code, k) is not None

    found = await asyncio.to_thread(known)
    if not found:
        _rejected(request, "tracking_key")
        return _page(request, "kiosk_message.html", {"lang": lang, "big": big == "1", "step": "track",
                                                      "message": t("not_found", lang)}, 404)
    now = _now()
    await service.refresh(app.state.db, app.state.telemetry, app.state.settings, kiosk_settings(request), code, now,
                          app.state.planning_solver)
    view = await service.track(app.state.db, app.state.telemetry, app.state.settings, code, now)
    return _page(request, "kiosk_track.html", {"lang": lang, "big": big == "1", "step": "track", "o": view,
                                                "key": k, "stages": service.STAGES, **_track_words(view, lang)})


def _track_words(view: dict, lang: str) -> dict:
    now = _now()
    name = (lambda ko, en: ko if lang == "ko" else en)
    shop = name(view["workshop_name_ko"] or view["workshop_id"], view["workshop_name_en"] or view["workshop_id"])
    stage = view["stage"]
    if view["status"] == "cancelled":
        now_words = t("cancelled", lang)
    elif stage == "sewing":
        now_words = t("now_sewing", lang, stitches=f"{view['stitches'] or 0:,}")
    elif stage in ("received", "cutting"):
        now_words = t(f"now_{stage}", lang, workshop=shop)
    elif stage == "ready":
        now_words = t("now_ready", lang, store=view["store"])
    else:
        now_words = t("now_picked_up", lang)
    events = []
    for e in view["events"]:
        if e["kind"] == "rerouted":
            events.append(t("rerouted", lang, old=name(e.get("old_ko"), e.get("old_en")),
                            new=name(e.get("new_ko"), e.get("new_en")),
                            when=service.when_words(datetime.fromisoformat(e["ready_at"]), now, lang)))
        elif e["kind"] == "rerouting" and not any(x["kind"] == "rerouted" and x.get("route") == e.get("route")
                                                   for x in view["events"]):
            events.append(t("rerouting", lang, old=name(e.get("old_ko"), e.get("old_en"))))
    promised = service.when_words(view["promised_at"], now, lang) if view["promised_at"] else ""
    return {"now_words": now_words, "events": events, "promised": promised, "workshop_name": shop}


@router.post("/kiosk/t/{code}/forget", response_class=HTMLResponse)
async def forget(request: Request, code: str) -> Response:
    f = await _form(request)
    lang, key = lang_of(f.get("lang")), f.get("k", "")
    status = service.delete_body(request.app.state.db, code, key, _now())
    if status is None:
        _rejected(request, "tracking_key")
        return _page(request, "kiosk_message.html", {"lang": lang, "big": False, "step": "track",
                                                      "message": t("not_found", lang)}, 404)
    return RedirectResponse(f"/kiosk/t/{code}?k={key}&lang={lang}", status_code=303)


# ----------------------------------------------------------------------------- the workshop's files
FILES = {"pattern.dxf": "application/dxf", "pattern-a4.pdf": "application/pdf",
         "pattern-plotter.pdf": "application/pdf", "preview.svg": "image/svg+xml",
         "cutting-ticket.txt": "text/plain; charset=utf-8"}


@router.get("/kiosk/files/{code}", response_class=HTMLResponse)
async def files_index(request: Request, code: str, exp: str = "", sig: str = "") -> Response:
    why = service.files_link_ok(request.app.state.settings, code, exp, sig, _now())
    if why is not None:
        _rejected(request, "files_link", why)
        return HTMLResponse(why, status_code=403)
    found = await asyncio.to_thread(service.pattern_for, request.app.state.db, code)
    ticket = None
    if found is not None:
        pattern, _body, design, options = found
        c = colour(design, options["colour"])
        ticket = parts.cutting_ticket(pattern, c.fabric, c.words["en"])[1]
    return _page(request, "kiosk_files.html", {"lang": "ko", "big": False, "step": "files", "code": code,
                                                "exp": exp, "sig": sig, "files": FILES, "ticket": ticket,
                                                "gone": found is None})


@router.get("/kiosk/files/{code}/{name}")
async def file(request: Request, code: str, name: str, exp: str = "", sig: str = "") -> Response:
    why = service.files_link_ok(request.app.state.settings, code, exp, sig, _now())
    if why is not None or name not in FILES:
        _rejected(request, "files_link", why or name)
        return HTMLResponse(why or "no such file", status_code=403 if why else 404)
    found = await asyncio.to_thread(service.pattern_for, request.app.state.db, code)
    if found is None:
        return HTMLResponse("치수가 지워져 패턴을 만들 수 없습니다 / the measurements are deleted", status_code=410)
    pattern, _body, design, options = found
    c = colour(design, options["colour"])
    if name == "pattern.dxf":
        data: bytes | str = parts.to_dxf(pattern)
    elif name == "pattern-a4.pdf":
        data = parts.to_pdf(pattern, layout="a4")
    elif name == "pattern-plotter.pdf":
        data = parts.to_pdf(pattern, layout="plotter")
    elif name == "preview.svg":
        data = parts.to_svg(pattern, colour=c.hex)
    else:
        data = parts.cutting_ticket(pattern, c.fabric, c.words["en"])[1]
    return Response(data, media_type=FILES[name], headers={
        "Content-Disposition": f'attachment; filename="{code}-{name}"', "Cache-Control": "no-store"})


# ----------------------------------------------------------------------------- staff
@router.get("/kiosk/staff", response_class=HTMLResponse)
async def staff(request: Request, reader: Annotated[str | None, Depends(require_reader)]) -> Response:
    if reader is None:
        return RedirectResponse("/login", status_code=303)
    orders = await asyncio.to_thread(service.staff_list, request.app.state.db)
    return _page(request, "kiosk_staff.html", {"lang": "ko", "big": False, "step": "staff", "orders": orders})


@router.post("/kiosk/staff/{code}/{what}")
async def staff_mark(request: Request, code: str, what: str,
                     reader: Annotated[str | None, Depends(require_reader)]) -> Response:
    if reader is None:
        return RedirectResponse("/login", status_code=303)
    if what not in ("ready", "picked_up") or not service.mark(request.app.state.db, code, what, _now()):
        return HTMLResponse("no such order or action", status_code=404)
    return RedirectResponse("/kiosk/staff", status_code=303)


# ----------------------------------------------------------------------------- the API
@api.get("/designs")
async def api_designs(request: Request) -> dict:
    """The base designs, their options, colours and prices (public to the kiosk, like its pages)."""
    return {"designs": [{"key": d.key, "family": d.family, "words": d.words, "base_krw": d.base_krw,
                         "options": {k: list(v) for k, v in d.options.items()},
                         "colours": [{"key": c.key, "hex": c.hex, "words": c.words} for c in d.colours]}
                        for d in DESIGNS.values()]}


@api.post("/check")
async def api_check(request: Request) -> JSONResponse:
    """Measurements (mm) checked: 200 with the problems (out_of_range refuses, confirm asks)."""
    try:
        body = await request.json()
        b = parts.Body(gender=body["gender"], **{f: float(body[f]) for f in service.FIELDS},
                       weight=float(body["weight"]) if body.get("weight") is not None else None)
    except (ValueError, KeyError, TypeError):
        _rejected(request, "api_check_body")
        return JSONResponse({"error": "invalid_body", "ko": "성별과 치수(mm)를 모두 숫자로 보내 주세요",
                             "en": "send gender and every measurement (mm) as numbers"}, 422)
    problems = parts.check_body(b)
    return JSONResponse({"ok": not problems, "problems": [
        {"field": p.field, "kind": p.kind, "words": p.words} for p in problems]})


@api.get("/orders/{code}")
def api_order(request: Request, code: str, k: str = "") -> JSONResponse:
    """One order's stage for the tracking page's key (no measurements in it)."""
    with request.app.state.db.session() as s:
        row = service.find(s, code, k)
        if row is None:
            _rejected(request, "tracking_key")
            return JSONResponse({"error": "not_found", "ko": t("not_found", "ko"), "en": t("not_found", "en")}, 404)
        out = {"code": row.code, "status": row.status, "design": row.design, "workshop_id": row.workshop_id,
               "promised_at": row.promised_at.isoformat() if row.promised_at else None,
               "has_measurements": row.body is not None, "events": row.events}
    return JSONResponse(out)


# ----------------------------------------------------------------------------- background
class KioskKeeper:
    """Every `reroute_check_s`: open orders whose workshop declined or let the offer expire are
    routed again (the tracking page does it too when read)."""

    def __init__(self, app: Any):
        self.app = app

    async def run(self) -> None:
        state = self.app.state
        while True:
            await asyncio.sleep(state.kiosk_settings.reroute_check_s)
            with contextlib.suppress(Exception):
                await service.reroute_all(state.db, state.telemetry, state.settings, state.kiosk_settings,
                                          solver=state.planning_solver)
