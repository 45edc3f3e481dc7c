"""Offers: the workshops' tokens (hashes only), the work an accepted plan offers each workshop, and
the answers and reports their gateways send back (each under its own id, applied once).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _col(name: str, kind: sa.types.TypeEngine, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return _col(name, sa.String(length=length), nullable)


def _int(name: str, nullable: bool = False) -> sa.Column:
    return _col(name, sa.Integer(), nullable)


def _when(name: str, nullable: bool = False) -> sa.Column:
    return _col(name, sa.DateTime(timezone=True), nullable)


def upgrade() -> None:
    op.create_table(
        "planning_workshop_tokens",
        _text("token_id", 64), _text("workshop_id", 64), _when("created_at"), _when("revoked_at", True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_planning_workshop_tokens")),
    )
    op.create_index(op.f("ix_planning_workshop_tokens_workshop_id"), "planning_workshop_tokens", ["workshop_id"])

    op.create_table(
        "planning_offers",
        _text("id", 64), _text("order_id", 64), _text("workshop_id", 64), _int("plan_version"),
        _int("pieces"), _int("bundles"), _col("days", sa.JSON()), _int("price_per_piece_krw", True),
        _text("status", 20), _when("created_at"), _when("respond_by"), _when("answered_at", True),
        _text("decline_reason", 40, True), _when("updated_at"),
        sa.ForeignKeyConstraint(["order_id"], ["planning_orders.id"],
                                name=op.f("fk_planning_offers_order_id_planning_orders"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_offers")),
    )
    op.create_index(op.f("ix_planning_offers_workshop_id"), "planning_offers", ["workshop_id"])
    op.create_index(op.f("ix_planning_offers_status"), "planning_offers", ["status"])
    op.create_index("ix_planning_offers_order_workshop", "planning_offers", ["order_id", "workshop_id"])

    op.create_table(
        "planning_offer_answers",
        _text("answer_id", 64), _text("workshop_id", 64), _text("offer_id", 64), _text("answer", 10),
        _text("reason", 40, True), _when("answered_at"), _when("received_at"), _text("result", 20),
        sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_planning_offer_answers")),
    )
    op.create_index(op.f("ix_planning_offer_answers_workshop_id"), "planning_offer_answers", ["workshop_id"])

    op.create_table(
        "planning_offer_reports",
        _text("report_id", 64), _text("workshop_id", 64), _text("offer_id", 64), _text("order_id", 64, True),
        _text("kind", 10), _int("pieces", True), _col("machines", sa.JSON(), True), _when("at"),
        _when("received_at"), _text("result", 20),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_planning_offer_reports")),
    )
    # Progress reads a workshop's reports in time order.
    op.create_index("ix_planning_offer_reports_workshop_at", "planning_offer_reports", ["workshop_id", "at"])


def downgrade() -> None:
    for table in ("planning_offer_reports", "planning_offer_answers", "planning_offers", "planning_workshop_tokens"):
        op.drop_table(table)
