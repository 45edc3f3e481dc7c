"""A fashion market in memory, in the H&M Kaggle competition's three files: `articles.csv` (one
row per colour variant of a style), `customers.csv`, `transactions_train.csv` (one row per piece
bought). The styles recommender trains and is evaluated on a `Market`, whether it comes from the
real H&M data, the shopper simulator (simulators/shoppers.py) or the hub's own catalogue.

Articles may carry the Dongdaemun columns (`DDM_COLUMNS`: the shop, names in Korean, English and
Chinese, wholesale and retail price, minimum order, stock freshness, the colour as CIELAB, the
season); the catalogue CSV (hub.styles.catalogue) is such an articles file. They are all there or
none is.

Loading checks every cell with the same rules as the registry's CSV files (hub.core.csvfile):
a value is parsed once per distinct text (a million purchases hold a few tens of thousands of
distinct ids), so the check is fast and its reasons are the registry's words. Anything wrong, in
any of the three files, and nothing is loaded: `MarketFileError` names the first problems of each
file (file, line, column, reason in Korean and English) and counts them all. A shopper who buys
but is missing from customers.csv is fine (the real H&M sample has thousands); an article bought
but missing from articles.csv is a problem.

Prices in transactions are what the H&M files hold: a normalised number. The simulator and the
catalogue write paid KRW / PRICE_UNIT_KRW, which puts a Dongdaemun T-shirt (about 20,000 KRW)
near H&M's own scale (its median is about 0.025).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from hub.core.csvfile import (
    Cell,
    Choice,
    Column,
    Date,
    Decimal,
    Integer,
    Invalid,
    Pattern,
    Problem,
    Real,
    Text,
    escape_cell,
    show,
    unescape_cell,
)
from hub.core.ids import TAG_VALUE

ARTICLES_FILE, CUSTOMERS_FILE, TRANSACTIONS_FILE = "articles.csv", "customers.csv", "transactions_train.csv"

#: Paid KRW per unit of a transaction's price.
PRICE_UNIT_KRW = 1_000_000
#: Problems listed per file (all are counted).
MAX_PROBLEMS = 50

ARTICLE_COLUMNS: tuple[str, ...] = (
    "article_id", "product_code", "prod_name", "product_type_no", "product_type_name", "product_group_name",
    "graphical_appearance_no", "graphical_appearance_name", "colour_group_code", "colour_group_name",
    "perceived_colour_value_id", "perceived_colour_value_name", "perceived_colour_master_id",
    "perceived_colour_master_name", "department_no", "department_name", "index_code", "index_name",
    "index_group_no", "index_group_name", "section_no", "section_name", "garment_group_no", "garment_group_name",
    "detail_desc",
)
DDM_COLUMNS: tuple[str, ...] = (
    "shop_id", "name_ko", "name_en", "name_zh", "wholesale_krw", "retail_krw", "min_order", "fresh_date",
    "lab_l", "lab_a", "lab_b", "season",
)
CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id", "FN", "Active", "club_member_status", "fashion_news_frequency", "age", "postal_code")
TRANSACTION_COLUMNS: tuple[str, ...] = ("t_dat", "customer_id", "article_id", "price", "sales_channel_id")
SEASONS_OF_STOCK: tuple[str, ...] = ("all", "ss", "fw")   # all year, spring/summer, fall/winter

_CODE = Integer(-1, 10**12)   # H&M writes -1 for "Unknown"
_CUSTOMER = Pattern(re.compile(r"[A-Za-z0-9_-]{1,64}"),
                    "영문자, 숫자, '-', '_'로 1~64자여야 합니다 (H&M은 64자리 16진수)",
                    "may hold only letters, digits, '-' and '_', 1 to 64 of them (H&M's are 64 hex digits)")
_ARTICLE = Integer(1, 10**12)

ARTICLE_CELLS: tuple[Column, ...] = (
    Column("article_id", _ARTICLE),
    Column("product_code", Integer(1, 10**9)),
    Column("prod_name", Text(200)),
    Column("product_type_no", _CODE),
    Column("product_type_name", Text(100)),
    Column("product_group_name", Text(100)),
    Column("graphical_appearance_no", _CODE),
    Column("graphical_appearance_name", Text(100)),
    Column("colour_group_code", _CODE),
    Column("colour_group_name", Text(100)),
    Column("perceived_colour_value_id", _CODE),
    Column("perceived_colour_value_name", Text(100)),
    Column("perceived_colour_master_id", _CODE),
    Column("perceived_colour_master_name", Text(100)),
    Column("department_no", _CODE),
    Column("department_name", Text(100)),
    Column("index_code", Text(8)),
    Column("index_name", Text(100)),
    Column("index_group_no", _CODE),
    Column("index_group_name", Text(100)),
    Column("section_no", _CODE),
    Column("section_name", Text(100)),
    Column("garment_group_no", _CODE),
    Column("garment_group_name", Text(100)),
    Column("detail_desc", Text(2000, required=False)),
)
_KRW = Integer(100, 100_000_000)
_LAB_AB = Decimal(-128.0, 127.0, 1, "12.5")
DDM_CELLS: tuple[Column, ...] = (
    Column("shop_id", Pattern(TAG_VALUE, "영문자, 숫자, '-', '_', '.'만 써서 1~64자여야 합니다 (등록부의 매장 id)",
                              "may hold only letters, digits, '-', '_' and '.', 1 to 64 of them (a registry shop id)")),
    Column("name_ko", Text(200)),
    Column("name_en", Text(200)),
    Column("name_zh", Text(200)),
    Column("wholesale_krw", _KRW),
    Column("retail_krw", _KRW),
    Column("min_order", Integer(1, 100_000)),
    Column("fresh_date", Date()),
    Column("lab_l", Decimal(0.0, 100.0, 1, "62.5", " (CIELAB 명도 L*)", " (CIELAB lightness L*)")),
    Column("lab_a", _LAB_AB),
    Column("lab_b", _LAB_AB),
    Column("season", Choice(SEASONS_OF_STOCK)),
)
CUSTOMER_CELLS: tuple[Column, ...] = (
    Column("customer_id", _CUSTOMER),
    Column("FN", Real(0.0, 1.0, required=False, example="1.0")),
    Column("Active", Real(0.0, 1.0, required=False, example="1.0")),
    Column("club_member_status", Text(40, required=False)),
    Column("fashion_news_frequency", Text(40, required=False)),
    Column("age", Real(0.0, 120.0, required=False, example="34.0")),
    Column("postal_code", Text(100, required=False)),
)
TRANSACTION_CELLS: tuple[Column, ...] = (
    Column("t_dat", Date()),
    Column("customer_id", _CUSTOMER),
    Column("article_id", _ARTICLE),
    Column("price", Real(0.0, 10_000.0, example="0.0305")),
    Column("sales_channel_id", Integer(1, 2)),
)


def retail_covers_wholesale(wholesale: np.ndarray, retail: np.ndarray) -> np.ndarray:
    """Rows whose retail price is below their wholesale price (a row rule of the DDM columns)."""
    return retail < wholesale


RETAIL_BELOW_WHOLESALE = ("소매가(retail_krw)가 도매가(wholesale_krw)보다 낮습니다",
                          "retail_krw is below wholesale_krw")


# --- the market -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Market:
    """The three H&M tables. articles: index article_id (int64), the H&M columns (codes int64,
    names str) and the DDM columns when present (prices int64, lab_* float64, fresh_date
    datetime64). customers: index customer_id (str); age, FN, Active float64 (NaN when unknown);
    the rest str ("" when empty). transactions: t_dat (datetime64, a day), customer_id (str),
    article_id (int64), price (float64), sales_channel_id (int8), sorted by t_dat; a row per piece."""

    articles: pd.DataFrame
    customers: pd.DataFrame
    transactions: pd.DataFrame

    @property
    def has_ddm(self) -> bool:
        """Do the articles carry the Dongdaemun columns (shop, KRW prices, CIELAB, ...)?"""
        return all(c in self.articles.columns for c in DDM_COLUMNS)

    @property
    def first_day(self) -> date | None:
        return None if self.transactions.empty else self.transactions["t_dat"].iloc[0].date()

    @property
    def last_day(self) -> date | None:
        return None if self.transactions.empty else self.transactions["t_dat"].iloc[-1].date()

    def until(self, day: date) -> Market:
        """Purchases strictly before `day`; articles and customers kept whole."""
        t = self.transactions
        return replace(self, transactions=t[t["t_dat"] < pd.Timestamp(day)].reset_index(drop=True))

    def between(self, start: date, end: date) -> Market:
        """Purchases in [start, end)."""
        t = self.transactions
        keep = (t["t_dat"] >= pd.Timestamp(start)) & (t["t_dat"] < pd.Timestamp(end))
        return replace(self, transactions=t[keep].reset_index(drop=True))

    def week_after(self, day: date) -> Market:
        """Purchases in the seven days from `day` (the H&M competition's test window)."""
        return self.between(day, day + timedelta(days=7))


class MarketFileError(Exception):
    """The files hold problems, so nothing was loaded. `problems`: the first MAX_PROBLEMS of each
    file, by line (each names its file); `counts`: every problem, per file."""

    def __init__(self, problems: list[Problem], counts: dict[str, int]):
        self.problems = problems
        self.counts = counts
        summary = ", ".join(f"{name}: {n}" for name, n in counts.items() if n)
        shown = "\n".join(str(p) for p in problems[:20])
        super().__init__(f"problems in the market files ({summary}); nothing was loaded\n{shown}")

    def text_ko(self) -> str:
        summary = ", ".join(f"{name} {n}건" for name, n in self.counts.items() if n)
        return (f"파일에 문제가 있어 아무것도 읽지 않았습니다 ({summary})\n"
                + "\n".join(p.text_ko() for p in self.problems[:20]))


# --- reading ----------------------------------------------------------------------------------

@dataclass
class _Table:
    """One file's cells as text (a column per header name) and the line each row starts on."""

    name: str
    header: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    problems: list[Problem] = field(default_factory=list)
    count: int = 0

    def problem(self, line: int, column: str | None, ko: str, en: str) -> None:
        self.count += 1
        if len(self.problems) < 4 * MAX_PROBLEMS:  # sorted and cut to MAX_PROBLEMS at the end
            self.problems.append(Problem(int(line), column, ko, en, file=self.name))


def _read_text(path: Path, table: _Table) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as e:
        table.problem(1, None, f"파일을 열 수 없습니다: {e.strerror}", f"cannot be opened: {e.strerror}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        table.problem(data[:e.start].count(b"\n") + 1, None,
                      "UTF-8 텍스트가 아닙니다. 엑셀에서는 'CSV UTF-8(쉼표로 분리)'로 저장해 주세요",
                      "is not UTF-8 text; in Excel, save as \"CSV UTF-8 (Comma delimited)\"")
        return None


def _split(text: str, table: _Table, expected: Sequence[str], optional: Sequence[str] = ()) -> None:
    """Fills table.header, .frame (text cells, a column per header name) and .lines; a header or
    row-length problem leaves .frame None (the rows cannot be trusted)."""
    first_end = text.find("\n")
    header_line = text if first_end < 0 else text[:first_end]
    header = [h.strip() for h in next(csv.reader([header_line.rstrip("\r")]), [])]
    if not any(header):
        table.problem(1, None, "첫 줄에 열 이름(머리글)이 없습니다: " + ",".join(expected),
                      "the first line must be the header: " + ",".join(expected))
        return
    index_column = header[0] in ("", "Unnamed: 0")  # pandas' index, as the real H&M sample has it
    names = header[1:] if index_column else header
    doubled = sorted({h for h in names if names.count(h) > 1 and h})
    missing = [h for h in expected if h not in names]
    unknown = [h for h in names if h not in expected and h not in optional]
    partial = [h for h in optional if h not in names] if any(h in names for h in optional) else []
    if doubled:
        table.problem(1, None, f"머리글에 같은 열이 두 번 있습니다: {', '.join(doubled)}",
                      f"the header names a column twice: {', '.join(doubled)}")
    if missing:
        table.problem(1, None, f"머리글에 이 열이 없습니다: {', '.join(missing)}",
                      f"the header lacks the column(s): {', '.join(missing)}")
    if unknown:
        shown = ", ".join(show(h) for h in unknown)
        table.problem(1, None, f"머리글에 모르는 열이 있습니다: {shown} ({table.name}의 열: {', '.join(expected)})",
                      f"the header has columns {table.name} does not have: {shown} (expected: {', '.join(expected)})")
    if partial:
        table.problem(1, None, f"동대문 열은 모두 있거나 모두 없어야 합니다. 없는 열: {', '.join(partial)}",
                      f"the Dongdaemun columns come all together or not at all; missing: {', '.join(partial)}")
    if table.count:
        return
    table.header = names
    width = len(header)
    if '"' not in text:
        # The common case (H&M's transactions and customers): no quoting, so a row is a line and
        # its cells are its commas plus one. numpy counts them for a million lines in a blink.
        raw = np.frombuffer(text.encode("utf-8"), np.uint8)
        ends = np.flatnonzero(raw == 10)
        if ends.size == 0 or ends[-1] != raw.size - 1:
            ends = np.append(ends, raw.size)
        commas = np.flatnonzero(raw == 44)
        per_line = np.diff(np.searchsorted(commas, np.concatenate([[-1], ends])))
        lengths = np.diff(np.concatenate([[-1], ends])) - 1
        cr = np.zeros(lengths.shape, bool)
        inside = ends[lengths > 0] - 1
        cr[lengths > 0] = raw[np.minimum(inside, raw.size - 1)] == 13
        blank = (lengths - cr) <= 0
        per_line, blank = per_line[1:], blank[1:]    # the header
        wrong = np.flatnonzero(~blank & (per_line + 1 != width))
        if wrong.size == 0:
            frame = pd.read_csv(io.StringIO(text), header=None, skiprows=1, dtype=str, keep_default_na=False,
                                na_filter=False, skip_blank_lines=False, names=list(range(width)),
                                quoting=csv.QUOTE_NONE, engine="c")
            lines = np.arange(2, len(frame) + 2, dtype=np.int64)
            keep = ~blank[:len(frame)] if len(blank) >= len(frame) else np.ones(len(frame), bool)
            _keep_rows(table, frame, lines, keep, index_column)
            return
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    rows, lines = [], []
    previous_end = reader.line_num
    for cells in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != width:
            table.problem(line, None,
                          f"칸이 {len(cells)}개인데 머리글은 {width}개입니다 (쉼표가 든 칸은 큰따옴표로 감싸야 합니다)",
                          f"has {len(cells)} cells where the header has {width} "
                          "(a cell with a comma in it needs double quotes around it)")
            continue
        rows.append(cells)
        lines.append(line)
    frame = pd.DataFrame(rows, columns=list(range(width)), dtype=str) if rows else \
        pd.DataFrame({i: pd.Series([], dtype=str) for i in range(width)})
    _keep_rows(table, frame, np.asarray(lines, np.int64), np.ones(len(frame), bool), index_column)


def _keep_rows(table: _Table, frame: pd.DataFrame, lines: np.ndarray, keep: np.ndarray, index_column: bool) -> None:
    if index_column:
        frame = frame.drop(columns=[0])
    frame.columns = table.header
    # A row of only commas (spreadsheets leave them at the end) is blank too.
    filled = np.zeros(len(frame), bool)
    for name in table.header:
        filled |= frame[name].to_numpy() != ""
    keep = keep & filled
    table.frame = frame[keep].reset_index(drop=True)
    table.lines = lines[keep]


def _parse_column(table: _Table, column: Column) -> np.ndarray:
    """The column's values (one parse per distinct text); bad cells become problems."""
    texts = table.frame[column.name]
    codes, uniques = pd.factorize(texts, sort=False)
    cell: Cell = column.cell
    kind = _kind(cell)
    good = np.ones(len(uniques), bool)
    values: list = []
    errors: dict[int, Invalid] = {}
    for i, raw in enumerate(uniques):
        try:
            value = cell.parse(unescape_cell(raw))
        except Invalid as e:
            errors[i] = e
            good[i] = False
            value = None
        values.append(value)
    if errors:
        bad_rows = np.flatnonzero(~good[codes])
        table.count += len(bad_rows) - min(len(bad_rows), 4 * MAX_PROBLEMS)
        for row in bad_rows[:4 * MAX_PROBLEMS]:
            e, raw = errors[codes[row]], uniques[codes[row]]
            shown = ("값" if column.personal else show(raw), "the value" if column.personal else show(raw))
            table.problem(table.lines[row], column.name, e.ko.replace("{v}", shown[0]), e.en.replace("{v}", shown[1]))
    if kind == "int":
        typed = np.array([v if v is not None else 0 for v in values], np.int64)
    elif kind == "float":
        typed = np.array([v if v is not None else np.nan for v in values], np.float64)
    elif kind == "date":
        typed = np.array([np.datetime64(v, "ns") if v is not None else np.datetime64("NaT", "ns") for v in values])
    else:
        typed = np.array([v if v is not None else "" for v in values], object)
    if len(typed) == 0:
        typed = typed.astype({"int": np.int64, "float": np.float64, "date": "datetime64[ns]"}.get(kind, object))
    return typed[codes]


def _kind(cell: Cell) -> str:
    if isinstance(cell, Integer):
        return "int"
    if isinstance(cell, (Real, Decimal)):
        return "float"
    if isinstance(cell, Date):
        return "date"
    return "text"


def _duplicates(table: _Table, column: str, values: np.ndarray) -> None:
    series = pd.Series(values)
    doubled = series.duplicated(keep="first").to_numpy()
    if not doubled.any():
        return
    first_line = pd.Series(table.lines).groupby(series.to_numpy()).transform("first").to_numpy()
    for row in np.flatnonzero(doubled):
        shown = show(str(values[row]))
        table.problem(table.lines[row], column, f"{shown}이(가) {first_line[row]}행에도 있습니다",
                      f"{shown} is also on line {first_line[row]}")


def _parse_all(table: _Table, columns: Sequence[Column]) -> dict[str, np.ndarray]:
    return {c.name: _parse_column(table, c) for c in columns if c.name in table.header}


def load(articles: Path, customers: Path, transactions: Path) -> Market:
    """The three H&M files as a Market; MarketFileError (nothing loaded) when any holds a problem.
    Takes a byte-order mark, CRLF line ends, columns in any order, blank rows, the unnamed index
    column pandas writes, article ids with H&M's leading zero."""
    a_table, c_table, t_table = _Table(Path(articles).name), _Table(Path(customers).name), _Table(Path(transactions).name)
    for path, table, expected, optional in ((articles, a_table, ARTICLE_COLUMNS, DDM_COLUMNS),
                                            (customers, c_table, CUSTOMER_COLUMNS, ()),
                                            (transactions, t_table, TRANSACTION_COLUMNS, ())):
        text = _read_text(Path(path), table)
        if text is not None:
            _split(text, table, expected, optional)

    a_values = _parse_all(a_table, ARTICLE_CELLS + DDM_CELLS) if a_table.frame is not None else {}
    if a_values:
        _duplicates(a_table, "article_id", a_values["article_id"])
        if "retail_krw" in a_values:
            below = np.flatnonzero(retail_covers_wholesale(a_values["wholesale_krw"], a_values["retail_krw"])
                                   & (a_values["wholesale_krw"] > 0) & (a_values["retail_krw"] > 0))
            for row in below:
                a_table.problem(a_table.lines[row], "retail_krw", *RETAIL_BELOW_WHOLESALE)
    c_values = _parse_all(c_table, CUSTOMER_CELLS) if c_table.frame is not None else {}
    if c_values:
        _duplicates(c_table, "customer_id", c_values["customer_id"])
    t_values = _parse_all(t_table, TRANSACTION_CELLS) if t_table.frame is not None else {}
    if t_values and a_values:
        # Every article id the articles file names, its bad rows too: a purchase of an article
        # whose row is wrong is that row's problem, not a second one here.
        named = pd.Index(a_values["article_id"][a_values["article_id"] > 0])
        unknown = np.flatnonzero(~pd.Index(t_values["article_id"]).isin(named)
                                 & (t_values["article_id"] > 0))
        for row in unknown[:4 * MAX_PROBLEMS]:
            aid = t_values["article_id"][row]
            t_table.problem(t_table.lines[row], "article_id", f"상품 {aid}이(가) {a_table.name}에 없습니다",
                            f"article {aid} is not in {a_table.name}")
        t_table.count += max(0, len(unknown) - 4 * MAX_PROBLEMS)

    tables = (a_table, c_table, t_table)
    if any(t.count for t in tables):
        problems = []
        for table in tables:
            order = {name: i for i, name in enumerate(table.header)}
            table.problems.sort(key=lambda p: (p.line, -1 if p.column is None else order.get(p.column, len(order))))
            problems.extend(table.problems[:MAX_PROBLEMS])
        raise MarketFileError(problems, {t.name: t.count for t in tables})
    return _market(a_values, c_values, t_values)


def _market(a: dict[str, np.ndarray], c: dict[str, np.ndarray], t: dict[str, np.ndarray]) -> Market:
    article_columns = [n for n in ARTICLE_COLUMNS + DDM_COLUMNS if n in a and n != "article_id"]
    a_index = pd.Index(a["article_id"], name="article_id", dtype=np.int64)
    articles = pd.DataFrame({n: _series(a[n], a_index) for n in article_columns}, index=a_index)
    c_index = pd.Index(c["customer_id"], name="customer_id", dtype=str)
    customers = pd.DataFrame({n: _series(c[n], c_index) for n in CUSTOMER_COLUMNS[1:]}, index=c_index)
    transactions = pd.DataFrame({
        "t_dat": pd.Series(t["t_dat"], dtype="datetime64[ns]"),
        "customer_id": pd.Series(t["customer_id"], dtype=str),
        "article_id": pd.Series(t["article_id"], dtype=np.int64),
        "price": pd.Series(t["price"], dtype=np.float64),
        "sales_channel_id": pd.Series(t["sales_channel_id"], dtype=np.int8),
    })
    transactions = transactions.sort_values("t_dat", kind="stable").reset_index(drop=True)
    return Market(articles, customers, transactions)


def _series(values: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype=str if values.dtype == object else values.dtype)


# --- writing ----------------------------------------------------------------------------------

_FORMATS = {c.name: c.cell for c in ARTICLE_CELLS + DDM_CELLS}


def _text_column(series: pd.Series, cell: Cell) -> pd.Series:
    """A column as its canonical text (the catalogue CSV's), spreadsheet-escaped where text."""
    if isinstance(cell, Integer):
        return series.astype(np.int64).astype(str)
    if isinstance(cell, Decimal):
        return series.map(lambda v: cell.format(round(float(v), cell.places) + 0.0))
    if isinstance(cell, Date):
        return pd.to_datetime(series).dt.strftime("%Y-%m-%d")
    return series.astype(str).map(escape_cell)


def articles_text(articles: pd.DataFrame) -> str:
    """The articles as an articles.csv (the H&M columns, then the DDM ones when present)."""
    frame = articles.reset_index()
    columns = [n for n in ARTICLE_COLUMNS + DDM_COLUMNS if n in frame.columns]
    out = pd.DataFrame({n: _text_column(frame[n], _FORMATS[n]) for n in columns})
    return out.to_csv(index=False, lineterminator="\n")


def write(market: Market, folder: Path) -> tuple[Path, Path, Path]:
    """The market as the H&M competition's three files in `folder` (made if missing); returns
    their paths (articles, customers, transactions)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    a_path, c_path, t_path = folder / ARTICLES_FILE, folder / CUSTOMERS_FILE, folder / TRANSACTIONS_FILE
    a_path.write_text(articles_text(market.articles), encoding="utf-8")
    customers = market.customers.reset_index()[list(CUSTOMER_COLUMNS)].copy()
    for name in ("FN", "Active", "age"):
        customers[name] = customers[name].map(lambda v: "" if v != v else repr(float(v)))
    for name in ("club_member_status", "fashion_news_frequency", "postal_code"):
        customers[name] = customers[name].astype(str).map(escape_cell)
    c_path.write_text(customers.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    t = market.transactions
    out = pd.DataFrame({
        "t_dat": t["t_dat"].dt.strftime("%Y-%m-%d"),
        "customer_id": t["customer_id"],
        "article_id": t["article_id"].astype(np.int64),
        "price": t["price"].astype(np.float64),
        "sales_channel_id": t["sales_channel_id"].astype(np.int64),
    })
    t_path.write_text(out.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    return a_path, c_path, t_path
