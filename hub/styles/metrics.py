"""How good a list of recommendations is, as the H&M Kaggle competition scored it.

AP@k for one shopper: walk the first k recommendations; at each position i (1-based) that holds
an article the shopper bought in the test week, take the precision so far (hits in the first i /
i); sum those and divide by min(number of distinct articles bought, k). A recommended article
counts once (a repeat later in the list is not a second hit). MAP@k is the mean over the
shoppers who bought something in the test week; a shopper with no recommendations scores 0.

recall@k: per shopper, the share of the distinct articles bought that the first k
recommendations hold; the mean over shoppers (as MAP, shoppers with no recommendations score 0).
Pure: lists in, numbers out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


def average_precision(recommended: Sequence[int], bought: Collection[int], k: int = 12) -> float:
    """The H&M competition's AP@k for one shopper (0 when nothing was bought)."""
    if k <= 0:
        raise ValueError("k must be at least 1")
    wanted = set(bought)
    if not wanted:
        return 0.0
    hits, score, seen = 0, 0.0, set()
    for i, article in enumerate(recommended[:k], start=1):
        if article in wanted and article not in seen:
            hits += 1
            score += hits / i
        seen.add(article)
    return score / min(len(wanted), k)


def map_at_k(recs: Mapping[str, Sequence[int]], truth: Mapping[str, Collection[int]], k: int = 12) -> float:
    """Mean AP@k over the shoppers in `truth` (those who bought in the test window)."""
    scored = [(shopper, bought) for shopper, bought in truth.items() if bought]
    if not scored:
        return 0.0
    return sum(average_precision(recs.get(shopper, ()), bought, k) for shopper, bought in scored) / len(scored)


def recall_at_k(recs: Mapping[str, Sequence[int]], truth: Mapping[str, Collection[int]], k: int = 100) -> float:
    """Mean over the shoppers in `truth` of |first k recommendations ∩ bought| / |bought|."""
    if k <= 0:
        raise ValueError("k must be at least 1")
    scored = [(shopper, set(bought)) for shopper, bought in truth.items() if bought]
    if not scored:
        return 0.0
    total = 0.0
    for shopper, bought in scored:
        top = set(recs.get(shopper, ())[:k])
        total += len(top & bought) / len(bought)
    return total / len(scored)


def truth_of(customer_ids: Sequence[str], article_ids: Sequence[int]) -> dict[str, set[int]]:
    """The test week's purchases as {shopper: set of articles} (rows as in transactions)."""
    out: dict[str, set[int]] = {}
    for customer, article in zip(customer_ids, article_ids, strict=True):
        out.setdefault(customer, set()).add(int(article))
    return out
