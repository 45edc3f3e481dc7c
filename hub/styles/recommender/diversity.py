"""At most two colours of one style in a top 12: a shopper should see twelve ideas, not one shirt
in twelve colours. The colours held back are not lost; they follow the top 12 in their order."""

from __future__ import annotations

import numpy as np

from ._arrays import rank_in_group

PER_STYLE = 2
TOP = 12


def diversify(rows: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """A new order for lists laid end to end (rows ascending, each list best first): per list, the
    first TOP places go to articles whose style has not yet shown PER_STYLE colours, the rest keep
    their order after them. Returns positions into the input."""
    n = len(rows)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    position = np.arange(n)
    by_style = np.lexsort((position, codes, rows))
    seen = np.empty(n, dtype=np.int64)
    seen[by_style] = rank_in_group(rows[by_style].astype(np.int64) * (int(codes.max()) + 1) + codes[by_style])
    eligible = seen < PER_STYLE
    count = np.cumsum(eligible)
    row_start = np.r_[0, np.flatnonzero(rows[1:] != rows[:-1]) + 1]
    before = np.repeat(count[row_start] - eligible[row_start], np.diff(np.r_[row_start, n]))
    first = eligible & (count - before <= TOP)
    return np.lexsort((position, ~first, rows))


def diversify_one(codes: np.ndarray) -> np.ndarray:
    return diversify(np.zeros(len(codes), dtype=np.int64), np.asarray(codes))
