"""Offers' tables: the work an accepted plan offers each workshop, the workshops' tokens, and what
their gateways sent back (answers and reports, each kept under the id the gateway gave it, so a
repeat is recognised and applied once). Private to planning: read through hub.planning.offers.

- `planning_workshop_tokens`: one row per token a workshop's gateway holds, by the SHA-256 of the
  token (the token itself is never stored); revoked ones keep their row, with `revoked_at`.
- `planning_offers`: one row per offer. A re-plan that changes a workshop's pieces withdraws its
  offer and makes a new one; one that leaves them alone keeps the offer (and its answer).
- `planning_offer_answers`: every answer received, by the gateway's `answer_id`, with the result
  the hub gave it (applied, too_late, refused): the primary key makes "applied once" hold even
  when two copies arrive at the same moment.
- `planning_offer_reports`: the owner's counts of finished pieces and which machines work on which
  offer, by the gateway's `report_id`; progress is computed from them and the machines' stitches.

Portable types only (hub.core.db): the same tables on PostgreSQL and SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base

#: offered: waiting for the owner; accepted / declined: the owner answered; expired: nobody
#: answered by `respond_by`; withdrawn: a re-plan took the work away (or changed it: a new offer
#: then asks again).
OFFER_STATES = ("offered", "accepted", "declined", "expired", "withdrawn")
#: An open offer: one the workshop still holds or may still take.
LIVE_STATES = ("offered", "accepted")
DECLINE_REASONS = ("no_capacity", "machines_busy", "price_too_low", "due_too_soon", "other")


class WorkshopToken(Base):
    __tablename__ = "planning_workshop_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    workshop_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Offer(Base):
    __tablename__ = "planning_offers"
    __table_args__ = (Index("ix_planning_offers_order_workshop", "order_id", "workshop_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("planning_orders.id", ondelete="CASCADE"))
    workshop_id: Mapped[str] = mapped_column(String(64), index=True)
    #: The accepted plan version it stands for (a kept offer follows the newer accepted version).
    plan_version: Mapped[int] = mapped_column(Integer)
    pieces: Mapped[int] = mapped_column(Integer)
    bundles: Mapped[int] = mapped_column(Integer)
    #: [{"day": "YYYY-MM-DD", "pieces": n}], the plan's schedule for this workshop.
    days: Mapped[list[dict]] = mapped_column(JSON)
    price_per_piece_krw: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    respond_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(String(40))
    #: When it last changed (status, plan version, days): the workshop's document changes with it.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OfferAnswer(Base):
    __tablename__ = "planning_offer_answers"

    answer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workshop_id: Mapped[str] = mapped_column(String(64), index=True)
    offer_id: Mapped[str] = mapped_column(String(64))  # as sent: it may name no offer (refused)
    answer: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(String(20))  # applied | too_late | refused


class OfferReport(Base):
    __tablename__ = "planning_offer_reports"
    __table_args__ = (Index("ix_planning_offer_reports_workshop_at", "workshop_id", "at"),)

    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workshop_id: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))  # None when refused for an unknown offer
    kind: Mapped[str] = mapped_column(String(10))  # count | assign
    pieces: Mapped[int | None] = mapped_column(Integer)
    machines: Mapped[list[str] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(String(20))  # applied | refused
