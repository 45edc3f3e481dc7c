"""My Style Lab's recommender (pure: numpy, pandas, scipy, implicit, LightGBM; no web, no storage).

Two stages, as the best H&M competition entries did: candidates from several sources (recent
popularity overall and per age band, the shopper's repurchases, articles bought together, ALS,
other colours of a bought style, content similarity for new articles), then a LightGBM LambdaRank
ranker on candidate, shopper and pair features. A kiosk session without login starts cold from a
short like/skip quiz, a personal colour season and a budget. Every recommendation carries reasons
(codes and arguments; hub/styles/words.py words them) and a top 12 shows at most two colours of
one style.
"""

from .cf import AlsAlone
from .model import Recommender
from .popularity import Popularity
from .types import NO_CEILING_KRW, REASON_CODES, Preferences, Reason, Recommendation, in_budget

__all__ = ["AlsAlone", "NO_CEILING_KRW", "Popularity", "Preferences", "REASON_CODES", "Reason", "Recommendation",
           "Recommender", "in_budget"]
