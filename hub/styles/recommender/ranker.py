"""Stage two: LightGBM LambdaRank over the candidates, one query group per shopper."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from ._arrays import lookup, rank_in_group

# One thread, on purpose. The hub trains in the background while it answers requests on the same
# two cores, and LightGBM's OpenMP threads spin at every barrier: with the other core busy, two
# threads were measured 3x slower than one (112 s against 35 s for the 50,000-shopper ranker),
# and when the machine is quiet they save little on LambdaRank.
THREADS = 1
ROUNDS = 100      # 150 rounds scored the same MAP@12 (0.0398 against 0.0397) for half again the time
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
    return lgb.train(params(seed), data, num_boost_round=rounds, callbacks=callbacks)
