"""The time rules on their own (edge_gateway/timekeeping.py): properties checked with hypothesis.

A "truthful boot" below is what a board really sends: it started at S on the true clock, closes a
summary every interval (a little late now and then), and each summary arrives after it ended, late
by a delivery delay of at most D seconds.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_gateway import timekeeping as tk
from edge_gateway.contract import EARLIEST_TIME, LATEST_TIME

T0 = 1_763_900_000
FAST = settings(max_examples=150, deadline=None)

TRUSTED = tk.ClockView(offset=0.0, trusted=True, epoch=0)
UNSYNCED = tk.ClockView(offset=0.0, trusted=False, epoch=0)


@st.composite
def truthful_boot(draw, max_n: int = 40):
    """(readings in arrival order, true interval ends by seq, max delay D, interval)."""
    interval = draw(st.sampled_from([1_000, 10_000, 60_000, 600_000]))
    start = draw(st.floats(EARLIEST_TIME + 10**6, T0 + 10**7, allow_nan=False))
    app_start_ms = draw(st.integers(0, 5_000))  # the firmware's sampler starts a little after boot
    n = draw(st.integers(1, max_n))
    late_ms = draw(st.lists(st.sampled_from([0, 0, 0, 100, 200]), min_size=n, max_size=n))
    max_delay = draw(st.sampled_from([0.5, 5.0, 60.0, 3600.0]))
    delays = draw(st.lists(st.floats(0, max_delay, allow_nan=False), min_size=n, max_size=n))
    readings, ends, uptime = [], {}, app_start_ms
    for seq in range(1, n + 1):
        uptime += interval + late_ms[seq - 1]
        end = start + uptime / 1000
        ends[seq] = end
        readings.append(tk.Reading(seq, uptime, interval, end + delays[seq - 1]))
    readings.sort(key=lambda r: r.arrived)
    return readings, ends, max_delay, interval


def run(readings, batch_sizes, clock=TRUSTED):
    """Observe and stamp as the store does: per batch, observe all, then stamp with the final anchor."""
    anchor, stamps, i = None, {}, 0
    sizes = iter(batch_sizes)
    while i < len(readings):
        size = max(1, next(sizes, len(readings)))
        batch = readings[i:i + size]
        i += size
        for r in batch:
            anchor = tk.observe(anchor, r, clock.epoch)
        for r in batch:
            stamps[r.seq] = tk.stamp(anchor, r, clock)
    return stamps


@FAST
@given(truthful_boot(), st.lists(st.integers(1, 50), max_size=10))
def test_a_truthful_boot_is_stamped_within_its_delivery_delay(boot, batch_sizes):
    readings, ends, max_delay, _ = boot
    for seq, s in run(readings, batch_sizes).items():
        assert isinstance(s, tk.Stamp), s
        # Never before the true end (rounding: 2 s), never later than its arrival.
        assert ends[seq] - 2 <= s.ts <= ends[seq] + max_delay + 1, (seq, s, ends[seq])


@FAST
@given(truthful_boot(max_n=30), st.data())
def test_one_bad_uptime_moves_no_other_summarys_stamp(boot, data):
    """Neighbours bound a summary: one bad uptime may misplace (or refuse) only itself."""
    readings, ends, max_delay, interval = boot
    bad_at = data.draw(st.integers(0, len(readings) - 1))
    bad_uptime = data.draw(st.one_of(st.integers(0, 2**53), st.just(2**53), st.just(0)))
    bad = readings[bad_at]
    readings = list(readings)
    readings[bad_at] = tk.Reading(bad.seq, bad_uptime, bad.interval_ms, bad.arrived)
    batch_sizes = data.draw(st.lists(st.integers(1, 50), max_size=10))
    # An uptime within the agreement slack of the truth is not "bad": it may shift the anchor by
    # at most that slack.
    slack = (interval // tk.AGREE_UPTIME_PART + tk.AGREE_UPTIME_MS) / 1000
    for seq, s in run([r for r in readings if tk.implausible(r) is None], batch_sizes).items():
        if seq == bad.seq:
            if isinstance(s, tk.Stamp):
                assert EARLIEST_TIME <= s.ts <= math.floor(bad.arrived) + tk.MAX_AHEAD_S
            continue
        assert isinstance(s, tk.Stamp), s
        assert ends[seq] - 2 - slack <= s.ts <= ends[seq] + max_delay + 1, (seq, s, ends[seq])


@st.composite
def any_reading(draw):
    seq = draw(st.integers(1, 2**31 - 1))
    return tk.Reading(
        seq=seq,
        uptime_ms=draw(st.integers(0, 2**53)),
        interval_ms=draw(st.integers(1_000, 3_600_000)),
        arrived=draw(st.floats(EARLIEST_TIME, LATEST_TIME, allow_nan=False)),
        time=draw(st.none() | st.integers(EARLIEST_TIME, LATEST_TIME)),
    )


@FAST
@given(st.lists(any_reading(), min_size=1, max_size=12), st.booleans())
def test_no_stamp_lies_beyond_the_gateway_clock_lead_or_before_2020(readings, trusted):
    clock = TRUSTED if trusted else UNSYNCED
    anchor = None
    for r in readings:
        if tk.implausible(r) is not None:
            continue
        anchor = tk.observe(anchor, r, 0)
        s = tk.stamp(anchor, r, clock)
        if isinstance(s, tk.Refusal):
            assert s.detail
            continue
        assert s.ts >= EARLIEST_TIME
        lead = clock.board_lead_s if s.source == "board" else tk.MAX_AHEAD_S
        assert s.ts <= math.floor(r.arrived) + lead
        assert s.ts <= s.latest


def test_the_uptime_of_2_to_the_53_is_implausible_and_a_normal_one_is_not():
    normal = tk.Reading(1, 10_000, 10_000, T0)
    assert tk.implausible(normal) is None
    assert "2020" in tk.implausible(tk.Reading(2, 2**53, 10_000, T0 + 10))
    assert "one summary a second" in tk.implausible(tk.Reading(5000, 20_000, 10_000, T0))


@FAST
@given(st.integers(EARLIEST_TIME, LATEST_TIME), st.floats(-400 * 86400, 400 * 86400, allow_nan=False))
def test_a_synced_boards_time_is_preferred_when_plausible(board_time, gateway_error):
    """Trusted clock: the board's time within the lead is used. A gateway clock known to be unsynced
    (behind after a boot without RTC): the board's time is used even months ahead of it."""
    arrived = board_time - gateway_error  # what the gateway clock says when the summary arrives
    r = tk.Reading(3, 30_000, 10_000, arrived, board_time)
    anchor = tk.observe(None, r, 0)
    if arrived < EARLIEST_TIME + 10**6:
        return
    trusted = tk.stamp(anchor, r, TRUSTED)
    if board_time <= arrived + tk.MAX_AHEAD_S:
        assert trusted == tk.Stamp(board_time, "board", math.floor(arrived) + tk.MAX_AHEAD_S)
    else:
        assert isinstance(trusted, tk.Stamp) and trusted.source != "board" and trusted.ts <= arrived + 1
    unsynced = tk.stamp(anchor, r, UNSYNCED)
    assert unsynced.ts == board_time and unsynced.source == "board"


def test_a_replayed_burst_whose_first_summary_is_late_is_spaced_by_uptime():
    # A board offline for an hour sends its queue at once; the first summary the gateway sees is an
    # hour old. Anchoring on it alone would stamp the whole boot an hour in the future.
    start, interval = T0, 10_000
    burst = [tk.Reading(seq, seq * interval, interval, start + 3600 + 0.001 * seq) for seq in range(1, 361)]
    stamps = run(burst, [360])
    assert [stamps[q].ts for q in (1, 100, 101, 360)] == [start + 10, start + 1000, start + 1010, start + 3600]
    # Split over batches, a batch knows only the summaries so far: each stamp lies between the
    # interval's true end and its arrival, never after it, and the last batch is exact.
    stamps = run(burst, [100, 100, 100, 60])
    for r in burst:
        assert start + r.uptime_ms // 1000 <= stamps[r.seq].ts <= r.arrived
    assert stamps[360].ts == start + 3600


def test_a_board_that_lied_in_its_first_summary_is_re_anchored_by_two_that_agree():
    interval = 10_000
    liar = tk.Reading(1, 3_600_000, interval, T0 + 10)  # claims an hour of uptime after 10 s
    a = tk.observe(None, liar, 0)
    second, third = (tk.Reading(q, q * interval, interval, T0 + q * 10 + 0.2) for q in (2, 3))
    a = tk.observe(a, second, 0)
    assert tk.stamp(a, second, TRUSTED) == tk.Stamp(T0 + 20, "arrival", T0 + 20 + tk.MAX_AHEAD_S)
    a = tk.observe(a, third, 0)
    assert a.start == T0 and tk.stamp(a, third, TRUSTED).ts == T0 + 30


def test_a_new_epoch_re_anchors_the_boot():
    interval = 10_000
    behind = tk.observe(None, tk.Reading(1, 10_000, interval, T0 - 86400 + 10), 0)
    assert behind.start == T0 - 86400
    now_right = tk.Reading(2, 20_000, interval, T0 + 20)
    assert tk.observe(behind, now_right, 0).start == T0 - 86400, "same epoch: a later arrival is a delay"
    assert tk.observe(behind, now_right, 1).start == T0, "new epoch: the clock was corrected"


# ---- the gateway clock --------------------------------------------------------------------------


def live_samples(offset: float, now: float, minutes: int = 3, delay: float = 0.3):
    """A synced board's summaries every 10 s over the last minutes: (arrival, board time)."""
    return [(now - k * 10, round(now - k * 10 - delay + offset)) for k in range(minutes * 6)]


@FAST
@given(st.floats(-400 * 86400, 400 * 86400, allow_nan=False), st.integers(1, 4), st.booleans())
def test_boards_that_agree_measure_the_gateway_clock(offset, boards, kernel_unsynced):
    now = T0 + 10**6
    samples = {f"b{i}": live_samples(offset, now, delay=0.2 * i) for i in range(boards)}
    got = tk.estimate_offset(tk.witnesses(samples, now), 1 if kernel_unsynced else 2)
    if boards < (1 if kernel_unsynced else 2):
        assert got is None
    elif abs(offset) <= tk.CLOCK_TOLERANCE_S - 2:
        assert got == 0.0
    elif abs(offset) > tk.CLOCK_TOLERANCE_S + 2:
        assert abs(got - offset) <= 2


def test_a_burst_of_old_summaries_is_no_evidence_about_the_gateway_clock():
    now = T0
    burst = [(now + 0.001 * k, now - 7200 + 10 * k) for k in range(300)]  # two hours old, at once
    assert tk.witnesses({"a": burst, "b": burst}, now + 1) == []
    # ... but while the gateway believes it is 1970, any synced board knows better.
    assert tk.witnesses({"a": [(100.0, T0)]}, 101.0) == [T0 - 100.0]


def test_boards_that_disagree_settle_nothing():
    assert tk.estimate_offset([3600.0, -3600.0], 2) is None
    assert tk.estimate_offset([3600.0, 3610.0, 0.0], 2) == 3605.0


def test_kernel_sync_re_anchors_and_clears_the_correction():
    state = tk.advance(tk.ClockState(), now=T0, kernel_synced=False, offsets=[86400.0])
    assert state.offset == 86400.0 and state.epoch == 1 and state.since == T0
    assert not tk.view(tk.ClockState(kernel_synced=False), T0).trusted
    assert tk.view(state, T0).trusted, "boards vouch for the corrected clock"
    synced = tk.advance(state, now=T0 + 86400, kernel_synced=True, offsets=[])
    assert (synced.offset, synced.epoch, synced.since) == (0.0, 2, None)
    assert tk.view(synced, T0 + 86400).trusted


def test_a_clock_that_went_back_is_reported_until_it_catches_up_or_ntp_confirms():
    s = tk.advance(tk.ClockState(), now=T0, kernel_synced=None, offsets=[])
    back = tk.advance(s, now=T0 - 3600, kernel_synced=None, offsets=[])
    assert back.stepped_back_s == 3600 and back.since == T0 - 3600 and not tk.view(back, T0 - 3600).trusted
    assert tk.advance(back, now=T0 + 1, kernel_synced=None, offsets=[]).since is None
    # A step back by NTP (kernel synced) is the correction itself, not a problem.
    ntp = tk.advance(tk.advance(s, now=T0, kernel_synced=True, offsets=[]), now=T0 - 3600,
                     kernel_synced=True, offsets=[])
    assert ntp.stepped_back_s == 0 and ntp.since is None


def test_a_clock_before_2020_cannot_stamp_until_a_board_tells_the_time():
    state = tk.advance(tk.ClockState(), now=100.0, kernel_synced=False, offsets=[])
    assert not tk.usable(state, 100.0)
    told = tk.advance(state, now=101.0, kernel_synced=False, offsets=[T0 - 101.0])
    assert tk.usable(told, 101.0) and told.offset == T0 - 101.0


@given(st.integers(EARLIEST_TIME, LATEST_TIME), st.integers(0, 30), st.sets(st.integers(-30, 30)))
def test_free_second_is_the_nearest_free_one_at_or_after_within_the_lead_else_before(ts, lead, taken_offsets):
    taken = {ts + k for k in taken_offsets}
    free = tk.free_second(ts, ts + lead, taken)
    assert free not in taken
    if free >= ts:
        assert free <= ts + lead and all(t in taken for t in range(ts, free))
    else:
        assert all(t in taken for t in range(ts, ts + lead + 1)) and all(t in taken for t in range(free + 1, ts))


@given(st.sets(st.integers(-40, 40), max_size=60),
       st.lists(st.tuples(st.integers(-40, 40), st.integers(0, 30)), min_size=1, max_size=40))
def test_taken_seconds_take_by_the_stated_rule_however_many_in_a_row(taken_offsets, takes):
    taken = {T0 + k for k in taken_offsets}
    runs = tk.TakenSeconds(taken)
    for offset, lead in takes:
        ts = T0 + offset
        expected = tk.free_second(ts, ts + lead, taken)
        assert runs.take(ts, ts + lead) == expected
        taken.add(expected)
        assert all(t in runs for t in taken) and all(t not in runs for t in range(T0 - 200, T0 + 200) if t not in taken)


def test_a_lie_far_from_its_reference_does_not_become_the_reference():
    """Found by the property above: seq 1 claiming uptime 0 (truth 60 s), arriving after seq 18,
    'agreed' with seq 18 under a 5 % slack, became the reference, and two honest summaries then
    re-anchored the boot 301 s late, so seq 2 was refused as from the future."""
    honest = [(s, 60_000 * s, T0 + 60.0 * s) for s in (2, 3, 4, 5, 6, 7, 8, 9, 10, 18)]
    late = [(s, 60_000 * s, T0 + 1381.0) for s in (13, 12, 11, 14, 15, 16, 17)]
    anchor = None
    for seq, uptime, arrived in [*honest, (1, 0, T0 + 1081.0), *late]:
        anchor = tk.observe(anchor, tk.Reading(seq, uptime, 60_000, arrived), 0)
    assert anchor.start == T0
    stamped = tk.stamp(anchor, tk.Reading(2, 120_000, 60_000, T0 + 120.0), TRUSTED)
    assert isinstance(stamped, tk.Stamp) and stamped.ts == T0 + 120
