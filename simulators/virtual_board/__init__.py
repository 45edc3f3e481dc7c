"""A virtual ESP32 that runs the SewNet firmware's own files under CPython.

In-process (single board, tests): `VirtualBoard(flash_dir, sewing=..., clock=VirtualClock())`,
`board.flash(config)`, `with board: sn_hw = board.import_firmware("sn_hw")`.
As its own process: `python -m simulators.virtual_board --help`.
"""

from simulators.virtual_board.board import (
    BOARDS_FILE,
    FIRMWARE_DIR,
    BoardReset,
    VirtualBoard,
    firmware_files,
    unique_id_for,
)
from simulators.virtual_board.clock import RealClock, VirtualClock

__all__ = [
    "BOARDS_FILE",
    "FIRMWARE_DIR",
    "BoardReset",
    "RealClock",
    "VirtualBoard",
    "VirtualClock",
    "firmware_files",
    "unique_id_for",
]
