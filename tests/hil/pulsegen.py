"""The test host's side of the bench pulse generator (hardware/hil/pulsegen): commands out, answers
and DONE reports in, over a serial port (the Pico on the bench) or straight into a Controller
(the virtual bench, where pg_proto's Controller itself plays the Pico's part).

Both sides share pg_proto: a train the generator would refuse is refused here before it goes
out, with the same reason.
"""

from __future__ import annotations

import importlib.util
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PULSEGEN_DIR = REPO / "hardware" / "hil" / "pulsegen"


def load_pg_proto():
    """hardware/hil/pulsegen/pg_proto.py, the generator's own module (a flat MicroPython file,
    not a package), imported once per process."""
    mod = sys.modules.get("pg_proto")
    if mod is not None and Path(getattr(mod, "__file__", "")).resolve() == PULSEGEN_DIR / "pg_proto.py":
        return mod
    spec = importlib.util.spec_from_file_location("pg_proto", PULSEGEN_DIR / "pg_proto.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules["pg_proto"] = mod
    return mod


pg_proto = load_pg_proto()


class PulseGenError(RuntimeError):
    """The generator refused a command (its ERR line) or did not answer."""


@dataclass(frozen=True)
class Done:
    train: int
    pulses: int
    spikes: int
    cut: bool


def spm_period_us(spm: float) -> int:
    """The period of `spm` stitches a minute, in whole microseconds."""
    if not 0 < spm <= 60_000_000 / pg_proto.MIN_PERIOD_US:
        raise ValueError(f"stitches per minute must be in (0, {60_000_000 // pg_proto.MIN_PERIOD_US}], got {spm}")
    return round(60_000_000 / spm)


class LocalLink:
    """Lines straight into a pg_proto.Controller in this process (the virtual bench). DONE lines
    the hardware produces come back through `event()`."""

    def __init__(self, controller) -> None:
        self.controller = controller
        self.lock = threading.RLock()
        self._events: queue.Queue[str] = queue.Queue()
        self.sent: list[str] = []

    def command(self, line: str, timeout: float = 5.0) -> str:
        with self.lock:
            self.sent.append(line)
            return self.controller.handle(line)

    def event(self, line: str) -> None:
        self._events.put(line)

    def next_event(self, timeout: float) -> str | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        pass


class SerialLink:
    """Lines over the generator's USB serial port (pyserial). A reader thread sorts what comes
    in: OK/ERR lines answer the command in flight, DONE lines are reports, anything else (the
    READY banner after a reset) is kept for the log."""

    def __init__(self, port: str, baudrate: int = 115200, *, serial_factory=None) -> None:
        if serial_factory is None:
            import serial

            serial_factory = serial.Serial
        self.port = port
        self.ser = serial_factory(port, baudrate=baudrate, timeout=0.05)
        self.lock = threading.Lock()
        self._answers: queue.Queue[str] = queue.Queue()
        self._events: queue.Queue[str] = queue.Queue()
        self.other: list[str] = []
        self.sent: list[str] = []
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"pulsegen {port}")
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        while not self._closed.is_set():
            try:
                chunk = self.ser.read(256)
            except Exception as e:  # a port that vanished: the next command says so
                self.other.append(f"read failed: {e!r}")
                return
            if not chunk:
                continue
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                if line.startswith(("OK ", "ERR ")):
                    self._answers.put(line)
                elif line.startswith("DONE "):
                    self._events.put(line)
                else:
                    self.other.append(line)

    def command(self, line: str, timeout: float = 5.0) -> str:
        with self.lock:
            while not self._answers.empty():   # a late answer of a command that timed out
                self.other.append("late: " + self._answers.get_nowait())
            self.sent.append(line)
            self.ser.write(line.encode("ascii") + b"\n")
            self.ser.flush()
            try:
                return self._answers.get(timeout=timeout)
            except queue.Empty:
                raise PulseGenError(f"펄스 발생기가 {timeout:.0f}초 안에 답하지 않음 / the pulse generator on "
                                    f"{self.port} did not answer {line.split()[0]} within {timeout:.0f} s") from None

    def next_event(self, timeout: float) -> str | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._closed.set()
        self._reader.join(1)
        self.ser.close()


class PulseGen:
    """Commands to the generator, answers checked; `wait_done` for a train's report."""

    def __init__(self, link) -> None:
        self.link = link
        self.done: dict[int, Done] = {}

    def _ok(self, line: str, timeout: float = 5.0) -> list[str]:
        answer = self.link.command(line, timeout)
        words = answer.split()
        if words[0] != "OK":
            raise PulseGenError(f"{line!r}: {answer}")
        if words[1:2] != [line.split()[0].upper()]:
            raise PulseGenError(f"{line!r} was answered {answer!r}: the generator and the suite are out of step")
        return words[1:]

    def hello(self) -> tuple[int, int]:
        words = self._ok("HELLO")
        if words[:2] != ["HELLO", "pulsegen"]:
            raise PulseGenError(f"not a SewNet pulse generator: {' '.join(words)}")
        version, clock = int(words[2]), int(words[3])
        if version != pg_proto.VERSION:
            raise PulseGenError(f"펄스 발생기 펌웨어 버전 {version}, 필요한 버전 {pg_proto.VERSION} (hardware/hil/pulsegen을"
                                f" 다시 복사) / pulse generator firmware version {version}, this suite needs"
                                f" {pg_proto.VERSION}: copy hardware/hil/pulsegen/*.py to it again")
        return version, clock

    def power(self, on: bool) -> None:
        self._ok(f"POWER {int(on)}")

    def train(self, n: int, *, period_us: int, width_us: int, every: int = 0, spike_ns: int = 0) -> int:
        """Starts a train; returns its id for wait_done. Checked here first (pg_proto)."""
        words = self._ok(pg_proto.train_line(n, period_us, width_us, every, spike_ns))
        return int(words[1])

    def stop(self) -> None:
        self._ok("STOP")

    def status(self) -> dict[str, int]:
        words = self._ok("STATUS")
        return {k: int(v) for k, v in (w.split("=") for w in words[1:])}

    def wait_done(self, train: int, timeout: float) -> Done:
        deadline = time.monotonic() + timeout
        while train not in self.done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PulseGenError(f"train {train}: no DONE within {timeout:.0f} s")
            line = self.link.next_event(min(left, 0.5))
            if line is None:
                continue
            parsed = pg_proto.parse_done(line)
            if parsed is None:
                raise PulseGenError(f"unexpected report: {line!r}")
            self.done[parsed[0]] = Done(*parsed)
        return self.done[train]

    def play(self, n: int, *, period_us: int, width_us: int, every: int = 0, spike_ns: int = 0,
             slack_s: float = 10.0) -> Done:
        """A whole train, waited for (its own duration plus `slack_s`)."""
        train = self.train(n, period_us=period_us, width_us=width_us, every=every, spike_ns=spike_ns)
        return self.wait_done(train, n * period_us / 1e6 + slack_s)
