"""Wait on a condition with a deadline instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError as e:  # a predicate may assert to explain what it saw
            last_error = e
        if time.monotonic() > deadline:
            detail = f": {last_error}" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


async def async_wait_for(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = 10.0,
                         what: str = "condition", interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
        except AssertionError as e:
            last_error = e
        if time.monotonic() > deadline:
            detail = f": {last_error}" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        await asyncio.sleep(interval)


class Beat:
    """A task beating every `period_s` (0: at every turn of the loop) beside the code under test,
    as the firmware's sampler does: `async with beat:` around it, then `ticks` (how often it
    beat) and `longest` (the longest it waited, seconds) say whether that code let the loop run."""

    def __init__(self, period_s: float = 0.01):
        self.period_s = period_s
        self.ticks = 0
        self.longest = 0.0
        self._task: asyncio.Task | None = None
        self._done = False

    async def _run(self) -> None:
        last = time.monotonic()
        while not self._done:
            await asyncio.sleep(self.period_s)
            now = time.monotonic()
            self.ticks += 1
            self.longest, last = max(self.longest, now - last), now

    async def __aenter__(self) -> "Beat":
        self._done = False
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc) -> None:
        self._done = True
        await self._task
