"""Each machine's state in words, and today's output per hour, from its recent summaries (pure).

The store keeps per machine and minute the stitches and the motor's running time of the summaries
stamped in that minute (`activity`, outbox.py). A board sends a summary every 10 s whether the
machine sews or not, so:

- 꺼짐 / off: the board said it went offline (its last will), or no summary has arrived for
  OFF_AFTER_S (three minutes: 18 summaries missed; a short Wi-Fi cut is not "off", and a board
  sends what it held when it is back).
- 재봉 중 / sewing: in the last SEWING_WINDOW_S (2 min) a minute counts as sewing when the motor
  ran at least RUN_MIN_MS (2 s) and made at least STITCHES_MIN (20) stitches. A lone bump of the
  handwheel or a stray pulse is neither; one short seam is. Two minutes hold the state steady
  through the pauses between seams of one piece.
- 대기 / idle: not sewing now, but sewed within IDLE_WINDOW_S (10 min): changing bundles,
  trimming, a short break. The person is there; the line is not stopped.
- 정지 / stopped since HH:MM: summaries arrive but no sewing for IDLE_WINDOW_S or more; since the
  end of the last minute that sewed (or since the first summary the store still holds, when none
  sewed in the last two days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

OFF_AFTER_S = 180
SEWING_WINDOW_S = 120
IDLE_WINDOW_S = 600
RUN_MIN_MS = 2_000
STITCHES_MIN = 20

WORDS = {
    "sewing": ("재봉 중", "sewing"),
    "idle": ("대기", "idle"),
    "stopped": ("정지", "stopped"),
    "off": ("꺼짐", "off"),
    "unknown": ("소식 없음", "never heard"),
}


@dataclass(frozen=True, slots=True)
class MachineState:
    state: str  # sewing | idle | stopped | off | unknown
    ko: str
    en: str
    since: float | None = None  # stopped: when it last sewed


def sewed(stitches: int, run_ms: int) -> bool:
    return stitches >= STITCHES_MIN and run_ms >= RUN_MIN_MS


def state_of(minutes: Iterable[tuple[int, int, int]], *, last_seen: float | None, board_state: str | None,
             now: float, tz: ZoneInfo) -> MachineState:
    """`minutes`: (minute, stitches, run_ms) of one machine, any order."""
    if board_state == "offline" or last_seen is None or now - last_seen > OFF_AFTER_S:
        if last_seen is None and board_state is None:
            return MachineState("unknown", *WORDS["unknown"])
        return MachineState("off", *WORDS["off"])
    rows = list(minutes)
    sewing_minutes = [m for m, st, run in rows if sewed(st, run)]
    last = max(sewing_minutes, default=None)
    if last is not None:
        ended = (last + 1) * 60
        # The current minute is still filling: a minute that began within the window counts.
        if now - last * 60 <= SEWING_WINDOW_S + 60:
            return MachineState("sewing", *WORDS["sewing"])
        if now - ended < IDLE_WINDOW_S:
            return MachineState("idle", *WORDS["idle"])
        since = ended
    else:
        since = min((m for m, _, _ in rows), default=None)
        since = since * 60 if since is not None else None
    ko, en = WORDS["stopped"]
    if since is not None:
        at = datetime.fromtimestamp(since, tz)
        fmt = "%H:%M" if at.date() == datetime.fromtimestamp(now, tz).date() else "%m-%d %H:%M"
        ko, en = f"{ko} ({at.strftime(fmt)}부터)", f"{en} since {at.strftime(fmt)}"
    return MachineState("stopped", ko, en, since)


def hours_today(minutes: Iterable[tuple[int, int, int]], now: float, tz: ZoneInfo) -> list[tuple[int, int]]:
    """Stitches per local hour of today, [(hour, stitches)] for every hour from the first with
    stitches (or 8:00) to the current one."""
    today = datetime.fromtimestamp(now, tz).date()
    per_hour: dict[int, int] = {}
    for m, st, _ in minutes:
        t = datetime.fromtimestamp(m * 60, tz)
        if t.date() == today:
            per_hour[t.hour] = per_hour.get(t.hour, 0) + st
    current = datetime.fromtimestamp(now, tz).hour
    first = min([h for h, n in per_hour.items() if n] + [min(8, current)])
    return [(h, per_hour.get(h, 0)) for h in range(first, current + 1)]
