"""The kiosk's table: one row per shopper's order. Private to the kiosk.

`kiosk_orders` keeps what the order needs and no more: the design and options, the price, where
it was routed (the planning order it stands on, the workshop), the promise, the tracking key's
SHA-256 (never the key), and the shopper's measurements in `body` only until pick-up or until the
shopper deletes them (`body` then NULL, `body_deleted_at` says when). `events` tells the tracking
page what happened in words (a workshop declined, the order moved, the promise changed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base

#: open: with a workshop; ready: at the store; picked_up: handed over; cancelled: the shopper
#: deleted the measurements before it was made.
ORDER_STATES = ("open", "ready", "picked_up", "cancelled")


class KioskOrder(Base):
    __tablename__ = "kiosk_orders"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(2))
    design: Mapped[str] = mapped_column(String(20))
    options: Mapped[dict] = mapped_column(JSON)
    body: Mapped[dict | None] = mapped_column(JSON)
    price_krw: Mapped[int] = mapped_column(Integer)
    planning_order_id: Mapped[str] = mapped_column(String(64), index=True)
    routes: Mapped[int] = mapped_column(Integer)
    workshop_id: Mapped[str | None] = mapped_column(String(64))
    workshop_name_ko: Mapped[str | None] = mapped_column(String(200))
    workshop_name_en: Mapped[str | None] = mapped_column(String(200))
    store: Mapped[str] = mapped_column(String(200))
    promised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), index=True)
    events: Mapped[list[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    body_deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
