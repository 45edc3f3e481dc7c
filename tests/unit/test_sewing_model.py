"""The sewing-machine model: exact ground truth, its speed cap, determinism by seed, and
glitches that are what they claim to be."""

from __future__ import annotations

import bisect

import pytest

from simulators.sewing import BOUNCE, REAL, SPIKE, SewingMachine


def machine(seed=1, **kw):
    kw.setdefault("duration_s", 300.0)
    kw.setdefault("max_spm", 10000)
    kw.setdefault("stop_scale", 0.05)
    return SewingMachine(seed, **kw)


def test_same_seed_same_pulse_train_other_seed_other_train():
    a, b, c = machine(7, spikes_per_s=2, bounce_prob=0.2), machine(7, spikes_per_s=2, bounce_prob=0.2), \
        machine(8, spikes_per_s=2, bounce_prob=0.2)
    assert a.edge_times == b.edge_times and a.edge_widths == b.edge_widths
    assert a.edge_kinds == b.edge_kinds
    assert a.edge_times != c.edge_times


def test_ground_truth_is_consistent_with_the_edges():
    m = machine(3, spikes_per_s=1, bounce_prob=0.3)
    assert m.stitches == len(m.real_times) > 1000
    assert all(0 <= t < m.duration_s for t in m.edge_times)
    assert m.edge_times == sorted(m.edge_times)
    t, step, seen = 0.0, 0.1, 0
    while t < m.duration_s + 1:
        window = m.edges(t, t + step)
        assert all(t <= x < t + step for x in window.times)
        real = sum(1 for k in window.kinds if k == REAL)
        assert real == m.stitches_between(t, t + step)
        seen += real
        t += step
    assert seen == m.stitches
    assert m.stitches_before(m.duration_s) == m.stitches
    assert m.stitches_before(0) == 0


@pytest.mark.parametrize("max_spm", [3000, 7000, 10000])
def test_speed_cap_is_respected(max_spm):
    m = machine(5, max_spm=max_spm, min_speed=0.95, jitter=0.05)
    gaps = [b - a for a, b in zip(m.real_times, m.real_times[1:])]
    assert min(gaps) >= 60.0 / max_spm - 1e-12
    assert m.peak_spm(0, m.duration_s) <= max_spm + 60     # one stitch of window granularity
    assert m.peak_spm(0, m.duration_s) >= 0.9 * max_spm     # and it does sew near the cap


def test_bursts_pauses_and_long_stops():
    m = machine(11, duration_s=2000, long_stop_prob=0.3, stop_scale=0.1)
    gaps = [b[0] - a[1] for a, b in zip(m.bursts, m.bursts[1:])]
    assert gaps
    handling = [g for g in gaps if g <= 5.0 + 0.01]
    long = [g for g in gaps if g > 5.0 + 0.01]
    assert handling and long
    assert min(gaps) >= 0.5 - 0.01
    assert all(2.0 - 0.01 <= g <= 30.0 + 0.01 for g in long), "20 s-5 min scaled by 0.1"
    # the needle runs a minority-to-half of the time, as on a shop floor
    assert 0.2 < m.running_s() / m.duration_s < 0.9


def test_spikes_are_narrow_and_between_pulses():
    m = machine(2, spikes_per_s=5, spike_width_ns=(200, 8000))
    spikes = [i for i, k in enumerate(m.edge_kinds) if k == SPIKE]
    assert len(spikes) > 500
    for i in spikes:
        t, w = m.edge_times[i], m.edge_widths[i]
        assert 200e-9 <= w <= 8000e-9
        j = bisect.bisect_right(m.real_times, t) - 1
        assert j < 0 or t >= m.real_times[j] + m.real_widths[j], "not inside a real pulse"


def test_bounce_follows_a_real_edge_within_the_limit():
    m = machine(4, bounce_prob=0.5, bounce_max_us=1500)
    bounces = [i for i, k in enumerate(m.edge_kinds) if k == BOUNCE]
    assert len(bounces) > 0.4 * m.stitches
    for i in bounces:
        t = m.edge_times[i]
        j = bisect.bisect_right(m.real_times, t) - 1
        assert j >= 0 and 0 < t - m.real_times[j] <= 1500e-6


def test_sewing_stops_at_the_end_of_the_run():
    m = machine(9, duration_s=10.0, stop_scale=0.01)
    assert m.stitches_before(10.0) == m.stitches == m.stitches_before(1e9)
    assert len(m.edges(10.0, 1e9)) == 0


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        SewingMachine(0, 1.0, max_spm=0)
    with pytest.raises(ValueError):
        SewingMachine(0, 1.0, duty=1.5)
