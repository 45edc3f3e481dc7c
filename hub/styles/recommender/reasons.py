"""Why an article is recommended, as facts that can be checked against the data.

Every reason is computed from what the shopper did and what the market did, never from which
candidate source happened to offer the article: "repurchase" only for an article the shopper
bought, "same_style" names the colour they bought, "popular_week" gives the article's rank this
week. The most specific reasons come first; at most two of them, then the session's filters.
An article for which nothing true can be said gets no reasons, and the caller leaves it out.
"""

from __future__ import annotations

import numpy as np

from .history import SEGMENTS, Snapshot
from .types import Reason, in_budget

TOP_RANK = 24          # "popular" means among the week's 24 best sellers (overall or for an age band)
CLOSE = 0.35           # taste cosine from which an article is called close to a picked one
WHY = 2


class Explainer:
    def __init__(self, snap: Snapshot, taste: np.ndarray):
        self.snap = snap
        self.taste = taste
        n = snap.items.n
        # a rank is 1 + the number of articles that sold better (ties share a rank)
        self.popular_rank = np.full(n, -1, dtype=np.int64)
        best = snap.popular[:TOP_RANK]
        self.popular_rank[best] = _ranks(snap.popular_score, best)
        self.segment_rank = np.full((len(SEGMENTS), n), -1, dtype=np.int64)
        for s in range(len(SEGMENTS)):
            best = snap.segment_popular[s, :TOP_RANK]
            best = best[best >= 0]
            self.segment_rank[s, best] = _ranks(snap.segment_score[s], best)

    def explain(self, items: np.ndarray, *, user: int | None = None, liked: np.ndarray | None = None,
                anchor: int | None = None, season: str | None = None,
                budget: tuple[int, int] | None = None) -> list[tuple[Reason, ...]]:
        """Reasons per article row, for a known shopper (`user`), a kiosk session (`liked` rows)
        or the articles like one article (`anchor`)."""
        snap, ids = self.snap, self.snap.items.ids
        picks = np.zeros(0, dtype=np.int64)
        bought: dict[int, tuple[int, int]] = {}
        styles: dict[int, int] = {}
        together: dict[int, int] = {}
        segment = None
        if user is not None:
            lo, hi = snap.ui_ptr[user], snap.ui_ptr[user + 1]
            rows = snap.ui_item[lo:hi]
            for r, c, d in zip(rows.tolist(), snap.ui_count[lo:hi].tolist(), snap.ui_last[lo:hi].tolist()):
                bought[r] = (c, d)
                styles.setdefault(int(snap.items.code[r]), r)   # the most recent colour of the style
            for seed in rows[:10].tolist():
                for nb in snap.nb_item[snap.nb_ptr[seed]:snap.nb_ptr[seed + 1]].tolist():
                    together.setdefault(nb, seed)
            picks = rows[:50].astype(np.int64)
            if snap.log.segment[user] != len(SEGMENTS) - 1:
                segment = int(snap.log.segment[user])
        if liked is not None and len(liked):
            picks = np.asarray(liked, dtype=np.int64)
        if anchor is not None:
            styles[int(snap.items.code[anchor])] = anchor
            for nb in snap.nb_item[snap.nb_ptr[anchor]:snap.nb_ptr[anchor + 1]].tolist():
                together[nb] = anchor
            picks = np.array([anchor], dtype=np.int64)
        closest, closeness = self._closest(items, picks)
        out = []
        for n, r in enumerate(np.asarray(items).tolist()):
            why: list[Reason] = []
            if r in bought:
                times, days = bought[r]
                why.append(Reason("repurchase", {"times": int(times), "days_ago": int(days)}))
            code = int(snap.items.code[r])
            if code in styles and styles[code] != r:
                why.append(Reason("same_style", {"article_id": int(ids[styles[code]]),
                                                 "product_code": int(snap.items.product_code[r])}))
            if r in together:
                why.append(Reason("bought_together", {"article_id": int(ids[together[r]])}))
            age = snap.item["age"][r]
            if closest[n] >= 0 and closeness[n] >= CLOSE:
                if snap.is_new[r]:
                    why.append(Reason("new_like", {"article_id": int(ids[closest[n]]),
                                                   "days": -1 if np.isnan(age) else int(age)}))
                else:
                    why.append(Reason("like_your_picks", {"article_id": int(ids[closest[n]])}))
            if segment is not None and self.segment_rank[segment, r] >= 0:
                why.append(Reason("popular_segment", {"segment": SEGMENTS[segment],
                                                      "rank": int(self.segment_rank[segment, r])}))
            if self.popular_rank[r] >= 0:
                why.append(Reason("popular_week", {"rank": int(self.popular_rank[r])}))
            if not why and closest[n] >= 0 and closeness[n] > 0:
                why.append(Reason("like_your_picks", {"article_id": int(ids[closest[n]])}))
            if not why and self.rank_this_week(r):
                why.append(Reason("popular_week", {"rank": self.rank_this_week(r)}))
            why = why[:WHY]
            if season is not None:
                why.append(Reason("colour_suits", {"season": season}))
            if budget is not None and snap.items.retail is not None:
                why.append(in_budget(int(snap.items.retail[r]), budget))
            out.append(tuple(why))
        return out

    def rank_this_week(self, r: int) -> int:
        """1-based rank of an article among this week's sales (ties share the better rank); 0 if unsold."""
        score = self.snap.popular_score
        if score[r] <= 0:
            return 0
        return int((score > score[r]).sum()) + 1

    def _closest(self, items, picks):
        items = np.asarray(items, dtype=np.int64)
        if len(picks) == 0 or len(items) == 0:
            return np.full(len(items), -1, dtype=np.int64), np.zeros(len(items))
        sims = self.taste[items] @ self.taste[picks].T
        sims[picks[None, :] == items[:, None]] = -np.inf   # an article is not close to itself
        best = np.argmax(sims, axis=1)
        value = sims[np.arange(len(items)), best]
        return np.where(np.isfinite(value), picks[best], -1), np.where(np.isfinite(value), value, 0.0)


def _ranks(score: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.array([int((score > score[r]).sum()) + 1 for r in rows.tolist()], dtype=np.int64)
