"""When did a summary happen? The gateway's time rules (docs/protocol.md section 5), free of I/O.

Boards have no battery-backed clock, the Raspberry Pi has none either, and either clock may be
wrong for a while. These rules turn what arrives (a board's uptime, sometimes its synced clock,
and the gateway clock at arrival) into one timestamp per summary that is

- never later than the gateway clock allows (a bad value is refused, not stamped into the future),
- not moved by one bad value of another summary (no "last + 1 s" ratchet: a stamp occupies only
  its own second; anchors move only on agreeing evidence),
- given once and then kept by the store (deterministic: a resend is the same line).

Everything here is pure: no SQL and no clock reads. The store (edge_gateway/outbox.py) passes the
gateway clock and the kernel's sync state in, keeps the returned state, and picks the free second
for each stamp. Property tests: tests/unit/test_timekeeping.py.
"""

from __future__ import annotations

import bisect
import math
import statistics
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from .contract import EARLIEST_TIME

#: How far a stamp may lie after the gateway clock (a board's clock a little ahead, rounding).
MAX_AHEAD_S = 300
#: While the gateway clock is known to be unsynced (a Pi that booted without network has no real
#: time), a synced board's clock is trusted up to this far ahead of it.
MAX_AHEAD_UNSYNCED_S = 400 * 86400
#: Differences below this between clocks are delivery delays and rounding, not a wrong clock.
CLOCK_TOLERANCE_S = 120
#: Evidence from synced boards about the gateway clock: their summaries of the last
#: EVIDENCE_WINDOW_S of arrivals, from a board whose arrivals span at least EVIDENCE_SPAN_S (so a
#: burst of replayed, hours-old summaries is not mistaken for a wrong gateway clock), agreeing
#: within AGREE_S.
EVIDENCE_WINDOW_S = 600
EVIDENCE_SPAN_S = 120
AGREE_S = 60
#: Two summaries of one boot agree when their uptimes differ by their seq difference times the
#: interval, give or take 0.1 % and 10 s. The 10 s absorb late sampler ticks and a slow first
#: interval (a constant offset); the relative part only covers the board's crystal (tens of ppm).
#: A wider relative part let a lying uptime far from its reference "agree" (5 % of 17 one-minute
#: intervals is 51 s), become the reference, and then re-anchor the boot later.
AGREE_UPTIME_PART = 1000
AGREE_UPTIME_MS = 10_000


# ---- one summary ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """What the time rules need of one summary."""

    seq: int
    uptime_ms: int
    interval_ms: int
    #: The gateway clock at arrival, corrected by the clock's known offset (ClockView.offset).
    arrived: float
    #: The board's synced clock at the end of the interval, or None.
    time: int | None = None
    #: The board's uptime when it published this copy (contract v2), or None (v1).
    sent_ms: int | None = None

    @property
    def boot_start(self) -> float:
        """When the boot began, on the gateway clock, if the summary arrived the moment it was
        published (v2: at `sent_ms`; v1 knows only the interval's end). A summary never arrives
        before it is published, so this is never earlier than the true start, except when the
        uptime lies. With `sent_ms` a summary that waited an hour in the board's queue still
        tells the boot's start to within its delivery delay, instead of an hour late."""
        at = self.uptime_ms if self.sent_ms is None else self.sent_ms
        return self.arrived - at / 1000


def agree(seq_a: int, uptime_a: int, seq_b: int, uptime_b: int, interval_ms: int) -> bool:
    """Do two summaries of one boot tell the same story (uptime progression vs interval)?"""
    n = seq_b - seq_a
    slack = abs(n) * interval_ms // AGREE_UPTIME_PART + AGREE_UPTIME_MS
    return abs((uptime_b - uptime_a) - n * interval_ms) <= slack


def implausible(r: Reading) -> str | None:
    """Why a summary's own figures cannot be true whatever the clocks say; None when they can.

    A board publishes at most one summary a second of uptime (the contract's shortest interval),
    and no board booted before EARLIEST_TIME.
    """
    if r.seq > r.uptime_ms // 1000 + 1:
        return f"seq {r.seq} after only {r.uptime_ms} ms of uptime: more than one summary a second"
    if r.boot_start < EARLIEST_TIME:
        return (f"uptime {r.uptime_ms} ms would mean the board started before {EARLIEST_TIME}"
                " (2020-09-13), which no board did")
    return None


# ---- one boot ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    """A boot's start on the (corrected) gateway clock, and the summary it rests on.

    The reference is the latest summary that agreed with the anchor. `pending` holds one summary
    that disagreed: a single disagreeing summary may be the liar, so it moves nothing; a second
    one agreeing with it outvotes the reference.
    """

    start: int
    ref_seq: int
    ref_uptime_ms: int
    epoch: int
    pend_seq: int | None = None
    pend_uptime_ms: int | None = None
    pend_start: float | None = None


def observe(anchor: Anchor | None, r: Reading, epoch: int) -> Anchor:
    """The boot's anchor after seeing one more (new, plausible) summary of it.

    - The first summary of a boot (or the first since the gateway clock was corrected: a new
      `epoch`) sets the anchor: floor(arrival - uptime).
    - A summary agreeing with the reference may only move the anchor EARLIER: it proves the
      earlier summaries arrived late (a board replaying its queue after a Wi-Fi outage), because
      no summary ends after it arrives.
    - A disagreeing summary moves nothing, unless it agrees with the previous disagreeing one:
      then those two outvote the reference and re-anchor the boot.
    """
    start = r.boot_start
    if anchor is None or anchor.epoch != epoch:
        return Anchor(math.floor(start), r.seq, r.uptime_ms, epoch)
    if agree(anchor.ref_seq, anchor.ref_uptime_ms, r.seq, r.uptime_ms, r.interval_ms):
        return Anchor(min(anchor.start, math.floor(start)), r.seq, r.uptime_ms, epoch)
    if (anchor.pend_seq is not None and anchor.pend_uptime_ms is not None and anchor.pend_start is not None
            and agree(anchor.pend_seq, anchor.pend_uptime_ms, r.seq, r.uptime_ms, r.interval_ms)):
        return Anchor(math.floor(min(anchor.pend_start, start)), r.seq, r.uptime_ms, epoch)
    return replace(anchor, pend_seq=r.seq, pend_uptime_ms=r.uptime_ms, pend_start=start)


# ---- the gateway clock ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockState:
    """What the store knows about the gateway's own clock; kept durably between batches."""

    #: Bumped whenever the gateway clock is found to have been wrong and is now corrected: boots
    #: anchored in an earlier epoch take a new anchor from their next summary.
    epoch: int = 0
    #: Seconds to add to the gateway clock for the true time, from agreeing synced boards.
    offset: float = 0.0
    #: The kernel's word at the last batch (None: not known on this system).
    kernel_synced: bool | None = None
    #: The latest arrival (gateway clock) since the clock was last confirmed.
    newest_arrival: float | None = None
    #: How far the clock was found behind newest_arrival (0: it was not).
    stepped_back_s: float = 0.0
    #: Synced boards currently confirm the (corrected) gateway clock.
    boards_agree: bool = False
    #: Gateway clock when the current trouble began (None: no trouble).
    since: float | None = None


@dataclass(frozen=True, slots=True)
class ClockView:
    """The gateway clock as one batch should use it."""

    offset: float
    #: The corrected clock is believed right to within CLOCK_TOLERANCE_S.
    trusted: bool
    epoch: int

    @property
    def board_lead_s(self) -> int:
        """How far ahead of the corrected gateway clock a board's synced time may be."""
        return MAX_AHEAD_S if self.trusted else MAX_AHEAD_UNSYNCED_S


def witnesses(samples: Mapping[str, Iterable[tuple[float, int]]], now: float) -> list[float]:
    """Per synced board, how far its clock is ahead of the gateway clock (board - gateway).

    `samples` holds, per board, (gateway clock at arrival, board time) of its recent synced
    summaries. A summary is late by its delivery delay, so the board's least-late summary is the
    best measure. A board counts only if its arrivals span EVIDENCE_SPAN_S, except while the
    gateway clock is before EARLIEST_TIME, when any synced board knows better.
    """
    quick = now < EARLIEST_TIME
    out = []
    for pts in samples.values():
        recent = [(a, t) for a, t in pts if now - EVIDENCE_WINDOW_S <= a <= now]
        if not recent:
            continue
        arrivals = [a for a, _ in recent]
        if not quick and max(arrivals) - min(arrivals) < EVIDENCE_SPAN_S:
            continue
        out.append(max(t - a for a, t in recent))
    return out


def estimate_offset(offsets: Sequence[float], needed: int) -> float | None:
    """The gateway clock's error by the boards' agreement, or None when they do not settle it.

    At least `needed` boards must agree within AGREE_S, and they must be the majority of the
    witnesses; a result within CLOCK_TOLERANCE_S is 0 (the gateway clock is right).
    """
    if len(offsets) < needed or not offsets:
        return None
    middle = statistics.median(offsets)
    agreeing = [o for o in offsets if abs(o - middle) <= AGREE_S]
    if len(agreeing) < needed or 2 * len(agreeing) <= len(offsets):
        return None
    estimate = statistics.median(agreeing)
    return 0.0 if abs(estimate) <= CLOCK_TOLERANCE_S else float(round(estimate))


def advance(state: ClockState, *, now: float, kernel_synced: bool | None, offsets: Sequence[float]) -> ClockState:
    """The clock state after one more batch arriving at gateway clock `now`.

    `kernel_synced`: the kernel's sync flag now (adjtimex), None if unknown. `offsets`: witnesses().
    """
    epoch, offset, newest, back = state.epoch, state.offset, state.newest_arrival, state.stepped_back_s
    if kernel_synced is True and state.kernel_synced is False:
        # NTP has just set the clock: what was anchored on the unsynced clock is re-anchored, and
        # the boards' correction is no longer needed.
        epoch, offset, back, newest = epoch + 1, 0.0, 0.0, None
    if newest is not None and now < newest - CLOCK_TOLERANCE_S:
        if kernel_synced is True:
            newest = None  # NTP stepped the clock back: it was ahead, it is right now
        else:
            back = max(back, newest - now)
    elif newest is not None and now >= newest:
        back = 0.0  # caught up with what it said before
    newest = now if newest is None else max(newest, now)
    unsynced = kernel_synced is False or back > 0 or now < EARLIEST_TIME
    estimate = estimate_offset(offsets, 1 if unsynced else 2)
    boards_agree = False
    if estimate is not None:
        if abs(estimate - offset) > CLOCK_TOLERANCE_S:
            offset, epoch = estimate, epoch + 1
        boards_agree = True
        if offset == 0.0:
            back, newest = 0.0, now  # the boards confirm the clock as it is
    trouble = (unsynced and not boards_agree) or offset != 0.0 or kernel_synced is False
    since = (state.since if state.since is not None else now) if trouble else None
    return ClockState(epoch, offset, kernel_synced, newest, back, boards_agree, since)


def view(state: ClockState, now: float) -> ClockView:
    corrected = now + state.offset
    trusted = corrected >= EARLIEST_TIME and (
        state.boards_agree or (state.kernel_synced is not False and state.stepped_back_s == 0.0)
    )
    return ClockView(state.offset, trusted, state.epoch)


def usable(state: ClockState, now: float) -> bool:
    """Can anything be stamped now? Not while the corrected clock is before EARLIEST_TIME (a Pi
    that booted without network and without fake-hwclock believes it is 1970)."""
    return now + state.offset >= EARLIEST_TIME


# ---- the stamp -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stamp:
    ts: int  # Unix seconds: the interval end
    source: str  # "board" (its synced clock), "uptime" (anchor + uptime), "arrival" (disputed uptime)
    latest: int  # the latest second this summary may take when its own is taken (the store then looks earlier)


@dataclass(frozen=True, slots=True)
class Refusal:
    detail: str  # for the operator: what was wrong with the time


def stamp(anchor: Anchor, r: Reading, clock: ClockView) -> Stamp | Refusal:
    """The interval end of a summary already observe()d into `anchor`.

    1. The board's synced time, when not later than the corrected gateway clock + the board lead.
    2. Else the anchor + uptime, when the summary agrees with the boot's reference.
    3. Else (its uptime disputes the boot's) its own arrival: neither value is trusted.
    A result after the corrected gateway clock + MAX_AHEAD_S or before EARLIEST_TIME is refused.
    """
    arrived = math.floor(r.arrived)
    if r.time is not None and r.time <= r.arrived + clock.board_lead_s:
        # A taken second is replaced by a later one, up to the lead past the gateway clock, or
        # (an unsynced gateway trusting a board ahead of it) past the board's own time.
        latest = (arrived if clock.trusted else max(arrived, r.time)) + MAX_AHEAD_S
        return _bounded(Stamp(r.time, "board", latest))
    if agree(anchor.ref_seq, anchor.ref_uptime_ms, r.seq, r.uptime_ms, r.interval_ms):
        ts = anchor.start + r.uptime_ms // 1000
        if ts > arrived + MAX_AHEAD_S:
            return Refusal(f"uptime {r.uptime_ms} ms puts the interval end {ts - arrived} s after it arrived")
        return _bounded(Stamp(ts, "uptime", arrived + MAX_AHEAD_S))
    return _bounded(Stamp(arrived, "arrival", arrived + MAX_AHEAD_S))


def _bounded(s: Stamp) -> Stamp | Refusal:
    if s.ts < EARLIEST_TIME:
        return Refusal(f"interval end {s.ts} is before {EARLIEST_TIME} (2020-09-13)")
    return s


def free_second(ts: int, latest: int, taken: Iterable[int]) -> int:
    """The nearest second at or after `ts` and not after `latest` that is not in `taken`, else the
    nearest free one before `ts`. The rule, stated plainly: TakenSeconds follows it fast, and the
    tests hold it to this."""
    used = set(taken)
    free = ts
    while free in used:
        free += 1
    if free <= latest:
        return free
    free = ts
    while free in used:
        free -= 1
    return free


class TakenSeconds:
    """The seconds of one series already given to a summary, kept as maximal runs of consecutive
    seconds. A backlog stamped around one instant (a board replaying hours of queue after its boot
    was anchored late) takes thousands of neighbouring seconds: walking them one by one per summary
    made draining a backlog quadratic; with runs each take is a binary search."""

    __slots__ = ("_starts", "_ends")

    def __init__(self, seconds: Iterable[int] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for t in sorted(set(seconds)):
            if self._ends and self._ends[-1] == t - 1:
                self._ends[-1] = t
            else:
                self._starts.append(t)
                self._ends.append(t)

    def _run_of(self, t: int) -> int:
        """Index of the run holding `t`, or -1."""
        i = bisect.bisect_right(self._starts, t) - 1
        return i if i >= 0 and self._ends[i] >= t else -1

    def __contains__(self, t: int) -> bool:
        return self._run_of(t) >= 0

    def take(self, ts: int, latest: int) -> int:
        """free_second(ts, latest, self), marked as taken and returned."""
        i = self._run_of(ts)
        if i < 0:
            free = ts
        elif self._ends[i] + 1 <= latest:
            free = self._ends[i] + 1
        else:
            free = self._starts[i] - 1  # runs are maximal, so the second before one is free
        self._add(free)
        return free

    def _add(self, t: int) -> None:
        i = bisect.bisect_right(self._starts, t)  # runs before i start at or before t
        joins_left = i > 0 and self._ends[i - 1] == t - 1
        joins_right = i < len(self._starts) and self._starts[i] == t + 1
        if joins_left and joins_right:
            self._ends[i - 1] = self._ends[i]
            del self._starts[i], self._ends[i]
        elif joins_left:
            self._ends[i - 1] = t
        elif joins_right:
            self._starts[i] = t
        else:
            self._starts.insert(i, t)
            self._ends.insert(i, t)


__all__ = [
    "Anchor", "ClockState", "ClockView", "Reading", "Refusal", "Stamp", "advance", "agree", "estimate_offset",
    "free_second", "implausible", "TakenSeconds", "observe", "stamp", "usable", "view", "witnesses",
    "MAX_AHEAD_S", "MAX_AHEAD_UNSYNCED_S", "CLOCK_TOLERANCE_S",
]
