"""What the recommender hands out: a recommendation, why it was made, and a kiosk session's answers."""

from __future__ import annotations

from dataclasses import dataclass

REASON_CODES = frozenset({
    "same_style",        # another colour of a style the shopper bought (args: article_id, product_code)
    "bought_together",   # often bought with something the shopper bought (args: article_id)
    "like_your_picks",   # close to what the shopper bought or liked (args: article_id, the closest one)
    "popular_segment",   # among the most bought this week by shoppers of the same age (args: segment, rank)
    "popular_week",      # among the most bought this week overall (args: rank)
    "new_like",          # new in the market and close to the shopper's taste (args: article_id, days)
    "repurchase",        # the shopper bought this very article before (args: times, days_ago)
    "colour_suits",      # its colour sits in the shopper's personal colour season (args: season)
    "in_budget",         # its retail price is inside the shopper's budget (args: price_krw, low, high)
})


@dataclass(frozen=True)
class Reason:
    """A reason in codes and arguments; hub/styles/words.py turns it into Korean, English, Chinese."""
    code: str
    args: dict[str, str | int | float]

    def __post_init__(self):
        if self.code not in REASON_CODES:
            raise ValueError(f"unknown reason code {self.code!r}")


@dataclass(frozen=True)
class Recommendation:
    article_id: int
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Preferences:
    """A kiosk session (no login): the quiz's likes and skips, a personal colour season, a budget."""
    liked: tuple[int, ...] = ()
    skipped: tuple[int, ...] = ()
    season: str | None = None
    budget_krw: tuple[int, int] | None = None
