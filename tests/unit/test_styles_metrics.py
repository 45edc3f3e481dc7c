"""MAP@k and recall@k (hub/styles/metrics.py) as the H&M competition scored them: hand-computed
cases, and agreement with the competition's reference AP@k (ml_metrics' apk, the code the Kaggle
board used) on random lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.styles.metrics import average_precision, map_at_k, recall_at_k, truth_of


def reference_apk(actual: list[int], predicted: list[int], k: int = 12) -> float:
    """ml_metrics.average_precision.apk, as the competition's evaluation ran it."""
    if len(predicted) > k:
        predicted = predicted[:k]
    score, num_hits = 0.0, 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            num_hits += 1.0
            score += num_hits / (i + 1.0)
    if not actual:
        return 0.0
    return score / min(len(actual), k)


@pytest.mark.parametrize("recommended,bought,k,expected", [
    ([1, 2, 3, 4], {2, 4}, 12, (1 / 2 + 2 / 4) / 2),          # hits at 2 and 4
    ([7, 1, 2], {1}, 12, 1 / 2),                              # one hit at 2
    ([1], {1}, 12, 1.0),
    ([5, 6, 7], {1, 2}, 12, 0.0),
    ([1, 1, 2], {1, 2}, 12, (1 / 1 + 2 / 3) / 2),             # a repeat is no second hit
    (list(range(12)), set(range(20)), 12, 1.0),               # divided by min(20, 12)
    (list(range(12)), set(range(3)), 12, 1.0),
    ([9, 9, 9, 0, 1, 2], {0, 1, 2}, 12, (1 / 4 + 2 / 5 + 3 / 6) / 3),
    ([0, 1, 2, 3], {3}, 3, 0.0),                              # the hit is past k
    ([], {1}, 12, 0.0),
    ([1, 2], set(), 12, 0.0),
])
def test_average_precision_by_hand(recommended, bought, k, expected):
    assert average_precision(recommended, bought, k) == pytest.approx(expected)


@given(st.lists(st.integers(0, 30), max_size=20), st.sets(st.integers(0, 30), max_size=15), st.integers(1, 15))
def test_average_precision_is_the_competitions(recommended, bought, k):
    assert average_precision(recommended, bought, k) == pytest.approx(reference_apk(sorted(bought), recommended, k))


def test_map_is_the_mean_over_the_shoppers_who_bought():
    truth = {"a": {1, 2}, "b": {3}, "c": {4}}
    recs = {"a": [1, 9, 2], "b": [3], "z": [1, 2, 3]}      # c has no list: 0; z bought nothing: ignored
    expected = ((1 + 2 / 3) / 2 + 1.0 + 0.0) / 3
    assert map_at_k(recs, truth) == pytest.approx(expected)
    assert map_at_k(recs, {}) == 0.0
    assert map_at_k(recs, {"a": set()}) == 0.0


def test_recall_counts_the_share_of_what_was_bought():
    truth = {"a": {1, 2, 3, 4}, "b": {5}}
    recs = {"a": [1, 2, 9] + list(range(100, 200)), "b": list(range(200, 300)) + [5]}
    assert recall_at_k(recs, truth, k=100) == pytest.approx((2 / 4 + 0.0) / 2)
    assert recall_at_k(recs, truth, k=200) == pytest.approx((2 / 4 + 1.0) / 2)
    assert recall_at_k({}, truth) == 0.0


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        average_precision([1], {1}, 0)
    with pytest.raises(ValueError):
        recall_at_k({}, {"a": {1}}, 0)


def test_truth_of_groups_a_weeks_rows_by_shopper():
    assert truth_of(["a", "b", "a", "a"], [1, 2, 1, 3]) == {"a": {1, 3}, "b": {2}}
