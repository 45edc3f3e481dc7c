"""Counts every rejection the hub makes, by reason, and keeps the latest ones for inspection
(`GET /api/v1/rejections`), so a bad client is visible without grepping logs.

Counting is exact; logging is not: each reason logs at most LOG_PER_MINUTE lines a minute and then
says how many it left out, so a client sending garbage in a loop cannot fill the disk with log."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass

log = logging.getLogger("sewnet.hub.rejections")

LOG_PER_MINUTE = 30


@dataclass(frozen=True)
class Rejection:
    at: float  # Unix seconds
    where: str  # the boundary: "write", "query", "api", "login"
    reason: str  # short and stable: the counter's key
    detail: str  # what exactly was wrong, cut to 1 KiB


class Rejections:
    def __init__(self, keep: int = 200, clock=time.monotonic):
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._recent: deque[Rejection] = deque(maxlen=keep)
        self._clock = clock
        # Per key: the minute's start, lines logged in it, rejections left out of the log since.
        self._log_window: dict[str, list] = {}

    def add(self, where: str, reason: str, detail: str = "", count: int = 1) -> None:
        key = f"{where}:{reason}"
        with self._lock:
            self.counts[key] += count
            self._recent.append(Rejection(time.time(), where, reason, detail[:1024]))
            left_out = self._may_log(key, count)
        if left_out is not None:
            more = f"; {left_out} more of these were not logged" if left_out else ""
            log.info("rejected %s (%s): %.300s%s", key, count, detail, more)

    def _may_log(self, key: str, count: int) -> int | None:
        """How many rejections of `key` were left out of the log since it last logged one, or None
        when this one is to be left out too."""
        now = self._clock()
        window = self._log_window.setdefault(key, [now, 0, 0])
        if now - window[0] >= 60:
            window[0], window[1] = now, 0
        if window[1] >= LOG_PER_MINUTE:
            window[2] += count
            return None
        window[1] += 1
        left_out, window[2] = window[2], 0
        return left_out

    def snapshot(self) -> dict:
        with self._lock:
            return {"counts": dict(sorted(self.counts.items())),
                    "recent": [asdict(r) for r in reversed(self._recent)]}
