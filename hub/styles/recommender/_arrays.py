"""Small vectorised helpers over flat numpy arrays (groups, CSR rows, top-k per group)."""

from __future__ import annotations

import numpy as np


def group_starts(groups: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]


def rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within each run of equal values of a sorted array."""
    n = len(groups)
    starts = group_starts(groups)
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n) - first


def top_per_group(groups: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores per group, ordered by group then score (ties: lower position)."""
    order = np.lexsort((np.arange(len(score)), -score, groups))
    return order[rank_in_group(groups[order]) < k]


def rows_of(indptr: np.ndarray, rows: np.ndarray, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For CSR rows: (which of `rows` each entry belongs to, the entry's position), the first `limit` per row."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    if limit is not None:
        lengths = np.minimum(lengths, limit)
    owner = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, np.repeat(starts, lengths) + offsets


def lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of keys in a sorted unique key array and whether each was found."""
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, max(len(sorted_keys) - 1, 0))
    found = (sorted_keys[pos] == keys) if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
    return pos, found


def csr_from(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """indptr for entries already sorted by row."""
    return np.r_[0, np.cumsum(np.bincount(rows, minlength=n_rows))].astype(np.int64)
