"""Planning's tables: orders, their plans (every version kept), and the work an accepted plan books
on the workshops' machines. Private to planning: the API, the CLI, the pages and capacity (through
the CommitmentSource that hub.planning.service.AcceptedWork implements) read them through
hub.planning.service.

- `planning_orders`: the order as the coordinator gave it (every field of the engine's
  `Order`), its status, and which plan versions are current and accepted. Versions are named by
  number, with no foreign key back to the plans: a plan points at its order, never both ways.
- `planning_plans`: one row per (order, version), never changed afterwards except for the moment
  it is accepted. Version 1 is the first plan; planning again or re-planning adds the next one,
  saying which version it started from (`based_on`) and what changed (`change`). The solver's
  figures (method, status, objective, bound, gap, seconds) are columns; the explanations (why the
  order cannot be met and the nearest feasible alternatives, the strong candidates left out and
  why, how the candidates were filtered, the solver's details) are JSON as the engine gives them.
- `planning_assignments`: per plan and workshop, the pieces, bundles, pieces already started
  (a re-plan never moves them), the cost and the reasons it was chosen.
- `planning_assignment_days`: per plan, workshop and local day, the pieces to sew and the
  SAM-minutes they take on each machine type.
- `planning_commitments`: SAM-minutes per workshop, machine type and day that an order's
  accepted plan books (its days' pieces × SAM on that type); written when a version is accepted,
  replaced when another one is. Capacity subtracts them as "committed to accepted work".

Portable types only (hub.core.db): the same tables on PostgreSQL and SQLite.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base

#: The order's states. planned: its current plan is feasible and waits to be accepted;
#: infeasible: its current plan cannot meet it (the plan says why and what could);
#: accepted: its current plan is the accepted one; replanned: accepted earlier, and a newer plan
#: waits to be accepted (the accepted one still books the workshops' machines); cancelled: taken
#: back (hub.planning.service.cancel_order): its offers withdrawn, its booking released, never
#: planned or accepted again (its versions stay, for the record).
ORDER_STATES = ("draft", "planned", "infeasible", "accepted", "replanned", "cancelled")


class Order(Base):
    __tablename__ = "planning_orders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    style: Mapped[str] = mapped_column(String(200))
    family: Mapped[str] = mapped_column(String(40), index=True)
    #: Standard minutes per piece on each machine type: {"lockstitch": 3.6, "overlock": 1.8}.
    sam_minutes: Mapped[dict[str, float]] = mapped_column(JSON)
    quantity: Mapped[int] = mapped_column(Integer)
    due: Mapped[date] = mapped_column(Date)
    bundle_size: Mapped[int] = mapped_column(Integer)
    min_lot: Mapped[int] = mapped_column(Integer)
    max_workshops: Mapped[int] = mapped_column(Integer)
    price_per_piece_krw: Mapped[float | None] = mapped_column(Float)
    #: The cutting room the panels leave from; both None when transport is not costed.
    panels_lat: Mapped[float | None] = mapped_column(Float)
    panels_lon: Mapped[float | None] = mapped_column(Float)
    panels_ready: Mapped[date | None] = mapped_column(Date)
    transport_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    current_version: Mapped[int | None] = mapped_column(Integer)
    accepted_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Plan(Base):
    __tablename__ = "planning_plans"

    order_id: Mapped[str] = mapped_column(ForeignKey("planning_orders.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    feasible: Mapped[bool] = mapped_column()
    #: How it was solved (cp-sat | greedy | largest-first) and how that ended
    #: (optimal | feasible | infeasible | unknown | not_run).
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    objective: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    pieces: Mapped[int] = mapped_column(Integer)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    #: The cost's parts in KRW (sewing, fixed, transport, late_risk, split, total).
    cost: Mapped[dict[str, float]] = mapped_column(JSON)
    expected_late_pieces: Mapped[float] = mapped_column(Float)
    #: {"reasons", "alternatives", "left_out", "funnel", "solve"}, as the engine gives them.
    explanations: Mapped[dict] = mapped_column(JSON)
    based_on: Mapped[int | None] = mapped_column(Integer)
    change: Mapped[dict | None] = mapped_column(JSON)
    #: Pieces taken from the workshop the `based_on` version gave them to.
    moved_pieces: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Assignment(Base):
    __tablename__ = "planning_assignments"
    __table_args__ = (
        ForeignKeyConstraint(["order_id", "version"], ["planning_plans.order_id", "planning_plans.version"],
                             name="fk_planning_assignments_plan", ondelete="CASCADE"),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)  # the engine's order: most pieces first
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    pieces: Mapped[int] = mapped_column(Integer)
    bundles: Mapped[int] = mapped_column(Integer)
    started: Mapped[int] = mapped_column(Integer)
    capacity_pieces: Mapped[int] = mapped_column(Integer)
    binding_machine_type: Mapped[str | None] = mapped_column(String(40))
    distance_km: Mapped[float] = mapped_column(Float)
    on_time_rate: Mapped[float] = mapped_column(Float)
    orders_delivered: Mapped[int] = mapped_column(Integer)
    expected_late_pieces: Mapped[float] = mapped_column(Float)
    cost: Mapped[dict[str, float]] = mapped_column(JSON)
    per_piece_krw: Mapped[float] = mapped_column(Float)
    #: [{"code", "ko", "en", "figures"}]: why it was chosen.
    reasons: Mapped[list[dict]] = mapped_column(JSON)


class AssignmentDay(Base):
    __tablename__ = "planning_assignment_days"
    __table_args__ = (
        ForeignKeyConstraint(["order_id", "version", "workshop_id"],
                             ["planning_assignments.order_id", "planning_assignments.version",
                              "planning_assignments.workshop_id"],
                             name="fk_planning_assignment_days_assignment", ondelete="CASCADE"),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    pieces: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)  # the most pieces it could sew that day
    #: SAM-minutes the day's pieces take on each machine type.
    minutes: Mapped[dict[str, float]] = mapped_column(JSON)


class Commitment(Base):
    __tablename__ = "planning_commitments"
    __table_args__ = (Index("ix_planning_commitments_workshop_day", "workshop_id", "day"),)

    order_id: Mapped[str] = mapped_column(ForeignKey("planning_orders.id", ondelete="CASCADE"), primary_key=True)
    workshop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    machine_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)  # the accepted version that booked it
    minutes: Mapped[float] = mapped_column(Float)
