"""The H&M three-file loader (hub/styles/market.py): generated markets go round the files byte for
byte; every bad row is named by file, line and column and nothing is loaded; what spreadsheets
and the real files do (a byte-order mark, CRLF, pandas' index column, leading zeros, quoted
commas and line breaks) is taken; and the real one-day H&M sample loads, read where it lies."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hub.styles import market
from hub.styles.market import ARTICLE_COLUMNS, DDM_COLUMNS, MarketFileError, load, write
from simulators.shoppers import MarketSpec, simulate

SIM = simulate(MarketSpec(shoppers=300, products=200, purchases=3_000, weeks=3, seed=5))
FASHION = Path("/work/shared/data/fashion")
#: Lines of articles.csv whose article nobody bought: breaking one names that row alone (breaking
#: a bought one also names its purchases, rightly, as purchases of an article not in the file).
UNSOLD = [int(i) + 2 for i in np.flatnonzero(~SIM.market.articles.index.isin(SIM.market.transactions["article_id"]))]


@pytest.fixture
def files(tmp_path):
    """The small simulated market as files; returns {name: path}."""
    a, c, t = write(SIM.market, tmp_path / "m")
    return {"a": a, "c": c, "t": t}


def edit_line(path: Path, line: int, new: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[line - 1] = new
    path.write_text("\n".join(lines), encoding="utf-8")


def line_of(path: Path, line: int) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[line - 1].split(",")


def problems_of(files) -> MarketFileError:
    with pytest.raises(MarketFileError) as caught:
        load(files["a"], files["c"], files["t"])
    return caught.value


def where(error: MarketFileError) -> list[tuple[str | None, int, str | None]]:
    return [(p.file, p.line, p.column) for p in error.problems]


# --- round trips -------------------------------------------------------------------------------

def test_a_generated_market_goes_round_the_files_unchanged(files, tmp_path):
    loaded = load(files["a"], files["c"], files["t"])
    pd.testing.assert_frame_equal(loaded.articles, SIM.market.articles)
    pd.testing.assert_frame_equal(loaded.customers, SIM.market.customers)
    pd.testing.assert_frame_equal(loaded.transactions, SIM.market.transactions)
    again = write(loaded, tmp_path / "again")
    assert [p.read_bytes() for p in again] == [files[k].read_bytes() for k in "act"]
    assert loaded.has_ddm


def test_the_files_are_the_h_and_m_format(files):
    header = files["a"].read_text().split("\n")[0].split(",")
    assert tuple(header) == ARTICLE_COLUMNS + DDM_COLUMNS
    assert files["c"].read_text().split("\n")[0] == "customer_id,FN,Active,club_member_status,fashion_news_frequency,age,postal_code"
    assert files["t"].read_text().split("\n")[0] == "t_dat,customer_id,article_id,price,sales_channel_id"
    first = line_of(files["t"], 2)
    assert first[0] == "2026-07-06" and first[4] in ("1", "2")
    assert float(first[3]) == pytest.approx(float(first[3]))


def test_until_and_between_cut_purchases_by_day_and_keep_the_rest():
    m = SIM.market
    before = m.until(date(2026, 7, 13))
    assert before.transactions["t_dat"].max() < pd.Timestamp("2026-07-13")
    assert len(before.articles) == len(m.articles) and len(before.customers) == len(m.customers)
    week = m.week_after(date(2026, 7, 13))
    assert week.transactions["t_dat"].min() >= pd.Timestamp("2026-07-13")
    assert week.transactions["t_dat"].max() < pd.Timestamp("2026-07-20")
    assert len(before.transactions) + len(week.transactions) + len(m.between(date(2026, 7, 20), date(2027, 1, 1)).transactions) \
        == len(m.transactions)


# --- what spreadsheets and the real files do -----------------------------------------------------

def test_bom_crlf_blank_rows_and_columns_in_any_order_are_taken(files):
    for path in files.values():
        text = path.read_text(encoding="utf-8")
        lines = text.rstrip("\n").split("\n")
        lines.insert(3, "")
        lines.insert(5, "," * (len(lines[0].split(",")) - 1))
        path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    # customers: columns in another order
    frame = pd.read_csv(files["c"], dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame[list(reversed(frame.columns))].to_csv(files["c"], index=False, lineterminator="\r\n")
    loaded = load(files["a"], files["c"], files["t"])
    pd.testing.assert_frame_equal(loaded.transactions, SIM.market.transactions)
    pd.testing.assert_frame_equal(loaded.articles, SIM.market.articles)
    pd.testing.assert_frame_equal(loaded.customers, SIM.market.customers)


def test_line_numbers_count_blank_rows_and_crlf(files):
    lines = files["t"].read_text().rstrip("\n").split("\n")
    lines[5:5] = ["", "", ",,,,"]
    cells = lines[9].split(",")
    cells[3] = "x"
    lines[9] = ",".join(cells)
    files["t"].write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    assert where(problems_of(files)) == [("transactions_train.csv", 10, "price")]


def test_pandas_index_column_and_leading_zeros_are_taken(files):
    frame = pd.read_csv(files["a"], dtype=str, keep_default_na=False)
    frame["article_id"] = "0" + frame["article_id"]
    frame.to_csv(files["a"], index=True)          # the unnamed index column, as the real sample has
    t = pd.read_csv(files["t"], dtype=str, keep_default_na=False)
    t["article_id"] = "0" + t["article_id"]
    t.to_csv(files["t"], index=False)
    loaded = load(files["a"], files["c"], files["t"])
    pd.testing.assert_frame_equal(loaded.articles, SIM.market.articles)
    pd.testing.assert_frame_equal(loaded.transactions, SIM.market.transactions)


def test_a_quoted_line_break_keeps_later_line_numbers_right(files):
    lines = files["a"].read_text().split("\n")
    cells = lines[1].split(",")
    desc = ARTICLE_COLUMNS.index("detail_desc")
    cells[desc] = '"Two lines,\nwith a comma"'
    lines[1] = ",".join(cells)
    bad = lines[3].split(",")
    bad[ARTICLE_COLUMNS.index("product_type_no")] = "x1"
    lines[3] = ",".join(bad)
    files["a"].write_text("\n".join(lines))
    error = problems_of(files)
    # the row on line 2 spans two lines (a line break in a description is refused, as the
    # registry refuses one), so the file's 4th row starts on line 5
    assert where(error) == [("articles.csv", 2, "detail_desc"), ("articles.csv", 5, "product_type_no")]
    assert "line break" in error.problems[0].en


def test_shoppers_missing_from_customers_are_allowed(files):
    lines = files["c"].read_text().split("\n")
    files["c"].write_text("\n".join(lines[:1] + lines[100:]))
    loaded = load(files["a"], files["c"], files["t"])
    assert len(loaded.customers) < len(SIM.market.customers)
    assert len(loaded.transactions) == len(SIM.market.transactions)


# --- bad rows: named, rejected, nothing loaded ------------------------------------------------------

def test_a_row_with_the_wrong_number_of_cells_is_named(files):
    edit_line(files["t"], 4, ",".join(line_of(files["t"], 4)) + ",9")
    edit_line(files["c"], 3, ",".join(line_of(files["c"], 3)[:-1]))
    error = problems_of(files)
    assert where(error) == [("customers.csv", 3, None), ("transactions_train.csv", 4, None)]
    assert "6 cells where the header has 7" in error.problems[0].en
    assert "칸이 6개" in error.problems[0].ko
    assert error.counts == {"articles.csv": 0, "customers.csv": 1, "transactions_train.csv": 1}


def test_bad_ids_dates_prices_and_channels_are_named_by_line_and_column(files):
    t = line_of(files["t"], 2)
    edit_line(files["t"], 2, ",".join(["2026-02-30", *t[1:]]))
    edit_line(files["t"], 3, ",".join([*line_of(files["t"], 3)[:3], "-0.5", "1"]))
    edit_line(files["t"], 5, ",".join([*line_of(files["t"], 5)[:3], "cheap", "3"]))
    edit_line(files["t"], 6, ",".join([line_of(files["t"], 6)[0], "not an id!", *line_of(files["t"], 6)[2:]]))
    a = line_of(files["a"], UNSOLD[0])
    edit_line(files["a"], UNSOLD[0], ",".join(["12a", *a[1:]]))
    error = problems_of(files)
    assert where(error) == [
        ("articles.csv", UNSOLD[0], "article_id"),
        ("transactions_train.csv", 2, "t_dat"),
        ("transactions_train.csv", 3, "price"),
        ("transactions_train.csv", 5, "price"),
        ("transactions_train.csv", 5, "sales_channel_id"),
        ("transactions_train.csv", 6, "customer_id"),
    ]
    by_place = {(p.line, p.column): p for p in error.problems}
    assert "not a day on the calendar" in by_place[(2, "t_dat")].en
    assert '"cheap" is not a number' in by_place[(5, "price")].en
    assert "숫자가 아닙니다" in by_place[(5, "price")].ko
    assert '"12a" is not a whole number' in by_place[(UNSOLD[0], "article_id")].en
    assert str(error).startswith("problems in the market files")


def test_a_purchase_of_an_article_not_in_articles_is_named(files):
    t = line_of(files["t"], 9)
    edit_line(files["t"], 9, ",".join([*t[:2], "999999001", *t[3:]]))
    error = problems_of(files)
    assert where(error) == [("transactions_train.csv", 9, "article_id")]
    assert error.problems[0].en == "article 999999001 is not in articles.csv"


def test_a_doubled_article_names_the_first_line(files):
    first, later = UNSOLD[0], UNSOLD[1]
    edit_line(files["a"], later, ",".join([line_of(files["a"], first)[0], *line_of(files["a"], later)[1:]]))
    error = problems_of(files)
    assert where(error) == [("articles.csv", later, "article_id")]
    assert error.problems[0].en.endswith(f"is also on line {first}")


def test_a_purchase_of_a_broken_article_row_is_named_too(files):
    sold = line_of(files["t"], 2)[2]
    line = 2 + list(SIM.market.articles.index).index(int(sold))
    edit_line(files["a"], line, ",".join(["x", *line_of(files["a"], line)[1:]]))
    error = problems_of(files)
    assert ("articles.csv", line, "article_id") in where(error)
    assert ("transactions_train.csv", 2, "article_id") in where(error)


def test_header_problems_stop_that_file(files):
    text = files["t"].read_text().split("\n")
    text[0] = "t_dat,customer_id,article_id,sales_channel_id,colour"
    files["t"].write_text("\n".join(text))
    header = files["a"].read_text().split("\n")
    header[0] = header[0].replace(",lab_b", ",lab_bb")
    files["a"].write_text("\n".join(header))
    error = problems_of(files)
    texts = [p.en for p in error.problems]
    assert all(p.line == 1 for p in error.problems)
    assert any("lacks the column(s): price" in t for t in texts)
    assert any('"colour"' in t for t in texts)
    assert any("all together or not at all; missing: lab_b" in t for t in texts)


def test_only_the_first_problems_are_listed_but_all_are_counted(files):
    lines = files["t"].read_text().rstrip("\n").split("\n")
    for i in range(1, 401):
        cells = lines[i].split(",")
        cells[3] = "free"
        lines[i] = ",".join(cells)
    files["t"].write_text("\n".join(lines) + "\n")
    error = problems_of(files)
    assert error.counts["transactions_train.csv"] == 400
    assert len(error.problems) == market.MAX_PROBLEMS
    assert [p.line for p in error.problems] == list(range(2, 2 + market.MAX_PROBLEMS))


def test_ddm_rules_hold_in_a_loaded_file(files):
    frame = pd.read_csv(files["a"], dtype=str, keep_default_na=False)
    frame.loc[3, "retail_krw"] = "100"
    frame.loc[5, "season"] = "winter"
    frame.loc[6, "lab_l"] = "101"
    frame.to_csv(files["a"], index=False, lineterminator="\n")
    error = problems_of(files)
    assert where(error) == [("articles.csv", 5, "retail_krw"), ("articles.csv", 7, "season"),
                            ("articles.csv", 8, "lab_l")]


def test_not_utf8_is_named_with_its_line(files):
    data = files["c"].read_bytes().split(b"\n")
    data[4] = data[4] + b"\xff"
    files["c"].write_bytes(b"\n".join(data))
    error = problems_of(files)
    assert where(error) == [("customers.csv", 5, None)]
    assert "UTF-8" in error.problems[0].en


# --- the real one-day sample ----------------------------------------------------------------------

@pytest.mark.skipif(not FASHION.exists(), reason="the H&M sample lives in ../shared/data/fashion")
def test_the_real_h_and_m_sample_loads_and_writes_back(tmp_path):
    real = load(FASHION / "articles.csv", FASHION / "customers.csv", FASHION / "transactions_train.csv")
    assert len(real.articles) == 4903 and len(real.customers) == 10_000 and len(real.transactions) == 10_000
    assert not real.has_ddm
    assert real.articles.index.dtype == np.int64 and real.articles["product_code"].dtype == np.int64
    buyers = real.transactions["customer_id"].unique()
    assert len(buyers) == 2954
    assert np.isin(buyers, real.customers.index).sum() == 104
    assert real.first_day == real.last_day == date(2018, 9, 20)
    assert real.transactions["sales_channel_id"].dtype == np.int8
    a, c, t = write(real, tmp_path)
    # customers and transactions come back byte for byte; articles lose pandas' index column
    assert c.read_bytes() == (FASHION / "customers.csv").read_bytes()
    assert t.read_bytes() == (FASHION / "transactions_train.csv").read_bytes()
    assert a.read_text().split("\n")[0] == ",".join(ARTICLE_COLUMNS)
    again = load(a, c, t)
    pd.testing.assert_frame_equal(again.articles, real.articles)
