"""Firmware releases the hub publishes to the gateways: `release_releases`, `release_files`,
`release_fetches` (hub.release.tables).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_releases",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=12), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("min_bootloader", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_release_releases")),
    )
    op.create_index(op.f("ix_release_releases_published_at"), "release_releases", ["published_at"])
    op.create_table(
        "release_files",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["release_releases.version"],
                                name=op.f("fk_release_files_version_release_releases"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version", "name", name=op.f("pk_release_files")),
    )
    op.create_table(
        "release_fetches",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("workshop_id", sa.String(length=64), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["release_releases.version"],
                                name=op.f("fk_release_fetches_version_release_releases"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version", "workshop_id", name=op.f("pk_release_fetches")),
    )


def downgrade() -> None:
    op.drop_table("release_fetches")
    op.drop_table("release_files")
    op.drop_index(op.f("ix_release_releases_published_at"), table_name="release_releases")
    op.drop_table("release_releases")
