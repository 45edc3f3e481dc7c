"""The bench fixture: the world (broker, gateway) and the board under test that --board names."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import pytest

from tests.hil.board import Board
from tests.hil.options import bench_settings
from tests.hil.world import REPO, World

BOARDS_FILE = REPO / "hardware" / "boards.json"

#: The device id the suite gives the board under test (sewnet.json; the broker's user name).
DEVICE = "sn-0a11b0a7d001"

_timings: list[tuple[str, str, float]] = []


@dataclass
class Bench:
    world: World
    board: Board


@pytest.fixture
def bench(request, tmp_path):
    spec = request.config.getoption("--board")
    if spec.kind == "virtual":
        from tests.hil.virtual import VirtualBench

        world = World(tmp_path / "world", DEVICE)
        board = VirtualBench(tmp_path / "board", DEVICE, (world.broker.host, world.broker.port))
    else:
        opt = request.config.getoption
        for what, port in (("board", spec.port), ("pulse generator", opt("--pulsegen"))):
            if not os.path.exists(port):
                pytest.skip(f"serial bench: the {what}'s port {port} is not there (nothing plugged in?);"
                            " hardware/hil/README.md says how to wire and run the bench")
        try:
            settings = bench_settings(opt("--pulsegen"), opt("--bench-host"), opt("--wifi-ssid"),
                                      os.environ.get("SEWNET_HIL_WIFI_PASSWORD"), opt("--variant"),
                                      json.loads(BOARDS_FILE.read_text()))
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        from tests.hil.serial_bench import SerialBench

        world = World(tmp_path / "world", DEVICE, bind="0.0.0.0", board_host=settings.host,
                      wifi=(settings.wifi_ssid, settings.wifi_password), variant=settings.variant)
        board = SerialBench(spec.port, settings.pulsegen_port, DEVICE, settings.host)
    t0 = time.monotonic()
    try:
        yield Bench(world, board)
    finally:
        _timings.append((request.node.name, str(spec), time.monotonic() - t0))
        try:
            board.close()
        finally:
            world.close()
        if getattr(request.node, "sewnet_failed", False):
            print(f"--- board console ---\n{board.console()[-6000:]}")
            print(f"--- mosquitto log ---\n{world.broker.log_tail()}")


def pytest_terminal_summary(terminalreporter):
    if not _timings:
        return
    terminalreporter.section("SewNet HIL scenarios")
    for name, board, took in _timings:
        terminalreporter.write_line(f"{name:<60} {board:<24} {took:6.1f} s")
