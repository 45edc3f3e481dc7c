"""A virtual board process for the hardware-in-the-loop suite: `python -m simulators.virtual_board`
as it is (the firmware's own files, its reset and watchdog handling, its status file), with two
changes that make it a board on a bench:

- its sensor input is live: pulse edges arrive on stdin from the bench's pulse generator (the
  suite's pg_proto Controller) instead of coming from a sewing model drawn at start;
- powering on leaves the flash as it is: the suite provisions it (firmware files, sewnet.json,
  release.pub) as the serial bench does a real board's, and what an update or the firmware
  wrote since stays (the plain process copies the shipped firmware and its own sewnet.json in
  at every start).

A power cut is SIGKILL of this process; power on starts it again on the same flash folder. Run
it with --no-ntp (its NTP server's port would change at every power on; the bench has none).

stdin lines (times are CLOCK_MONOTONIC nanoseconds, the host's and this process's clock):
    E <t_ns> <width_ns>     a rising edge at t_ns, high for width_ns (in time order)
    C <t_ns>                the train is cut: edges at or after t_ns never happen
"""

from __future__ import annotations

import bisect
import sys
import threading
import time

import simulators.virtual_board.__main__ as vb_main
from simulators.virtual_board.board import VirtualBoard
from simulators.virtual_board.clock import RealClock

#: Pulses this narrow or narrower are the generator's spikes, not stitches (for truth.json only).
SPIKE_MAX_S = 100e-6


class LiveInput:
    """The sensor line as the virtual board reads it (the interface of simulators.sewing's
    SewingMachine that VirtualBoard uses), fed while the board runs."""

    def __init__(self, clock: RealClock) -> None:
        self.clock = clock
        # CLOCK_MONOTONIC -> the board's clock (both count real time; RealClock starts at 0).
        self._offset_us = time.monotonic_ns() // 1000 - clock.now_us()
        self.edge_times: list[float] = []
        self.edge_widths: list[float] = []
        self.edge_kinds: list[int] = []
        self._stitch_times: list[float] = []
        self._lock = threading.Lock()

    def board_s(self, t_ns: int) -> float:
        return (t_ns // 1000 - self._offset_us) / 1e6

    def add(self, t_ns: int, width_ns: int) -> None:
        t, w = self.board_s(t_ns), width_ns / 1e9
        with self._lock:
            if self.edge_times and t <= self.edge_times[-1]:
                raise ValueError(f"edge at {t} s is not after the last one")
            spike = w <= SPIKE_MAX_S
            # Width and kind first: the board indexes them by the position of edge_times.
            self.edge_widths.append(w)
            self.edge_kinds.append(1 if spike else 0)
            if not spike:
                self._stitch_times.append(t)
            self.edge_times.append(t)

    def cut(self, t_ns: int) -> None:
        """Drops edges not yet played (the suite cuts ahead of time, so none was read yet)."""
        t = self.board_s(t_ns)
        with self._lock:
            i = bisect.bisect_left(self.edge_times, t)
            del self.edge_times[i:]
            del self.edge_widths[i:]
            del self.edge_kinds[i:]
            del self._stitch_times[bisect.bisect_left(self._stitch_times, t):]

    # -- what VirtualBoard and the truth file ask --------------------------------------------------

    @property
    def stitches(self) -> int:
        return len(self._stitch_times)

    def stitches_before(self, t: float) -> int:
        return bisect.bisect_left(self._stitch_times, t)

    def edge_index(self, t: float) -> int:
        return bisect.bisect_left(self.edge_times, t)

    def glitch_count(self, kind: int | None = None) -> int:
        return len(self.edge_times) - len(self._stitch_times)


def read_edges(live: LiveInput, stream) -> None:
    for raw in stream:
        words = raw.split()
        try:
            if words[0] == "E":
                live.add(int(words[1]), int(words[2]))
            elif words[0] == "C":
                live.cut(int(words[1]))
            else:
                raise ValueError("unknown line")
        except (ValueError, IndexError) as e:
            print(f"virtual board: bad pulse input line {raw.strip()!r}: {e}", file=sys.stderr, flush=True)


class BenchBoard(VirtualBoard):
    def flash(self, config: dict | None = None) -> None:
        """Power on: the flash holds what the suite and the firmware put there."""
        if not (self.flash_dir / "main.py").is_file():
            raise SystemExit(f"virtual board: {self.flash_dir} holds no firmware (provision it first)")


def main(argv: list[str] | None = None) -> int:
    clock = RealClock()
    live = LiveInput(clock)
    threading.Thread(target=read_edges, args=(live, sys.stdin), daemon=True, name="pulse input").start()
    vb_main.sewing_machine = lambda a: live
    vb_main.RealClock = lambda: clock
    vb_main.VirtualBoard = BenchBoard
    return vb_main.main(argv)


if __name__ == "__main__":
    sys.exit(main())
