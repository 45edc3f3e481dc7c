"""The kiosk's cold start: a shopper with no login, a few likes and skips, a colour season, a budget.

The likes become a shopper vector the way ALS would have made one had those been purchases (one
least-squares solve against the item factors), and a content profile (the mean of the liked
articles' content vectors minus half the skipped ones'), so that new articles ALS has never seen
can still be matched. Both scores, standardised over the articles allowed, are added to a small
popularity prior. Season and budget are filters, applied before ranking: every returned article
passes them. The season filter is the personal-colour reading of the article's CIELAB swatch
(hub.styles.colour.suits), used as an explainable filter and never as a verdict on the shopper.
"""

from __future__ import annotations

import numpy as np

from .types import Preferences

WEIGHTS = {"als": 1.0, "content": 1.0, "popular": 0.4}
SKIP_WEIGHT = 0.5
QUIZ_POOL = 400


def _z(x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return x
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _season_masks(items) -> dict[str, np.ndarray] | None:
    if items.lab is None:
        return None
    from hub.styles import colour   # pure, and only needed when the catalogue has CIELAB swatches

    lab = items.lab
    ok = np.isfinite(lab).all(axis=1)
    matrix = colour.season_matrix(*np.where(ok[:, None], lab, 0.0).T)
    return {season: matrix[:, n] & ok for n, season in enumerate(colour.SEASONS)}


class Sessions:
    def __init__(self, model):
        self.model = model
        snap, items = model.snap, model.items
        self.season_masks = _season_masks(items)
        item = snap.item
        # a prior that also orders articles unsold this week: the week's decayed popularity, then the month's sales
        self.prior = np.log1p(snap.popular_score + 0.05 * item["c_4w"] + 0.01 * item["c_all"])
        order = np.lexsort((items.ids, -item["c_all"], -item["c_4w"], -snap.popular_score))
        self.popular_rows = order[snap.available[order]]

    # ---- filters ----------------------------------------------------------------------------
    def season_in_use(self, season: str | None) -> str | None:
        if season is None or self.season_masks is None:
            return None
        if season not in self.season_masks:
            raise ValueError(f"unknown season {season!r}: one of {', '.join(self.season_masks)}")
        return season

    def budget_in_use(self, budget: tuple[int, int] | None) -> tuple[int, int] | None:
        if budget is None or self.model.items.retail is None:
            return None
        low, high = int(budget[0]), int(budget[1])
        if low < 0 or high < low:
            raise ValueError(f"a budget runs from a low to a higher price, not {low}..{high}")
        return low, high

    def allowed(self, season: str | None, budget: tuple[int, int] | None) -> np.ndarray:
        """On sale, in the season (when the catalogue has swatches) and in the budget (when it has prices)."""
        mask = self.model.snap.available.copy()
        season = self.season_in_use(season)
        if season is not None:
            mask &= self.season_masks[season]
        budget = self.budget_in_use(budget)
        if budget is not None:
            retail = self.model.items.retail
            mask &= np.isfinite(retail) & (retail >= budget[0]) & (retail <= budget[1])
        return mask

    def popular_order(self, allowed: np.ndarray, *, exclude: np.ndarray, n: int) -> np.ndarray:
        rows = self.popular_rows[allowed[self.popular_rows]]
        if len(exclude):
            rows = rows[~np.isin(rows, exclude)]
        return rows[:n]

    # ---- a session ----------------------------------------------------------------------------
    def rank(self, prefs: Preferences, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best n rows for a session, best first, their scores, and the liked rows the catalogue knows.
        Quiz cards already answered are left out: the list is for what the shopper has not seen."""
        model = self.model
        liked = model.items.rows(list(prefs.liked)) if prefs.liked else np.zeros(0, dtype=np.int64)
        skipped = model.items.rows(list(prefs.skipped)) if prefs.skipped else np.zeros(0, dtype=np.int64)
        liked, skipped = liked[liked >= 0], skipped[skipped >= 0]
        allowed = self.allowed(prefs.season, prefs.budget_krw)
        allowed[liked] = False
        allowed[skipped] = False
        if len(liked) == 0:
            rows = self.popular_order(allowed, exclude=np.zeros(0, dtype=np.int64), n=n)
            return rows, self.prior[rows], liked
        pool = np.flatnonzero(allowed)
        vector = model.factors.user_from_items(liked)
        # whole-catalogue products, then the pool: a product over contiguous rows is cheaper than
        # copying the pool's rows out first
        als = (model.factors.item @ vector)[pool]
        profile = model.items.content[liked].mean(axis=0)
        if len(skipped):
            profile = profile - SKIP_WEIGHT * model.items.content[skipped].mean(axis=0)
        content = (model.items.content @ profile)[pool]
        score = (WEIGHTS["als"] * _z(als) + WEIGHTS["content"] * _z(content)
                 + WEIGHTS["popular"] * _z(self.prior[pool]))
        n = min(n, len(pool))
        if n == 0:
            return pool, score, liked
        top = np.argpartition(-score, n - 1)[:n]
        top = top[np.lexsort((pool[top], -score[top]))]
        return pool[top], score[top], liked

    def quiz_cards(self, n: int, *, seed: int = 0) -> list[int]:
        """n articles far apart in taste (ALS and content), one colour per style, from the month's
        best sellers, so each like or skip says something new."""
        model = self.model
        item = model.snap.item
        sold = np.flatnonzero(model.snap.available & (item["c_4w"] > 0))
        if len(sold) == 0:
            sold = self.popular_rows
        sold = sold[np.lexsort((model.items.ids[sold], -item["c_4w"][sold]))]
        _, first = np.unique(model.items.code[sold], return_index=True)
        pool = sold[np.sort(first)][:QUIZ_POOL]
        if len(pool) == 0:
            return []
        rng = np.random.default_rng(seed)
        vectors = model.taste[pool]
        chosen = [int(rng.integers(min(20, len(pool))))]
        distance = 1.0 - vectors @ vectors[chosen[0]]
        while len(chosen) < min(n, len(pool)):
            distance[chosen] = -np.inf
            nxt = int(np.argmax(distance))
            chosen.append(nxt)
            distance = np.minimum(distance, 1.0 - vectors @ vectors[nxt])
        return model.items.ids[pool[chosen]].tolist()

    def similar(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        model, snap = self.model, self.model.snap
        allowed = snap.available.copy()
        allowed[row] = False
        pool = np.flatnonzero(allowed)
        score = (model.taste @ model.taste[row])[pool]
        score = score + 0.5 * (model.items.code[pool] == model.items.code[row])
        nb = snap.nb_item[snap.nb_ptr[row]:snap.nb_ptr[row + 1]]
        if len(nb):
            top = snap.nb_score[snap.nb_ptr[row]:snap.nb_ptr[row + 1]]
            where = np.searchsorted(pool, nb)
            ok = (where < len(pool)) & (pool[np.minimum(where, len(pool) - 1)] == nb)
            score[where[ok]] += 0.5 * top[ok] / max(float(top.max()), 1e-9)
        n = min(n, len(pool))
        if n == 0:
            return pool, score
        top = np.argpartition(-score, n - 1)[:n]
        top = top[np.lexsort((pool[top], -score[top]))]
        return pool[top], score[top]
