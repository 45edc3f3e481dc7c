"""Stage two: LightGBM LambdaRank over the candidates, one query group per shopper."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from ._arrays import lookup, rank_in_group

THREADS = 2
# Below this many rows a second OpenMP thread costs more than it gives, and on a machine whose two
# cores are also busy with other work its spinning makes training many times slower.
ONE_THREAD_BELOW = 300_000
ROUNDS = 150
NEGATIVES = 40


def params(seed: int, threads: int = THREADS) -> dict:
    return {
        "objective": "lambdarank", "metric": "map", "eval_at": [12],
        # small trees on many rows: a training week is a noisy sample of what the next week does
        "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 200, "lambda_l2": 10.0,
        "feature_fraction": 0.6, "bagging_fraction": 0.8, "bagging_freq": 1,
        "lambdarank_truncation_level": 30, "num_threads": threads, "seed": seed,
        "deterministic": True, "force_row_wise": True, "verbosity": -1,
    }


def labels(users: np.ndarray, row: np.ndarray, item: np.ndarray, bought_keys: np.ndarray, n_items: int) -> np.ndarray:
    """1 where the shopper bought the article in the label week (bought_keys: sorted user*n_items+item)."""
    _, hit = lookup(bought_keys, users[row].astype(np.int64) * n_items + item)
    return hit.astype(np.float32)


def train(x: np.ndarray, y: np.ndarray, row: np.ndarray, feature_names: list[str], categorical: list[str],
          *, seed: int, rounds: int = ROUNDS, negatives: int = NEGATIVES,
          callback=None) -> lgb.Booster | None:
    """Rows must come grouped by shopper (row ascending). Groups without a purchase teach nothing
    to a ranking objective and are dropped. None when nothing is left to learn from."""
    positives = np.bincount(row, weights=y, minlength=int(row.max(initial=-1)) + 1)
    keep = positives[row] > 0
    if not keep.any():
        return None
    # LambdaRank's cost grows with the square of a group's size: keep every purchase and a random
    # NEGATIVES of the rest per shopper (the ranker still sees every kind of candidate)
    draw = np.random.default_rng(seed).random(len(y))
    order = np.lexsort((draw, y > 0, row))          # per shopper: negatives in random order, then positives
    negative_rank = np.empty(len(y), dtype=np.int64)
    negative_rank[order] = rank_in_group(row[order])
    keep &= (y > 0) | (negative_rank < negatives)
    x, y, row = x[keep], y[keep], row[keep]
    group = np.bincount(row)
    group = group[group > 0]
    data = lgb.Dataset(x, label=y, group=group, feature_name=feature_names,
                       categorical_feature=categorical, free_raw_data=True)
    callbacks = [callback] if callback else []
    threads = 1 if len(y) < ONE_THREAD_BELOW else THREADS
    return lgb.train(params(seed, threads), data, num_boost_round=rounds, callbacks=callbacks)
