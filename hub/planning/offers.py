"""Work offers: what an accepted plan asks of each workshop, the tokens its gateway pulls them with,
the owners' answers and reports (each applied once), the signed phone link, expiry, and the
re-plan a decline or an expiry sets off. Plain Python; no web. docs/offer-contract.md is the
contract with the gateway.

    token = issue_workshop_token(session, "ws-001")              # printed once, stored as a hash
    doc, etag = workshop_document(session, "ws-001", now)        # what the gateway shows
    results = apply_answers(db, "ws-001", answers, reports, now) # each answer_id / report_id once
    await expire_offers(db, telemetry, settings, now)            # expire, then re-plan what needs it
    offers_for_order(session, order_id)                          # the coordinator's view (console)

Offers are made by hub.planning.service.accept (through hub.planning.offer_sync). A decline or an
expiry leaves the order with a workshop that will not sew its share: `pending_replans` finds such
orders from the tables alone (so a hub that restarts between the answer and the re-plan still
re-plans), and `replan_declined` re-plans each from its accepted version with every such workshop
declined and the pieces owners counted as started. The new version waits as a proposal (order
status `replanned`); nothing is accepted for the coordinator.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import registry
from hub.core.auth import sign
from hub.core.db import Database, utc
from hub.core.settings import HubSettings
from hub.planning import service
from hub.planning.offer_tables import DECLINE_REASONS, LIVE_STATES, Offer, OfferAnswer, OfferReport, WorkshopToken
from hub.planning.tables import Order as OrderRow

log = logging.getLogger("sewnet.hub.planning.offers")

__all__ = ["AnswerIn", "ReportIn", "apply_answers", "check_link", "expire_offers", "issue_workshop_token",
           "list_workshop_tokens", "offer_link", "offer_view", "offers_for_order", "offers_for_workshop",
           "pending_replans", "replan_behind", "replan_declined", "revoke_workshop_tokens", "workshop_document",
           "workshop_for_token"]

#: Offers stay on the workshop's page this long past their order's due date (answered ones too).
SHOWN_PAST_DUE = timedelta(days=14)
REASON_WORDS = {
    "no_capacity": ("일손이 모자람", "not enough capacity"),
    "machines_busy": ("기계가 다른 일을 하는 중", "machines busy with other work"),
    "price_too_low": ("단가가 낮음", "price too low"),
    "due_too_soon": ("납기가 너무 빠름", "due too soon"),
    "other": ("기타", "other"),
}
STATUS_WORDS = {
    "offered": ("답변 기다리는 중", "waiting for an answer"),
    "accepted": ("수락함", "accepted"),
    "declined": ("거절함", "declined"),
    "expired": ("답변 기한이 지남", "expired: no answer in time"),
    "withdrawn": ("계획이 바뀌어 취소됨", "withdrawn: the plan changed"),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(t: datetime | None) -> str | None:
    return utc(t).isoformat() if t is not None else None


# ============================================================================ workshop tokens
def token_hash(token: str) -> str:
    """What the table keeps of a token: its SHA-256, hex (the contract's token_id)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_workshop_token(session: Session, workshop_id: str, now: datetime | None = None) -> str:
    """A new token for the workshop's gateway; only its hash is stored, so this is the one time it
    is seen. service.NotFound for a workshop the registry does not know."""
    if registry.workshop(session, workshop_id) is None:
        raise service.NotFound(workshop_id)
    token = "swk_" + secrets.token_urlsafe(32)
    session.add(WorkshopToken(token_id=token_hash(token), workshop_id=workshop_id, created_at=now or _now(),
                              revoked_at=None))
    session.flush()
    return token


def list_workshop_tokens(session: Session, workshop_id: str | None = None) -> list[dict]:
    query = select(WorkshopToken).order_by(WorkshopToken.workshop_id, WorkshopToken.created_at)
    if workshop_id is not None:
        query = query.where(WorkshopToken.workshop_id == workshop_id)
    return [{"workshop_id": t.workshop_id, "token_id": t.token_id, "created_at": _iso(t.created_at),
             "revoked_at": _iso(t.revoked_at)} for t in session.scalars(query)]


def revoke_workshop_tokens(session: Session, workshop_id: str, token_id: str | None = None,
                           now: datetime | None = None) -> int:
    """Revoke the workshop's tokens (only the one whose id starts with `token_id`, when given);
    returns how many were revoked."""
    query = select(WorkshopToken).where(WorkshopToken.workshop_id == workshop_id,
                                        WorkshopToken.revoked_at.is_(None))
    if token_id:
        query = query.where(WorkshopToken.token_id.startswith(token_id.lower(), autoescape=True))
    rows = list(session.scalars(query))
    for row in rows:
        row.revoked_at = now or _now()
    session.flush()
    return len(rows)


def workshop_for_token(session: Session, token: str) -> str | None:
    """The workshop a presented, unrevoked token belongs to, else None. Looked up by its hash: the
    hash of a wrong guess tells nothing about a right one."""
    if not token or len(token) > 256:
        return None
    row = session.get(WorkshopToken, token_hash(token))
    return row.workshop_id if row is not None and row.revoked_at is None else None


# ============================================================================ what a workshop sees
def _progress_brief(progress: Mapping[str, Any] | None) -> dict:
    p = progress or {}
    return {"counted": int(p.get("counted") or 0), "estimated": int(p.get("estimated") or 0),
            "stitches_per_piece": p.get("stitches_per_piece")}


def offer_view(offer: Offer, order: OrderRow, progress: Mapping[str, Any] | None = None) -> dict:
    """An offer as the contract's gateway document has it."""
    record = service.order_from_row(order)
    return {"id": offer.id, "order_id": offer.order_id, "plan_version": offer.plan_version, "style": order.style,
            "family": order.family, "pieces": offer.pieces, "bundles": offer.bundles,
            "bundle_size": order.bundle_size, "days": list(offer.days), "sam_minutes": dict(order.sam_minutes),
            "price_per_piece_krw": offer.price_per_piece_krw,
            "due": record.order.last_sewing_day.isoformat(), "respond_by": _iso(offer.respond_by),
            "status": offer.status, "answered_at": _iso(offer.answered_at), "decline_reason": offer.decline_reason,
            "changed": dict(offer.changed) if offer.changed else None, "adds_to": offer.adds_to,
            "progress": _progress_brief(progress)}


def _shown_offers(session: Session, workshop_id: str, now: datetime) -> list[tuple[Offer, OrderRow]]:
    oldest_due = service.today_in_seoul(now) - SHOWN_PAST_DUE
    return list(session.execute(
        select(Offer, OrderRow).join(OrderRow, OrderRow.id == Offer.order_id)
        .where(Offer.workshop_id == workshop_id, OrderRow.due >= oldest_due)
        .order_by(Offer.created_at, Offer.id)).all())


def workshop_document(session: Session, workshop_id: str, now: datetime | None = None,
                      progress: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[dict, str]:
    """The gateway's document and its ETag (without quotes): every offer to the workshop whose order
    is due no more than 14 days ago. `progress` by offer id (hub.planning.progress). The ETag
    hashes everything but `server_time`, so it changes exactly when what the workshop sees does."""
    now = now or _now()
    offers = [offer_view(o, order, (progress or {}).get(o.id)) for o, order in _shown_offers(session, workshop_id, now)]
    content = json.dumps({"workshop": workshop_id, "offers": offers}, separators=(",", ":"), ensure_ascii=False,
                         sort_keys=True)
    etag = hashlib.sha256(content.encode()).hexdigest()[:20]
    return {"workshop": workshop_id, "revision": etag, "server_time": now.isoformat(), "offers": offers}, etag


def shown_offer_ids(session: Session, workshop_id: str, now: datetime | None = None) -> list[tuple[str, str, str]]:
    """(offer id, order id, status) of the offers the workshop's document shows."""
    return [(o.id, o.order_id, o.status) for o, _ in _shown_offers(session, workshop_id, now or _now())]


# ============================================================================ answers and reports
@dataclass(frozen=True)
class AnswerIn:
    answer_id: str
    offer_id: str
    answer: str  # accept | decline
    reason: Optional[str]
    answered_at: datetime


@dataclass(frozen=True)
class ReportIn:
    report_id: str
    kind: str  # count | assign
    offer_id: str
    at: datetime
    pieces: Optional[int] = None
    machines: Optional[tuple[str, ...]] = None


def _result(item_key: str, item_id: str, result: str, ko: str, en: str) -> dict:
    return {item_key: item_id, "result": result, "reason": f"{ko} / {en}"}


def _judge_answer(offer: Offer | None, workshop_id: str, a: AnswerIn, now: datetime) -> tuple[str, str, str]:
    """(result, ko, en) for an answer to `offer` (locked by the caller), not yet applied."""
    if offer is None or offer.workshop_id != workshop_id:
        return "refused", f"이 작업장에 {a.offer_id} 제안이 없습니다", f"no offer {a.offer_id} for this workshop"
    if offer.status in ("expired", "withdrawn"):
        ko, en = STATUS_WORDS[offer.status]
        return "too_late", f"이미 끝난 제안입니다: {ko}", f"too late: the offer is {en}"
    if a.answer == "decline" and a.reason is None:
        return "refused", "거절하려면 이유를 골라 주세요", "a decline needs a reason"
    wanted = "accepted" if a.answer == "accept" else "declined"
    if offer.status == wanted:
        return "duplicate", f"이미 {STATUS_WORDS[wanted][0]}", f"already {wanted}"
    if offer.status != "offered":
        return ("refused", f"이미 다르게 답했습니다: {STATUS_WORDS[offer.status][0]}",
                f"already answered the other way: {offer.status}")
    if now > utc(offer.respond_by) and a.answered_at > utc(offer.respond_by):
        # Not marked expired yet (the check runs every minute), but past its deadline when tapped.
        return "too_late", "답변 기한이 지났습니다", "too late: the answer came after the deadline"
    return "applied", "반영했습니다", "applied"


def _apply_answer(database: Database, workshop_id: str, a: AnswerIn, now: datetime) -> tuple[dict, str | None]:
    """One answer in its own transaction; (result, order id to re-plan when a decline applied)."""
    try:
        with database.session() as session:
            if session.get(OfferAnswer, a.answer_id) is not None:
                return _result("answer_id", a.answer_id, "duplicate", "이미 받은 답변입니다",
                               "this answer was received before"), None
            # The offer row locked: two answers to one offer are judged one after the other.
            offer = session.scalar(select(Offer).where(Offer.id == a.offer_id).with_for_update())
            result, ko, en = _judge_answer(offer, workshop_id, a, now)
            replan = None
            if result == "applied":
                offer.status = "accepted" if a.answer == "accept" else "declined"
                # The owner's tap, not the upload's arrival, unless the gateway's clock runs ahead.
                offer.answered_at = min(a.answered_at, now)
                offer.decline_reason = a.reason if a.answer == "decline" else None
                offer.updated_at = now
                replan = offer.order_id if a.answer == "decline" else None
            session.add(OfferAnswer(answer_id=a.answer_id, workshop_id=workshop_id, offer_id=a.offer_id,
                                    answer=a.answer, reason=a.reason, answered_at=a.answered_at, received_at=now,
                                    result=result))
            session.flush()
    except IntegrityError:  # the same answer_id arrived twice at the same moment: the other copy won
        return _result("answer_id", a.answer_id, "duplicate", "이미 받은 답변입니다",
                       "this answer was received before"), None
    return _result("answer_id", a.answer_id, result, ko, en), replan


def _apply_report(database: Database, workshop_id: str, r: ReportIn, now: datetime) -> dict:
    try:
        with database.session() as session:
            if session.get(OfferReport, r.report_id) is not None:
                return _result("report_id", r.report_id, "duplicate", "이미 받은 보고입니다",
                               "this report was received before")
            offer = session.get(Offer, r.offer_id)
            result, ko, en = "applied", "반영했습니다", "applied"
            if offer is None or offer.workshop_id != workshop_id:
                result, ko, en = ("refused", f"이 작업장에 {r.offer_id} 제안이 없습니다",
                                  f"no offer {r.offer_id} for this workshop")
            elif offer.status != "accepted" and not (r.kind == "assign" and not r.machines):
                # Freeing machines (an empty list) is always fine; work is only done on accepted offers.
                result, ko, en = ("refused", f"수락한 제안이 아닙니다: {STATUS_WORDS[offer.status][0]}",
                                  f"not an accepted offer: it is {offer.status}")
            elif r.kind == "count" and r.pieces is not None and r.pieces > offer.pieces:
                result, ko, en = ("refused", f"센 수량 {r.pieces:,}벌이 맡은 {offer.pieces:,}벌보다 많습니다",
                                  f"{r.pieces:,} pieces counted is more than the {offer.pieces:,} offered")
            session.add(OfferReport(report_id=r.report_id, workshop_id=workshop_id, offer_id=r.offer_id,
                                    order_id=offer.order_id if offer is not None else None, kind=r.kind,
                                    pieces=r.pieces, machines=list(r.machines) if r.machines is not None else None,
                                    at=min(r.at, now), received_at=now, result=result))
            session.flush()
    except IntegrityError:
        return _result("report_id", r.report_id, "duplicate", "이미 받은 보고입니다", "this report was received before")
    return _result("report_id", r.report_id, result, ko, en)


def apply_answers(database: Database, workshop_id: str, answers: Sequence[AnswerIn], reports: Sequence[ReportIn],
                  now: datetime | None = None) -> tuple[dict, set[str]]:
    """Apply each answer and report once (its own transaction; a repeat is `duplicate` and changes
    nothing). Returns the contract's response body and the orders a decline leaves to re-plan."""
    now = now or _now()
    out_answers, replan = [], set()
    for a in answers:
        result, order_id = _apply_answer(database, workshop_id, a, now)
        out_answers.append(result)
        if order_id:
            replan.add(order_id)
    out_reports = [_apply_report(database, workshop_id, r, now) for r in reports]
    return {"answers": out_answers, "reports": out_reports}, replan


# ============================================================================ the phone link
def _link_sig(settings: HubSettings, offer_id: str, exp: int) -> str:
    return sign(settings.session_key(), f"offer-link:{offer_id}:{exp}")


def offer_link(settings: HubSettings, offer_id: str, hours: float = 72, now: datetime | None = None) -> str:
    """The path of a link that shows this one offer to its workshop until `hours` from now, signed
    with the hub's session key (the signature is the credential: no login for that page)."""
    exp = int(((now or _now()) + timedelta(hours=hours)).timestamp())
    return f"/offer/{offer_id}?exp={exp}&sig={_link_sig(settings, offer_id, exp)}"


def check_link(settings: HubSettings, offer_id: str, exp: str | int | None, sig: str | None,
               now: datetime | None = None) -> str:
    """"ok", "expired" or "tampered" (a signature that does not match, or a missing part)."""
    try:
        exp_i = int(exp) if exp is not None else None
    except (TypeError, ValueError):
        exp_i = None
    if exp_i is None or not sig or len(sig) > 100:
        return "tampered"
    if not hmac.compare_digest(sig.encode(), _link_sig(settings, offer_id, exp_i).encode()):
        return "tampered"
    return "expired" if exp_i < (now or _now()).timestamp() else "ok"


# ============================================================================ expiry and re-plans
def _expire(session: Session, now: datetime) -> list[str]:
    rows = list(session.scalars(select(Offer).where(Offer.status == "offered", Offer.respond_by < now)
                                .with_for_update()))
    for o in rows:
        o.status, o.updated_at = "expired", now
    session.flush()
    return [o.id for o in rows]


def pending_replans(session: Session) -> dict[str, tuple[str, ...]]:
    """Orders whose accepted plan has a workshop that declined or let its offer expire, and no plan
    version made since the latest such answer (by this re-plan or by the coordinator planning
    again, whose plan is not to be overridden): {order id: the workshops to leave out}."""
    out: dict[str, set[str]] = {}
    latest: dict[str, datetime] = {}
    for offer, order in session.execute(
            select(Offer, OrderRow).join(OrderRow, OrderRow.id == Offer.order_id)
            .where(Offer.status.in_(("declined", "expired")), Offer.plan_version == OrderRow.accepted_version,
                   OrderRow.status != "cancelled")):  # a cancelled order is not re-planned
        out.setdefault(order.id, set()).add(offer.workshop_id)
        latest[order.id] = max(latest.get(order.id, utc(offer.updated_at)), utc(offer.updated_at))
    pending = {}
    for order_id, workshops in out.items():
        order = session.get(OrderRow, order_id)
        newer = [v for v in service.plan_versions(session, order_id)
                 if v["version"] > order.accepted_version and datetime.fromisoformat(v["created_at"]) >= latest[order_id]]
        if not newer:
            pending[order_id] = tuple(sorted(workshops))
    return pending


def _started(session: Session, order_id: str, version: int) -> dict[str, int]:
    """The pieces owners counted per workshop of the accepted plan (a re-plan never moves them)."""
    from hub.planning import progress as progress_mod

    pieces = {a["workshop"]: a["pieces"] for a in service.plan_view(session, order_id, version)["assignments"]}
    workshop_of = dict(session.execute(select(Offer.id, Offer.workshop_id).where(Offer.order_id == order_id)).all())
    out: dict[str, int] = {}
    # Each offer's count is its own running total: a workshop's are added up.
    for offer_id, (n, _) in progress_mod.latest_counts(session, order_id).items():
        w = workshop_of.get(offer_id)
        if w in pieces:
            out[w] = out.get(w, 0) + n
    return {w: min(n, pieces[w]) for w, n in out.items() if n > 0}


def _held(session: Session, order_id: str, workshops: Sequence[str]) -> dict[str, int]:
    """Pieces the `workshops` still hold in accepted offers of the order (those that declined or let
    expire only the extra a re-plan asked of them)."""
    out: dict[str, int] = {}
    for o in session.scalars(select(Offer).where(Offer.order_id == order_id, Offer.status == "accepted",
                                                 Offer.workshop_id.in_(list(workshops)))):
        out[o.workshop_id] = out.get(o.workshop_id, 0) + o.pieces
    return out


async def replan_declined(database: Database, telemetry: Any, settings: HubSettings, order_id: str,
                          declined: Sequence[str], when: datetime | None = None, solver: Any = None) -> dict | None:
    """Re-plan the order from its accepted version without the `declined` workshops, keeping what
    owners counted as started; the new version is a proposal (order status `replanned`). The plan
    view, or None when there is nothing to re-plan any more."""
    import anyio

    def started() -> tuple[dict[str, int], dict[str, int]] | None:
        with database.session() as session:
            order = session.get(OrderRow, order_id)
            if order is None or order.accepted_version is None:
                return None
            return _started(session, order_id, order.accepted_version), _held(session, order_id, declined)

    found = await anyio.to_thread.run_sync(started)
    if found is None:
        return None
    counted, held = found
    # A workshop that declined only the extra pieces keeps the share it accepted: capped, not declined.
    change = service.Change(declined=tuple(w for w in declined if w not in held), started=counted,
                            capped={w: max(n, counted.get(w, 0)) for w, n in held.items()},
                            note="제안 거절 또는 답변 기한 지남 / offer declined or expired: " + ", ".join(declined))
    try:
        planned = await service.replan(database, telemetry, settings, order_id, change, when=when, solver=solver)
    except (service.NotFound, service.Conflict) as e:
        log.warning("order %s: no re-plan after %s: %s", order_id, ", ".join(declined), e)
        return None
    except IntegrityError:  # another hub worker re-planned it at the same moment
        return None
    view = planned.view
    log.info("order %s re-planned without %s: v%d (%s), waiting for the coordinator", order_id,
             ", ".join(declined), view["version"], "feasible" if view["feasible"] else "cannot meet the order")
    return view


async def replan_behind(database: Database, telemetry: Any, settings: HubSettings, order_id: str,
                        when: datetime | None = None, cache: Any = None, solver: Any = None) -> dict | None:
    """Re-plan an order that is behind plan (hub.planning.progress: done short of planned by now
    by more than `behind_threshold`) with progress.behind_change: each workshop behind keeps the
    share of its capacity its pace shows, done pieces stay. Stored as the next version, a proposal
    (order status `replanned`), never accepted here. The plan view, or None when nothing is behind.
    service.NotFound, Conflict (no accepted plan to start from), ChangeRefused as service.replan."""
    from hub.planning import progress as progress_mod

    import anyio

    def exists() -> bool:
        with database.session() as session:
            return session.get(OrderRow, order_id) is not None

    if not await anyio.to_thread.run_sync(exists):
        raise service.NotFound(order_id)
    when = when or _now()
    found = await progress_mod.order_progress(database, telemetry, settings, order_id, when)
    change = progress_mod.behind_change(found)
    if change is None:
        return None
    planned = await service.replan(database, telemetry, settings, order_id, change, when=when, cache=cache,
                                   solver=solver)
    log.info("order %s behind plan (%s): re-plan v%d proposed", order_id, ", ".join(found["behind_workshops"]),
             planned.view["version"])
    return planned.view


async def expire_offers(database: Database, telemetry: Any, settings: HubSettings, now: datetime | None = None,
                        solver: Any = None) -> dict:
    """Expire the offers past their deadline at `now`, then re-plan every order a decline or an
    expiry left short (pending_replans). {"expired": [offer ids], "replanned": {order id: version}}."""
    import anyio

    now = now or _now()

    def step() -> tuple[list[str], dict[str, tuple[str, ...]]]:
        with database.session() as session:
            expired = _expire(session, now)
        with database.session() as session:
            return expired, pending_replans(session)

    expired, pending = await anyio.to_thread.run_sync(step)
    if expired:
        log.info("%d offer(s) expired unanswered: %s", len(expired), ", ".join(expired))
    replanned = {}
    for order_id, workshops in pending.items():
        view = await replan_declined(database, telemetry, settings, order_id, workshops, when=now, solver=solver)
        if view is not None:
            replanned[order_id] = view["version"]
    return {"expired": expired, "replanned": replanned}


# ============================================================================ the coordinator's view
def _offer_row_view(offer: Offer, names: Mapping[str, tuple[str, str]], progress: Mapping[str, Any] | None) -> dict:
    name_ko, name_en = names.get(offer.workshop_id, (offer.workshop_id, offer.workshop_id))
    status_ko, status_en = STATUS_WORDS[offer.status]
    reason = REASON_WORDS.get(offer.decline_reason or "")
    return {"id": offer.id, "order_id": offer.order_id, "workshop_id": offer.workshop_id, "workshop_name_ko": name_ko,
            "workshop_name_en": name_en, "plan_version": offer.plan_version, "pieces": offer.pieces,
            "bundles": offer.bundles, "days": list(offer.days), "price_per_piece_krw": offer.price_per_piece_krw,
            "status": offer.status, "status_ko": status_ko, "status_en": status_en,
            "created_at": _iso(offer.created_at), "respond_by": _iso(offer.respond_by),
            "answered_at": _iso(offer.answered_at), "decline_reason": offer.decline_reason,
            "decline_reason_ko": reason[0] if reason else None, "decline_reason_en": reason[1] if reason else None,
            "progress": dict(progress) if progress is not None else None}


def _names(session: Session, offers: Sequence[Offer]) -> dict[str, tuple[str, str]]:
    ids = sorted({o.workshop_id for o in offers})
    return {w.id: (w.name_ko, w.name_en) for w in registry.workshops(session, ids=ids)} if ids else {}


def offers_for_order(session: Session, order_id: str, progress: Mapping[str, Mapping[str, Any]] | None = None,
                     now: datetime | None = None) -> list[dict]:
    """Every offer of the order, oldest first: workshop id and names, pieces, days, status (with
    words), respond_by, answered_at, decline_reason (with words), and progress. `progress` by
    offer id is hub.planning.progress.order_progress's `offers` (estimates need telemetry, so the
    caller reads it); without it, progress from the owners' counts alone (estimated None).
    service.NotFound for an unknown order."""
    from hub.planning import progress as progress_mod

    if session.get(OrderRow, order_id) is None:
        raise service.NotFound(order_id)
    offers = list(session.scalars(select(Offer).where(Offer.order_id == order_id)
                                  .order_by(Offer.created_at, Offer.workshop_id)))
    if progress is None:
        progress = progress_mod.counted_only(session, settings=None, order_id=order_id, now=now or _now())
    names = _names(session, offers)
    return [_offer_row_view(o, names, progress.get(o.id)) for o in offers]


def offers_for_workshop(session: Session, workshop_id: str, now: datetime | None = None,
                        include_old: bool = False) -> list[dict]:
    """The workshop's offers, newest first, in the coordinator's shape (progress from counts only);
    by default only those its gateway still shows (orders due no more than 14 days ago)."""
    from hub.planning import progress as progress_mod

    now = now or _now()
    query = select(Offer).where(Offer.workshop_id == workshop_id).order_by(Offer.created_at.desc(), Offer.id)
    if not include_old:
        query = query.join(OrderRow, OrderRow.id == Offer.order_id).where(
            OrderRow.due >= service.today_in_seoul(now) - SHOWN_PAST_DUE)
    offers = list(session.scalars(query))
    # The workshop's own accepted offers only: progress is per order and workshop, so the other
    # workshops of its orders need not be read.
    progress = progress_mod.counted_only(session, settings=None, now=now, workshop_id=workshop_id) if offers else {}
    names = _names(session, offers)
    return [_offer_row_view(o, names, progress.get(o.id)) for o in offers]


def live_offer_id(session: Session, order_id: str, workshop_id: str) -> str | None:
    """The workshop's newest offer of the order still waiting or accepted (the one its phone link
    and dispatch sheet point to), else None."""
    return session.scalar(select(Offer.id).where(Offer.order_id == order_id, Offer.workshop_id == workshop_id,
                                                 Offer.status.in_(LIVE_STATES))
                          .order_by(Offer.created_at.desc(), Offer.id.desc()).limit(1))


def offer_for_link(session: Session, offer_id: str, now: datetime | None = None) -> dict | None:
    """One offer for the phone link's page: the gateway's view plus the workshop's names; None
    for an unknown offer."""
    offer = session.get(Offer, offer_id)
    if offer is None:
        return None
    order = session.get(OrderRow, offer.order_id)
    view = offer_view(offer, order)
    names = _names(session, [offer])
    view["workshop_id"] = offer.workshop_id
    view["workshop_name_ko"], view["workshop_name_en"] = names.get(offer.workshop_id,
                                                                   (offer.workshop_id, offer.workshop_id))
    view["status_ko"], view["status_en"] = STATUS_WORDS[offer.status]
    view["decline_reason_words"] = REASON_WORDS.get(offer.decline_reason or "")
    view["open"] = offer.status == "offered" and utc(offer.respond_by) >= (now or _now())
    return view


def today(now: datetime) -> date:
    return service.today_in_seoul(now)


__all__ += ["DECLINE_REASONS", "LIVE_STATES", "REASON_WORDS", "STATUS_WORDS", "live_offer_id", "offer_for_link",
            "shown_offer_ids", "token_hash"]
