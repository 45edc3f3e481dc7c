"""The board the simulated MicroPython modules talk to (one per process is the normal case)."""

from __future__ import annotations

CURRENT = None


def board():
    if CURRENT is None:
        raise RuntimeError("no virtual board is installed (VirtualBoard.install())")
    return CURRENT
