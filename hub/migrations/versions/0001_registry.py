"""The registry: workshops with their machines, designers and suppliers, each with the product
families it takes.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _text(name: str, length: int, **kw) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=kw.pop("nullable", False), **kw)


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def _float(name: str) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=False)


def _updated_at() -> sa.Column:
    return sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False)


def _contact() -> list[sa.Column]:
    return [_text("contact_channel", 20), _text("contact_phone", 30)]


def _families(table: str, owner: str, owner_table: str) -> None:
    """registry_<x>_families: one row per (record, family), the main family at position 0."""
    op.create_table(
        table,
        _text(owner, 64),
        _text("family", 40),
        _int("position"),
        sa.ForeignKeyConstraint([owner], [f"{owner_table}.id"], name=op.f(f"fk_{table}_{owner}_{owner_table}"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(owner, "family", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_family"), table, ["family"])


def upgrade() -> None:
    op.create_table(
        "registry_workshops",
        _text("id", 64),
        _text("name_ko", 200), _text("name_en", 200),
        _text("dong", 40),
        _text("address_ko", 300), _text("address_en", 300),
        _float("lat"), _float("lon"),
        _int("operators"), _int("area_m2"),
        _text("opens", 5), _text("closes", 5), _text("lunch_start", 5), _int("lunch_minutes"),
        sa.Column("workdays", sa.JSON(), nullable=False),
        _int("min_order_pieces"),
        sa.Column("takes_samples", sa.Boolean(), nullable=False),
        _float("declared_efficiency"),
        _int("price_per_sam_minute_krw"), _int("price_level"),
        _float("on_time_rate"), _int("orders_delivered"),
        *_contact(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_workshops")),
    )
    op.create_index(op.f("ix_registry_workshops_dong"), "registry_workshops", ["dong"])
    _families("registry_workshop_families", "workshop_id", "registry_workshops")

    op.create_table(
        "registry_machines",
        _text("workshop_id", 64),
        _text("machine_id", 64),
        _text("device_id", 32, nullable=True),
        _text("type", 40),
        _text("brand", 100), _text("model", 100),
        _int("max_spm"),
        _updated_at(),
        sa.ForeignKeyConstraint(["workshop_id"], ["registry_workshops.id"],
                                name=op.f("fk_registry_machines_workshop_id_registry_workshops"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workshop_id", "machine_id", name=op.f("pk_registry_machines")),
        sa.UniqueConstraint("device_id", name=op.f("uq_registry_machines_device_id")),
    )
    op.create_index(op.f("ix_registry_machines_type"), "registry_machines", ["type"])

    op.create_table(
        "registry_designers",
        _text("id", 64),
        _text("kind", 20),
        _text("name_ko", 200), _text("name_en", 200),
        _text("building_ko", 100), _text("building_en", 100), _text("floor", 20), _text("stall", 40),
        _text("dong", 40),
        _text("address_ko", 300), _text("address_en", 300),
        _float("lat"), _float("lon"),
        _int("typical_order_pieces"), _int("styles_per_month"),
        *_contact(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_designers")),
    )
    op.create_index(op.f("ix_registry_designers_dong"), "registry_designers", ["dong"])
    op.create_index(op.f("ix_registry_designers_kind"), "registry_designers", ["kind"])
    _families("registry_designer_families", "designer_id", "registry_designers")

    op.create_table(
        "registry_suppliers",
        _text("id", 64),
        _text("kind", 20),
        _text("name_ko", 200), _text("name_en", 200),
        sa.Column("materials", sa.JSON(), nullable=False),
        _int("lead_days"),
        _text("region", 40),
        _text("city_ko", 100), _text("city_en", 100),
        _text("address_ko", 300), _text("address_en", 300),
        _float("lat"), _float("lon"),
        *_contact(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_suppliers")),
    )
    op.create_index(op.f("ix_registry_suppliers_kind"), "registry_suppliers", ["kind"])
    op.create_index(op.f("ix_registry_suppliers_region"), "registry_suppliers", ["region"])
    _families("registry_supplier_families", "supplier_id", "registry_suppliers")


def downgrade() -> None:
    for table in ("registry_supplier_families", "registry_suppliers", "registry_designer_families",
                  "registry_designers", "registry_machines", "registry_workshop_families", "registry_workshops"):
        op.drop_table(table)
