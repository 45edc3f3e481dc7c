"""Board clocks: real time for a board in its own process, virtual time for exact tests.

Both count microseconds since the board powered on. The board turns them into MicroPython's
wrapping ticks (ESP32: ticks_ms and ticks_us wrap at 2**30), so the firmware's wrap handling
runs here too.
"""

from __future__ import annotations

import time

TICKS_PERIOD = 1 << 30
TICKS_MAX = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD // 2


def ticks_diff(a: int, b: int) -> int:
    return ((a - b + TICKS_HALF) & TICKS_MAX) - TICKS_HALF


def ticks_add(t: int, delta: int) -> int:
    return (t + delta) & TICKS_MAX


class RealClock:
    def __init__(self) -> None:
        self._t0 = time.monotonic_ns()

    def now_us(self) -> int:
        return (time.monotonic_ns() - self._t0) // 1000

    def now_s(self) -> float:
        return self.now_us() / 1e6


class VirtualClock:
    """Time moves only when the test says so."""

    def __init__(self, start_us: int = 0) -> None:
        self._now = start_us

    def now_us(self) -> int:
        return self._now

    def now_s(self) -> float:
        return self._now / 1e6

    def advance_us(self, us: int) -> None:
        if us < 0:
            raise ValueError("time does not run backwards")
        self._now += us

    def set_us(self, us: int) -> None:
        if us < self._now:
            raise ValueError("time does not run backwards")
        self._now = us
