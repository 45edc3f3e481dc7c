"""Past days' telemetry sums are kept between requests for capacity_evidence_ttl; today's are read
every time (hub.capacity.service.DayCache), against the real embedded store with a set clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hub.capacity import ProfileMachine, WorkingHours, WorkshopProfile, spare_capacity
from hub.capacity.sam import CapacityRules
from hub.capacity.service import DayCache
from hub.telemetry import line_protocol as lp
from hub.telemetry.embedded import EmbeddedTelemetry
from hub.telemetry.storage import EmbeddedStore

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 11, 26, 5, 0, tzinfo=timezone.utc)  # Thursday 14:00 in Seoul
PROFILE = WorkshopProfile("ws", (ProfileMachine("m01", "lockstitch"), ProfileMachine("m02", "lockstitch")),
                          WorkingHours(time(9), time(18), time(12), 60, frozenset(range(7))), 0.5)


class Recording(EmbeddedTelemetry):
    """The embedded adapter, noting the ranges it is asked for."""

    def __init__(self, store):
        super().__init__(store)
        self.asked: list[datetime] = []

    async def activity_buckets(self, since, until, bucket, zone="UTC"):
        self.asked.append(since)
        return await super().activity_buckets(since, until, bucket, zone)


def line(machine: str, day_back: int, run_ms: int) -> str:
    t = datetime.combine(NOW.astimezone(SEOUL).date() - timedelta(days=day_back), time(11), SEOUL)
    return f"sewing,machine={machine},workshop=ws interval_ms=3600000i,run_ms={run_ms}i,stitches=100i {int(t.timestamp())}"


def test_past_days_are_kept_for_the_ttl_and_today_is_read_each_time(tmp_path):
    clock = [NOW.timestamp()]
    store = EmbeddedStore(tmp_path / "t.sqlite", clock=lambda: clock[0])
    write = lambda *lines: store.write(lp.parse("\n".join(lines), 10**9, store.now_ns()).points)  # noqa: E731
    write(*(line("m01", back, 3_000_000) for back in range(1, 6)), line("m01", 0, 1_000_000))
    telemetry = Recording(store)
    cache = DayCache(timedelta(minutes=10))
    rules = CapacityRules()
    today = datetime.combine(NOW.astimezone(SEOUL).date(), time(0), SEOUL)
    first = today - timedelta(days=rules.lookback_days)

    def run(at: datetime, cached: DayCache | None = cache):
        clock[0] = at.timestamp()
        telemetry.asked.clear()
        out = asyncio.run(spare_capacity(telemetry, [PROFILE], [], rules, timedelta(days=30), at, cached))
        return out.workshops, list(telemetry.asked)

    first_answer, asked = run(NOW)
    assert asked == [first]
    later = NOW + timedelta(minutes=5)
    answer, asked = run(later)
    assert asked == [today]  # only today's sums were read again
    assert answer == run(later, None)[0]  # and the figures are what a full read gives

    # A gateway that was offline ships yesterday's summaries late: m02 ran too. Within the TTL the
    # kept days do not show it yet; after it they do.
    write(*(line("m02", back, 3_000_000) for back in range(1, 3)))
    answer, _ = run(NOW + timedelta(minutes=9))
    assert answer[0].types[0].availability.measured == first_answer[0].types[0].availability.measured
    answer, asked = run(NOW + timedelta(minutes=11))
    assert asked == [first]
    assert answer[0].types[0].availability.measured > first_answer[0].types[0].availability.measured

    # The day turns: the lookback moves, everything is read again.
    _, asked = run(NOW + timedelta(days=1))
    assert asked == [first + timedelta(days=1)]
    # A TTL of 0 keeps nothing.
    none = DayCache(timedelta(0))
    run(NOW, none)
    _, asked = run(NOW + timedelta(minutes=1), none)
    assert asked == [first]
    store.close()
