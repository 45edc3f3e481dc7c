"""An accepted plan becomes offers: one per workshop with pieces, the offers of workshops the plan no
longer uses withdrawn, and offers whose pieces did not change kept (with their answer), so a
re-plan that leaves a workshop alone does not ask its owner again.

What the owner accepted is never taken back by a re-plan that keeps the workshop (owners plan
their machines around it, and their counts hang on it):
- fewer pieces or other days: the accepted offer stays accepted with the new pieces and days, and
  `changed` = {"from_pieces", "at"} tells the gateway what it was;
- more pieces: the accepted offer stays as it is and a second offer asks for the extra only
  (`adds_to` = the accepted offer's id). Declining or letting it expire leaves the accepted part
  in place (hub.planning.offers re-plans the extra elsewhere).
The workshop's days are split over its offers in the order they were made, earliest days first
(pieces a re-plan counts as started have no days: they come off the oldest offer's). An unanswered offer whose pieces change is withdrawn and
a new one asks again (its owner agreed to nothing yet).

Apart from hub.planning.offers because hub.planning.service.accept calls it (inside the accept's
own transaction: the plan is booked and offered together, or neither), and offers uses the service.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.planning.offer_tables import LIVE_STATES, Offer
from hub.planning.tables import Assignment, AssignmentDay
from hub.planning.tables import Order as OrderRow


def new_offer_id() -> str:
    return f"of-{secrets.token_hex(8)}"


def split_days(schedule: list[dict], sizes: list[int]) -> list[list[dict]]:
    """The schedule ([{"day", "pieces"}], in day order) cut into consecutive parts of `sizes`
    pieces: the first offer gets the earliest days. A schedule shorter than the sizes (pieces the
    engine left unscheduled as started) leaves the last parts short."""
    out: list[list[dict]] = []
    days = [dict(d) for d in schedule if d["pieces"] > 0]
    i = 0
    for size in sizes:
        part, left = [], size
        while left > 0 and i < len(days):
            take = min(left, days[i]["pieces"])
            part.append({"day": days[i]["day"], "pieces": take})
            days[i]["pieces"] -= take
            left -= take
            if days[i]["pieces"] == 0:
                i += 1
        out.append(part)
    return out


def _price(order: OrderRow, a: Assignment) -> int | None:
    price = order.price_per_piece_krw
    if price is None and a.pieces:
        price = (a.cost or {}).get("sewing", 0) / a.pieces
    return None if price is None else round(price)


def _new(order: OrderRow, a: Assignment, version: int, pieces: int, now: datetime, respond_by: datetime,
         adds_to: str | None = None) -> Offer:
    return Offer(id=new_offer_id(), order_id=order.id, workshop_id=a.workshop_id, plan_version=version,
                 pieces=pieces, bundles=-(-pieces // order.bundle_size), days=[], price_per_piece_krw=_price(order, a),
                 status="offered", created_at=now, respond_by=respond_by, answered_at=None, decline_reason=None,
                 updated_at=now, changed=None, adds_to=adds_to)


def _follow(offer: Offer, version: int, pieces: int, days: list[dict], bundle_size: int, now: datetime) -> None:
    """Bring a kept offer to the accepted version's pieces and days; an accepted one says it changed."""
    if offer.pieces == pieces and offer.days == days and offer.plan_version == version:
        return
    if offer.status == "accepted" and (offer.pieces != pieces or offer.days != days):
        offer.changed = {"from_pieces": offer.pieces, "at": now.isoformat()}
    offer.plan_version, offer.pieces, offer.days, offer.updated_at = version, pieces, days, now
    offer.bundles = -(-pieces // bundle_size)


def _sync_workshop(session: Session, order: OrderRow, a: Assignment, version: int, schedule: list[dict],
                   group: list[Offer], now: datetime, respond_by: datetime) -> None:
    """One workshop's offers of the order (`group`: its live ones, oldest first) to `a.pieces`."""
    accepted = [o for o in group if o.status == "accepted"]
    waiting = [o for o in group if o.status == "offered"]
    held = sum(o.pieces for o in accepted)
    if not accepted:
        if len(waiting) == 1 and waiting[0].pieces == a.pieces:
            # Same pieces: the owner may still answer it; only the days may have moved.
            _follow(waiting[0], version, a.pieces, schedule, order.bundle_size, now)
            return
        for o in waiting:
            o.status, o.updated_at = "withdrawn", now
        offer = _new(order, a, version, a.pieces, now, respond_by)
        offer.days = schedule
        session.add(offer)
        return
    extra = a.pieces - held
    keep = waiting[0] if extra > 0 and len(waiting) == 1 and waiting[0].pieces == extra else None
    for o in waiting:
        if o is not keep:
            o.status, o.updated_at = "withdrawn", now
    sizes = [o.pieces for o in accepted]
    if extra < 0:
        # Fewer pieces: taken from the newest accepted offers first (the first one is the owner's
        # original share); one left with none is withdrawn, the first one never (a == 0 is handled
        # by the caller: the workshop left the plan).
        cut = -extra
        for i in range(len(sizes) - 1, -1, -1):
            take = min(cut, sizes[i] if i else sizes[i] - 1)
            sizes[i] -= take
            cut -= take
    # Pieces a re-plan counts as started are not in its days (hub.planning.allocation.schedule):
    # they are the oldest offer's, so the days left to sew fill it last and the extra gets its own.
    wanted = sizes + ([extra] if extra > 0 else [])
    unscheduled = max(0, a.pieces - sum(d["pieces"] for d in schedule))
    to_sew = []
    for size in wanted:
        off = min(size, unscheduled)
        unscheduled -= off
        to_sew.append(size - off)
    parts = split_days(schedule, to_sew)
    for o, size, days in zip(accepted, sizes, parts):
        if size == 0:
            o.changed = {"from_pieces": o.pieces, "at": now.isoformat()}
            o.status, o.updated_at = "withdrawn", now
        else:
            _follow(o, version, size, days, order.bundle_size, now)
    if extra > 0:
        if keep is not None:
            _follow(keep, version, extra, parts[-1], order.bundle_size, now)
        else:
            offer = _new(order, a, version, extra, now, respond_by, adds_to=accepted[0].id)
            offer.days = parts[-1]
            session.add(offer)


def sync_offers(session: Session, order_id: str, version: int, now: datetime, response_hours: float) -> None:
    """Make the order's offers match its accepted `version` (the caller holds the order locked)."""
    order = session.get(OrderRow, order_id)
    days: dict[str, list[dict]] = {}
    for d in session.scalars(select(AssignmentDay).where(AssignmentDay.order_id == order_id,
                                                         AssignmentDay.version == version)
                             .order_by(AssignmentDay.workshop_id, AssignmentDay.day)):
        if d.pieces > 0:
            days.setdefault(d.workshop_id, []).append({"day": d.day.isoformat(), "pieces": d.pieces})
    wanted = {a.workshop_id: a for a in session.scalars(
        select(Assignment).where(Assignment.order_id == order_id, Assignment.version == version,
                                 Assignment.pieces > 0))}
    live: dict[str, list[Offer]] = {}
    for o in session.scalars(select(Offer).where(Offer.order_id == order_id, Offer.status.in_(LIVE_STATES))
                             .order_by(Offer.created_at, Offer.id)):
        live.setdefault(o.workshop_id, []).append(o)
    respond_by = now + timedelta(hours=response_hours)
    for workshop, a in wanted.items():
        _sync_workshop(session, order, a, version, days.get(workshop, []), live.get(workshop, []), now, respond_by)
    for workshop, group in live.items():
        if workshop not in wanted:
            for current in group:
                current.status, current.updated_at = "withdrawn", now
    session.flush()


def withdraw_all(session: Session, order_id: str, now: datetime) -> list[str]:
    """Withdraw every live offer of the order (it was cancelled): the gateways show them withdrawn
    and refuse answers to them as too late. Pieces and `changed` stay as they were (the work did not
    change, it went). The ids."""
    out = []
    for o in session.scalars(select(Offer).where(Offer.order_id == order_id, Offer.status.in_(LIVE_STATES))
                             .order_by(Offer.created_at, Offer.id)):
        o.status, o.updated_at = "withdrawn", now
        out.append(o.id)
    session.flush()
    return out
