"""The board under test as the scenarios see it, on either bench (tests/hil/README.md):

- `provision(files)`: erase its filesystem and write these files (firmware, sewnet.json,
  release.pub), as `sewnet device flash` does; the board is left powered off.
- `power(on)`: the relay, through the pulse generator (POWER 1/0).
- `pulsegen`: the pulse generator wired to its sensor input (trains of stitches and spikes).
- `console()`: what the board printed since it was provisioned.

`virtual` (tests/hil/virtual.py) is a virtual board process with the generator's own Controller
in front of it; `serial:PORT` (tests/hil/serial_bench.py) is a real ESP32 with a Pico beside it.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from tests.hil.pulsegen import PulseGen


class Board(ABC):
    kind: str = ""
    device: str = ""
    pulsegen: PulseGen
    #: The address the board's sewnet.json names for the broker and the OTA server.
    host_for_board: str = "127.0.0.1"

    @abstractmethod
    def provision(self, files: dict[str, bytes]) -> None:
        """Erases the board's filesystem, then writes `files` (name -> content) at its root.
        Leaves the board powered off."""

    def power(self, on: bool) -> None:
        self.pulsegen.power(on)

    @abstractmethod
    def console(self) -> str:
        """The board's console output since provision() (its log lines, tracebacks)."""

    def wait_intervals(self, n: int, interval_s: float) -> None:
        """Until the board has closed `n` more summary intervals. A real board shows nothing of it
        while its broker is away (it prints no line per summary), so this waits out n intervals
        and a half of its clock; the virtual board says so itself."""
        time.sleep((n + 0.5) * interval_s)

    def close(self) -> None:
        """Powers the board off and lets go of ports and processes."""
