"""The kiosk's orders: `kiosk_orders` (hub.kiosk.tables).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_orders",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("design", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("price_krw", sa.Integer(), nullable=False),
        sa.Column("planning_order_id", sa.String(length=64), nullable=False),
        sa.Column("routes", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.String(length=64), nullable=True),
        sa.Column("workshop_name_ko", sa.String(length=200), nullable=True),
        sa.Column("workshop_name_en", sa.String(length=200), nullable=True),
        sa.Column("store", sa.String(length=200), nullable=False),
        sa.Column("promised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("picked_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_kiosk_orders")),
    )
    op.create_index(op.f("ix_kiosk_orders_planning_order_id"), "kiosk_orders", ["planning_order_id"])
    op.create_index(op.f("ix_kiosk_orders_status"), "kiosk_orders", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kiosk_orders_status"), table_name="kiosk_orders")
    op.drop_index(op.f("ix_kiosk_orders_planning_order_id"), table_name="kiosk_orders")
    op.drop_table("kiosk_orders")
