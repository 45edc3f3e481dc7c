"""The registry's tables. Private to the registry: other capabilities read it through
hub.registry.service, which hands out plain dataclasses, never these rows.

Columns hold what hub.registry.csvio parses (checked there, not again here): text as given
(empty for an optional one), times as "HH:MM", lists of plain words as JSON arrays. Product
families live in tables of their own, one row per (record, family) with its position (the main
family first), so "who sews denim" is an indexed query on PostgreSQL and SQLite alike.
`updated_at` is when an import last added or changed the record: how old the declared figures are.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base


class Workshop(Base):
    __tablename__ = "registry_workshops"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the gateway's workshop id
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    dong: Mapped[str] = mapped_column(String(40), index=True)
    address_ko: Mapped[str] = mapped_column(String(300))
    address_en: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    operators: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[int] = mapped_column(Integer)
    opens: Mapped[str] = mapped_column(String(5))
    closes: Mapped[str] = mapped_column(String(5))
    lunch_start: Mapped[str] = mapped_column(String(5))
    lunch_minutes: Mapped[int] = mapped_column(Integer)
    workdays: Mapped[list[str]] = mapped_column(JSON)
    min_order_pieces: Mapped[int] = mapped_column(Integer)
    takes_samples: Mapped[bool] = mapped_column()
    declared_efficiency: Mapped[float] = mapped_column(Float)
    price_per_sam_minute_krw: Mapped[int] = mapped_column(Integer)
    price_level: Mapped[int] = mapped_column(Integer)
    on_time_rate: Mapped[float] = mapped_column(Float)
    orders_delivered: Mapped[int] = mapped_column(Integer)
    contact_channel: Mapped[str] = mapped_column(String(20))
    contact_phone: Mapped[str] = mapped_column(String(30))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkshopFamily(Base):
    __tablename__ = "registry_workshop_families"

    workshop_id: Mapped[str] = mapped_column(ForeignKey("registry_workshops.id", ondelete="CASCADE"),
                                             primary_key=True)
    family: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class Machine(Base):
    __tablename__ = "registry_machines"

    workshop_id: Mapped[str] = mapped_column(ForeignKey("registry_workshops.id", ondelete="CASCADE"),
                                             primary_key=True)
    #: The machine tag the workshop's gateway writes (its telemetry machine id).
    machine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The board on it; none while no board is fitted. One board, one machine.
    device_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    brand: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    max_spm: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Designer(Base):
    __tablename__ = "registry_designers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    building_ko: Mapped[str] = mapped_column(String(100))
    building_en: Mapped[str] = mapped_column(String(100))
    floor: Mapped[str] = mapped_column(String(20))
    stall: Mapped[str] = mapped_column(String(40))
    dong: Mapped[str] = mapped_column(String(40), index=True)
    address_ko: Mapped[str] = mapped_column(String(300))
    address_en: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    typical_order_pieces: Mapped[int] = mapped_column(Integer)
    styles_per_month: Mapped[int] = mapped_column(Integer)
    contact_channel: Mapped[str] = mapped_column(String(20))
    contact_phone: Mapped[str] = mapped_column(String(30))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DesignerFamily(Base):
    __tablename__ = "registry_designer_families"

    designer_id: Mapped[str] = mapped_column(ForeignKey("registry_designers.id", ondelete="CASCADE"),
                                             primary_key=True)
    family: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class Supplier(Base):
    __tablename__ = "registry_suppliers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    materials: Mapped[list[str]] = mapped_column(JSON)
    lead_days: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(40), index=True)
    city_ko: Mapped[str] = mapped_column(String(100))
    city_en: Mapped[str] = mapped_column(String(100))
    address_ko: Mapped[str] = mapped_column(String(300))
    address_en: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    contact_channel: Mapped[str] = mapped_column(String(20))
    contact_phone: Mapped[str] = mapped_column(String(30))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SupplierFamily(Base):
    __tablename__ = "registry_supplier_families"

    supplier_id: Mapped[str] = mapped_column(ForeignKey("registry_suppliers.id", ondelete="CASCADE"),
                                             primary_key=True)
    family: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
