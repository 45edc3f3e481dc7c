"""Features of a candidate pair for the ranker: the article's, the shopper's, and the pair's."""

from __future__ import annotations

import numpy as np

from ._arrays import lookup, rank_in_group
from .candidates import SOURCES, Candidates
from .cf import Factors
from .history import Snapshot

ITEM = ("c_1w", "c_2w", "c_4w", "c_all", "buyers", "repeat", "mean_price", "age", "last_sold", "trend", "popular")
USER = ("n", "n_4w", "n_1w", "distinct", "last", "mean_price", "age", "segment")
# No article attribute enters as a category: a ranker that may split on "product type 12" learns
# the training week's fashion and carries it into a week where it has moved on. Attributes enter
# as the shopper's share of purchases in the article's level (aff_*), which means the same any week.
CATEGORIES: tuple[str, ...] = ()
PAIR = ("als", "als_gap", "als_rank", "content", "content_gap", "bought", "bought_last", "bought_weight", "style_bought", "style_last",
        "segment_popular", "price_ratio")


def names(snap: Snapshot) -> list[str]:
    return ([f"src_{s}" for s in SOURCES] + [f"pair_{p}" for p in PAIR]
            + [f"aff_{a}" for a in snap.affinity] + [f"item_{c}" for c in ITEM]
            + [f"cat_{c}" for c in CATEGORIES if c in snap.items.attrs] + [f"user_{c}" for c in USER])


def categorical_names() -> list[str]:
    return [f"cat_{c}" for c in CATEGORIES]


def build(snap: Snapshot, factors: Factors, cands: Candidates) -> np.ndarray:
    items = snap.items
    u = cands.users[cands.row]
    i = cands.item
    n = len(i)
    cols: list[np.ndarray] = [cands.source[s] for s in SOURCES]

    als = np.einsum("ij,ij->i", factors.user[u], factors.item[i]) if n else np.zeros(0)
    content = np.einsum("ij,ij->i", snap.profile[u], items.content[i]) if n else np.zeros(0)
    pos, hit = lookup(snap.ui_key, u * items.n + i)
    at = snap.ui_key_pos[pos[hit]]
    bought = _pick(snap.ui_count, at, hit, 0.0)
    bought_last = _pick(snap.ui_last, at, hit, np.nan)
    bought_weight = _pick(snap.ui_weight, at, hit, 0.0)
    n_codes = int(items.code.max(initial=-1)) + 1
    pos, hit = lookup(snap.uc_key, u * n_codes + items.code[i])
    at = snap.uc_key_pos[pos[hit]]
    style_bought = _pick(snap.uc_count, at, hit, 0.0)
    style_last = _pick(snap.uc_last, at, hit, np.nan)
    segment_popular = snap.segment_score[snap.log.segment[u], i]
    price_ratio = snap.item["mean_price"][i] / snap.user["mean_price"][u]
    # ALS scores from two fits (the training week's and the serving one) are not on one scale;
    # the distance to the shopper's best candidate and the rank among their candidates are
    als_gap = als - _group_max(cands.row, als, len(cands.users))[cands.row]
    als_rank = _group_rank(cands.row, als)
    content_gap = content - _group_max(cands.row, content, len(cands.users))[cands.row]
    cols += [als, als_gap, als_rank, content, content_gap, bought, bought_last, bought_weight, style_bought, style_last, segment_popular,
             price_ratio]
    for name, share in snap.affinity.items():
        cols.append(share[u, items.attrs[name][i]])
    cols += [snap.item[c][i] for c in ITEM]
    cols += [items.attrs[c][i] for c in CATEGORIES if c in items.attrs]
    cols += [snap.user[c][u] for c in USER]
    return np.column_stack([np.asarray(c, dtype=np.float32) for c in cols]) if n else \
        np.zeros((0, len(cols)), dtype=np.float32)


def _pick(values: np.ndarray, at: np.ndarray, hit: np.ndarray, default: float) -> np.ndarray:
    out = np.full(len(hit), default, dtype=np.float32)
    out[hit] = values[at]
    return out


def _group_max(row: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf, dtype=np.float64)
    np.maximum.at(out, row, value)
    return out


def _group_rank(row: np.ndarray, value: np.ndarray) -> np.ndarray:
    order = np.lexsort((-value, row))
    rank = np.empty(len(row), dtype=np.float32)
    rank[order] = rank_in_group(row[order])
    return rank
