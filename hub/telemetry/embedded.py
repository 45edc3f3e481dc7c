"""The embedded adapter: reads the hub's embedded store (hub.telemetry.storage) directly."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import anyio.to_thread

from hub.telemetry.port import (
    EPOCH,
    MachineActivity,
    MachineBucket,
    MachineSeen,
    RowChecks,
    TelemetryUnavailable,
    WorkshopRecent,
    check_zone,
    epoch_ms,
)
from hub.telemetry.storage import EmbeddedStore, fixed_offset_ns

_MS = 1_000_000


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

    def _window(self, window: timedelta) -> tuple[int, int]:
        """now - window < time <= now, as closed integer bounds."""
        now_ns = self.store.now_ns()
        return now_ns - round(window.total_seconds() * 1e9) + 1, now_ns

    def _activities(self, rows) -> list[MachineActivity]:
        out = []
        for row in rows:
            workshop, machine, *sums = row
            if not workshop or not machine:
                self._skip("missing tag", row)
                continue
            activity = self._activity(workshop, machine, sums, row)
            if activity is not None:
                out.append(activity)
        return out

    async def machine_activity(self, window: timedelta) -> list[MachineActivity]:
        return self._activities(await self._run(self.store.activity, *self._window(window)))

    async def activity_since(self, since: datetime) -> list[MachineActivity]:
        # Bounds in whole milliseconds, as the InfluxQL adapter writes them into its statement.
        return self._activities(await self._run(self.store.activity, epoch_ms(since) * _MS, self.store.now_ns()))

    async def activity_buckets(self, since: datetime, until: datetime | None, bucket: timedelta,
                               zone: str = "UTC", workshop: str | None = None) -> list[MachineBucket]:
        first_ns = epoch_ms(since) * _MS
        last_ns = self.store.now_ns()
        if until is not None:
            last_ns = min(last_ns, epoch_ms(until) * _MS - 1)
        bucket_ms = round(bucket.total_seconds() * 1000)
        if bucket_ms <= 0:
            raise ValueError("a bucket must be longer than zero")
        offset_ns = fixed_offset_ns(check_zone(zone), first_ns, last_ns)
        out = []
        for row in await self._run(self.store.activity_buckets, first_ns, last_ns, bucket_ms * _MS, offset_ns,
                                   workshop):
            workshop, machine, start_ns, *sums = row
            if not workshop or not machine:
                self._skip("missing tag", row)
                continue
            found = self._bucket(workshop, machine, start_ns // _MS, sums, row)
            if found is not None:
                out.append(found)
        return out

    async def machines_last_seen(self, known_window: timedelta) -> list[MachineSeen]:
        out = []
        for workshop, machine, last_ns, _stitches in await self._run(self.store.last_seen, *self._window(known_window)):
            if not workshop or not machine:
                self._skip("missing tag", (workshop, machine))
                continue
            out.append(MachineSeen(workshop, machine, EPOCH + timedelta(microseconds=last_ns // 1000)))
        return out

    async def _latest(self, first: datetime, workshop: str, ran: bool) -> dict[str, datetime]:
        rows = await self._run(self.store.last_seen, epoch_ms(first) * _MS, self.store.now_ns(), workshop, ran)
        out = {}
        for found, machine, last_ns, _stitches in rows:
            if found != workshop or not machine:
                self._skip("missing tag or another workshop's series", (found, machine))
                continue
            out[machine] = EPOCH + timedelta(microseconds=last_ns // 1000)
        return out

    async def workshop_recent(self, workshop: str, since: datetime, bucket: timedelta, zone: str = "UTC",
                              seen_since: datetime | None = None) -> WorkshopRecent:
        if not isinstance(workshop, str) or not workshop:
            raise ValueError("a workshop id must be a non-empty string")
        buckets = [b for b in await self.activity_buckets(since, None, bucket, zone, workshop) if b.workshop == workshop]
        return WorkshopRecent(workshop, buckets, await self._latest(seen_since or since, workshop, False),
                              await self._latest(since, workshop, True))
