"""Live capacity per workshop, in plain Python over the telemetry port.

Per workshop: machines known (a point in the known window, 30 days), machines online (a point in
the online window, 15 minutes), stitches and running ratio (run_ms / observed_ms) over the
capacity window (1 hour), last seen; and the same per machine.

The capacity window of each workshop ends at that workshop's latest data, not at the hub's now: a
gateway ships its summaries every 10 minutes, so "the last hour up to now" held only 50 to 60
minutes of a workshop's sewing, depending on when its last batch came. The window is whole
minutes (the reads bucket by the minute): the hour up to the end of the minute that holds the
workshop's latest point. A workshop silent for longer than the online window gets the hour that
ends the online window ago, so its figure fades out instead of freezing at its last busy hour.

The figures come from three reads: every machine's last point (the known window), its sums from
the latest possible window start to now, and its sums per minute over the span where the
workshops' window starts fall (the online window long); a workshop's window is the first plus the
minutes of the second at or after its own start.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hub.capacity.models import CapacityReport, MachineCapacity, WorkshopCapacity
from hub.core.settings import HubSettings
from hub.telemetry import MachineActivity, MachineBucket, MachineSeen, Telemetry

MINUTE = timedelta(minutes=1)


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if t else None


def _ratio(run_ms: int, observed_ms: int) -> float | None:
    return round(run_ms / observed_ms, 4) if observed_ms > 0 else None


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class WindowReads:
    """Where the reads for a report at `now` start and end (all on whole minutes)."""

    now: datetime
    window: timedelta  # capacity_window
    lag: timedelta  # online_window: the longest a window may end before now
    body_from: datetime  # the latest any workshop's window can start: sums from here to now
    head_from: datetime  # the earliest: minute buckets from here to body_from

    @classmethod
    def at(cls, now: datetime, settings: HubSettings) -> "WindowReads":
        window, lag = settings.capacity_window, settings.online_window
        return cls(now, window, lag, floor_minute(now) + MINUTE - window, floor_minute(now - lag) + MINUTE - window)

    def for_workshop(self, latest: datetime | None) -> tuple[datetime, datetime, bool]:
        """(start, end, ends at latest data) of a workshop's window: whole minutes, `window` long."""
        ends_at_latest = latest is not None and latest >= self.now - self.lag
        anchor = latest if ends_at_latest else self.now - self.lag
        end = floor_minute(anchor) + MINUTE
        # A store clock ahead of the hub's can put `latest` past the hub's now: never start later
        # than the sums read from body_from.
        start = min(end - self.window, self.body_from)
        return start, start + self.window, ends_at_latest


def build_report(body: list[MachineActivity], head: list[MachineBucket], seen: list[MachineSeen],
                 reads: WindowReads, settings: HubSettings, telemetry_name: str) -> CapacityReport:
    """Join the reads per (workshop, machine), cut each workshop's window, roll up per workshop."""
    now = reads.now
    act = {(a.workshop, a.machine): a for a in body}
    minutes: dict[tuple[str, str], list[MachineBucket]] = {}
    for b in head:
        minutes.setdefault((b.workshop, b.machine), []).append(b)
    last = {(s.workshop, s.machine): s.last_seen for s in seen}
    online_since = now - settings.online_window
    keys = sorted(set(act) | set(last) | set(minutes))
    latest: dict[str, datetime] = {}
    for (workshop, _), t in last.items():
        latest[workshop] = max(t, latest.get(workshop, t))
    by_workshop: dict[str, list[MachineCapacity]] = {}
    windows = {w: reads.for_workshop(latest.get(w)) for w, _ in keys}
    for key in keys:
        workshop, machine = key
        start = windows[workshop][0]
        a = act.get(key)
        stitches, run_ms, observed_ms = (a.stitches, a.run_ms, a.observed_ms) if a else (0, 0, 0)
        for b in minutes.get(key, ()):
            if b.start >= start:
                stitches, run_ms, observed_ms = stitches + b.stitches, run_ms + b.run_ms, observed_ms + b.observed_ms
        seen_at = last.get(key)
        if seen_at is None and not (stitches or observed_ms):
            continue  # only a minute before this workshop's window: nothing to report
        by_workshop.setdefault(workshop, []).append(MachineCapacity(
            machine=machine, online=seen_at is not None and seen_at > online_since, last_seen=_iso(seen_at),
            stitches_last_hour=stitches, run_ms=run_ms, observed_ms=observed_ms,
            running_ratio=_ratio(run_ms, observed_ms)))
    workshops = []
    for workshop, machines in by_workshop.items():
        run_ms = sum(m.run_ms for m in machines)
        observed_ms = sum(m.observed_ms for m in machines)
        start, end, ends_at_latest = windows[workshop]
        workshops.append(WorkshopCapacity(
            workshop=workshop, machines_known=len(machines), machines_online=sum(m.online for m in machines),
            stitches_last_hour=sum(m.stitches_last_hour for m in machines), run_ms=run_ms,
            observed_ms=observed_ms, running_ratio=_ratio(run_ms, observed_ms),
            last_seen=_iso(latest.get(workshop)), window_start=_iso(start), window_end=_iso(end),
            window_ends_at="latest_data" if ends_at_latest else "online_window", machines=machines))
    return CapacityReport(
        generated_at=_iso(now), telemetry=telemetry_name,
        online_window_s=int(settings.online_window.total_seconds()),
        capacity_window_s=int(settings.capacity_window.total_seconds()),
        known_window_s=int(settings.known_window.total_seconds()), workshops=workshops)


async def current_capacity(telemetry: Telemetry, settings: HubSettings,
                           now: datetime | None = None) -> CapacityReport:
    """The three reads at once; raises TelemetryUnavailable when the store cannot answer."""
    reads = WindowReads.at(now or datetime.now(timezone.utc), settings)
    body, head, seen = await asyncio.gather(
        telemetry.activity_since(reads.body_from),
        telemetry.activity_buckets(reads.head_from, reads.body_from, MINUTE, "UTC"),
        telemetry.machines_last_seen(settings.known_window))
    return build_report(body, head, seen, reads, settings, telemetry.name)
