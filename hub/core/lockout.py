"""Failed logins per client address, so a token cannot be guessed at hundreds of tries a second.

Every place that checks a secret asks the guard first and tells it about each wrong secret: the
login form and `/?token=` links (the "page" door), Bearer calls to the API and its docs ("api"),
and the embedded store's write and query credentials ("store"). Each door counts on its own, so
a person mistyping on the page cannot lock the gateway's writes out of the same address. After
`failures_allowed` wrong secrets within `window`, that address is refused at that door, even with
the right secret, until the oldest failure is older than the window (a moving window, kept in
memory by the `limits` library: a restart forgets it, which costs an attacker a restart).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

DOORS = ("page", "api", "store")


@dataclass(frozen=True)
class LockedOut:
    """An address refused at a door, and for how long still."""

    retry_after_s: int

    def _wait(self) -> tuple[str, str]:
        """(Korean, English) for the wait, in whole minutes once it is a minute or more."""
        if self.retry_after_s < 60:
            return f"{self.retry_after_s}초", f"{self.retry_after_s} s"
        minutes = math.ceil(self.retry_after_s / 60)
        return f"{minutes}분", f"{minutes} min"

    @property
    def ko(self) -> str:
        return f"틀린 토큰이 너무 많이 입력되었습니다. {self._wait()[0]} 뒤에 다시 시도하세요."

    @property
    def en(self) -> str:
        return f"Too many wrong tokens. Try again in {self._wait()[1]}."

    @property
    def message(self) -> str:
        return f"{self.ko} {self.en}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class LoginGuard:
    def __init__(self, failures_allowed: int = 5, window: timedelta = timedelta(minutes=15)):
        self._item = RateLimitItemPerSecond(failures_allowed, max(1, round(window.total_seconds())))
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def locked_out(self, door: str, client: str) -> LockedOut | None:
        """Whether `client` is refused at `door` now; ask before checking the secret it sent."""
        if self._limiter.test(self._item, door, client):
            return None
        reset_at = self._limiter.get_window_stats(self._item, door, client).reset_time
        return LockedOut(max(1, math.ceil(reset_at - time.time())))

    def failed(self, door: str, client: str) -> None:
        """Count one wrong secret from `client` at `door`."""
        self._limiter.hit(self._item, door, client)
