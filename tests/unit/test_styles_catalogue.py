"""The styles catalogue CSV (hub/styles/catalogue.py) under the registry's rules: a simulated
catalogue exports, imports and exports again byte for byte; the export is the H&M articles.csv
market.write gives; every bad cell, row or header is named by line and column in Korean and
English and keeps its row out; shops must be registry shops with a stall."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from hub.styles import catalogue, market
from hub.styles.catalogue import COLUMNS, Product, export_text, products, products_of, read_csv
from hub.styles.colour import lab_to_hex
from simulators.shoppers import MarketSpec, simulate

SIM = simulate(MarketSpec(shoppers=200, products=150, purchases=1_500, weeks=2, seed=8))
PRODUCTS = products_of(SIM.market.articles)
TEXT = export_text(PRODUCTS)


def with_cell(line: int, column: str, value: str, text: str = TEXT) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def where(parsed) -> list[tuple[int, str | None]]:
    return [(p.line, p.column) for p in parsed.problems]


def test_export_import_export_gives_the_same_bytes():
    parsed = read_csv(TEXT)
    assert parsed.problems == [] and parsed.rows_read == len(PRODUCTS)
    assert products(parsed) == PRODUCTS
    assert export_text(products(parsed)) == TEXT


def test_a_catalogue_is_the_h_and_m_articles_file_of_its_market(tmp_path):
    assert TEXT == market.articles_text(SIM.market.articles)
    pd.testing.assert_frame_equal(catalogue.articles_frame(PRODUCTS), SIM.market.articles)
    (tmp_path / "articles.csv").write_text(TEXT, encoding="utf-8")
    _, c, t = market.write(SIM.market, tmp_path / "rest")
    loaded = market.load(tmp_path / "articles.csv", c, t)
    pd.testing.assert_frame_equal(loaded.articles, SIM.market.articles)


def test_a_product_knows_its_swatch_names_and_colour_reading():
    p = PRODUCTS[0]
    assert p.swatch_hex == lab_to_hex(p.lab_l, p.lab_a, p.lab_b) and p.swatch_hex.startswith("#")
    assert (p.name("ko"), p.name("en"), p.name("zh"), p.name("fr")) == (p.name_ko, p.name_en, p.name_zh, p.name_en)
    assert p.colour.suits == catalogue.read_colour(p.lab_l, p.lab_a, p.lab_b).suits
    assert f"L* {p.lab_l:.1f}" in p.colour.why["en"]


def test_what_a_spreadsheet_writes_is_taken():
    text = "\ufeff" + TEXT.replace("\n", "\r\n") + ",,,,\r\n\r\n"
    parsed = read_csv(text.encode("utf-8"))
    assert parsed.problems == [] and products(parsed) == PRODUCTS
    # columns in another order
    rows = list(csv.reader(io.StringIO(TEXT)))
    order = list(reversed(range(len(rows[0]))))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[i] for i in order] for r in rows])
    assert products(read_csv(out.getvalue())) == PRODUCTS


def test_a_cell_that_could_start_a_formula_is_written_safe_and_read_back():
    p = PRODUCTS[0]
    risky = Product.from_values({**p.values(), "name_en": "=HYPERLINK(\"x\")", "product_type_no": -1})
    text = export_text([risky])
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[COLUMNS.index("name_en")] == "'=HYPERLINK(\"x\")"
    assert row[COLUMNS.index("product_type_no")] == "-1"       # a number is never escaped
    assert products(read_csv(text)) == [risky]


@pytest.mark.parametrize("column,value,en", [
    ("article_id", "12x", '"12x" is not a whole number'),
    ("product_code", "", "is empty"),
    ("retail_krw", "1000", "retail_krw is below wholesale_krw"),
    ("season", "summer", '"summer" is not one of: all, ss, fw'),
    ("lab_l", "120", '"120" is outside 0 to 100'),
    ("lab_a", "red", '"red" is not a number'),
    ("fresh_date", "2026-13-01", '"2026-13-01" is not a day on the calendar'),
    ("fresh_date", "01/07/2026", "is not a date as YYYY-MM-DD"),
    ("min_order", "0", '"0" is outside 1 to 100,000'),
    ("shop_id", "ds 0001", '"ds 0001" may hold only letters'),
    ("name_zh", "", "is empty"),
])
def test_a_bad_cell_is_named_and_its_row_kept_out(column, value, en):
    parsed = read_csv(with_cell(4, column, value))
    assert where(parsed) == [(4, column)]
    assert en in parsed.problems[0].en and parsed.problems[0].ko
    assert len(parsed.rows) == len(PRODUCTS) - 1 and 4 not in [r.line for r in parsed.rows]


def test_an_article_id_must_be_its_styles():
    p = PRODUCTS[2]
    parsed = read_csv(with_cell(4, "article_id", str(p.product_code * 1000 + 999_000)))
    assert where(parsed) == [(4, "article_id")]
    assert "must be product_code" in parsed.problems[0].en


def test_row_and_header_problems_are_named():
    lines = TEXT.split("\n")
    lines[5] += ",extra"
    lines[7] = lines[2]                 # the same article twice
    parsed = read_csv("\n".join(lines))
    assert where(parsed) == [(6, None), (8, "article_id")]
    assert "is also on line 3" in parsed.problems[1].en
    header_gone = TEXT.replace(",season\n", "\n", 1)
    parsed = read_csv(header_gone)
    assert where(parsed) == [(1, None)] and "lacks the column(s): season" in parsed.problems[0].en
    assert parsed.rows == []


def test_shops_must_be_registry_shops_with_a_stall():
    shops = {p.shop_id: "wholesale" for p in PRODUCTS}
    assert read_csv(TEXT, shops=shops).problems == []
    first = PRODUCTS[0].shop_id
    line_of_first = [i + 2 for i, p in enumerate(PRODUCTS) if p.shop_id == first]
    parsed = read_csv(TEXT, shops={**shops, first: "online_store"})
    assert [p.line for p in parsed.problems] == line_of_first
    assert "only wholesale and designer_brand" in parsed.problems[0].en
    assert all(r.line not in line_of_first for r in parsed.rows)
    del shops[first]
    parsed = read_csv(TEXT, shops=shops)
    assert parsed.problems[0].en == f"shop {first} is not in the registry; import its designers file first"


def test_articles_without_dongdaemun_columns_are_not_a_catalogue():
    with pytest.raises(ValueError, match="no Dongdaemun columns"):
        products_of(SIM.market.articles.drop(columns=["shop_id"]))
