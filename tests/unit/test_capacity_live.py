"""One workshop's machines as the console's workshop page says them (hub.capacity.machine_states,
daily_output) over a real embedded store on a fixed clock: sewing, idle, "정지 09:42부터 / stopped
since 09:42" (Seoul time), off; and the page's reads are that workshop's alone."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest

from hub.capacity import DayOutput, machine_states, daily_output
from hub.capacity.service import DayCache
from hub.telemetry import line_protocol as lp
from hub.telemetry.embedded import EmbeddedTelemetry
from hub.telemetry.storage import EmbeddedStore

UTC = timezone.utc
NOW = datetime(2025, 11, 24, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
ONLINE, KNOWN = timedelta(minutes=15), timedelta(days=30)


class Recording:
    """The real adapter, with every read it is asked for written down."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.name = inner.name

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        async def call(*args, **kwargs):
            self.calls.append((name, args[0] if args else None))
            return await method(*args, **kwargs)
        return call


def line(workshop: str, machine: str, t: datetime, run_ms: int, stitches: int) -> str:
    return (f"sewing,machine={machine},workshop={workshop} interval_ms=600000i,run_ms={run_ms}i,"
            f"stitches={stitches}i {int(t.timestamp())}")


@pytest.fixture
def telemetry(tmp_path):
    store = EmbeddedStore(tmp_path / "t.sqlite", clock=NOW.timestamp)
    m = timedelta(minutes=1)
    lines = [
        line("ws-a", "m1", NOW - 1 * m, 60_000, 3000),                       # sewing
        line("ws-a", "m2", NOW - 8 * m, 30_000, 1500), line("ws-a", "m2", NOW - m / 3, 0, 0),  # idle
        line("ws-a", "m3", datetime(2025, 11, 24, 0, 42, tzinfo=UTC), 45_000, 2000),   # ran until 09:42 KST
        line("ws-a", "m3", NOW - 9 * m - m / 2, 0, 0),                       # then reports, needle still
        line("ws-a", "m4", NOW - 13 * 60 * m, 50_000, 2500), line("ws-a", "m4", NOW - m / 2, 0, 0),  # over 12 h
        line("ws-a", "m5", NOW - 120 * m, 20_000, 900),                       # silent for 2 hours: off
        line("ws-a", "m7", datetime(2025, 11, 23, 14, 30, tzinfo=UTC), 10_000, 400),  # 23:30 KST, the day before
        line("ws-a", "m7", NOW - 2 * m, 0, 0),
        line("ws-a", "m1", NOW - timedelta(days=3), 100_000, 5000),          # 11/21, for the days
        line("ws-b", "m1", NOW - m, 60_000, 3000),                            # another workshop
        line("ws-b", "m9", NOW - timedelta(days=2), 60_000, 7000),
    ]
    parsed = lp.parse("\n".join(lines), 10**9, NOW.timestamp() * 10**9)
    assert not parsed.rejected and store.write(parsed.points).written == len(lines)
    yield Recording(EmbeddedTelemetry(store))
    store.close()


def test_states_and_since_when_in_seoul_time(telemetry):
    live = asyncio.run(machine_states(telemetry, "ws-a", ["m1", "m2", "m3", "m4", "m5", "m6", "m7"], ONLINE, KNOWN, NOW))
    by = {m.machine: m for m in live.machines}
    assert {m: s.state for m, s in by.items()} == {"m1": "sewing", "m2": "idle", "m3": "stopped", "m4": "stopped",
                                                    "m5": "off", "m6": "off", "m7": "stopped"}
    today = date(2025, 11, 24)
    assert by["m3"].label("Asia/Seoul", today) == ("정지 09:42부터", "stopped since 09:42")
    assert by["m7"].label("Asia/Seoul", today) == ("정지 11/23 23:30부터", "stopped since 11/23 23:30")
    assert by["m4"].label("Asia/Seoul", today) == ("정지 12시간 넘게", "stopped over 12 hours")
    assert by["m1"].label("Asia/Seoul", today) == ("재봉 중", "sewing")
    assert by["m5"].last_seen == NOW - timedelta(minutes=120) and by["m6"].last_seen is None
    assert by["m1"].stitches_recent == 3000 and by["m1"].running_ratio == 0.1
    assert live.as_of == NOW - timedelta(seconds=20)
    assert live.counts() == {"sewing": 1, "idle": 1, "stopped": 3, "off": 2}
    # One read, of this workshop alone.
    assert telemetry.calls == [("workshop_recent", "ws-a")]


def test_a_workshop_silent_past_the_online_window_is_all_off(telemetry):
    live = asyncio.run(machine_states(telemetry, "ws-b", ["m1"], ONLINE, KNOWN, NOW + timedelta(minutes=16)))
    assert [(m.machine, m.state) for m in live.machines] == [("m1", "off"), ("m9", "off")]


def test_output_per_day_reads_only_this_workshop(telemetry):
    days = asyncio.run(daily_output(telemetry, "ws-a", 5, now=NOW))
    # Today in Seoul began at 15:00 UTC: m5's 08:00 KST summary is today's, m4's and m7's are the day before.
    assert days[-1] == DayOutput(date(2025, 11, 24), 3000 + 1500 + 2000 + 900, round((60 + 30 + 45 + 20) / 60, 1), 4)
    assert days[-2] == DayOutput(date(2025, 11, 23), 2500 + 400, round((50 + 10) / 60, 1), 2)
    assert days[1] == DayOutput(date(2025, 11, 21), 5000, round(100 / 60, 1), 1)
    assert telemetry.calls == [("workshop_recent", "ws-a")]
    # With capacity's cache of past days warm, only today is read, still for this workshop alone.
    cache = DayCache(timedelta(hours=1))
    asyncio.run(cache.days(telemetry, "Asia/Seoul", date(2025, 11, 20), date(2025, 11, 24), NOW))
    telemetry.calls.clear()
    assert asyncio.run(daily_output(telemetry, "ws-a", 5, now=NOW, cache=cache)) == days
    assert telemetry.calls == [("workshop_recent", "ws-a")]
