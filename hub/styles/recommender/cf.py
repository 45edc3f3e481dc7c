"""Collaborative filtering: implicit's ALS on the time-decayed purchase matrix.

implicit runs its own threads and asks that BLAS not run another pool under it, so the fit holds
BLAS to one thread through threadpoolctl for its duration only (nothing is changed for the rest
of the process). A new article nobody has bought has no ALS factors; it gets them from its
content vector by a ridge regression fitted on the articles that have both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from implicit.als import AlternatingLeastSquares

from .history import Snapshot

THREADS = 2   # the machine's two cores: an ALS fit is a few seconds, measured 4-5 s on two threads, 6-7 s on one


@dataclass
class Factors:
    user: np.ndarray    # (n_users, f); zero for a shopper with no purchase
    item: np.ndarray    # (n_items, f); imputed from content for an article with too few buyers
    reg: float          # the regularisation used (a new shopper's factors are solved with it)
    gram: np.ndarray    # item.T @ item, ALS's YtY

    def user_from_items(self, rows: np.ndarray, confidence: float = 20.0) -> np.ndarray:
        """ALS's own solution for a shopper who liked `rows` (the kiosk quiz): one least squares."""
        y = self.item[rows]
        if len(y) == 0:
            return np.zeros(self.item.shape[1], dtype=np.float32)
        a = self.gram + (confidence - 1.0) * (y.T @ y) + self.reg * np.eye(y.shape[1], dtype=np.float32)
        return np.linalg.solve(a, confidence * y.sum(axis=0)).astype(np.float32)


def fit_als(snap: Snapshot, *, seed: int = 0, factors: int = 64, iterations: int = 12,
            regularization: float = 0.05, alpha: float = 8.0, threads: int = THREADS) -> Factors:
    matrix = snap.history_matrix()
    with threadpool_limits(limits=1, user_api="blas"):   # implicit checks BLAS when the model is made
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                        iterations=iterations, random_state=seed, num_threads=threads,
                                        calculate_training_loss=False, use_gpu=False)
        model.fit(matrix, show_progress=False)
    user = np.asarray(model.user_factors, dtype=np.float32)
    item = np.asarray(model.item_factors, dtype=np.float32)
    buyers = snap.item["buyers"]
    warm = buyers >= 3
    cold = ~warm
    if warm.sum() > snap.items.content.shape[1] and cold.any():
        x = snap.items.content[warm].astype(np.float64)
        w = np.linalg.solve(x.T @ x + 1.0 * np.eye(x.shape[1]), x.T @ item[warm].astype(np.float64))
        item[cold] = (snap.items.content[cold] @ w).astype(np.float32)
    return Factors(user=user, item=item, reg=regularization, gram=(item.T @ item).astype(np.float32))


@dataclass
class Pool:
    """Articles to search by dot product, stored transposed once so a query is one matrix product."""
    rows: np.ndarray
    matrix: np.ndarray      # (dims, len(rows)), C-contiguous

    @classmethod
    def of(cls, vectors: np.ndarray, rows: np.ndarray) -> "Pool":
        return cls(rows=rows, matrix=np.ascontiguousarray(vectors[rows].T))

    def top(self, queries: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """The k best articles per query row: (article rows, scores), best first."""
        k = min(k, len(self.rows))
        out_i = np.zeros((len(queries), k), dtype=np.int64)
        out_s = np.zeros((len(queries), k), dtype=np.float32)
        if k == 0:
            return out_i, out_s
        for start in range(0, len(queries), chunk):
            s = queries[start:start + chunk] @ self.matrix
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]
            ps = np.take_along_axis(s, part, axis=1)
            order = np.argsort(-ps, axis=1, kind="stable")
            out_i[start:start + chunk] = self.rows[np.take_along_axis(part, order, axis=1)]
            out_s[start:start + chunk] = np.take_along_axis(ps, order, axis=1)
        return out_i, out_s


class AlsAlone:
    """The single-stage comparison: ALS's own top k for every shopper it knows, the time-decayed
    popularity list for a shopper with no purchase before the split (ALS has nothing for them)."""

    def __init__(self, log, user_factors: np.ndarray, item_factors: np.ndarray, known: np.ndarray, fallback: list[int]):
        self.log = log
        self.user_factors = user_factors
        self.item_factors = item_factors
        self.known = known
        self.fallback = fallback

    @classmethod
    def fit(cls, market, *, seed: int = 0, half_life: float = 21.0) -> "AlsAlone":
        import scipy.sparse as sp

        from .history import Log
        from .popularity import Popularity

        log = Log.from_market(market, seed=seed)
        now = (log.last_day or 0) + 1
        ago = now - log.day
        weight = np.exp(-np.log(2) * (ago - 1) / half_life).astype(np.float32)
        matrix = sp.csr_matrix((weight, (log.u, log.i)), shape=(log.n_users, log.items.n))
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(factors=64, regularization=0.05, alpha=8.0, iterations=12,
                                            random_state=seed, num_threads=THREADS, use_gpu=False)
            model.fit(matrix, show_progress=False)
        known = np.bincount(log.u, minlength=log.n_users) > 0
        return cls(log, np.asarray(model.user_factors), np.asarray(model.item_factors), known,
                   Popularity.fit(market).ranked)

    def recommend_many(self, customer_ids, k: int = 12) -> dict[str, list[int]]:
        out = {}
        rows = np.array([self.log.user_position.get(c, -1) for c in customer_ids], dtype=np.int64)
        has = np.flatnonzero(rows >= 0)
        has = has[self.known[rows[has]]]
        pool = Pool.of(self.item_factors, np.arange(self.log.items.n))
        top, _ = pool.top(self.user_factors[rows[has]], k)
        for c in customer_ids:
            out[c] = list(self.fallback[:k])
        ids = self.log.items.ids
        for n, t in zip(has.tolist(), top):
            out[customer_ids[n]] = ids[t].tolist()
        return out
