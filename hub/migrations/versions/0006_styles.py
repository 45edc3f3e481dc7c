"""My Style Lab: the catalogue, shoppers and purchases (`styles_products`, `styles_shoppers`,
`styles_purchases`; hub.styles.tables).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TEXT = ("prod_name", "product_type_name", "product_group_name", "graphical_appearance_name", "colour_group_name",
         "perceived_colour_value_name", "perceived_colour_master_name", "department_name", "index_name",
         "index_group_name", "section_name", "garment_group_name")
_NUMBERS = ("product_type_no", "graphical_appearance_no", "colour_group_code", "perceived_colour_value_id",
            "perceived_colour_master_id", "department_no", "index_group_no", "section_no", "garment_group_no")


def upgrade() -> None:
    op.create_table(
        "styles_products",
        sa.Column("article_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("product_code", sa.BigInteger(), nullable=False),
        sa.Column("prod_name", sa.String(length=200), nullable=False),
        *[sa.Column(name, sa.String(length=100), nullable=False) for name in _TEXT[1:]],
        *[sa.Column(name, sa.Integer(), nullable=False) for name in _NUMBERS],
        sa.Column("index_code", sa.String(length=10), nullable=False),
        sa.Column("detail_desc", sa.String(length=2000), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("name_ko", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("wholesale_krw", sa.Integer(), nullable=False),
        sa.Column("retail_krw", sa.Integer(), nullable=False),
        sa.Column("min_order", sa.Integer(), nullable=False),
        sa.Column("fresh_date", sa.Date(), nullable=False),
        sa.Column("lab_l", sa.Float(), nullable=False),
        sa.Column("lab_a", sa.Float(), nullable=False),
        sa.Column("lab_b", sa.Float(), nullable=False),
        sa.Column("season", sa.String(length=3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_styles_products")),
    )
    op.create_index(op.f("ix_styles_products_product_code"), "styles_products", ["product_code"])
    op.create_index(op.f("ix_styles_products_shop_id"), "styles_products", ["shop_id"])
    op.create_table(
        "styles_shoppers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("fn", sa.Float(), nullable=True),
        sa.Column("active", sa.Float(), nullable=True),
        sa.Column("club_member_status", sa.String(length=40), nullable=False),
        sa.Column("fashion_news_frequency", sa.String(length=40), nullable=False),
        sa.Column("age", sa.Float(), nullable=True),
        sa.Column("postal_code", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_styles_shoppers")),
    )
    op.create_table(
        "styles_purchases",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("t_dat", sa.Date(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sales_channel_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("pieces", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "t_dat", "article_id", "sales_channel_id", "price",
                                name=op.f("pk_styles_purchases")),
    )
    op.create_index(op.f("ix_styles_purchases_article_id"), "styles_purchases", ["article_id"])
    op.create_index(op.f("ix_styles_purchases_t_dat"), "styles_purchases", ["t_dat"])


def downgrade() -> None:
    op.drop_index(op.f("ix_styles_purchases_t_dat"), table_name="styles_purchases")
    op.drop_index(op.f("ix_styles_purchases_article_id"), table_name="styles_purchases")
    op.drop_table("styles_purchases")
    op.drop_table("styles_shoppers")
    op.drop_index(op.f("ix_styles_products_shop_id"), table_name="styles_products")
    op.drop_index(op.f("ix_styles_products_product_code"), table_name="styles_products")
    op.drop_table("styles_products")
