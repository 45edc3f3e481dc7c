"""My Style Lab's tables (migration 0006). Private to hub.styles: others read the catalogue through
hub.styles.service.

- `styles_products`: the catalogue, one row per article (a style in one colour): the 25 columns of
  H&M's `articles.csv` and the Dongdaemun extras of a catalogue import (the shop by its registry
  designer id, never its building or stall again: those are the registry's; names in Korean,
  English and Chinese; wholesale and retail price; minimum order; stock freshness; the main
  colour in CIELAB; the season it is sold for).
- `styles_shoppers`: H&M's `customers.csv` as it is (ids and postal codes are the data's own
  hashes; the age is personal: never logged).
- `styles_purchases`: H&M's `transactions_train.csv`. H&M repeats a row for each piece of a
  basket; here identical rows are one row with `pieces`, so importing the same file again finds
  every row and changes nothing.

Columns hold what the import parsed and checked (hub.styles.service), not checked again here.
`updated_at` is when an import last added or changed the row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base

#: H&M's article columns, in its order (the catalogue's first 25 columns).
ARTICLE_COLUMNS = (
    "article_id", "product_code", "prod_name", "product_type_no", "product_type_name", "product_group_name",
    "graphical_appearance_no", "graphical_appearance_name", "colour_group_code", "colour_group_name",
    "perceived_colour_value_id", "perceived_colour_value_name", "perceived_colour_master_id",
    "perceived_colour_master_name", "department_no", "department_name", "index_code", "index_name",
    "index_group_no", "index_group_name", "section_no", "section_name", "garment_group_no", "garment_group_name",
    "detail_desc")
#: The Dongdaemun columns of a catalogue import (the contract's DDM columns), in order.
DDM_COLUMNS = ("shop_id", "name_ko", "name_en", "name_zh", "wholesale_krw", "retail_krw", "min_order", "fresh_date",
               "lab_l", "lab_a", "lab_b", "season")
#: H&M's customers.csv and transactions_train.csv columns, in its order (the stored names are
#: lower case: `FN` is `fn`, `Active` is `active`).
CUSTOMER_COLUMNS = ("customer_id", "FN", "Active", "club_member_status", "fashion_news_frequency", "age",
                    "postal_code")
TRANSACTION_COLUMNS = ("t_dat", "customer_id", "article_id", "price", "sales_channel_id")


class Product(Base):
    __tablename__ = "styles_products"

    article_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    product_code: Mapped[int] = mapped_column(BigInteger, index=True)
    prod_name: Mapped[str] = mapped_column(String(200))
    product_type_no: Mapped[int] = mapped_column(Integer)
    product_type_name: Mapped[str] = mapped_column(String(100))
    product_group_name: Mapped[str] = mapped_column(String(100))
    graphical_appearance_no: Mapped[int] = mapped_column(Integer)
    graphical_appearance_name: Mapped[str] = mapped_column(String(100))
    colour_group_code: Mapped[int] = mapped_column(Integer)
    colour_group_name: Mapped[str] = mapped_column(String(100))
    perceived_colour_value_id: Mapped[int] = mapped_column(Integer)
    perceived_colour_value_name: Mapped[str] = mapped_column(String(100))
    perceived_colour_master_id: Mapped[int] = mapped_column(Integer)
    perceived_colour_master_name: Mapped[str] = mapped_column(String(100))
    department_no: Mapped[int] = mapped_column(Integer)
    department_name: Mapped[str] = mapped_column(String(100))
    index_code: Mapped[str] = mapped_column(String(10))
    index_name: Mapped[str] = mapped_column(String(100))
    index_group_no: Mapped[int] = mapped_column(Integer)
    index_group_name: Mapped[str] = mapped_column(String(100))
    section_no: Mapped[int] = mapped_column(Integer)
    section_name: Mapped[str] = mapped_column(String(100))
    garment_group_no: Mapped[int] = mapped_column(Integer)
    garment_group_name: Mapped[str] = mapped_column(String(100))
    detail_desc: Mapped[str] = mapped_column(String(2000))
    shop_id: Mapped[str] = mapped_column(String(64), index=True)
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    wholesale_krw: Mapped[int] = mapped_column(Integer)
    retail_krw: Mapped[int] = mapped_column(Integer)
    min_order: Mapped[int] = mapped_column(Integer)
    fresh_date: Mapped[date] = mapped_column(Date)
    lab_l: Mapped[float] = mapped_column(Float)
    lab_a: Mapped[float] = mapped_column(Float)
    lab_b: Mapped[float] = mapped_column(Float)
    season: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Shopper(Base):
    __tablename__ = "styles_shoppers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fn: Mapped[float | None] = mapped_column(Float)
    active: Mapped[float | None] = mapped_column(Float)
    club_member_status: Mapped[str] = mapped_column(String(20))
    fashion_news_frequency: Mapped[str] = mapped_column(String(20))
    age: Mapped[int | None] = mapped_column(Integer)
    postal_code: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Purchase(Base):
    __tablename__ = "styles_purchases"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    t_dat: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    article_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, index=True)
    sales_channel_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    price: Mapped[float] = mapped_column(Float, primary_key=True)
    #: H&M writes one row per piece: identical rows counted here.
    pieces: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
