"""Counts every rejection the hub makes, by reason, and keeps the latest ones for inspection
(`GET /api/v1/rejections`), so a bad client is visible without grepping logs."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass

log = logging.getLogger("sewnet.hub.rejections")


@dataclass(frozen=True)
class Rejection:
    at: float  # Unix seconds
    where: str  # the boundary: "write", "query", "api", "login"
    reason: str  # short and stable: the counter's key
    detail: str  # what exactly was wrong, cut to 1 KiB


class Rejections:
    def __init__(self, keep: int = 200):
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._recent: deque[Rejection] = deque(maxlen=keep)

    def add(self, where: str, reason: str, detail: str = "", count: int = 1) -> None:
        key = f"{where}:{reason}"
        with self._lock:
            self.counts[key] += count
            self._recent.append(Rejection(time.time(), where, reason, detail[:1024]))
        log.info("rejected %s (%s): %.300s", key, count, detail)

    def snapshot(self) -> dict:
        with self._lock:
            return {"counts": dict(sorted(self.counts.items())),
                    "recent": [asdict(r) for r in reversed(self._recent)]}
