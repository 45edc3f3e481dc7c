# sn_counting: stitch counting arithmetic, free of hardware and clocks so that it runs unchanged
# on the board, on CPython and on the MicroPython VM in the tests.
#
# The board samples its pulse counter every 100 ms (one "tick"); everything the summary reports
# (stitches, run_ms, stops, peak_spm, lifetime total) is derived here from stitches per tick.

TICK_MS = 100            # the contract: run_ms is a multiple of this tick
STOP_TICKS = 20          # a stop is at least 2 s without stitches after running
WINDOW_TICKS = 10        # peak speed is measured over a 1 s window


def delta(prev, now, bits=16):
    """Pulses between two raw readings of a counter that wraps at 2**bits.

    Exact as long as fewer than 2**bits pulses happen between two readings (16 bits at
    10,000 spm is over 6 minutes; the board reads every 100 ms). Masking also folds the
    signed values some counters return into the same arithmetic."""
    mask = (1 << bits) - 1
    return (now - prev) & mask


class WrapDelta:
    """Turns successive raw readings of a wrapping counter into pulse increments."""

    def __init__(self, first_raw, bits=16):
        self.bits = bits
        self.last = first_raw

    def update(self, raw):
        d = delta(self.last, raw, self.bits)
        self.last = raw
        return d


class Lockout:
    """Software debounce for the pin-interrupt path: after an accepted edge, edges within
    `lockout_us` are contact bounce, not stitches (a stitch at 10,000 spm is 6 ms apart).

    `ticks_diff` is the board's time.ticks_diff, passed in so this stays clock-free. The
    handler runs as an interrupt, so accept() must not allocate: only small-int arithmetic."""

    def __init__(self, lockout_us, ticks_diff):
        self.lockout_us = lockout_us
        self._diff = ticks_diff
        self.last = -1           # -1: no edge yet (ticks values are never negative)
        self.rejected = 0

    def accept(self, now_us):
        last = self.last
        if last >= 0:
            d = self._diff(now_us, last)
            # d < 0 means the microsecond ticks wrapped past half their period (an idle of
            # minutes): that edge is long after the lockout, not inside it.
            if 0 <= d < self.lockout_us:
                self.rejected = (self.rejected + 1) & 0x1FFFFFFF   # stays a small int
                return False
        self.last = now_us
        return True

    def expire(self, now_us, idle_us=1000000):
        # Called from the main loop: forgets the last edge after a long idle so that the
        # wrapping microsecond ticks can never alias a late edge into the lockout window.
        last = self.last
        if last >= 0 and self._diff(now_us, last) > idle_us:
            self.last = -1


class Tally:
    """Per-interval figures and the lifetime total, fed with stitches per 100 ms tick."""

    def __init__(self, total=0):
        self.total = total           # lifetime stitches, never reset
        self.sewing = False          # stitched since the last stop (a stop needs sewing first)
        self.idle_ticks = 0          # consecutive ticks without stitches
        self._window = [0] * WINDOW_TICKS
        self._wpos = 0
        self._wsum = 0
        self._reset_interval()

    def _reset_interval(self):
        self.ticks = 0
        self.stitches = 0
        self.run_ms = 0
        self.stops = 0
        self.peak_spm = 0

    def _push_window(self, n):
        w = self._window
        p = self._wpos
        self._wsum += n - w[p]
        w[p] = n
        self._wpos = (p + 1) % WINDOW_TICKS
        # Measured only at ticks with stitches: the window may reach back into the previous
        # interval, but an interval without stitches has no speed.
        if n:
            spm = self._wsum * (60000 // (WINDOW_TICKS * TICK_MS))
            if spm > self.peak_spm:
                self.peak_spm = spm

    def tick(self, n, ticks=1):
        """Account `n` stitches counted over `ticks` ticks (more than one when the loop was
        late: the stitches are spread over the ticks it missed, so nothing is lost)."""
        if ticks < 1:
            ticks = 1
        self.ticks += ticks
        self.stitches += n
        self.total += n
        if n > 0:
            self.run_ms += ticks * TICK_MS
            self.sewing = True
            self.idle_ticks = 0
            share = n // ticks
            extra = n - share * ticks
            for i in range(ticks):
                self._push_window(share + (1 if i < extra else 0))
            return
        for _ in range(min(ticks, WINDOW_TICKS)):
            self._push_window(0)
        before = self.idle_ticks
        self.idle_ticks = before + ticks
        if self.sewing and before < STOP_TICKS <= self.idle_ticks:
            self.stops += 1
            self.sewing = False

    def close_interval(self):
        """Returns this interval's figures and starts the next interval."""
        r = {
            "interval_ms": self.ticks * TICK_MS,
            "stitches": self.stitches,
            "run_ms": self.run_ms,
            "stops": self.stops,
            "peak_spm": self.peak_spm,
            "total": self.total,
        }
        self._reset_interval()
        return r
