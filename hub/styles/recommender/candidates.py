"""Stage one: a hundred or so articles per shopper from several cheap sources.

Each source gives (shopper, article, score); the union is the candidate set, and each source's
score (missing where the source did not offer the article) is a feature for the ranker, which is
how it learns how much to trust a source for which shopper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arrays import group_starts, rows_of, top_per_group
from .cf import Factors, Pool
from .history import Snapshot

SOURCES = ("repurchase", "same_style", "together", "als", "popular", "segment", "new")


@dataclass(frozen=True)
class Limits:
    repurchase: int = 24     # the shopper's own articles, most recent first
    style_codes: int = 8     # styles bought lately whose other colours are offered
    style_colours: int = 4   # colours per style
    together_seeds: int = 10
    together: int = 20
    als: int = 40
    popular: int = 24
    segment: int = 24
    new: int = 12


@dataclass
class Pools:
    """What the dot-product sources search, laid out once per snapshot. For serving, every known
    shopper's ALS and new-article lists are worked out in one batch (a few seconds for 50,000
    shoppers), so a request reads them instead of scanning the catalogue."""
    als: Pool        # articles on sale, by ALS factors
    new: Pool        # new articles, by content vectors
    als_top: np.ndarray | None = None      # (n_users, limit) article rows, -1 past the end
    als_score: np.ndarray | None = None
    new_top: np.ndarray | None = None
    new_score: np.ndarray | None = None

    @classmethod
    def of(cls, snap: Snapshot, factors: Factors) -> "Pools":
        return cls(als=Pool.of(factors.item, np.flatnonzero(snap.available)),
                   new=Pool.of(snap.items.content, snap.new))

    def precompute(self, snap: Snapshot, factors: Factors, limits: "Limits") -> None:
        has = np.flatnonzero(snap.user["n"] > 0)
        self.als_top, self.als_score = _table(self.als, factors.user, has, snap.log.n_users, limits.als)
        self.new_top, self.new_score = _table(self.new, snap.profile, has, snap.log.n_users, limits.new)

    def lists(self, which: str, queries: np.ndarray, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        table = getattr(self, f"{which}_top")
        if table is None:
            return getattr(self, which).top(queries[users], k)
        return table[users, :k], getattr(self, f"{which}_score")[users, :k]


def _table(pool: Pool, vectors: np.ndarray, users: np.ndarray, n_users: int, k: int):
    k = min(k, len(pool.rows))
    top = np.full((n_users, k), -1, dtype=np.int32)
    score = np.zeros((n_users, k), dtype=np.float32)
    if k and len(users):
        t, s = pool.top(vectors[users], k)
        top[users], score[users] = t, s
    return top, score


@dataclass
class Candidates:
    users: np.ndarray          # the shoppers asked about (rows)
    row: np.ndarray            # per pair: index into users
    item: np.ndarray           # per pair: article row
    source: dict[str, np.ndarray]   # per pair: the source's score, NaN if the source did not offer it

    def __len__(self) -> int:
        return len(self.row)


def generate(snap: Snapshot, factors: Factors, pools: Pools, users: np.ndarray, limits: Limits = Limits()) -> Candidates:
    n_items = snap.items.n
    users = np.asarray(users, dtype=np.int64)
    found: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    available = snap.available

    # the shopper's own articles
    owner, pos = rows_of(snap.ui_ptr, users, limits.repurchase)
    items = snap.ui_item[pos]
    ok = available[items]
    found.append(("repurchase", owner[ok], items[ok], snap.ui_weight[pos][ok]))

    # other colours of the styles the shopper bought lately
    owner, pos = rows_of(snap.uc_ptr, users, limits.style_codes)
    codes = snap.uc_code[pos]
    o2, p2 = rows_of(snap.code_ptr, codes, limits.style_colours)
    found.append(("same_style", owner[o2], snap.code_item[p2], snap.uc_count[pos][o2].astype(np.float32)))

    # bought together with the shopper's recent articles
    owner, pos = rows_of(snap.ui_ptr, users, limits.together_seeds)
    seeds = snap.ui_item[pos]
    o2, p2 = rows_of(snap.nb_ptr, seeds, None)
    if len(p2):
        row, item, score = owner[o2], snap.nb_item[p2].astype(np.int64), snap.nb_score[p2]
        key = row * n_items + item
        order = np.argsort(key, kind="stable")
        starts = group_starts(key[order])
        key_u, summed = key[order][starts], np.add.reduceat(score[order], starts)
        row, item = key_u // n_items, key_u % n_items
        ok = available[item]
        row, item, summed = row[ok], item[ok], summed[ok]
        keep = top_per_group(row, summed, limits.together)
        found.append(("together", row[keep], item[keep], summed[keep]))

    # collaborative filtering, for shoppers ALS knows
    has = np.flatnonzero(snap.user["n"][users] > 0)
    if len(has) and limits.als:
        top, score = pools.lists("als", factors.user, users[has], limits.als)
        row, top, score = np.repeat(has, top.shape[1]), top.ravel(), score.ravel()
        found.append(("als", row[top >= 0], top[top >= 0], score[top >= 0]))

    # the week's best sellers, overall and for the shopper's age band
    pop = snap.popular[: limits.popular]
    found.append(("popular", np.repeat(np.arange(len(users)), len(pop)), np.tile(pop, len(users)),
                  np.tile(snap.popular_score[pop], len(users)).astype(np.float32)))
    seg_lists = snap.segment_popular[snap.log.segment[users], : limits.segment]
    row = np.repeat(np.arange(len(users)), seg_lists.shape[1])
    item = seg_lists.ravel()
    ok = item >= 0
    seg_score = snap.segment_score[snap.log.segment[users][row[ok]], item[ok]].astype(np.float32)
    found.append(("segment", row[ok], item[ok], seg_score))

    # new articles close to the shopper's taste
    if len(snap.new) and len(has) and limits.new:
        top, score = pools.lists("new", snap.profile, users[has], limits.new)
        row, top, score = np.repeat(has, top.shape[1]), top.ravel(), score.ravel()
        found.append(("new", row[top >= 0], top[top >= 0], score[top >= 0]))

    rows = np.concatenate([f[1] for f in found]).astype(np.int64)
    items = np.concatenate([f[2] for f in found]).astype(np.int64)
    key = rows * n_items + items
    unique, inverse = np.unique(key, return_inverse=True)
    source = {}
    start = 0
    for name, r, _, s in found:
        column = source.get(name)
        if column is None:
            column = source[name] = np.full(len(unique), np.nan, dtype=np.float32)
        column[inverse[start:start + len(r)]] = s
        start += len(r)
    for name in SOURCES:
        source.setdefault(name, np.full(len(unique), np.nan, dtype=np.float32))
    return Candidates(users=users, row=(unique // n_items).astype(np.int64),
                      item=(unique % n_items).astype(np.int64), source=source)
