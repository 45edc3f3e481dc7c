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
    "in_budget",         # its retail price is inside the shopper's budget (args: price_krw, low, high: in_budget())
})

#: The top of a budget that has none: Preferences.budget_krw is two whole numbers, so "70,000 won
#: and up" is (70_000, NO_CEILING_KRW).
NO_CEILING_KRW = 10**9


@dataclass(frozen=True)
class Reason:
    """A reason in codes and arguments; hub/styles/words.py turns it into Korean, English, Chinese."""
    code: str
    args: dict[str, str | int | float]

    def __post_init__(self):
        if self.code not in REASON_CODES:
            raise ValueError(f"unknown reason code {self.code!r}")


def in_budget(price_krw: int, budget_krw: tuple[int, int]) -> Reason:
    """The one form of the "in_budget" reason, whoever gives it (the recommender, or the hub's
    popularity fallback before it is trained), so its words can name the budget: the price, the
    budget's floor (`low`, 0 for none) and its ceiling (`high`, left out when it has none), in
    whole won."""
    low, high = int(budget_krw[0]), int(budget_krw[1])
    return Reason("in_budget", {"price_krw": int(price_krw), "low": low,
                                **({"high": high} if high < NO_CEILING_KRW else {})})


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
