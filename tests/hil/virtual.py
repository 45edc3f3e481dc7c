"""The virtual bench: a virtual board process (tests/hil/virtual_board_proc.py: the firmware's own
files under CPython) on a flash folder, with the pulse generator's own Controller (pg_proto) in
front of it. The Controller's hardware here turns a train into timed edges on the process's
pulse input and the relay into starting and killing the process (SIGKILL: a power cut)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.hil.board import Board
from tests.hil.pulsegen import LocalLink, PulseGen, pg_proto

REPO = Path(__file__).resolve().parents[2]
NS_PER_CYCLE = 1_000_000_000 // pg_proto.CLOCK_HZ


class VirtualHardware:
    """pg_proto's hardware for the virtual bench."""

    #: Edges go out this far ahead of their time, so the board process has them before its
    #: clock reaches them (it reads its input lazily, as the PCNT counts in hardware).
    LEAD_NS = 40_000_000

    def __init__(self, bench: "VirtualBench") -> None:
        self.bench = bench
        self.link: LocalLink | None = None
        self._train: tuple[int, list[tuple[int, bool]], int] | None = None
        self._timer: threading.Timer | None = None
        self._cut_at = 0

    def power(self, on: bool) -> None:
        if on:
            self.bench.start_process()
        else:
            # A train cut just now still plays until its cut time: the relay opens after it.
            wait = (self._cut_at - time.monotonic_ns()) / 1e9
            if wait > 0:
                time.sleep(wait)
            self.bench.kill_process()

    def start(self, train_id: int, segments) -> None:
        t = time.monotonic_ns() + self.LEAD_NS
        edges, lines = [], []
        for high, low, is_spike in segments:
            edges.append((t, is_spike))
            lines.append(f"E {t} {high * NS_PER_CYCLE}\n")
            t += (high + low) * NS_PER_CYCLE
        self._train = (train_id, edges, t)
        self.bench.send_edges("".join(lines))
        self._timer = threading.Timer((t - time.monotonic_ns()) / 1e9, self._played, args=(train_id,))
        self._timer.daemon = True
        self._timer.start()

    def _count(self, before_ns: int) -> tuple[int, int]:
        _, edges, _ = self._train
        spikes = sum(1 for t, s in edges if s and t < before_ns)
        pulses = sum(1 for t, s in edges if not s and t < before_ns)
        return pulses, spikes

    def _played(self, train_id: int) -> None:
        with self.link.lock:
            if self._train is None or self._train[0] != train_id:
                return                      # stopped meanwhile
            pulses, spikes = self._count(self._train[2])
            self._train = None
            self.link.event(self.link.controller.finished(train_id, pulses, spikes, False))

    def stop(self) -> None:
        # Called under the link's lock (from Controller.handle).
        if self._train is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        cut = time.monotonic_ns() + self.LEAD_NS
        self.bench.send_edges(f"C {cut}\n")
        train_id = self._train[0]
        pulses, spikes = self._count(cut)
        self._train = None
        self._cut_at = cut
        self.link.event(self.link.controller.finished(train_id, pulses, spikes, True))


class VirtualBench(Board):
    kind = "virtual"

    def __init__(self, root: Path, device: str, broker_addr: tuple[str, int]) -> None:
        self.root = Path(root)
        self.flash_dir = self.root / "flash"
        self.log_path = self.root / "console.log"
        self.device = device
        self.broker_addr = broker_addr
        self.proc: subprocess.Popen | None = None
        self.power_ons = 0
        self.hw = VirtualHardware(self)
        controller = pg_proto.Controller(self.hw)
        link = LocalLink(controller)
        self.hw.link = link
        self.pulsegen = PulseGen(link)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- Board -------------------------------------------------------------------------------------

    def provision(self, files: dict[str, bytes]) -> None:
        self.power(False)
        shutil.rmtree(self.flash_dir, ignore_errors=True)
        self.flash_dir.mkdir(parents=True)
        for name, data in files.items():
            (self.flash_dir / name).write_bytes(data)
        self.log_path.write_bytes(b"")

    def console(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        self.power(False)

    # -- what only a virtual board shows -----------------------------------------------------------

    def figures(self) -> dict:
        """The board's own figures (its status.json, when the firmware's process writes one)."""
        try:
            return json.loads((self.flash_dir / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_intervals(self, n: int, interval_s: float) -> None:
        from tests.waiting import wait_for

        if "seq" not in self.figures():      # a firmware whose process writes no status.json
            super().wait_intervals(n, interval_s)
            return
        start = self.figures().get("seq", 0)
        wait_for(lambda: self.figures().get("seq", 0) >= start + n, timeout=(n + 2) * interval_s + 5,
                 what=f"the board closing {n} more intervals (its status.json)")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- the process (called by VirtualHardware) ---------------------------------------------------

    def start_process(self) -> None:
        if self.alive:
            return
        cfg = json.loads((self.flash_dir / "sewnet.json").read_text())
        host, port = self.broker_addr
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
                   SEWNET_DEVICE_PASSWORD=cfg.get("password", ""))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hil.virtual_board_proc", "--flash", str(self.flash_dir),
             "--device", self.device, "--broker", f"{host}:{port}", "--sew-seconds", "0", "--no-ntp"],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env,
            start_new_session=True)
        log.close()
        self.power_ons += 1

    def kill_process(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()              # the relay opens: no goodbye, RAM gone
        self.proc.wait()
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.proc = None

    def send_edges(self, text: str) -> None:
        if not self.alive:
            return                         # pulses into a board that is off (or stopped) vanish
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
