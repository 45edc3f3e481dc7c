"""The catalogue as arrays: one row per article, codes for its attributes, a content vector.

The content vector is what lets a new article (nobody has bought it yet) be compared with the
ones a shopper bought or liked: its attributes (type, graphical appearance, colour, department,
section, garment group, …) and the words of its name and description, as a sparse TF-IDF-like
row, folded by a truncated SVD into a few dense dimensions so that comparisons are a dot product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import svds

# The H&M attributes that describe a style, numeric code first (the *_name is the fallback when a
# file has only names). Affinity features use the ones with few levels.
ATTRIBUTES = (
    ("product_type", ("product_type_no", "product_type_name")),
    ("product_group", ("product_group_name",)),
    ("graphical", ("graphical_appearance_no", "graphical_appearance_name")),
    ("colour_group", ("colour_group_code", "colour_group_name")),
    ("colour_value", ("perceived_colour_value_id", "perceived_colour_value_name")),
    ("colour_master", ("perceived_colour_master_id", "perceived_colour_master_name")),
    ("department", ("department_no", "department_name")),
    ("index_group", ("index_group_no", "index_group_name")),
    ("section", ("section_no", "section_name")),
    ("garment_group", ("garment_group_no", "garment_group_name")),
    ("season", ("season",)),
)
TEXT_COLUMNS = ("prod_name", "detail_desc")
CONTENT_DIMS = 48
_WORD = re.compile(r"[^\W\d_]{2,}")
DAY_ZERO = np.datetime64("1970-01-01", "D")


def day_numbers(values) -> np.ndarray:
    """Dates (datetime64, date, strings) as whole days since 1970-01-01."""
    return (pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]") - DAY_ZERO).astype(np.int64)


@dataclass
class Items:
    ids: np.ndarray                 # article_id, int64
    position: pd.Index              # article_id -> row
    code: np.ndarray                # product_code as 0..n_codes-1
    product_code: np.ndarray        # product_code as in the file
    attrs: dict[str, np.ndarray]    # attribute name -> 0..levels-1 (missing is its own level)
    levels: dict[str, int]
    names: np.ndarray               # prod_name (str)
    retail: np.ndarray | None       # retail_krw when the catalogue has it
    lab: np.ndarray | None          # (n, 3) CIELAB when the catalogue has it
    fresh: np.ndarray | None        # fresh_date in days since 1970 when the catalogue has it
    content: np.ndarray             # (n, d) unit vectors (zero when an article has nothing to say)

    @property
    def n(self) -> int:
        return len(self.ids)

    def rows(self, article_ids) -> np.ndarray:
        """Row of each article id, -1 for an id the catalogue does not hold."""
        return self.position.get_indexer(np.asarray(article_ids, dtype=np.int64))

    @classmethod
    def from_articles(cls, articles: pd.DataFrame, *, seed: int = 0) -> "Items":
        ids = articles.index.to_numpy(dtype=np.int64)
        n = len(ids)
        if "product_code" in articles:
            product_code = articles["product_code"].to_numpy(dtype=np.int64)
        else:
            product_code = ids // 1000   # H&M: the article id is the product code and 3 colour digits
        code = pd.factorize(product_code)[0].astype(np.int32)
        attrs, levels = {}, {}
        for name, columns in ATTRIBUTES:
            column = next((c for c in columns if c in articles), None)
            if column is None:
                continue
            values = pd.factorize(articles[column], use_na_sentinel=True)[0]
            values = np.where(values < 0, values.max(initial=-1) + 1, values).astype(np.int32)
            attrs[name], levels[name] = values, int(values.max(initial=-1)) + 1
        names = (articles["prod_name"].astype(str).to_numpy() if "prod_name" in articles
                 else np.array([str(i) for i in ids], dtype=object))
        retail = (articles["retail_krw"].to_numpy(dtype=np.float64) if "retail_krw" in articles else None)
        lab = None
        if all(c in articles for c in ("lab_l", "lab_a", "lab_b")):
            lab = articles[["lab_l", "lab_a", "lab_b"]].to_numpy(dtype=np.float64)
        fresh = day_numbers(articles["fresh_date"]) if "fresh_date" in articles else None
        content = _content_vectors(articles, attrs, levels, n, seed)
        return cls(ids=ids, position=pd.Index(ids), code=code, product_code=product_code, attrs=attrs,
                   levels=levels, names=names, retail=retail, lab=lab, fresh=fresh, content=content)


def _content_vectors(articles: pd.DataFrame, attrs, levels, n: int, seed: int) -> np.ndarray:
    blocks = []
    for name, values in attrs.items():
        blocks.append(sp.csr_matrix((np.ones(n, dtype=np.float32), (np.arange(n), values)),
                                    shape=(n, levels[name])))
    text = pd.Series([""] * n, index=articles.index)
    for column in TEXT_COLUMNS:
        if column in articles:
            text = text + " " + articles[column].fillna("").astype(str)
    words = [sorted(set(_WORD.findall(t.lower()))) for t in text]
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for r, ws in enumerate(words):
        for w in ws:
            rows.append(r)
            cols.append(vocabulary.setdefault(w, len(vocabulary)))
    if vocabulary:
        m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(vocabulary)))
        df = np.asarray((m > 0).sum(axis=0)).ravel()
        keep = (df >= 2) & (df <= 0.5 * n)   # a word on one article or on most of them tells nothing
        m = m[:, np.flatnonzero(keep)]
        m = m.multiply(np.log(n / df[keep])).tocsr()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        # the words weigh as much together as two attributes, whatever their number
        m = sp.diags(np.where(norms > 0, np.sqrt(2.0) / np.maximum(norms, 1e-12), 0.0)) @ m
        blocks.append(m.astype(np.float32))
    if not blocks:
        return np.zeros((n, 1), dtype=np.float32)
    x = sp.hstack(blocks, format="csr").astype(np.float64)
    dims = min(CONTENT_DIMS, min(x.shape) - 1)
    if dims < 1:
        dense = x.toarray()
    else:
        rng = np.random.default_rng(seed)
        u, s, _ = svds(x, k=dims, v0=rng.standard_normal(min(x.shape)), random_state=seed)
        dense = u * s
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return (dense / np.maximum(norms, 1e-12)).astype(np.float32)
