"""The kiosk's service, plain Python (no web): measurements read and checked, the promise asked of
planning, an order routed to a workshop as an offer (and routed again when a workshop declines or
lets it expire), where it stands for the tracking page, and the shopper's measurements deleted at
pick-up or on request.

Planning is reached only through its public face (`hub.planning`, `hub.planning.service`): the
promise is `earliest_finish` (capacity's spare minutes, accepted work subtracted, no solve); the
order is a one-piece planning order, planned and accepted, which the offers loop turns into an
offer to that workshop.

Measurements are personal data: they live in `kiosk_orders.body` until pick-up or the shopper's
request, are never written to a log (nothing here logs a body or a form), and travel between the
kiosk's screens only inside the shopper's own page (hidden fields), never in a URL."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub import planning
from hub import registry
from hub.core.db import Database, utc
from hub.core.settings import HubSettings
from hub.kiosk import parts
from hub.kiosk.catalogue import DESIGNS, Design, clean_options, colour, price_krw
from hub.kiosk.config import KioskSettings
from hub.kiosk.tables import KioskOrder
from hub.kiosk.words import MONTHS_EN, WEEKDAYS, t
from hub.planning import service as plans

log = logging.getLogger("sewnet.kiosk")
SEOUL = ZoneInfo("Asia/Seoul")
FIELDS = ("height", "chest", "waist", "hip", "shoulder", "arm", "neck")
GENDERS = ("female", "male")


# ============================================================================ measurements
@dataclass
class BodyForm:
    """What the shopper typed, and what is wrong with it, per field (words in their language)."""

    values: dict[str, str]
    gender: str
    body: Optional[Any] = None  # parts.Body when every field reads
    errors: dict[str, str] = dataclasses.field(default_factory=dict)  # refused: fix it
    confirms: dict[str, str] = dataclasses.field(default_factory=dict)  # asked: confirm or fix

    @property
    def ok(self) -> bool:
        return self.body is not None and not self.errors and not self.confirms


def fields_for(design: Design) -> tuple[str, ...]:
    # A T-shirt's neckband follows the neckline's shape, not the neck: only shirts ask for it.
    return FIELDS if design.key == "shirt" else tuple(f for f in FIELDS if f != "neck")


def _number(text: str | None) -> float | None:
    try:
        v = float((text or "").replace(",", "").strip())
    except ValueError:
        return None
    return v if v == v and abs(v) != float("inf") else None


def body_dict(body: Any) -> dict:
    return {k: getattr(body, k) for k in ("gender", *FIELDS, "weight")}


def read_body(design: Design, raw: dict[str, str], lang: str, confirmed: set[str]) -> BodyForm:
    """The form's measurements as a Body checked by the measurements module: out-of-range values
    refused beside their field, cross-checks asked to confirm unless the shopper ticked them."""
    gender = raw.get("gender") if raw.get("gender") in GENDERS else ""
    wanted = fields_for(design)
    form = BodyForm({f: (raw.get(f) or "").strip() for f in (*FIELDS, "weight")}, gender)
    numbers: dict[str, float] = {}
    for f in wanted:
        if not form.values[f]:
            form.errors[f] = t("required", lang)
            continue
        v = _number(form.values[f])
        if v is None:
            form.errors[f] = t("not_number", lang)
        else:
            numbers[f] = v
    weight = _number(form.values["weight"]) if form.values["weight"] else None
    if form.values["weight"] and weight is None:
        form.errors["weight"] = t("not_number", lang)
    if not gender:
        form.errors["gender"] = t("required", lang)
    if form.errors:
        return form
    if "neck" not in numbers:
        # Not asked for a T-shirt; the pattern still takes one: the estimate's, from the chest.
        numbers["neck"] = round(numbers["chest"] * 0.4)
    body = parts.Body(gender=gender, weight=weight, **numbers)
    for p in parts.check_body(body):
        words = p.words.get(lang) or p.words.get("en") or next(iter(p.words.values()))
        if p.kind == "out_of_range":
            if p.field in wanted or p.field == "weight":
                form.errors[p.field] = words
            else:  # the derived neck: say so on the chest it came from
                form.errors["chest"] = words
        elif p.field not in confirmed:
            form.confirms[p.field] = words
    form.body = body
    return form


def estimate_form(design: Design, raw: dict[str, str], lang: str) -> BodyForm:
    """Height, weight and gender to a full set of measurements (the shopper adjusts them after)."""
    gender = raw.get("gender") if raw.get("gender") in GENDERS else ""
    form = BodyForm({f: (raw.get(f) or "").strip() for f in (*FIELDS, "weight")}, gender)
    height, weight = _number(form.values["height"]), _number(form.values["weight"])
    for name, v in (("height", height), ("weight", weight)):
        if v is None:
            form.errors[name] = t("required" if not form.values[name] else "not_number", lang)
    if not gender:
        form.errors["gender"] = t("required", lang)
    if form.errors:
        return form
    try:
        body = parts.estimate(height, weight, gender)
    except parts.MeasurementError as refused:  # the height or weight itself is out of range
        for p in refused.problems:
            form.errors[p.field] = p.words.get(lang) or p.words["en"]
        return form
    form.values.update({f: f"{round(getattr(body, f))}" for f in FIELDS})
    form.values["weight"] = f"{weight:g}"
    return form


# ============================================================================ the promise
@dataclass(frozen=True)
class Promise:
    """Where and when: `ready_at` (Seoul) at the kiosk's store, sewn on `day` by `workshop_id`."""

    workshop_id: str
    workshop_name_ko: str
    workshop_name_en: str
    day: date
    ready_at: datetime


def _hm(text: str) -> tuple[int, int]:
    h, m = text.split(":")
    return int(h), int(m)


def first_sewing_day(kiosk: KioskSettings, now: datetime) -> date:
    """Today before the cut-off (Seoul), else tomorrow: cutting and sewing need the afternoon."""
    local = now.astimezone(SEOUL)
    h, m = _hm(kiosk.cutoff)
    return local.date() if (local.hour, local.minute) < (h, m) else local.date() + timedelta(days=1)


def ready_at(kiosk: KioskSettings, sewing_day: date) -> datetime:
    """Sewn on a day, collected the next morning, ready at the store at `ready_time`."""
    h, m = _hm(kiosk.ready_time)
    day = sewing_day + timedelta(days=1)
    return datetime(day.year, day.month, day.day, h, m, tzinfo=SEOUL)


async def quote(database: Database, telemetry: Any, settings: HubSettings, kiosk: KioskSettings, design: Design,
                now: datetime, exclude: tuple[str, ...] = ()) -> Optional[Promise]:
    """The earliest promise the network can keep now, or None (no workshop within capacity's days)."""
    found = await plans.earliest_finish(database, telemetry, settings, design.family, design.sam_minutes, now,
                                        pieces=1, first_day=first_sewing_day(kiosk, now), exclude=exclude)
    if not found:
        return None
    f = found[0]
    return Promise(f.workshop_id, f.name_ko, f.name_en, f.day, ready_at(kiosk, f.day))


def when_words(at: datetime, now: datetime, lang: str) -> str:
    """"내일 14:00" / "tomorrow 14:00" / "12월 3일(수) 14:00": the day as a shopper says it."""
    local, today = at.astimezone(SEOUL), now.astimezone(SEOUL).date()
    hm = local.strftime("%H:%M")
    if local.date() == today:
        return t("today", lang, hm=hm)
    if local.date() == today + timedelta(days=1):
        return t("tomorrow", lang, hm=hm)
    wd = WEEKDAYS[lang][local.weekday()]
    return t("on_day", lang, m=local.month, d=local.day, wd=wd, hm=hm, mon=MONTHS_EN[local.month - 1])


# ============================================================================ designers
def designers(session: Any, kiosk: KioskSettings) -> dict[str, Any]:
    """Each design's designer from the registry: the configured one, else the first of its family."""
    out: dict[str, Any] = {}
    for key, design in DESIGNS.items():
        chosen = kiosk.designers.get(key)
        info = registry.designer(session, chosen) if chosen else None
        if info is None:
            found = registry.designers(session, family=design.family, limit=1)
            info = found[0] if found else None
        out[key] = info
    return out


# ============================================================================ orders
class NoCapacity(Exception):
    """No workshop can make it within capacity's days."""


class PromiseChanged(Exception):
    """The promise the shopper saw cannot be kept any more; `promise` is the new one."""

    def __init__(self, promise: Optional[Promise]):
        super().__init__("the promise changed")
        self.promise = promise


class RateLimited(Exception):
    pass


class OrderLimiter:
    """At most `per_minute` orders per address in any minute (a sliding window, in memory)."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock, self.seen = per_minute, clock, {}

    def take(self, address: str) -> None:
        now = self.clock()
        q = self.seen.setdefault(address, deque())
        while q and q[0] <= now - 60:
            q.popleft()
        if len(q) >= self.per_minute:
            raise RateLimited()
        q.append(now)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_code(session: Any) -> str:
    for _ in range(50):
        code = f"{secrets.randbelow(900000) + 100000}"
        if session.get(KioskOrder, code) is None:
            return code
    raise RuntimeError("no free order number")


def files_signature(settings: HubSettings, code: str, exp: int) -> str:
    return hmac.new(settings.session_key(), f"kiosk-files:{code}:{exp}".encode(), "sha256").hexdigest()[:32]


def files_link(settings: HubSettings, kiosk: KioskSettings, base_url: str, code: str, now: datetime) -> str:
    """A signed, expiring link to the order's pattern files, for the workshop (it rides on the offer)."""
    exp = int(now.timestamp() + kiosk.files_link_hours * 3600)
    base = (kiosk.public_url or base_url).rstrip("/")
    return f"{base}/kiosk/files/{code}?exp={exp}&sig={files_signature(settings, code, exp)}"


def files_link_ok(settings: HubSettings, code: str, exp: str | None, sig: str | None, now: datetime) -> str | None:
    """None when the link is good; else why not, in words."""
    try:
        e = int(exp or "")
    except ValueError:
        return "bad link"
    if not sig or not hmac.compare_digest(sig, files_signature(settings, code, e)):
        return "this link is not valid / 올바른 링크가 아닙니다"
    if e < now.timestamp():
        return "this link has expired / 링크가 만료되었습니다"
    return None


def _style(design: Design, options: dict, code: str, link: str) -> str:
    c = colour(design, options.get("colour"))
    return f"맞춤 {design.words['ko']} {c.words['ko']} #{code} · 패턴 {link}"[:200]


async def _route(database: Database, telemetry: Any, settings: HubSettings, kiosk: KioskSettings, design: Design,
                 options: dict, code: str, route: int, promise: Promise, link: str, now: datetime, solver: Any
                 ) -> Optional[dict]:
    """One piece as a planning order due the day after its sewing day, planned and accepted (the
    offers loop makes the offer). The plan's assignment, or None when capacity went meanwhile."""
    with database.session() as s:
        # A route that could not be planned keeps its (cancelled) order for the record: the next
        # try takes the next free number instead of colliding with it.
        while plans.get_order(s, f"kiosk-{code}-{route}") is not None:
            route += 1
        order_id = f"kiosk-{code}-{route}"
        order = planning.Order(id=order_id, style=_style(design, options, code, link), family=design.family,
                               sam_minutes=dict(design.sam_minutes), quantity=1,
                               due=promise.day + timedelta(days=1), bundle_size=1, min_lot=0, max_workshops=1,
                               panels_ready=promise.day, transport_days=1)
        plans.create_order(s, order, now)
    planned = await plans.plan(database, telemetry, settings, order_id, when=now, solver=solver)
    view = planned.view
    if not view["feasible"] or not view["assignments"]:
        with database.session() as s:
            plans.cancel_order(s, order_id, now)  # capacity went meanwhile: nothing of it may linger
        return None
    with database.session() as s:
        plans.accept(s, order_id, view["version"], now, settings=settings)
    a = view["assignments"][0]
    day = max(date.fromisoformat(d["day"]) for d in a["schedule"] if d["pieces"] > 0)
    return {"order_id": order_id, "workshop_id": a["workshop"], "name_ko": a["name_ko"], "name_en": a["name_en"],
            "ready_at": ready_at(kiosk, day)}


@dataclass(frozen=True)
class Placed:
    code: str
    key: str
    ready_at: datetime


async def place(database: Database, telemetry: Any, settings: HubSettings, kiosk: KioskSettings, *,
                design: Design, options: dict, body: Any, lang: str, seen_ready: Optional[datetime],
                base_url: str, now: datetime, solver: Any = None) -> Placed:
    """The shopper's order: the promise asked again (never later than what they saw, else
    PromiseChanged with the new one), routed to a workshop as an offer, stored with its tracking key."""
    options = clean_options(design, options)
    promise = await quote(database, telemetry, settings, kiosk, design, now)
    if promise is None:
        raise NoCapacity()
    if seen_ready is None or promise.ready_at > seen_ready:
        raise PromiseChanged(promise)
    with database.session() as s:
        code = new_code(s)
    key = secrets.token_urlsafe(18)
    link = files_link(settings, kiosk, base_url, code, now)
    routed = await _route(database, telemetry, settings, kiosk, design, options, code, 1, promise, link, now, solver)
    if routed is None:
        raise PromiseChanged(await quote(database, telemetry, settings, kiosk, design, now))
    with database.session() as s:
        s.add(KioskOrder(code=code, key_hash=_key_hash(key), lang=lang, design=design.key, options=options,
                         body=body_dict(body), price_krw=price_krw(design, options),
                         planning_order_id=routed["order_id"], routes=1, workshop_id=routed["workshop_id"],
                         workshop_name_ko=routed["name_ko"], workshop_name_en=routed["name_en"], store=kiosk.store,
                         promised_at=routed["ready_at"], status="open", events=[], created_at=now))
    log.info("kiosk order %s placed with %s", code, routed["workshop_id"])  # never the body
    return Placed(code, key, routed["ready_at"])


def find(session: Any, code: str, key: str | None) -> Optional[KioskOrder]:
    """The order when the key is its tracking key (the QR code's link), else None."""
    row = session.get(KioskOrder, code)
    if row is None or not key or not hmac.compare_digest(row.key_hash, _key_hash(key)):
        return None
    return row


# ============================================================================ re-routing and progress
def _offers(database: Database, order_id: str) -> list[dict]:
    with database.session() as s:
        return planning.offers_for_order(s, order_id)


def _event(row: KioskOrder, kind: str, now: datetime, **fields: Any) -> None:
    row.events = [*row.events, {"kind": kind, "at": now.isoformat(), **fields}]


async def refresh(database: Database, telemetry: Any, settings: HubSettings, kiosk: KioskSettings, code: str,
                  now: datetime, solver: Any = None) -> None:
    """Move an open order on: when its workshop declined or let the offer expire, planning's
    re-plan moves it (same promise), or, when no workshop can keep that promise, a new route with
    the next promise the network can keep (the old route's planning order cancelled: nothing of it
    stays offered or booked); the tracking page reads the events."""
    with database.session() as s:
        row = s.get(KioskOrder, code)
        if row is None or row.status != "open":
            return
        order_id, route, design_key, options = row.planning_order_id, row.routes, row.design, dict(row.options)
        old = row.workshop_id
        old_name = (row.workshop_name_ko, row.workshop_name_en)
    offers = await _to_thread(_offers, database, order_id)
    live = [o for o in offers if o["status"] in ("offered", "accepted")]
    if live:
        return
    gone = sorted({o["workshop_id"] for o in offers if o["status"] in ("declined", "expired")})
    if not gone:
        return
    with database.session() as s:
        row = s.get(KioskOrder, code)
        if not any(e["kind"] == "rerouting" and e.get("route") == route for e in row.events):
            _event(row, "rerouting", now, route=route, old=old, old_ko=old_name[0], old_en=old_name[1])
    design = DESIGNS[design_key]
    with database.session() as s:
        record = plans.get_order(s, order_id)
    new_view = None
    if record is not None and record.status == "replanned":
        with database.session() as s:
            view = plans.plan_view(s, order_id)
        new_view = view if view["feasible"] else None
    elif record is not None and record.status == "accepted":
        try:
            planned = await plans.replan(database, telemetry, settings, order_id,
                                         plans.Change(declined=tuple(gone)), when=now, solver=solver)
        except plans.Conflict:
            return  # cancelled meanwhile (the shopper deleted their measurements): nothing to move
        new_view = planned.view if planned.view["feasible"] else None
    if new_view is not None and new_view["assignments"]:
        try:
            # The current version, whoever made it (planning's offer keeper re-plans a decline too).
            with database.session() as s:
                new_view = plans.accept(s, order_id, None, now, settings=settings)
        except plans.Conflict:
            return  # the newest version cannot be accepted: the next round looks again
        a = new_view["assignments"][0]
        day = max(date.fromisoformat(d["day"]) for d in a["schedule"] if d["pieces"] > 0)
        routed = {"order_id": order_id, "workshop_id": a["workshop"], "name_ko": a["name_ko"],
                  "name_en": a["name_en"], "ready_at": ready_at(kiosk, day)}
    else:
        # Nobody can keep the old promise: a new route, with the next promise the network can keep.
        with database.session() as s:
            row = s.get(KioskOrder, code)
            tried = tuple(sorted({*gone, *(e.get("old") for e in row.events if e.get("old"))}))
        promise = await quote(database, telemetry, settings, kiosk, design, now, exclude=tried)
        if promise is None:
            return  # said as "finding another workshop" until capacity frees up
        link = files_link(settings, kiosk, "", code, now) if kiosk.public_url else ""
        routed = await _route(database, telemetry, settings, kiosk, design, options, code, route + 1, promise,
                              link, now, solver)
        if routed is None:
            return
    with database.session() as s:
        row = s.get(KioskOrder, code)
        if row.status != "open":
            # The shopper cancelled while it was being moved: the new route goes too.
            if routed["order_id"] != row.planning_order_id:
                plans.cancel_order(s, routed["order_id"], now)
            return
        if routed["order_id"] != row.planning_order_id:
            # The old route's workshop is not making it: its offers withdrawn, its minutes freed,
            # in the same transaction that points the order at the new route.
            plans.cancel_order(s, row.planning_order_id, now)
            row.planning_order_id, row.routes = routed["order_id"], row.routes + 1
        row.workshop_id, row.workshop_name_ko, row.workshop_name_en = (routed["workshop_id"], routed["name_ko"],
                                                                      routed["name_en"])
        row.promised_at = routed["ready_at"]
        _event(row, "rerouted", now, route=route, old=old, old_ko=old_name[0], old_en=old_name[1],
               new=routed["workshop_id"], new_ko=routed["name_ko"], new_en=routed["name_en"],
               ready_at=routed["ready_at"].isoformat())
    log.info("kiosk order %s moved from %s to %s", code, old, routed["workshop_id"])


async def _to_thread(fn, *args):
    import anyio

    return await anyio.to_thread.run_sync(fn, *args)


def open_codes(database: Database) -> list[str]:
    with database.session() as s:
        return list(s.scalars(select(KioskOrder.code).where(KioskOrder.status == "open")))


async def reroute_all(database: Database, telemetry: Any, settings: HubSettings, kiosk: KioskSettings,
                      now: datetime | None = None, solver: Any = None) -> None:
    for code in await _to_thread(open_codes, database):
        try:
            await refresh(database, telemetry, settings, kiosk, code, now or datetime.now(timezone.utc), solver)
        except Exception:  # one order's trouble must not stop the others'
            log.exception("kiosk order %s: re-routing failed", code)


STAGES = ("received", "cutting", "sewing", "ready", "picked_up")


async def track(database: Database, telemetry: Any, settings: HubSettings, code: str, now: datetime) -> dict:
    """Where the order stands: stage (received → cutting → sewing → ready → picked up), the
    workshop's live stitches, the promise, the events. Marks it ready when the workshop counted it."""
    with database.session() as s:
        row = s.get(KioskOrder, code)
        snap = {c.name: getattr(row, c.name) for c in KioskOrder.__table__.columns if c.name not in ("body",)}
        snap["has_body"] = row.body is not None
    stitches = None
    stage = "received"
    if snap["status"] == "picked_up":
        stage = "picked_up"
    elif snap["status"] == "ready":
        stage = "ready"
    elif snap["status"] == "open":
        offers = await _to_thread(_offers, database, snap["planning_order_id"])
        if any(o["status"] == "accepted" for o in offers):
            stage = "cutting"
            progress = await planning.order_progress(database, telemetry, settings, snap["planning_order_id"], now)
            stitches = sum((w.get("stitches") or 0) for w in progress["workshops"].values())
            if stitches > 0 or (progress.get("estimated") or 0) > 0:
                stage = "sewing"
            if progress["counted"] >= 1:
                stage = "ready"
                with database.session() as s:
                    row = s.get(KioskOrder, code)
                    if row.status == "open":
                        row.status, row.ready_at = "ready", now
                snap["status"] = "ready"
    return {**snap, "stage": stage, "stitches": stitches,
            "promised_at": utc(snap["promised_at"]) if snap["promised_at"] else None}


def mark(database: Database, code: str, what: str, now: datetime) -> bool:
    """Staff at the store: `ready` (the garment arrived) or `picked_up` (handed over: the
    measurements are deleted there and then). False for no such order."""
    with database.session() as s:
        row = s.get(KioskOrder, code)
        if row is None:
            return False
        if what == "ready" and row.status == "open":
            row.status, row.ready_at = "ready", now
        elif what == "picked_up" and row.status in ("open", "ready"):
            row.status, row.picked_up_at = "picked_up", now
            row.body, row.body_deleted_at = None, now
    return True


def delete_body(database: Database, code: str, key: str, now: datetime) -> Optional[str]:
    """The shopper's request: the measurements deleted now. An order not made yet cannot be made
    without them, so it is cancelled, and its planning order with it (offers withdrawn, booked
    minutes released). The order's status after, or None for a wrong key."""
    with database.session() as s:
        row = find(s, code, key)
        if row is None:
            return None
        row.body, row.body_deleted_at = None, now
        if row.status == "open":
            row.status = "cancelled"
            _event(row, "cancelled", now)
            # The workshop is told (its offer withdrawn) and its machine time freed, together.
            plans.cancel_order(s, row.planning_order_id, now)
        return row.status


def staff_list(database: Database) -> list[dict]:
    with database.session() as s:
        rows = s.scalars(select(KioskOrder).where(KioskOrder.status.in_(("open", "ready")))
                         .order_by(KioskOrder.created_at.desc()).limit(200))
        return [{"code": r.code, "design": r.design, "status": r.status, "workshop_id": r.workshop_id,
                 "promised_at": utc(r.promised_at) if r.promised_at else None} for r in rows]


def pattern_for(database: Database, code: str) -> Optional[tuple[Any, Any, Design, dict]]:
    """(pattern, body, design, options) redrawn from the stored measurements; None once deleted."""
    with database.session() as s:
        row = s.get(KioskOrder, code)
        if row is None or row.body is None:
            return None
        body_data, design, options = dict(row.body), DESIGNS[row.design], dict(row.options)
    body = parts.Body(**body_data)
    return parts.draft(design.key, body, options), body, design, options
