"""The store's timestamps when clocks go wrong (issue 5, item 3), against a real SQLite file.

The kernel's NTP flag is the one thing replaced (tests.unit.boards.Kernel): a test cannot set this
machine's clock or its sync state. The gateway clock itself is what each message says it arrived at.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_gateway import timekeeping as tk
from edge_gateway.outbox import ClockUnusable, StoreFull
from tests.unit.boards import D1, D2, T0, Kernel, msg, open_store, stamps

DAY = 86400
YEAR = 365 * DAY


def live(device: str, seqs, *, clock_error: float = 0.0, synced: bool = True, boot: int = 1, start: int = T0):
    """Summaries arriving live (0.5 s after each interval end) at a gateway clock off by `clock_error`."""
    out = []
    for seq in seqs:
        end = start + 10 * seq
        extra = {"time": end} if synced else {}
        out.append(msg(device, seq, boot=boot, synced=False, at=end + 0.5 + clock_error, **extra))
    return out


def hangul(text: str) -> bool:
    return re.search("[\uac00-\ud7a3]", text) is not None


def test_one_huge_uptime_does_not_push_later_summaries_into_the_future(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest(live(D1, [1], synced=False))
        # Seq 2 claims a day more uptime than its neighbours: stamped at its arrival, moving nothing.
        s.ingest([msg(D1, 2, synced=False, uptime_ms=20_000 + DAY * 1000)])
        s.ingest(live(D1, range(3, 11), synced=False))
        assert stamps(s, "m01") == [T0 + 10 * q for q in range(1, 11)]


def test_a_stamp_only_takes_its_own_second(tmp_path):
    registry = {D1: "m01", D2: "m01"}  # two boards on one machine (a board swapped mid-shift)
    with open_store(tmp_path, registry=registry) as s:
        s.ingest([msg(D2, 10)])  # T0 + 100
        s.ingest([msg(D1, 1), msg(D1, 2)])
        s.ingest([msg(D2, 11, time=T0 + 20)])  # the same second as D1's seq 2: the next free one
        assert stamps(s, "m01") == [T0 + 10, T0 + 20, T0 + 21, T0 + 100]


def test_a_crowded_series_never_takes_a_second_beyond_the_lead(tmp_path):
    registry = {D1: "m01", D2: "m01"}
    with open_store(tmp_path, registry=registry) as s:
        at, edge = T0 + 10.5, T0 + 10 + tk.MAX_AHEAD_S
        s.ingest([msg(D1, 1, time=edge, at=at)])  # a board clock 5 min ahead: allowed
        r = s.ingest([msg(D2, 1, time=edge, at=at)])  # the next second would be too far: one before
        assert r.accepted == 1
        assert stamps(s, "m01") == [edge - 1, edge]


def test_a_board_far_faster_than_its_interval_is_stored_whole_and_never_in_the_future(tmp_path):
    # 600 summaries in 6 s, each claiming a 10 s interval: no real board does this (it cannot replay
    # more than its queue), but a simulator or a bug can; the old rule stamped them up to 100 min
    # ahead. Every one is kept, in the past, in its own second.
    with open_store(tmp_path, synchronous="OFF") as s:
        for b in range(30):
            s.ingest([msg(D1, 20 * b + k, synced=False, at=T0 + b * 0.2) for k in range(1, 21)])
        got = stamps(s, "m01")
        assert len(got) == len(set(got)) == 600 and max(got) <= T0 + 6 + tk.MAX_AHEAD_S


def test_a_gateway_clock_a_year_ahead_then_corrected_loses_none_of_21_later_summaries(tmp_path):
    with open_store(tmp_path, kernel=Kernel(None)) as s:  # nothing tells the store its clock is wrong
        s.ingest(live(D1, range(1, 6), clock_error=YEAR, synced=False) + live(D2, range(1, 6), clock_error=YEAR))
        later_d1 = live(D1, range(6, 27), synced=False)
        later_d2 = live(D2, range(6, 27))
        for a, b in zip(later_d1, later_d2):
            r = s.ingest([a, b])
            assert r.accepted == 2, r.rejected
        for series in ("m01", "m02"):
            later = [ts for ts in stamps(s, series) if ts < T0 + YEAR / 2]
            assert later[-21:] == [T0 + 10 * q for q in range(6, 27)], series
    # A board with a synced clock was right all along, also while the gateway's was a year ahead.
        assert stamps(s, "m02")[:5] == [T0 + 10 * q for q in range(1, 6)]


def test_a_synced_boards_time_is_used_while_the_gateway_clock_is_behind(tmp_path):
    """A Pi that booted without network and RTC: its clock is a month behind and the kernel says so."""
    kernel = Kernel(False)
    behind = -30 * DAY
    with open_store(tmp_path, kernel=kernel) as s:
        s.ingest(live(D2, [1], clock_error=behind))
        assert stamps(s, "m02") == [T0 + 10]
        # An unsynced board can only be anchored on the gateway clock at first...
        s.ingest(live(D1, [1], clock_error=behind, synced=False))
        assert stamps(s, "m01") == [T0 + 10 + behind]
        # ... until the synced board's summaries over two minutes show how far behind it is.
        for q in range(2, 16):
            s.ingest(live(D2, [q], clock_error=behind) + live(D1, [q], clock_error=behind, synced=False))
        assert stamps(s, "m02") == [T0 + 10 * q for q in range(1, 16)]
        d1 = stamps(s, "m01")
        assert d1[-1] == T0 + 150 and sum(ts > T0 for ts in d1) >= 1
        alert = s.alerts()[0]
        assert alert.key == "clock_unsynced" and "30 days behind" in alert.en and hangul(alert.ko)
        # NTP sets the clock: the correction is no longer needed and the boots are re-anchored.
        kernel.synced = True
        s.ingest(live(D1, [16], synced=False) + live(D2, [16]))
        assert stamps(s, "m01")[-1] == T0 + 160 and stamps(s, "m02")[-1] == T0 + 160
        assert s.alerts() == []


def test_an_unsynced_boards_boot_is_re_anchored_when_the_gateway_clock_gets_synced(tmp_path):
    kernel = Kernel(False)
    with open_store(tmp_path, kernel=kernel) as s:
        s.ingest(live(D1, range(1, 4), clock_error=-2 * 3600, synced=False))
        assert stamps(s, "m01") == [T0 + 10 * q - 2 * 3600 for q in range(1, 4)]
        kernel.synced = True  # NTP stepped the clock two hours forward
        s.ingest(live(D1, range(4, 7), synced=False))
        assert stamps(s, "m01")[3:] == [T0 + 40, T0 + 50, T0 + 60]


def test_the_page_is_told_when_the_gateway_clock_is_unsynced(tmp_path):
    kernel = Kernel(True)
    with open_store(tmp_path, kernel=kernel) as s:
        s.ingest(live(D1, [1]))
        assert s.alerts() == []
        kernel.synced = False
        s.ingest(live(D1, [2]))
        (alert,) = s.alerts()
        assert (alert.key, alert.level, alert.since) == ("clock_unsynced", "warning", T0 + 20.5)
        assert "not set from the internet" in alert.en and hangul(alert.ko) and "LTE" in alert.ko
        kernel.synced = None  # e.g. the NTP daemon is gone: no word from the kernel either way
        s.ingest(live(D1, [3]))
        assert s.alerts() == []
        s.ingest(live(D1, [4], clock_error=-3 * 3600))  # the clock went back by three hours
        (alert,) = s.alerts()
        assert "went back by about 3 hours" in alert.en and hangul(alert.ko)


def test_two_synced_boards_agreeing_the_gateway_clock_is_off_raise_the_alert(tmp_path):
    with open_store(tmp_path, kernel=Kernel(True)) as s:
        for q in range(1, 16):
            s.ingest(live(D1, [q], clock_error=600) + live(D2, [q], clock_error=600))
        (alert,) = s.alerts()
        assert "about 10 minutes ahead" in alert.en and hangul(alert.ko)
        assert stamps(s, "m01") == [T0 + 10 * q for q in range(1, 16)]


def test_a_gateway_clock_before_2020_holds_the_batch_at_the_broker(tmp_path):
    with open_store(tmp_path, kernel=Kernel(False)) as s:
        unsynced = [msg(D1, 1, synced=False, at=100.0)]
        with pytest.raises(ClockUnusable) as caught:
            s.ingest(unsynced)
        assert isinstance(caught.value, StoreFull), "the ingest loop must treat it like a full store"
        assert s.pending_stats() == (0, None) and s.counters() == {}
        (alert,) = s.alerts()
        assert alert.level == "error" and "before 2020" in alert.en and hangul(alert.ko)
        # A synced board in the batch tells the time: both are stored, the unsynced one on its clock.
        r = s.ingest(unsynced + [msg(D2, 1, at=101.0)])
        assert r.accepted == 2
        assert stamps(s, "m02") == [T0 + 10] and abs(stamps(s, "m01")[0] - (T0 + 10)) <= 2


def test_dedup_survives_a_clock_jump_past_the_old_window(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, q) for q in range(1, 6)])
        for jump in (9 * DAY, YEAR, -YEAR):
            s.prune_seen(now=T0 + jump)
            r = s.ingest([msg(D1, q, at=T0 + jump) for q in range(1, 6)])
            assert (r.accepted, r.duplicates) == (0, 5), jump
        assert s.ingest([msg(D1, 6)]).accepted == 1


def test_old_boots_are_forgotten_by_count_and_their_copies_stay_duplicates(tmp_path):
    from edge_gateway.outbox import KEEP_BOOTS

    with open_store(tmp_path) as s:
        boots = KEEP_BOOTS + 6
        s.ingest([msg(D1, 1, boot=b, synced=False, at=T0 + b * 100) for b in range(1, boots + 1)])
        s.ingest([msg(D1, 3, boot=3, synced=False, at=T0 + 400)])  # boot 3 lacks seq 2
        assert s.devices(now=T0)[0]["missing"] == 1
        assert s.prune_seen(now=T0 + 10 * DAY) > 0
        r = s.ingest([msg(D1, 1, boot=2, synced=False), msg(D1, 3, boot=3, synced=False),
                      msg(D1, 2, boot=boots, synced=False, at=T0 + boots * 100 + 10)])
        assert (r.accepted, r.duplicates) == (1, 2)
        assert s.devices(now=T0)[0]["missing"] == 1 and s.counters()["missing"] == 1


def test_used_seconds_are_forgotten_only_on_a_trusted_clock(tmp_path):
    kernel = Kernel(False)
    with open_store(tmp_path, kernel=kernel, seen_keep_s=DAY) as s:
        s.ingest([msg(D1, q) for q in range(1, 4)])
        assert s.prune_seen(now=T0 + 2 * DAY) == 0  # the clock may be wrong: keep them
        kernel.synced = True
        s.ingest([msg(D1, 4, at=T0 + 2 * DAY, time=T0 + 2 * DAY)])
        assert s.prune_seen(now=T0 + 2 * DAY) == 3


def test_stored_lines_never_change_and_copies_are_dropped_across_reopen(tmp_path):
    with open_store(tmp_path, kernel=Kernel(False)) as s:
        s.ingest(live(D1, range(1, 4), synced=False) + live(D2, range(1, 4)))
        before = s.pending(100)
    with open_store(tmp_path, kernel=Kernel(True)) as s:
        r = s.ingest(live(D1, range(1, 4), clock_error=DAY, synced=False) + live(D2, range(1, 4), clock_error=DAY))
        assert (r.accepted, r.duplicates) == (0, 6)
        assert s.pending(100) == before


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 20), st.sets(st.integers(-20, 40), max_size=50))
def test_the_store_takes_seconds_by_the_stated_rule(offset, lead, taken_offsets):
    with tempfile.TemporaryDirectory() as tmp:
        with open_store(Path(tmp), synchronous="OFF") as s:
            ts, taken = T0 + offset, {T0 + k for k in taken_offsets}
            with s._lock:
                s._db.executemany("INSERT INTO stamps(series, ts) VALUES ('m01', ?)", [(t,) for t in taken])
                assert s._take_second("m01", ts, ts + lead) == tk.free_second(ts, ts + lead, taken)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_the_kernel_answers_whether_the_clock_is_synced():
    # None would mean the probe failed and the gateway could never tell a Pi without NTP. (On this
    # test machine the answer is False: no NTP daemon has set the clock.)
    from edge_gateway.sysclock import kernel_clock_synced

    assert kernel_clock_synced() in (True, False)
