"""The two-stage recommender: candidates from several sources, ordered by a LambdaRank model.

Training is honest in time: the ranker learns on each of the last two weeks of the data it is
given (the features of a week built only from what came before it, its labels that week's
purchases), then every figure is rebuilt on all the data for serving. Nothing after the end of the
given market is seen, so `evaluate` can hold out the week after a split.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np

from . import features as feats
from . import ranker
from .candidates import Limits, Pools, generate
from .cf import Factors, fit_als
from .diversity import diversify, diversify_one
from .history import Log, Snapshot
from .items import DAY_ZERO
from .reasons import Explainer
from .session import Sessions
from .types import Preferences, Recommendation

Progress = Callable[[str, float], None]
CHUNK = 4000          # shoppers scored together in a batch
DEPTH = 100           # a known shopper's ranked list kept for filtering
TRAIN_SHOPPERS = 20_000   # per training week
TRAIN_WEEKS = 2          # the ranker learns from the last two weeks before the end of the data
CACHE = 50_000


def _day(n: int) -> date:
    return (DAY_ZERO + np.timedelta64(int(n), "D")).astype(object)


class Recommender:
    """A trained model; read-only once made, so one instance may answer from many threads (a
    known shopper's ranked list is cached, under a lock). `fit` builds one; `recommend`,
    `for_session`, `similar` and `quiz_cards` answer in milliseconds; `recommend_many` batches."""

    def __init__(self, snap: Snapshot, factors: Factors, booster, feature_names: list[str], *, seed: int = 0):
        self.snap = snap
        self.log = snap.log
        self.items = snap.items
        self.factors = factors
        self.pools = Pools.of(snap, factors)
        self.pools.precompute(snap, factors, Limits())
        self.booster = booster
        self.feature_names = feature_names
        self.seed = seed
        als = factors.item / np.maximum(np.linalg.norm(factors.item, axis=1, keepdims=True), 1e-12)
        self.taste = (np.hstack([als, self.items.content]) / np.sqrt(2.0)).astype(np.float32)
        self.explainer = Explainer(snap, self.taste)
        self.sessions = Sessions(self)
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    # ---- training -------------------------------------------------------------------------
    @classmethod
    def fit(cls, market, *, seed: int = 0, progress: Progress | None = None) -> "Recommender":
        say = progress or (lambda stage, fraction: None)
        say("catalogue", 0.0)
        log = Log.from_market(market, seed=seed)
        if log.last_day is None:
            raise ValueError("no purchases to learn from / 학습할 구매 기록이 없습니다")
        now = log.last_day + 1
        booster, names = None, None
        xs, ys, rows, offset = [], [], [], 0
        for week in range(TRAIN_WEEKS):
            label_start = now - 7 * (week + 1)
            part = f"training week {week + 1} of {TRAIN_WEEKS}"
            say(f"history before {part}", 0.3 * week / TRAIN_WEEKS)
            train_snap = Snapshot.build(log, label_start)
            if not train_snap.ui_key.size:
                break
            say(f"ALS for {part}", 0.3 * (week + 0.3) / TRAIN_WEEKS)
            train_factors = fit_als(train_snap, seed=seed)
            train_pools = Pools.of(train_snap, train_factors)
            say(f"candidates and features for {part}", 0.3 * (week + 0.6) / TRAIN_WEEKS)
            in_week = (log.day >= label_start) & (log.day < label_start + 7)
            buyers = np.unique(log.u[in_week])
            if len(buyers) > TRAIN_SHOPPERS:
                buyers = np.sort(np.random.default_rng(seed + week).choice(buyers, TRAIN_SHOPPERS, replace=False))
            bought = np.unique(log.u[in_week].astype(np.int64) * log.items.n + log.i[in_week])
            for start in range(0, len(buyers), CHUNK):
                cands = generate(train_snap, train_factors, train_pools, buyers[start:start + CHUNK])
                xs.append(feats.build(train_snap, train_factors, cands))
                ys.append(ranker.labels(cands.users, cands.row, cands.item, bought, log.items.n))
                rows.append(cands.row + offset)
                offset += len(cands.users)
            names = feats.names(train_snap)
            del train_snap, train_factors, train_pools
        if xs:
            x, y, row = np.vstack(xs), np.concatenate(ys), np.concatenate(rows)
            del xs, ys, rows

            def tick(env):
                say("ranker (LightGBM LambdaRank)", 0.3 + 0.5 * (env.iteration + 1) / ranker.ROUNDS)

            say("ranker (LightGBM LambdaRank)", 0.3)
            booster = ranker.train(x, y, row, names, feats.categorical_names(), seed=seed, callback=tick)
            del x, y, row
        say("history for serving", 0.8)
        snap = Snapshot.build(log, now)
        say("ALS for serving", 0.85)
        factors = fit_als(snap, seed=seed)
        say("each shopper's ALS and new-article lists", 0.92)
        model = cls(snap, factors, booster, names or feats.names(snap), seed=seed)
        say("done", 1.0)
        return model

    # ---- facts about the model -----------------------------------------------------------
    @property
    def day(self) -> date:
        """The first day the model has not seen (it recommends for this day on)."""
        return _day(self.snap.now)

    @property
    def season_filter_available(self) -> bool:
        return self.sessions.season_masks is not None

    @property
    def budget_filter_available(self) -> bool:
        return self.items.retail is not None

    @property
    def ranker_trained(self) -> bool:
        """False when the data held too little history for a training week (then the sources'
        scores are blended by fixed weights)."""
        return self.booster is not None

    # ---- known shoppers ---------------------------------------------------------------------
    def _score(self, cands, threads: int) -> np.ndarray:
        x = feats.build(self.snap, self.factors, cands)
        if self.booster is not None:
            return self.booster.predict(x, num_threads=threads)
        s = cands.source
        popular = self.snap.popular_score[cands.item]
        return (3.0 * ~np.isnan(s["repurchase"]) + 2.0 * ~np.isnan(s["together"]) + 1.5 * ~np.isnan(s["same_style"])
                + np.nan_to_num(x[:, self.feature_names.index("pair_als")])
                + popular / max(self.snap.popular_score.max(initial=0), 1e-9))

    def _rank(self, users: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per shopper, the candidates best first: (index into users, article row, score)."""
        cands = generate(self.snap, self.factors, self.pools, users, Limits())
        score = self._score(cands, threads)
        order = np.lexsort((cands.item, -score, cands.row))
        return cands.row[order], cands.item[order], score[order]

    def recommend_many(self, customer_ids: Sequence[str], k: int = 12) -> dict[str, list[int]]:
        """Top k per shopper for evaluation, in batches; unknown shoppers get the cold list."""
        out: dict[str, list[int]] = {}
        known = [(c, self.log.user_position[c]) for c in customer_ids if c in self.log.user_position]
        cold = [r.article_id for r in self.for_session(Preferences(), k)]
        for c in customer_ids:
            if c not in self.log.user_position:
                out[c] = list(cold)
        ids = self.items.ids
        for start in range(0, len(known), CHUNK):
            part = known[start:start + CHUNK]
            users = np.array([u for _, u in part], dtype=np.int64)
            row, item, _ = self._rank(users, ranker.THREADS)
            order = diversify(row, self.items.code[item])
            row, item = row[order], item[order]
            starts = np.searchsorted(row, np.arange(len(part) + 1))
            for n, (c, _) in enumerate(part):
                out[c] = ids[item[starts[n]:min(starts[n + 1], starts[n] + k)]].tolist()
        return out

    def _ranked(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            hit = self._cache.get(user)
            if hit is not None:
                self._cache.move_to_end(user)
                return hit
        _, item, score = self._rank(np.array([user], dtype=np.int64), 1)
        value = (item[:DEPTH], score[:DEPTH])
        with self._lock:
            self._cache[user] = value
            if len(self._cache) > CACHE:
                self._cache.popitem(last=False)
        return value

    def recommend(self, customer_id: str, k: int = 12, *, season: str | None = None,
                  budget_krw: tuple[int, int] | None = None) -> list[Recommendation]:
        user = self.log.user_position.get(customer_id)
        if user is None:
            return self.for_session(Preferences(season=season, budget_krw=budget_krw), k)
        items, scores = self._ranked(user)
        allowed = self.sessions.allowed(season, budget_krw)
        keep = allowed[items]
        items, scores = items[keep], scores[keep]
        if len(items) < 3 * k:
            extra = self.sessions.popular_order(allowed, exclude=items, n=3 * k - len(items))
            floor = (scores.min() if len(scores) else 0.0) - 1.0
            items = np.r_[items, extra]
            scores = np.r_[scores, floor - np.arange(len(extra)) * 1e-3]
        order = diversify_one(self.items.code[items])
        return self._package(items[order], scores[order], k, user=user,
                             season=self.sessions.season_in_use(season), budget=self.sessions.budget_in_use(budget_krw))

    def _package(self, items, scores, k, **context) -> list[Recommendation]:
        reasons = self.explainer.explain(items[: 2 * k], **context)
        out = []
        for r, s, why in zip(items[: 2 * k].tolist(), np.asarray(scores[: 2 * k]).tolist(), reasons):
            if why:
                out.append(Recommendation(article_id=int(self.items.ids[r]), score=float(s), reasons=why))
            if len(out) == k:
                break
        return out

    # ---- kiosk ------------------------------------------------------------------------------
    def for_session(self, prefs: Preferences, k: int = 12) -> list[Recommendation]:
        items, scores, liked = self.sessions.rank(prefs, 3 * k)
        order = diversify_one(self.items.code[items])
        return self._package(items[order], scores[order], k, liked=liked,
                             season=self.sessions.season_in_use(prefs.season),
                             budget=self.sessions.budget_in_use(prefs.budget_krw))

    def quiz_cards(self, n: int = 16, *, seed: int = 0) -> list[int]:
        return self.sessions.quiz_cards(n, seed=seed)

    def similar(self, article_id: int, k: int = 12) -> list[Recommendation]:
        row = int(self.items.rows([article_id])[0])
        if row < 0:
            return []
        items, scores = self.sessions.similar(row, 3 * k)
        order = diversify_one(self.items.code[items])
        return self._package(items[order], scores[order], k, anchor=row)

    def shoppers_with_history(self) -> int:
        return int((self.snap.user["n"] > 0).sum())
