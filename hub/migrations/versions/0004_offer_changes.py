"""Offers keep their answer through a re-plan: `changed` (what the offer was before a re-plan changed
an accepted offer's pieces or days) and `adds_to` (an offer for pieces added to a workshop that had
accepted its share already: the id of that accepted offer).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("planning_offers", sa.Column("changed", sa.JSON(), nullable=True))
    op.add_column("planning_offers", sa.Column("adds_to", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("planning_offers", "adds_to")
    op.drop_column("planning_offers", "changed")
