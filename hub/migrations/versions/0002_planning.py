"""Planning: orders, every version of their plans (assignments per workshop and day, the solver's
figures, explanations), and the minutes accepted plans book per workshop, machine type and day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _col(name: str, kind: sa.types.TypeEngine, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return _col(name, sa.String(length=length), nullable)


def _int(name: str, nullable: bool = False) -> sa.Column:
    return _col(name, sa.Integer(), nullable)


def _float(name: str, nullable: bool = False) -> sa.Column:
    return _col(name, sa.Float(), nullable)


def _when(name: str, nullable: bool = False) -> sa.Column:
    return _col(name, sa.DateTime(timezone=True), nullable)


def upgrade() -> None:
    op.create_table(
        "planning_orders",
        _text("id", 64), _text("style", 200), _text("family", 40),
        _col("sam_minutes", sa.JSON()),
        _int("quantity"), _col("due", sa.Date()),
        _int("bundle_size"), _int("min_lot"), _int("max_workshops"),
        _float("price_per_piece_krw", True),
        _float("panels_lat", True), _float("panels_lon", True), _col("panels_ready", sa.Date(), True),
        _int("transport_days"),
        _text("status", 20), _int("current_version", True), _int("accepted_version", True),
        _when("created_at"), _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_orders")),
    )
    for column in ("created_at", "family", "status"):
        op.create_index(op.f(f"ix_planning_orders_{column}"), "planning_orders", [column])

    op.create_table(
        "planning_commitments",
        _text("order_id", 64), _text("workshop_id", 64), _text("machine_type", 40), _col("day", sa.Date()),
        _int("version"), _float("minutes"),
        sa.ForeignKeyConstraint(["order_id"], ["planning_orders.id"],
                                name=op.f("fk_planning_commitments_order_id_planning_orders"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "workshop_id", "machine_type", "day",
                                name=op.f("pk_planning_commitments")),
    )
    # Capacity asks "what is booked on these workshops from this day to that one".
    op.create_index("ix_planning_commitments_workshop_day", "planning_commitments", ["workshop_id", "day"])

    op.create_table(
        "planning_plans",
        _text("order_id", 64), _int("version"),
        _col("feasible", sa.Boolean()), _text("method", 20), _text("status", 20),
        _float("objective", True), _float("bound", True), _float("gap", True), _float("seconds"),
        _int("pieces"), _col("first_day", sa.Date()), _col("last_day", sa.Date()),
        _col("cost", sa.JSON()), _float("expected_late_pieces"), _col("explanations", sa.JSON()),
        _int("based_on", True), _col("change", sa.JSON(), True), _int("moved_pieces", True),
        _when("created_at"), _when("accepted_at", True),
        sa.ForeignKeyConstraint(["order_id"], ["planning_orders.id"],
                                name=op.f("fk_planning_plans_order_id_planning_orders"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "version", name=op.f("pk_planning_plans")),
    )

    op.create_table(
        "planning_assignments",
        _text("order_id", 64), _int("version"), _text("workshop_id", 64), _int("position"),
        _text("name_ko", 200), _text("name_en", 200),
        _int("pieces"), _int("bundles"), _int("started"), _int("capacity_pieces"),
        _text("binding_machine_type", 40, True), _float("distance_km"), _float("on_time_rate"),
        _int("orders_delivered"), _float("expected_late_pieces"), _col("cost", sa.JSON()), _float("per_piece_krw"),
        _col("reasons", sa.JSON()),
        sa.ForeignKeyConstraint(["order_id", "version"], ["planning_plans.order_id", "planning_plans.version"],
                                name="fk_planning_assignments_plan", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "version", "workshop_id", name=op.f("pk_planning_assignments")),
    )
    op.create_index(op.f("ix_planning_assignments_workshop_id"), "planning_assignments", ["workshop_id"])

    op.create_table(
        "planning_assignment_days",
        _text("order_id", 64), _int("version"), _text("workshop_id", 64), _col("day", sa.Date()),
        _int("pieces"), _int("capacity"), _col("minutes", sa.JSON()),
        sa.ForeignKeyConstraint(["order_id", "version", "workshop_id"],
                                ["planning_assignments.order_id", "planning_assignments.version",
                                 "planning_assignments.workshop_id"],
                                name="fk_planning_assignment_days_assignment", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "version", "workshop_id", "day", name=op.f("pk_planning_assignment_days")),
    )


def downgrade() -> None:
    for table in ("planning_assignment_days", "planning_assignments", "planning_plans", "planning_commitments",
                  "planning_orders"):
        op.drop_table(table)
