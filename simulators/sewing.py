"""A sewing machine as its handwheel sensor sees it: one rising edge per stitch, with exact
ground truth.

Sewing is bursty: seconds at speed, handling pauses (positioning, trimming: 0.5-5 s), and now
and then a long stop (bobbin change, thread break: 20 s to minutes, scaled down by
`stop_scale` so tests need not wait). Every burst runs at its own speed, never above `max_spm`.

Optional sensor faults, which are not stitches:
  * spikes: isolated pulses narrower than the PCNT glitch filter (EMI from the motor);
  * bounce: extra rising edges within `bounce_max_us` after a real edge (a reed contact or a
    marginal hall sensor), which the interrupt path's software lockout must swallow.

The whole train is generated up front from a seeded RNG (same seed, same edges) and kept as
sorted lists, so "real stitches before t" and "edges in [t0, t1)" are binary searches.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass

REAL, SPIKE, BOUNCE = 0, 1, 2


@dataclass(frozen=True)
class Edges:
    """Rising edges in a time range: times (s), pulse widths (s) and kinds (REAL/SPIKE/BOUNCE)."""

    times: list[float]
    widths: list[float]
    kinds: list[int]

    def __len__(self) -> int:
        return len(self.times)


class SewingMachine:
    def __init__(
        self,
        seed: int = 0,
        duration_s: float = 60.0,
        *,
        max_spm: float = 7000.0,
        min_speed: float = 0.35,
        burst_s: tuple[float, float] = (1.0, 12.0),
        pause_s: tuple[float, float] = (0.5, 5.0),
        long_stop_s: tuple[float, float] = (20.0, 300.0),
        long_stop_prob: float = 0.1,
        stop_scale: float = 1.0,
        start_s: float = 0.0,
        duty: float = 0.3,
        jitter: float = 0.03,
        spikes_per_s: float = 0.0,
        spike_width_ns: tuple[float, float] = (200.0, 8000.0),
        bounce_prob: float = 0.0,
        bounce_max_us: float = 1500.0,
    ):
        if not 0 < max_spm <= 30000:
            raise ValueError("max_spm must be in (0, 30000]")
        if not 0 < min_speed <= 1:
            raise ValueError("min_speed is a fraction of max_spm in (0, 1]")
        if not 0 < duty < 1:
            raise ValueError("duty must be in (0, 1)")
        self.seed = seed
        self.duration_s = duration_s
        self.max_spm = max_spm
        self.min_period_s = 60.0 / max_spm
        rng = random.Random(seed)

        real_t: list[float] = []
        real_w: list[float] = []
        bursts: list[tuple[float, float, float]] = []  # (start, end, spm)
        t = start_s
        while t < duration_s:
            spm = max_spm * rng.uniform(min_speed, 1.0)
            end = min(t + rng.uniform(*burst_s), duration_s)
            period = 60.0 / spm
            begin = t
            while t < end:
                real_t.append(t)
                p = max(period * (1.0 + rng.uniform(-jitter, jitter)), self.min_period_s)
                real_w.append(p * duty)
                t += p
            bursts.append((begin, t, spm))
            if rng.random() < long_stop_prob:
                t += rng.uniform(*long_stop_s) * stop_scale
            else:
                t += rng.uniform(*pause_s)
        self.bursts = bursts
        self.real_times = real_t
        self.real_widths = real_w

        glitches: list[tuple[float, float, int]] = []
        if bounce_prob > 0:
            for et, w in zip(real_t, real_w):
                if rng.random() < bounce_prob:
                    d = 0.0
                    for _ in range(rng.randint(1, 3)):
                        d += rng.uniform(0.05e-3, bounce_max_us * 1e-6 / 3)
                        glitches.append((et + d, rng.uniform(20e-6, 200e-6), BOUNCE))
        if spikes_per_s > 0:
            t = rng.expovariate(spikes_per_s)
            while t < duration_s:
                w = rng.uniform(*spike_width_ns) * 1e-9
                # A spike is only a separate edge while the signal is low: not inside a real
                # pulse, and clear of the next one.
                i = bisect.bisect_right(real_t, t) - 1
                inside = i >= 0 and t < real_t[i] + real_w[i] + 50e-6
                nxt = i + 1 < len(real_t) and t + w + 50e-6 > real_t[i + 1]
                if not inside and not nxt:
                    glitches.append((t, w, SPIKE))
                t += rng.expovariate(spikes_per_s)

        merged = [(et, w, REAL) for et, w in zip(real_t, real_w)] + glitches
        merged.sort(key=lambda e: e[0])
        self.edge_times = [e[0] for e in merged]
        self.edge_widths = [e[1] for e in merged]
        self.edge_kinds = [e[2] for e in merged]

    # -- ground truth ----------------------------------------------------------------------------

    @property
    def stitches(self) -> int:
        """All real stitches of the run."""
        return len(self.real_times)

    def stitches_before(self, t: float) -> int:
        """Real stitches with their edge before time t (s)."""
        return bisect.bisect_left(self.real_times, t)

    def stitches_between(self, t0: float, t1: float) -> int:
        return self.stitches_before(t1) - self.stitches_before(t0)

    def edges(self, t0: float, t1: float) -> Edges:
        """Every rising edge, glitches included, with t0 <= time < t1."""
        i = bisect.bisect_left(self.edge_times, t0)
        j = bisect.bisect_left(self.edge_times, t1)
        return Edges(self.edge_times[i:j], self.edge_widths[i:j], self.edge_kinds[i:j])

    def edge_index(self, t: float) -> int:
        """Index of the first edge at or after t (for cursors that walk the train)."""
        return bisect.bisect_left(self.edge_times, t)

    def glitch_count(self, kind: int | None = None) -> int:
        if kind is None:
            return len(self.edge_kinds) - len(self.real_times)
        return sum(1 for k in self.edge_kinds if k == kind)

    def peak_spm(self, t0: float, t1: float, window_s: float = 1.0) -> int:
        """Most real stitches in any window of `window_s` starting in [t0, t1), per minute."""
        i = bisect.bisect_left(self.real_times, t0)
        j = bisect.bisect_left(self.real_times, t1)
        best = 0
        for k in range(i, j):
            n = bisect.bisect_left(self.real_times, self.real_times[k] + window_s) - k
            best = max(best, n)
        return round(best * 60.0 / window_s)

    def running_s(self) -> float:
        return sum(end - start for start, end, _ in self.bursts)
