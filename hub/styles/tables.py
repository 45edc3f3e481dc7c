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
    club_member_status: Mapped[str] = mapped_column(String(40))
    fashion_news_frequency: Mapped[str] = mapped_column(String(40))
    age: Mapped[float | None] = mapped_column(Float)
    postal_code: Mapped[str] = mapped_column(String(100))
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
