"""An accepted plan becomes offers: one per workshop with pieces, the offers of workshops the plan no
longer uses withdrawn, and offers whose pieces did not change kept (with their answer), so a
re-plan that leaves a workshop alone does not ask its owner again.

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
    live = {o.workshop_id: o for o in session.scalars(
        select(Offer).where(Offer.order_id == order_id, Offer.status.in_(LIVE_STATES))
        .order_by(Offer.created_at))}
    respond_by = now + timedelta(hours=response_hours)
    for workshop, a in wanted.items():
        current = live.get(workshop)
        schedule = days.get(workshop, [])
        if current is not None and current.pieces == a.pieces:
            # Same pieces: the owner's answer stands; only the days may have moved.
            if current.plan_version != version or current.days != schedule:
                current.plan_version, current.days, current.updated_at = version, schedule, now
            continue
        if current is not None:
            current.status, current.updated_at = "withdrawn", now
        price = order.price_per_piece_krw
        if price is None and a.pieces:
            price = (a.cost or {}).get("sewing", 0) / a.pieces
        session.add(Offer(id=new_offer_id(), order_id=order_id, workshop_id=workshop, plan_version=version,
                          pieces=a.pieces, bundles=a.bundles, days=schedule,
                          price_per_piece_krw=None if price is None else round(price), status="offered",
                          created_at=now, respond_by=respond_by, answered_at=None, decline_reason=None,
                          updated_at=now))
    for workshop, current in live.items():
        if workshop not in wanted:
            current.status, current.updated_at = "withdrawn", now
    session.flush()
