"""The baseline: the H&M competition's time-decayed popularity, the same list for every shopper.

Each purchase of the last week before `day` counts 1 / (days before `day`), so yesterday's sale
weighs a full point and last week's a seventh.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

WINDOW_DAYS = 7


class Popularity:
    def __init__(self, ranked: list[int], day: date):
        self.ranked = ranked
        self.day = day

    @classmethod
    def fit(cls, market, *, day: date | None = None) -> "Popularity":
        tx = market.transactions
        if day is None:
            if len(tx) == 0:
                return cls([], date.today())
            day = pd.Timestamp(tx["t_dat"].max()).date() + timedelta(days=1)
        t = pd.Timestamp(day)
        recent = tx[(tx["t_dat"] < t) & (tx["t_dat"] >= t - pd.Timedelta(days=WINDOW_DAYS))]
        ago = (t - recent["t_dat"]).dt.days.to_numpy()
        ids, where = np.unique(recent["article_id"].to_numpy(dtype=np.int64), return_inverse=True)
        score = np.bincount(where, weights=1.0 / ago, minlength=len(ids))
        return cls([int(a) for a in ids[np.lexsort((ids, -score))]], day)

    def recommend(self, customer_ids: Sequence[str], k: int = 12) -> dict[str, list[int]]:
        top = self.ranked[:k]
        return {c: list(top) for c in customer_ids}
