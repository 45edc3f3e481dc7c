"""The embedded adapter: reads the hub's embedded store (hub.telemetry.storage) directly."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import anyio.to_thread

from hub.telemetry.port import EPOCH, MachineActivity, MachineSeen, RowChecks, TelemetryUnavailable
from hub.telemetry.storage import EmbeddedStore


class EmbeddedTelemetry(RowChecks):
    """Reads the hub's embedded store in a worker thread, so SQLite never blocks the event loop."""

    name = "embedded"

    def __init__(self, store: EmbeddedStore):
        self.store = store
        self.skipped_rows = 0

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self.store.close)

    async def _run(self, fn, *args):
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except sqlite3.Error as e:
            raise TelemetryUnavailable(f"embedded store {self.store.path} cannot be read: {e}") from e

    async def machine_activity(self, window: timedelta) -> list[MachineActivity]:
        now_ns = self.store.now_ns()
        since_ns = now_ns - round(window.total_seconds() * 1e9)
        out = []
        for row in await self._run(self.store.activity, since_ns, now_ns):
            workshop, machine, *sums = row
            if not workshop or not machine:
                self._skip("missing tag", row)
                continue
            activity = self._activity(workshop, machine, sums, row)
            if activity is not None:
                out.append(activity)
        return out

    async def machines_last_seen(self, known_window: timedelta) -> list[MachineSeen]:
        now_ns = self.store.now_ns()
        since_ns = now_ns - round(known_window.total_seconds() * 1e9)
        out = []
        for workshop, machine, last_ns, _stitches in await self._run(self.store.last_seen, since_ns, now_ns):
            if not workshop or not machine:
                self._skip("missing tag", (workshop, machine))
                continue
            out.append(MachineSeen(workshop, machine, EPOCH + timedelta(microseconds=last_ns // 1000)))
        return out
