"""My Style Lab in the relational store: the catalogue, shoppers and purchases imported from CSV
with the registry's rules, exported back, listed and searched, and read whole as a `Market` for
the recommender. Plain Python over a SQLAlchemy session; no web.

Imports follow the registry's rules (hub.registry.service.import_csv): every row is checked first
(the catalogue by hub.styles.catalogue's spec, shoppers and purchases by H&M's own file format
below) and every bad row named with its line, column and reason in Korean and English; a file with
any bad row writes nothing; a dry run checks and counts; records not in a file stay as they are;
importing the same file again changes nothing ("0 added, 0 changed, 200 unchanged"). Against the
store: a product's `shop_id` must be a registry designer of kind wholesale or designer_brand (the
registry's public face says so), and a purchase's article must be in the catalogue. A purchase's
shopper need not be in the shoppers (H&M's own sample has buyers it does not list).

Shoppers' ages and postal codes are personal: a problem never repeats them and nothing here logs.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from hub import registry
from hub.core import csvfile
from hub.core.csvfile import Column, Problem, Spec
from hub.core.db import utc
from hub.registry import ImportReport
from hub.styles import catalogue
from hub.styles import market as hm_market
from hub.styles.market import ARTICLE_COLUMNS, DDM_COLUMNS, TRANSACTION_COLUMNS
from hub.styles.tables import Product, Purchase, Shopper

KINDS = ("products", "shoppers", "purchases")
#: Registry designer kinds that may sell in the catalogue (an online store has no stall to visit).
SHOP_KINDS = catalogue.SHOP_KINDS
CHUNK = 1000
Progress = Callable[[str, int, int], None]


# ============================================================================ H&M's shopper and purchase files
#: H&M's customers.csv and transactions_train.csv, cell by cell as hub.styles.market reads them
#: (one set of rules for the hub's import and the evaluation's loader); a shopper's age and
#: postal code are personal, so a problem never repeats them.
SHOPPERS = Spec("shoppers", tuple(Column(c.name, c.cell, personal=c.name in ("age", "postal_code"))
                                  for c in hm_market.CUSTOMER_CELLS), key=("customer_id",))
PURCHASES = Spec("purchases", hm_market.TRANSACTION_CELLS,
                 key=("customer_id", "t_dat", "article_id", "sales_channel_id", "price"), count_repeats_as="pieces")


def spec(kind: str) -> Spec:
    if kind == "products":
        return catalogue.SPEC
    if kind == "shoppers":
        return SHOPPERS
    if kind == "purchases":
        return PURCHASES
    raise ValueError(f"{kind!r} is not a styles kind: use one of {', '.join(KINDS)}")


@dataclass
class _Parsed:
    """Good rows by key (purchases: identical rows counted as pieces), problems, rows read."""

    rows: dict[tuple, tuple[int, dict[str, Any]]]  # key -> (first line, values)
    problems: list[Problem]
    rows_read: int


def _parse(kind: str, data: bytes | str, progress: Callable[[int, int], None] | None) -> _Parsed:
    s = spec(kind)
    parsed = csvfile.read_csv(s, data, progress)
    return _Parsed({s.key_of(r.values): (r.line, r.values) for r in parsed.rows}, list(parsed.problems),
                   parsed.rows_read)


# ============================================================================ checks against the store
def shops(session: Session) -> dict[str, Any]:
    """The registry's designers that may sell in the catalogue, by id (registry.DesignerInfo)."""
    out = {}
    for kind in SHOP_KINDS:
        out.update({d.id: d for d in registry.designers(session, kind=kind)})
    return out


def _store_problems(session: Session, kind: str, parsed: _Parsed) -> list[Problem]:
    problems: list[Problem] = []
    if kind == "products" and parsed.rows:
        kinds = {d.id: d.kind for d in registry.designers(session)}
        good = csvfile.ParsedFile(kind, [csvfile.Row(line, values) for line, values in parsed.rows.values()])
        problems.extend(catalogue.check_shops(good, kinds))
    if kind == "purchases" and parsed.rows:
        wanted = sorted({v["article_id"] for _, v in parsed.rows.values()})
        known: set[int] = set()
        for chunk in _chunks(wanted):
            known.update(session.execute(select(Product.article_id).where(Product.article_id.in_(chunk))).scalars())
        for line, values in parsed.rows.values():
            if values["article_id"] not in known:
                a = values["article_id"]
                problems.append(Problem(line, "article_id", f"상품 {a}이(가) 카탈로그에 없습니다. products 파일을 먼저 가져오세요",
                                        f"article {a} is not in the catalogue; import its products file first"))
    return problems


# ============================================================================ import
_MODEL = {"products": Product, "shoppers": Shopper, "purchases": Purchase}


def _stored(kind: str, values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A parsed row as a table row."""
    if kind == "products":
        row = {name: values[name] for name in (*ARTICLE_COLUMNS, *DDM_COLUMNS)}
        row["fresh_date"] = _as_date(row["fresh_date"])
        row["detail_desc"] = row["detail_desc"] or ""
    elif kind == "shoppers":
        row = {"customer_id": values["customer_id"], "fn": values["FN"], "active": values["Active"],
               "club_member_status": values["club_member_status"] or "",
               "fashion_news_frequency": values["fashion_news_frequency"] or "", "age": values["age"],
               "postal_code": values["postal_code"] or ""}
    else:
        row = {name: values[name] for name in (*TRANSACTION_COLUMNS, "pieces")}
    row["updated_at"] = now
    return row


def _values(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A table row as the file's values (what the spec formats)."""
    if kind == "products":
        return {name: row[name] for name in (*ARTICLE_COLUMNS, *DDM_COLUMNS)}
    if kind == "shoppers":
        return {"customer_id": row["customer_id"], "FN": row["fn"], "Active": row["active"],
                "club_member_status": row["club_member_status"],
                "fashion_news_frequency": row["fashion_news_frequency"], "age": row["age"],
                "postal_code": row["postal_code"]}
    return {name: row[name] for name in (*TRANSACTION_COLUMNS, "pieces")}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _same(kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    if kind == "purchases":
        return before["pieces"] == after["pieces"]
    s = spec(kind)
    return s.canonical(_values(kind, before)) == s.canonical(after)


def _existing(session: Session, kind: str, keys: Sequence[tuple]) -> dict[tuple, dict[str, Any]]:
    model = _MODEL[kind]
    first = {"products": Product.article_id, "shoppers": Shopper.customer_id, "purchases": Purchase.customer_id}[kind]
    out = {}
    for chunk in _chunks(sorted({k[0] for k in keys})):
        for row in session.execute(select(*model.__table__.columns).where(first.in_(chunk))).mappings():
            out[_key(kind, row)] = dict(row)
    return out


def _key(kind: str, row: Mapping[str, Any]) -> tuple:
    if kind == "products":
        return (row["article_id"],)
    if kind == "shoppers":
        return (row["customer_id"],)
    return tuple(row[k] for k in PURCHASES.key)


def import_csv(session: Session, kind: str, data: bytes | str, dry_run: bool = False,
               progress: Progress | None = None, now: datetime | None = None) -> ImportReport:
    """Check every row of a `kind` file ("products", "shoppers" or "purchases"), then add the new
    records and update the changed ones (by key; records not in the file stay). A file with any
    problem writes nothing; a dry run checks and counts without writing."""
    reading = (lambda done, total: progress("reading", done, total)) if progress else None
    parsed = _parse(kind, data, reading)
    problems = parsed.problems + _store_problems(session, kind, parsed)
    if problems:
        s = spec(kind)
        problems.sort(key=s.problem_order)
        return ImportReport(kind, parsed.rows_read, problems=tuple(problems))
    existing = _existing(session, kind, list(parsed.rows))
    added, changed, unchanged = [], [], 0
    for key, (_line, values) in parsed.rows.items():
        before = existing.get(key)
        if before is None:
            added.append(values)
        elif not _same(kind, before, values):
            changed.append(values)
        else:
            unchanged += 1
    if not dry_run:
        _write(session, kind, added, changed, now or datetime.now(timezone.utc), progress)
    return ImportReport(kind, parsed.rows_read, len(added), len(changed), unchanged, written=not dry_run)


def _write(session: Session, kind: str, added: list[dict], changed: list[dict], now: datetime,
           progress: Progress | None) -> None:
    model = _MODEL[kind]
    total, done = len(added) + len(changed), 0
    if progress:
        progress("writing", 0, total)
    for chunk in _chunks(changed):
        rows = [_stored(kind, v, now) for v in chunk]
        if kind == "purchases":
            # The whole row is the key: only the pieces change.
            for r in rows:
                session.execute(update(Purchase).where(*[getattr(Purchase, k) == r[k] for k in PURCHASES.key])
                                .values(pieces=r["pieces"], updated_at=now))
        else:
            session.execute(update(model), rows)
        done += len(chunk)
        if progress:
            progress("writing", done, total)
    for chunk in _chunks(added):
        session.execute(insert(model), [_stored(kind, v, now) for v in chunk])
        done += len(chunk)
        if progress:
            progress("writing", done, total)
    session.flush()


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ============================================================================ export
def export_csv(session: Session, kind: str) -> str:
    """Every record of `kind` in its import format, by key (purchases: a row per piece, as H&M)."""
    s = spec(kind)
    model = _MODEL[kind]
    order = {"products": [Product.article_id], "shoppers": [Shopper.customer_id],
             "purchases": [Purchase.t_dat, Purchase.customer_id, Purchase.article_id, Purchase.sales_channel_id,
                           Purchase.price]}[kind]
    if session.get_bind().dialect.name == "postgresql":
        order = [c.collate("C") if isinstance(c.type, type(Shopper.customer_id.type)) else c for c in order]
    rows = session.execute(select(*model.__table__.columns).order_by(*order)).mappings()
    buffer = io.StringIO()
    if kind == "purchases":
        csvfile.write_csv(s, (_values(kind, r) for r in rows for _ in range(r["pieces"])), buffer)
    else:
        csvfile.write_csv(s, (_values(kind, r) for r in rows), buffer)
    return buffer.getvalue()


# ============================================================================ reading
def count(session: Session, kind: str) -> int:
    return session.execute(select(func.count()).select_from(_MODEL[kind])).scalar_one()


def counts(session: Session) -> dict[str, int]:
    out = {kind: count(session, kind) for kind in KINDS}
    out["pieces"] = session.execute(select(func.coalesce(func.sum(Purchase.pieces), 0))).scalar_one()
    return out


def product_rows(session: Session, q: str | None = None, shop_id: str | None = None, season: str | None = None,
                 max_krw: int | None = None, ids: Iterable[int] | None = None, limit: int | None = None,
                 offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """(how many match, the page of them by article id): `q` searches the names in every language,
    the product type and the colour; `season` is the catalogue's sales season (all, ss, fw)."""
    where = []
    if q:
        like = f"%{q.strip().lower()}%"
        where.append(or_(*[func.lower(c).like(like) for c in (Product.prod_name, Product.name_ko, Product.name_en,
                                                                Product.name_zh, Product.product_type_name,
                                                                Product.colour_group_name)]))
    if shop_id:
        where.append(Product.shop_id == shop_id)
    if season:
        where.append(Product.season.in_([season, "all"]))
    if max_krw is not None:
        where.append(Product.retail_krw <= max_krw)
    if ids is not None:
        where.append(Product.article_id.in_(list(ids)))
    total = session.execute(select(func.count()).select_from(Product).where(*where)).scalar_one()
    query = select(*Product.__table__.columns).where(*where).order_by(Product.article_id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = [dict(r) for r in session.execute(query).mappings()]
    for r in rows:
        r["updated_at"] = utc(r["updated_at"])
    return total, rows


def all_rows(session: Session, kind: str) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(select(*_MODEL[kind].__table__.columns)).mappings()]


# ============================================================================ the market for the recommender
def market(session: Session):
    """The catalogue, shoppers and purchases as a `hub.styles.market.Market` (H&M's three files
    in memory, the catalogue's Dongdaemun columns on the articles): what the recommender and the
    popularity baseline train on. A purchase of n pieces is n rows, as H&M writes them."""
    import numpy as np
    import pandas as pd

    from hub.styles.market import Market

    columns = [*ARTICLE_COLUMNS, *DDM_COLUMNS]
    articles = pd.DataFrame(all_rows(session, "products"), columns=[*columns, "updated_at"])[columns]
    articles["article_id"] = articles["article_id"].astype("int64")
    articles["fresh_date"] = pd.to_datetime(articles["fresh_date"])
    articles = articles.set_index("article_id").sort_index()
    shoppers = pd.DataFrame(all_rows(session, "shoppers"),
                            columns=["customer_id", "fn", "active", "club_member_status", "fashion_news_frequency",
                                     "age", "postal_code", "updated_at"])
    customers = pd.DataFrame({
        "FN": shoppers["fn"].astype("float64"), "Active": shoppers["active"].astype("float64"),
        "club_member_status": shoppers["club_member_status"].astype(str),
        "fashion_news_frequency": shoppers["fashion_news_frequency"].astype(str),
        "age": shoppers["age"].astype("float64"), "postal_code": shoppers["postal_code"].astype(str)},
        index=pd.Index(shoppers["customer_id"].astype(str), name="customer_id")).sort_index()
    # Column by column through pandas (a million purchases as dicts would cost gigabytes).
    bought = pd.read_sql(select(*[getattr(Purchase, c) for c in (*TRANSACTION_COLUMNS, "pieces")]),
                         session.connection())
    repeat = bought["pieces"].to_numpy(dtype="int64") if len(bought) else np.zeros(0, dtype="int64")
    transactions = pd.DataFrame({
        "t_dat": pd.to_datetime(bought["t_dat"]).to_numpy().repeat(repeat),
        "customer_id": bought["customer_id"].astype(str).to_numpy().repeat(repeat),
        "article_id": bought["article_id"].astype("int64").to_numpy().repeat(repeat),
        "price": bought["price"].astype("float64").to_numpy().repeat(repeat),
        "sales_channel_id": bought["sales_channel_id"].astype("int8").to_numpy().repeat(repeat)})
    transactions = transactions.sort_values(["t_dat", "customer_id", "article_id"], kind="stable").reset_index(drop=True)
    return Market(articles=articles, customers=customers, transactions=transactions)
