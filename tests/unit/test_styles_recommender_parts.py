"""The recommender's small pieces on hand-made inputs: diversity, top-k per group, CSR rows, reasons."""

from __future__ import annotations

import numpy as np
import pytest

from hub.styles.recommender import REASON_CODES, Reason
from hub.styles.recommender._arrays import lookup, rank_in_group, rows_of, top_per_group
from hub.styles.recommender.diversity import diversify, diversify_one


def test_at_most_two_colours_of_a_style_in_the_top_twelve_and_nothing_lost():
    codes = np.array([7, 7, 7, 7, 1, 2, 3, 3, 3, 4, 5, 6, 8, 9, 10, 11, 12])
    order = diversify_one(codes)
    assert sorted(order.tolist()) == list(range(len(codes)))
    top = codes[order][:12]
    assert max(np.bincount(top)) <= 2
    # the held-back colours follow, in their order
    assert order.tolist()[:2] == [0, 1]
    assert codes[order][12:].tolist().count(7) == 2


def test_diversity_is_per_list_when_lists_are_laid_end_to_end():
    rows = np.array([0] * 5 + [1] * 5)
    codes = np.array([4, 4, 4, 5, 6, 4, 4, 4, 4, 9])
    order = diversify(rows, codes)
    assert rows[order].tolist() == rows.tolist()
    assert codes[order].tolist() == [4, 4, 5, 6, 4, 4, 4, 9, 4, 4]


def test_a_short_list_keeps_its_order():
    assert diversify_one(np.array([3, 1, 2])).tolist() == [0, 1, 2]
    assert diversify_one(np.array([], dtype=np.int64)).tolist() == []


def test_rank_and_top_per_group():
    g = np.array([0, 0, 0, 2, 2, 5])
    assert rank_in_group(g).tolist() == [0, 1, 2, 0, 1, 0]
    groups = np.array([1, 0, 1, 0, 1])
    score = np.array([0.1, 0.9, 0.5, 0.2, 0.5])
    assert top_per_group(groups, score, 2).tolist() == [1, 3, 2, 4]


def test_rows_of_a_csr_with_a_limit():
    indptr = np.array([0, 3, 3, 5])
    owner, pos = rows_of(indptr, np.array([2, 0, 1]), limit=2)
    assert owner.tolist() == [0, 0, 1, 1]
    assert pos.tolist() == [3, 4, 0, 1]


def test_lookup_finds_only_present_keys_even_in_an_empty_array():
    pos, found = lookup(np.array([2, 5, 9]), np.array([5, 6, 9, 10, 1]))
    assert found.tolist() == [True, False, True, False, False]
    assert pos[found].tolist() == [1, 2]
    _, found = lookup(np.array([], dtype=np.int64), np.array([1, 2]))
    assert found.tolist() == [False, False]


def test_a_reason_must_be_one_the_words_know():
    assert Reason("repurchase", {"times": 2, "days_ago": 3}).code in REASON_CODES
    with pytest.raises(ValueError):
        Reason("because", {})
