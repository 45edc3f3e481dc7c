"""When a Dongdaemun building is open, so a recommendation can say "open now" beside its stall.

Pure: a small vocabulary of the buildings the network simulator places wholesale stalls in
(simulators/network.py `_WHOLESALE_BUILDINGS`, `_JONGHAP_MARKET`) and a few retail malls, each with
the hours it usually keeps in Korea time. The wholesale buildings trade at night: they open around
20:00 and close around 05:00 the next morning, from Sunday evening to Saturday morning (closed from
Saturday morning to Sunday evening). The fabric market works by day and rests on Sunday; the retail
malls open late morning and run into the night. These are usual hours, not a promise: a stall may
keep its own, which is why the words say "usually". A building not in the vocabulary (or a shop in
no building, a designer's studio) is "hours unknown", never a guess.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Hours:
    """One opening a day on `start_days`: from `opens` to `closes` (Seoul), past midnight when
    `closes` is not later than `opens` (a night market's 20:00 to 05:00 the next morning)."""

    opens: str  # "HH:MM"
    closes: str
    start_days: tuple[str, ...]  # the days an opening starts on
    kind: str  # "wholesale" (night), "fabric" (day), "retail" (day into night)

    @property
    def length(self) -> timedelta:
        o, c = _minutes(self.opens), _minutes(self.closes)
        return timedelta(minutes=(c - o) % 1440 or 1440)

    def openings(self, around: datetime) -> tuple[tuple[datetime, datetime], ...]:
        """The openings (start, end) that start from the day before `around` to a week after it."""
        return _openings(self, around.astimezone(SEOUL).date())


@functools.lru_cache(maxsize=512)
def _openings(hours: Hours, today: date) -> tuple[tuple[datetime, datetime], ...]:
    # Every card of every answer asks; a building's openings change once a day.
    out = []
    for shift in range(-1, 8):
        day = today + timedelta(days=shift)
        if DAYS[day.weekday()] not in hours.start_days:
            continue
        hh, mm = divmod(_minutes(hours.opens), 60)
        start = datetime.combine(day, time(hh, mm), SEOUL)
        out.append((start, start + hours.length))
    return tuple(out)


@dataclass(frozen=True)
class Building:
    ko: str
    en: str
    hours: Hours


_NIGHTS = ("sun", "mon", "tue", "wed", "thu", "fri")
_WHOLESALE = Hours("20:00", "05:00", _NIGHTS, "wholesale")

#: By the names the registry holds (the simulator's, which are the buildings' own).
BUILDINGS: tuple[Building, ...] = (
    Building("디자이너클럽", "Designer Club", _WHOLESALE),
    Building("누죤", "Nuzzon", _WHOLESALE),
    Building("에이피엠", "apM", _WHOLESALE),
    Building("유어스", "U:US", _WHOLESALE),
    Building("디오트", "DIOT", _WHOLESALE),
    Building("제일평화시장", "Jeil Pyeonghwa Market", _WHOLESALE),
    Building("청평화시장", "Cheong Pyeonghwa Market", _WHOLESALE),
    Building("신평화패션타운", "Sin Pyeonghwa Fashion Town", _WHOLESALE),
    Building("평화시장", "Pyeonghwa Market", _WHOLESALE),
    Building("광희패션몰", "Gwanghui Fashion Mall", _WHOLESALE),
    Building("동평화시장", "Dong Pyeonghwa Market", _WHOLESALE),
    # Fabric and trims: by day, Monday to Saturday.
    Building("동대문종합시장", "Dongdaemun Jonghap Market", Hours("08:00", "18:00", DAYS[:6], "fabric")),
    # Retail malls, for shoppers: late morning into the night, every day.
    Building("두타몰", "Doota Mall", Hours("10:30", "00:00", DAYS, "retail")),
    Building("현대시티아울렛 동대문점", "Hyundai City Outlet Dongdaemun", Hours("10:30", "21:00", DAYS, "retail")),
)


def _key(name: str) -> str:
    return "".join(name.lower().split())


_BY_NAME = {_key(n): b for b in BUILDINGS for n in (b.ko, b.en)}


def building(name_ko: str = "", name_en: str = "") -> Building | None:
    """The building a shop's registry record names (Korean or English, spaces and case aside)."""
    for name in (name_ko, name_en):
        if name and _key(name) in _BY_NAME:
            return _BY_NAME[_key(name)]
    return None


@dataclass(frozen=True)
class OpenState:
    """Whether a shop's building is open at a moment: `state` "open" (until `until`), "closed"
    (opens again at `next_open`) or "unknown" (not a building we know the hours of)."""

    state: str
    until: datetime | None = None
    next_open: datetime | None = None
    hours: Hours | None = None


def open_state(name_ko: str, name_en: str, now: datetime) -> OpenState:
    found = building(name_ko, name_en)
    if found is None:
        return OpenState("unknown")
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    openings = found.hours.openings(now)
    for start, end in openings:
        if start <= now < end:
            return OpenState("open", until=end, hours=found.hours)
    upcoming = [start for start, _ in openings if start > now]
    return OpenState("closed", next_open=min(upcoming) if upcoming else None, hours=found.hours)


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])
