"""The styles catalogue: Dongdaemun products as a CSV a shop can keep in a spreadsheet, read and
written with the registry's rules (hub.core.csvfile): every bad cell, row or header named by line
and column in Korean and English, the file taken whole or not at all, and a canonical export so
exporting, importing that and exporting again gives the same bytes.

A catalogue file is an H&M `articles.csv` (the 25 article columns, in H&M's order: a style is a
`product_code`, each colour variant an `article_id` = product_code x 1000 + variant) followed by
the Dongdaemun columns (hub.styles.market.DDM_COLUMNS): the shop (a registry designer id; its
building, floor and stall come from the registry, never copied here), names in Korean, English and
Chinese, wholesale and retail price in KRW, minimum order, the stock's freshness date, the main
colour as CIELAB D65 and the season. So the same file loads as articles with
hub.styles.market.load, and a market's articles export as a catalogue.

Pure: text in, values and problems out. Which shops exist is the caller's to say (`check_shops`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any, TextIO

import numpy as np
import pandas as pd

from hub.core import csvfile
from hub.core.csvfile import ParsedFile, Problem, Spec
from hub.styles.colour import ColourReading, lab_to_hex, read_colour
from hub.styles.market import ARTICLE_CELLS, ARTICLE_COLUMNS, DDM_CELLS, DDM_COLUMNS, RETAIL_BELOW_WHOLESALE

KIND = "products"
#: Registry designer kinds that sell in the catalogue (an online store has no stall to visit).
SHOP_KINDS: tuple[str, ...] = ("wholesale", "designer_brand")
COLUMNS: tuple[str, ...] = ARTICLE_COLUMNS + DDM_COLUMNS


def _retail_covers_wholesale(row: Mapping[str, Any]) -> list[tuple[str | None, str, str]]:
    if row["retail_krw"] < row["wholesale_krw"]:
        return [("retail_krw", *RETAIL_BELOW_WHOLESALE)]
    return []


def _article_of_its_style(row: Mapping[str, Any]) -> list[tuple[str | None, str, str]]:
    if row["article_id"] // 1000 != row["product_code"]:
        return [("article_id",
                 f"article_id {row['article_id']}은(는) product_code {row['product_code']} × 1000 + 색상 번호여야 합니다 "
                 f"(예: {row['product_code'] * 1000 + 1})",
                 f"article_id {row['article_id']} must be product_code {row['product_code']} x 1000 + a variant "
                 f"number (like {row['product_code'] * 1000 + 1})")]
    return []


SPEC = Spec(KIND, ARTICLE_CELLS + DDM_CELLS, key=("article_id",),
            checks=(_retail_covers_wholesale, _article_of_its_style))


@dataclass(frozen=True)
class Product:
    """One catalogue row: a colour variant of a style, and where and for how much it sells."""

    article_id: int
    product_code: int
    prod_name: str
    product_type_no: int
    product_type_name: str
    product_group_name: str
    graphical_appearance_no: int
    graphical_appearance_name: str
    colour_group_code: int
    colour_group_name: str
    perceived_colour_value_id: int
    perceived_colour_value_name: str
    perceived_colour_master_id: int
    perceived_colour_master_name: str
    department_no: int
    department_name: str
    index_code: str
    index_name: str
    index_group_no: int
    index_group_name: str
    section_no: int
    section_name: str
    garment_group_no: int
    garment_group_name: str
    detail_desc: str
    shop_id: str
    name_ko: str
    name_en: str
    name_zh: str
    wholesale_krw: int
    retail_krw: int
    min_order: int
    fresh_date: date
    lab_l: float
    lab_a: float
    lab_b: float
    season: str

    @property
    def swatch_hex(self) -> str:
        """The colour as sRGB "#rrggbb", for the card's swatch."""
        return lab_to_hex(self.lab_l, self.lab_a, self.lab_b)

    @property
    def colour(self) -> ColourReading:
        """The personal-colour reading of the product's colour (with its explanation)."""
        return read_colour(self.lab_l, self.lab_a, self.lab_b)

    def name(self, lang: str) -> str:
        """The product's name in "ko", "en" or "zh" (English for any other language)."""
        return {"ko": self.name_ko, "zh": self.name_zh}.get(lang, self.name_en)

    def values(self) -> dict[str, Any]:
        """The row as csvfile values (the catalogue Spec's columns)."""
        return asdict(self)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Product:
        return cls(**{f.name: values[f.name] for f in fields(cls)})


_INT_COLUMNS = tuple(c.name for c in SPEC.columns if isinstance(c.cell, csvfile.Integer))
_FLOAT_COLUMNS = ("lab_l", "lab_a", "lab_b")


def read_csv(data: bytes | str, progress: Callable[[int, int], None] | None = None,
             shops: Mapping[str, str] | None = None) -> ParsedFile:
    """Every row of a catalogue file parsed and checked (all problems, not only the first). With
    `shops` (registry designer id -> kind) the shop of every good row is checked too; a row with
    a problem is not among the good rows."""
    parsed = csvfile.read_csv(SPEC, data, progress)
    if shops is not None:
        problems = check_shops(parsed, shops)
        if problems:
            bad = {p.line for p in problems}
            parsed.rows = [r for r in parsed.rows if r.line not in bad]
            parsed.problems = sorted(parsed.problems + problems, key=SPEC.problem_order)
    return parsed


def check_shops(parsed: ParsedFile, shops: Mapping[str, str]) -> list[Problem]:
    """Rows whose shop is not in the registry, or is not a shop a shopper can walk into."""
    problems = []
    for row in parsed.rows:
        shop = row.values["shop_id"]
        kind = shops.get(shop)
        if kind is None:
            problems.append(Problem(row.line, "shop_id", f"매장 {shop}이(가) 등록부에 없습니다. designers 파일을 먼저 가져오세요",
                                    f"shop {shop} is not in the registry; import its designers file first"))
        elif kind not in SHOP_KINDS:
            problems.append(Problem(row.line, "shop_id",
                                    f"{shop}은(는) {kind}입니다. 도매(wholesale)나 디자이너 브랜드(designer_brand) 매장만 올릴 수 있습니다",
                                    f"{shop} is a {kind}; only wholesale and designer_brand shops have a stall to visit"))
    return problems


def products(parsed: ParsedFile) -> list[Product]:
    """The good rows as Products, in file order."""
    return [Product.from_values(r.values) for r in parsed.rows]


def write_csv(items: Iterable[Product | Mapping[str, Any]], out: TextIO) -> int:
    """Products (or csvfile value mappings) as a catalogue file; returns the rows written."""
    return csvfile.write_csv(SPEC, (p.values() if isinstance(p, Product) else p for p in items), out)


def export_text(items: Iterable[Product | Mapping[str, Any]]) -> str:
    out = io.StringIO()
    write_csv(items, out)
    return out.getvalue()


# --- between Products and a Market's articles frame ------------------------------------------------

def products_of(articles: pd.DataFrame) -> list[Product]:
    """A Market's articles (with the DDM columns) as Products."""
    missing = [c for c in DDM_COLUMNS if c not in articles.columns]
    if missing:
        raise ValueError(f"these articles have no Dongdaemun columns ({', '.join(missing)}): not a catalogue")
    frame = articles.reset_index()
    columns = {name: frame[name].to_numpy() for name in COLUMNS}
    fresh = pd.to_datetime(frame["fresh_date"]).dt.date.to_numpy()
    out = []
    for i in range(len(frame)):
        values = {}
        for name in COLUMNS:
            v = columns[name][i]
            if name in _INT_COLUMNS:
                v = int(v)
            elif name in _FLOAT_COLUMNS:
                v = float(v)
            elif name == "fresh_date":
                v = fresh[i]
            else:
                v = str(v)
            values[name] = v
        out.append(Product.from_values(values))
    return out


def articles_frame(items: Sequence[Product]) -> pd.DataFrame:
    """Products as a Market's articles frame (index article_id; the dtypes market.load gives)."""
    data = {name: [getattr(p, name) for p in items] for name in COLUMNS}
    index = pd.Index(np.array(data.pop("article_id"), dtype=np.int64), name="article_id")
    frame = {}
    for name, values in data.items():
        if name in _INT_COLUMNS:
            frame[name] = pd.Series(np.array(values, dtype=np.int64), index=index)
        elif name in _FLOAT_COLUMNS:
            frame[name] = pd.Series(np.array(values, dtype=np.float64), index=index)
        elif name == "fresh_date":
            frame[name] = pd.Series(np.array([np.datetime64(v, "ns") for v in values], dtype="datetime64[ns]"),
                                    index=index)
        else:
            frame[name] = pd.Series(values, index=index, dtype=str)
    return pd.DataFrame(frame, index=index)
