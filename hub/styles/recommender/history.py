"""The purchase log as arrays, and everything the recommender knows about it at one day.

`Log` encodes a market once (shoppers and articles as row numbers, days as integers). A
`Snapshot` is the state of knowledge on a day `now`: only purchases strictly before `now` count,
and only articles on sale by then (sold before, or with a stock freshness date before `now`)
can be recommended. The ranker is trained on a snapshot a week before the one it serves from, so
every figure it learns from is built the same way as the figures it is used with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._arrays import csr_from, group_starts, top_per_group
from .items import Items, day_numbers

AGE_BANDS = ((0, 25, "-24"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 200, "55-"))
SEGMENTS = tuple(label for *_, label in AGE_BANDS) + ("unknown",)
AFFINITY = ("product_type", "graphical", "colour_master", "index_group", "garment_group", "section", "department")
POPULAR_DAYS = 7      # "popular this week"
TOP_POPULAR = 60      # how many of the week's best sellers each list keeps
NEIGHBOURS = 12       # articles kept per article as "bought together"
NEW_DAYS = 14         # an article on sale for at most this long is new


@dataclass
class Log:
    items: Items
    user_ids: np.ndarray            # customer_id (str)
    user_position: dict[str, int]
    age: np.ndarray                 # float, NaN if unknown
    segment: np.ndarray             # index into SEGMENTS
    u: np.ndarray                   # per purchase: shopper row
    i: np.ndarray                   # article row
    day: np.ndarray                 # days since 1970
    price: np.ndarray

    @classmethod
    def from_market(cls, market, items: Items | None = None, *, seed: int = 0) -> "Log":
        items = items or Items.from_articles(market.articles, seed=seed)
        tx = market.transactions
        customers = market.customers
        known = customers.index.astype(str).to_numpy()
        bought = pd.unique(tx["customer_id"].astype(str).to_numpy())
        strangers = bought[~pd.Index(bought).isin(known)]   # buyers customers.csv does not list
        user_ids = np.concatenate([known, strangers]).astype(object)
        user_position = {c: n for n, c in enumerate(user_ids)}
        age = np.full(len(user_ids), np.nan)
        if "age" in customers:
            age[: len(known)] = pd.to_numeric(customers["age"], errors="coerce").to_numpy(dtype=np.float64)
        segment = np.full(len(user_ids), len(SEGMENTS) - 1, dtype=np.int8)
        for n, (low, high, _) in enumerate(AGE_BANDS):
            segment[(age >= low) & (age < high)] = n
        u = pd.Index(user_ids).get_indexer(tx["customer_id"].astype(str).to_numpy()).astype(np.int32)
        i = items.rows(tx["article_id"].to_numpy()).astype(np.int32)
        if (i < 0).any():
            missing = sorted(set(tx["article_id"].to_numpy()[i < 0].tolist()))[:5]
            raise ValueError(f"purchases of articles not in the catalogue: {missing}")
        day = day_numbers(tx["t_dat"].to_numpy()).astype(np.int32)
        price = tx["price"].to_numpy(dtype=np.float32) if "price" in tx else np.zeros(len(tx), np.float32)
        return cls(items=items, user_ids=user_ids, user_position=user_position, age=age, segment=segment,
                   u=u, i=i, day=day, price=price)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def last_day(self) -> int | None:
        return int(self.day.max()) if len(self.day) else None


@dataclass
class Snapshot:
    """What is known at the start of day `now` (purchases before it)."""
    log: Log
    now: int
    # per (shopper, article), CSR by shopper, most recent first
    ui_ptr: np.ndarray = field(repr=False)
    ui_item: np.ndarray = field(repr=False)
    ui_count: np.ndarray = field(repr=False)
    ui_last: np.ndarray = field(repr=False)       # days ago of the last purchase (>= 1)
    ui_weight: np.ndarray = field(repr=False)     # time-decayed count
    ui_key: np.ndarray = field(repr=False)        # sorted shopper * n_items + article, for lookups
    ui_key_pos: np.ndarray = field(repr=False)    # its position in the CSR arrays
    # per (shopper, product_code), CSR by shopper, most recent first
    uc_ptr: np.ndarray = field(repr=False)
    uc_code: np.ndarray = field(repr=False)
    uc_count: np.ndarray = field(repr=False)
    uc_last: np.ndarray = field(repr=False)
    uc_key: np.ndarray = field(repr=False)
    uc_key_pos: np.ndarray = field(repr=False)
    user: dict[str, np.ndarray] = field(repr=False)      # per shopper figures
    item: dict[str, np.ndarray] = field(repr=False)      # per article figures
    available: np.ndarray = field(repr=False)            # on sale at `now`
    new: np.ndarray = field(repr=False)                  # rows of articles new in the last two weeks
    is_new: np.ndarray = field(repr=False)               # the same as a mask
    popular: np.ndarray = field(repr=False)              # the week's best sellers, best first (rows)
    popular_score: np.ndarray = field(repr=False)        # per article: the decayed popularity
    segment_popular: np.ndarray = field(repr=False)      # (segments, TOP_POPULAR) rows, -1 padded
    segment_score: np.ndarray = field(repr=False)        # (segments, n_items)
    affinity: dict[str, np.ndarray] = field(repr=False)  # attribute -> (n_users, levels) share of purchases
    nb_ptr: np.ndarray = field(repr=False)               # bought together: CSR by article
    nb_item: np.ndarray = field(repr=False)
    nb_score: np.ndarray = field(repr=False)
    code_ptr: np.ndarray = field(repr=False)             # product_code -> its articles on sale, best first
    code_item: np.ndarray = field(repr=False)
    profile: np.ndarray = field(repr=False)              # per shopper: unit content vector of what they bought

    @property
    def items(self) -> Items:
        return self.log.items

    def history_matrix(self, weight: str = "ui_weight") -> sp.csr_matrix:
        """shoppers x articles of the time-decayed purchase counts."""
        rows = np.repeat(np.arange(self.log.n_users), np.diff(self.ui_ptr))
        return sp.csr_matrix((getattr(self, weight).astype(np.float32), (rows, self.ui_item)),
                             shape=(self.log.n_users, self.items.n))

    @classmethod
    def build(cls, log: Log, now: int, *, half_life: float = 21.0) -> "Snapshot":
        items, n_items, n_users = log.items, log.items.n, log.n_users
        keep = log.day < now
        u, i, day, price = log.u[keep], log.i[keep], log.day[keep], log.price[keep]
        ago = (now - day).astype(np.int32)
        decay = np.exp(-np.log(2) * (ago - 1) / half_life).astype(np.float32)

        # per shopper and article, and per shopper and style (product_code)
        ui = _Pairs.of(u, i, n_items, day, now)
        weight = np.add.reduceat(decay[ui.order], ui.starts) if len(ui.key) else np.zeros(0, np.float32)
        count, last, uu, ii, csr_order = ui.count, ui.last, ui.user, ui.other, ui.csr
        ui_ptr = csr_from(uu[csr_order], n_users)
        n_codes = int(items.code.max(initial=-1)) + 1
        uc = _Pairs.of(u, items.code[i], n_codes, day, now)

        # shoppers
        n_tx = np.bincount(u, minlength=n_users).astype(np.float32)
        user = {
            "n": n_tx,
            "n_4w": np.bincount(u[ago <= 28], minlength=n_users).astype(np.float32),
            "n_1w": np.bincount(u[ago <= 7], minlength=n_users).astype(np.float32),
            "distinct": np.diff(ui_ptr).astype(np.float32),
            "last": np.full(n_users, np.nan, dtype=np.float32),
            "mean_price": np.full(n_users, np.nan, dtype=np.float32),
            "age": log.age.astype(np.float32),
            "segment": log.segment.astype(np.float32),
        }
        has = n_tx > 0
        last_u = np.full(n_users, np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(last_u, u, ago)
        user["last"][has] = last_u[has]
        user["mean_price"][has] = (np.bincount(u, weights=price, minlength=n_users)[has] / n_tx[has])

        # articles
        cnt = lambda m: np.bincount(i[m], minlength=n_items).astype(np.float32)  # noqa: E731
        all_ = np.ones(len(i), dtype=bool)
        item = {"c_1w": cnt(ago <= 7), "c_2w": cnt(ago <= 14), "c_4w": cnt(ago <= 28), "c_all": cnt(all_)}
        item["buyers"] = np.bincount(ii, minlength=n_items).astype(np.float32)
        item["repeat"] = np.where(item["buyers"] > 0,
                                  np.bincount(ii[count > 1], minlength=n_items) / np.maximum(item["buyers"], 1),
                                  np.nan).astype(np.float32)
        item["mean_price"] = np.where(item["c_all"] > 0, np.bincount(i, weights=price, minlength=n_items)
                                      / np.maximum(item["c_all"], 1), np.nan).astype(np.float32)
        first = np.full(n_items, np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(first, i, day)
        latest = np.full(n_items, -1, dtype=np.int64)
        np.maximum.at(latest, i, day)
        sold = item["c_all"] > 0
        since = np.where(sold, first, np.iinfo(np.int32).max)
        if items.fresh is not None:
            since = np.minimum(since, items.fresh)
            available = sold | (items.fresh < now)
        else:
            available = np.ones(n_items, dtype=bool)
        age_days = np.where(since < np.iinfo(np.int32).max, now - since, np.nan).astype(np.float32)
        item["age"] = age_days
        item["last_sold"] = np.where(sold, now - latest, np.nan).astype(np.float32)
        item["trend"] = (item["c_1w"] / (item["c_2w"] - item["c_1w"] + 1.0)).astype(np.float32)
        # "new" needs a log long enough to have seen the article before if it were old
        covered = len(day) and now - int(day.min()) > 2 * NEW_DAYS
        is_new = available & ((age_days <= NEW_DAYS) | np.isnan(age_days)) & bool(covered)
        new = np.flatnonzero(is_new)

        # popularity: the time-decayed one of the H&M competition over the last week
        recent = ago <= POPULAR_DAYS
        inv = (1.0 / ago[recent]).astype(np.float64)
        popular_score = np.bincount(i[recent], weights=inv, minlength=n_items)
        item["popular"] = popular_score.astype(np.float32)
        popular = _best(popular_score, available, TOP_POPULAR)
        n_seg = len(SEGMENTS)
        seg = log.segment[u[recent]].astype(np.int64)
        segment_score = np.bincount(seg * n_items + i[recent], weights=inv,
                                    minlength=n_seg * n_items).reshape(n_seg, n_items)
        segment_popular = np.full((n_seg, TOP_POPULAR), -1, dtype=np.int64)
        for s in range(n_seg):
            best = _best(segment_score[s], available, TOP_POPULAR)
            segment_popular[s, : len(best)] = best

        # what share of a shopper's purchases fall on each level of an attribute
        affinity = {}
        for name in AFFINITY:
            if name in items.attrs and items.levels[name] <= 400:
                levels = items.levels[name]
                counts = np.bincount(u.astype(np.int64) * levels + items.attrs[name][i],
                                     minlength=n_users * levels).reshape(n_users, levels).astype(np.float32)
                affinity[name] = counts / np.maximum(n_tx, 1)[:, None]

        # bought together: articles in the same basket (one shopper, one day), scored by lift-like cosine
        nb_ptr, nb_item, nb_score = _together(u, i, day, n_items)

        # the colours of each style on sale, best sellers first
        on_sale = np.flatnonzero(available)
        corder2 = np.lexsort((-item["c_4w"][on_sale], items.code[on_sale]))
        code_item = on_sale[corder2]
        code_ptr = csr_from(items.code[code_item], n_codes)

        # a shopper's taste in content space: the decayed mean of what they bought
        hist = sp.csr_matrix((weight[csr_order], (uu[csr_order], ii[csr_order])), shape=(n_users, n_items))
        profile = np.asarray(hist @ items.content, dtype=np.float32)
        profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)

        return cls(
            log=log, now=now,
            ui_ptr=ui_ptr, ui_item=ii[csr_order], ui_count=count[csr_order], ui_last=last[csr_order],
            ui_weight=weight[csr_order], ui_key=ui.key, ui_key_pos=ui.key_pos,
            uc_ptr=csr_from(uc.user[uc.csr], n_users), uc_code=uc.other[uc.csr], uc_count=uc.count[uc.csr],
            uc_last=uc.last[uc.csr], uc_key=uc.key, uc_key_pos=uc.key_pos,
            user=user, item=item, available=available, new=new, is_new=is_new, popular=popular,
            popular_score=popular_score, segment_popular=segment_popular, segment_score=segment_score,
            affinity=affinity, nb_ptr=nb_ptr, nb_item=nb_item, nb_score=nb_score,
            code_ptr=code_ptr, code_item=code_item, profile=profile)


@dataclass(frozen=True)
class _Pairs:
    """Purchases grouped by (shopper, something else: an article, a style), each pair once."""

    key: np.ndarray      # sorted shopper * n_other + other, one per pair
    order: np.ndarray    # the purchases sorted by key, then day
    starts: np.ndarray   # where each pair's purchases start in `order`
    count: np.ndarray    # purchases of the pair
    last: np.ndarray     # days ago of its last purchase
    user: np.ndarray
    other: np.ndarray
    csr: np.ndarray      # the pairs by shopper, most recent first, then most bought (the CSR order)
    key_pos: np.ndarray  # each key's position in the CSR order, for lookups

    @classmethod
    def of(cls, u: np.ndarray, other: np.ndarray, n_other: int, day: np.ndarray, now: int) -> "_Pairs":
        key = u.astype(np.int64) * n_other + other
        order = np.lexsort((day, key))
        sk = key[order]
        starts = group_starts(sk)
        ukey = sk[starts]
        count = np.diff(np.r_[starts, len(sk)]).astype(np.int32)
        last = (now - np.maximum.reduceat(day[order], starts)).astype(np.int32) if len(sk) else np.zeros(0, np.int32)
        user, what = (ukey // n_other).astype(np.int32), (ukey % n_other).astype(np.int32)
        csr = np.lexsort((-count, last, user))
        key_pos = np.empty(len(ukey), dtype=np.int64)
        key_pos[csr] = np.arange(len(ukey))
        return cls(ukey, order, starts, count, last, user, what, csr, key_pos)


def _best(score: np.ndarray, available: np.ndarray, k: int) -> np.ndarray:
    candidates = np.flatnonzero(available & (score > 0))
    return candidates[np.lexsort((candidates, -score[candidates]))][:k]


def _together(u, i, day, n_items):
    basket = pd.factorize(u.astype(np.int64) * 100_000 + day)[0] if len(u) else np.zeros(0, np.int64)
    n_baskets = int(basket.max(initial=-1)) + 1
    b = sp.csr_matrix((np.ones(len(i), dtype=np.float32), (basket, i)), shape=(n_baskets, n_items))
    b.data[:] = 1.0   # duplicates summed by the constructor: a basket holds an article once
    c = (b.T @ b).tocoo()
    off = c.row != c.col
    rows, cols, together = c.row[off], c.col[off], c.data[off]
    sold = np.asarray(b.sum(axis=0)).ravel()
    score = together / np.sqrt(sold[rows] * sold[cols])
    score = score * (together >= 2)     # one shared basket is chance
    keep = top_per_group(rows, np.where(score > 0, score, -1.0), NEIGHBOURS)
    keep = keep[score[keep] > 0]
    return csr_from(rows[keep], n_items), cols[keep].astype(np.int32), score[keep].astype(np.float32)
