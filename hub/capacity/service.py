"""Live capacity per workshop, in plain Python over the telemetry port.

Per workshop: machines known (a point in the known window, 30 days), machines online (a point in
the online window, 15 minutes), stitches and running ratio (run_ms / observed_ms) over the
capacity window (1 hour), last seen; and the same per machine.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from hub.capacity.models import CapacityReport, MachineCapacity, WorkshopCapacity
from hub.core.settings import HubSettings
from hub.telemetry import MachineActivity, MachineSeen, Telemetry


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if t else None


def _ratio(run_ms: int, observed_ms: int) -> float | None:
    return round(run_ms / observed_ms, 4) if observed_ms > 0 else None


def build_report(activity: list[MachineActivity], seen: list[MachineSeen], now: datetime,
                 settings: HubSettings, telemetry_name: str) -> CapacityReport:
    """Join the two reads per (workshop, machine) and roll them up per workshop."""
    act = {(a.workshop, a.machine): a for a in activity}
    last = {(s.workshop, s.machine): s.last_seen for s in seen}
    online_since = now - settings.online_window
    by_workshop: dict[str, list[MachineCapacity]] = {}
    for key in sorted(set(act) | set(last)):
        workshop, machine = key
        a = act.get(key)
        stitches, run_ms, observed_ms = (a.stitches, a.run_ms, a.observed_ms) if a else (0, 0, 0)
        seen_at = last.get(key)
        by_workshop.setdefault(workshop, []).append(MachineCapacity(
            machine=machine, online=seen_at is not None and seen_at > online_since, last_seen=_iso(seen_at),
            stitches_last_hour=stitches, run_ms=run_ms, observed_ms=observed_ms,
            running_ratio=_ratio(run_ms, observed_ms)))
    workshops = []
    for workshop, machines in by_workshop.items():
        run_ms = sum(m.run_ms for m in machines)
        observed_ms = sum(m.observed_ms for m in machines)
        seen_times = [last[(workshop, m.machine)] for m in machines if (workshop, m.machine) in last]
        workshops.append(WorkshopCapacity(
            workshop=workshop, machines_known=len(machines), machines_online=sum(m.online for m in machines),
            stitches_last_hour=sum(m.stitches_last_hour for m in machines), run_ms=run_ms,
            observed_ms=observed_ms, running_ratio=_ratio(run_ms, observed_ms),
            last_seen=_iso(max(seen_times)) if seen_times else None, machines=machines))
    return CapacityReport(
        generated_at=_iso(now), telemetry=telemetry_name,
        online_window_s=int(settings.online_window.total_seconds()),
        capacity_window_s=int(settings.capacity_window.total_seconds()),
        known_window_s=int(settings.known_window.total_seconds()), workshops=workshops)


async def current_capacity(telemetry: Telemetry, settings: HubSettings,
                           now: datetime | None = None) -> CapacityReport:
    """Both reads at once; raises TelemetryUnavailable when the store cannot answer."""
    now = now or datetime.now(timezone.utc)
    activity, seen = await asyncio.gather(
        telemetry.machine_activity(settings.capacity_window),
        telemetry.machines_last_seen(settings.known_window))
    return build_report(activity, seen, now, settings, telemetry.name)
