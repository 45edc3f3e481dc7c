"""VirtualBoard: an ESP32 whose MicroPython modules are simulated, running the firmware's own
files unmodified under CPython.

The firmware sees a flash folder (its filesystem root: firmware files, sewnet.json and what it
writes), `machine`, `network`, `micropython`, optional `ntptime`, and MicroPython's ticks
functions on `time`. Sockets are real (asyncio.open_connection to a real broker), gated by the
board's Wi-Fi link (see netlink); open_connection looks a name up on the event loop, blocking it,
as MicroPython's does.

Pin interrupts are soft, as on MicroPython's ESP32 port (ports/esp32/machine_pin.c schedules
every pin handler with mp_sched_schedule; Pin.irq has no `hard` argument): an edge queues its
handler in the scheduler's queue of SCHEDULER_DEPTH entries, the handler runs at the board's
next safe point (every ticks_ms/ticks_us call, enable_irq, and advance_* in virtual time) and
ticks_us() inside it reads the time it runs, not the edge's; edges that find the queue full are
lost (`irq_lost`). A test shows a blocked VM with `block_ms()`. The Counter is machine.Counter
as ports/esp32/modules/machine.py builds it on the PCNT: one object per unit, a value that
counts on past 16 bits (overflows added in software), value(v) to set it.

The watchdog (machine.WDT) resets the board when not fed within its timeout: in virtual time
at the next advance, in real time from a thread (the process's main thread gets BoardReset).

One board is installed per process at a time: the firmware's modules are flat names.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import importlib
import os
import runpy
import shutil
import socket
import sys
import time
from pathlib import Path

from sewnet.resources import shipped
from simulators.sewing import SewingMachine
from simulators.virtual_board import runtime
from simulators.virtual_board.clock import TICKS_MAX, RealClock, VirtualClock, ticks_add, ticks_diff
from simulators.virtual_board.netlink import NetLink

FIRMWARE_DIR = shipped("firmware")
BOARDS_FILE = shipped("hardware") / "boards.json"

_SHIMS = ("machine", "network", "micropython")
_TIME_FUNCS = ("ticks_ms", "ticks_us", "ticks_cpu", "ticks_diff", "ticks_add", "sleep_ms", "sleep_us")


#: MICROPY_SCHEDULER_DEPTH (py/mpconfig.h's default; the ESP32 port keeps it).
SCHEDULER_DEPTH = 4


class BoardReset(SystemExit):
    """machine.reset() or the watchdog on a virtual board: the firmware's run ends here."""


def firmware_files(firmware_dir: Path = FIRMWARE_DIR) -> list[Path]:
    return sorted(p for p in Path(firmware_dir).glob("*.py"))


def unique_id_for(device: str) -> bytes:
    """Six MAC bytes: those in an `sn-<12 hex>` device id, else a stable hash of the id."""
    tail = device[3:] if device.startswith("sn-") else ""
    if len(tail) == 12:
        try:
            return bytes.fromhex(tail)
        except ValueError:
            pass
    return hashlib.sha256(device.encode()).digest()[:6]


class _IrqLine:
    def __init__(self, pin, handler, cursor: int) -> None:
        self.pin = pin
        self.handler = handler
        self.cursor = cursor


class VirtualBoard:
    def __init__(
        self,
        flash_dir: str | os.PathLike,
        *,
        sewing: SewingMachine | None = None,
        clock: RealClock | VirtualClock | None = None,
        sensor_pin: int = 34,
        unique_id: bytes = b"\x3c\x71\xbf\x0a\x12\xf4",
        ticks_offset_ms: int = 0,
        ntp: bool = True,
        firmware_dir: str | os.PathLike = FIRMWARE_DIR,
    ) -> None:
        self.flash_dir = Path(flash_dir)
        self.sewing = sewing
        self.clock = clock or VirtualClock()
        self.sensor_pin = sensor_pin
        self.unique_id = bytes(unique_id)
        self.ticks_offset_us = ticks_offset_ms * 1000
        self.ntp = ntp
        self.firmware_dir = Path(firmware_dir)
        self.link_up = True
        self.net = NetLink(self)
        self.clock_synced = False
        # observable board internals
        self.wifi_connects = 0
        self.ntp_requests = 0
        self.wdt_started = False
        self.wdt_feeds = 0
        self.wdt_timeout_ms = 0
        self.wdt_fed_at_us = 0
        self.wdt_resets = 0
        self.irq_calls = 0
        self.irq_errors = 0
        self.irq_lost = 0
        self.resets = 0
        self.wdt_fired = False
        self.counter_units: dict[int, object] = {}
        self.ntp_port: int | None = None
        self._irq_lines: dict[int, _IrqLine] = {}
        self._counters: dict[object, int] = {}
        self._irq_enabled = True
        self._in_irq = False
        self._irq_now_us: int | None = None
        self._scheduled: list = []
        self._timers: dict = {}          # machine.Timer id -> [due_us, period_us, one_shot, callback, timer]
        self._in_timer = False
        self._saved: dict = {}
        self._installed = False

    # -- flashing and installing ---------------------------------------------------------------

    def flash(self, config: dict | None = None) -> None:
        """Copies the firmware files (changed ones only, as a flashing tool would) and writes
        sewnet.json when a config is given. State the firmware keeps (sn_state.json) stays."""
        import json

        self.flash_dir.mkdir(parents=True, exist_ok=True)
        for src in firmware_files(self.firmware_dir):
            dst = self.flash_dir / src.name
            if not dst.exists() or dst.read_bytes() != src.read_bytes():
                shutil.copyfile(src, dst)
        if config is not None:
            tmp = self.flash_dir / "sewnet.json.tmp"
            tmp.write_text(json.dumps(config, indent=1))
            os.replace(tmp, self.flash_dir / "sewnet.json")

    def install(self, chdir: bool = False) -> "VirtualBoard":
        if runtime.CURRENT is not None and runtime.CURRENT is not self:
            raise RuntimeError("another virtual board is installed in this process")
        if self._installed:
            return self
        from simulators.virtual_board import shims  # noqa: F401
        from simulators.virtual_board.shims import machine, micropython, network

        mods = {"machine": machine, "network": network, "micropython": micropython}
        self.counter_units = {}
        self._saved = {
            "modules": {name: sys.modules.get(name) for name in _SHIMS},
            "time": {name: getattr(time, name, None) for name in _TIME_FUNCS},
            "open_connection": asyncio.open_connection,
            "cwd": os.getcwd(),
            "path": list(sys.path),
        }
        self._purge_firmware_modules()
        for name in _SHIMS:
            sys.modules.pop(name, None)
        sys.modules.update(mods)
        time.ticks_ms = self.ticks_ms
        time.ticks_us = self.ticks_us
        time.ticks_cpu = self.ticks_us
        time.ticks_diff = ticks_diff
        time.ticks_add = ticks_add
        time.sleep_ms = lambda ms: time.sleep(ms / 1000)
        time.sleep_us = lambda us: time.sleep(us / 1e6)
        real_open = self._saved["open_connection"]

        async def open_connection(host=None, port=None, **kwargs):
            # As MicroPython's asyncio (extmod/asyncio/stream.py) does it: the name is looked up
            # with a plain getaddrinfo ON the event loop ("TODO this is blocking!"), so firmware
            # that hands a name to open_connection stalls the board here as it would there.
            addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1][0]
            return await self.net.open_connection(real_open, addr, port, **kwargs)

        asyncio.open_connection = open_connection
        sys.path.insert(0, str(self.flash_dir))
        if chdir:
            os.chdir(self.flash_dir)
        runtime.CURRENT = self
        self._installed = True
        return self

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._purge_firmware_modules()
        for name, mod in self._saved["modules"].items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
        for name, fn in self._saved["time"].items():
            if fn is None:
                if hasattr(time, name):
                    delattr(time, name)
            else:
                setattr(time, name, fn)
        asyncio.open_connection = self._saved["open_connection"]
        os.chdir(self._saved["cwd"])
        sys.path[:] = self._saved["path"]
        runtime.CURRENT = None
        self._installed = False

    def __enter__(self) -> "VirtualBoard":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.uninstall()

    def _purge_firmware_modules(self) -> None:
        names = {p.stem for p in firmware_files(self.firmware_dir)}
        names |= {p.stem for p in firmware_files(self.flash_dir)}   # files an update brought
        for name in list(sys.modules):
            if name in names:
                del sys.modules[name]

    def import_firmware(self, name: str):
        """Imports a firmware module from the board's flash (after install())."""
        if not self._installed:
            raise RuntimeError("install() the board first")
        return importlib.import_module(name)

    @property
    def app(self):
        """The firmware's running App (sn_app.current), or None."""
        mod = sys.modules.get("sn_app") if self._installed else None
        return getattr(mod, "current", None)

    def run_main(self) -> None:
        """Boots the firmware: runs main.py from the flash, as MicroPython does."""
        if not self._installed:
            raise RuntimeError("install() the board first")
        runpy.run_path(str(self.flash_dir / "main.py"), run_name="__main__")

    # -- time ------------------------------------------------------------------------------------

    def _now_us(self) -> int:
        if self._irq_now_us is not None:
            return self._irq_now_us
        now = self.clock.now_us()
        self.safe_point(now)
        return now

    def ticks_us(self) -> int:
        return (self._now_us() + self.ticks_offset_us) & TICKS_MAX

    def ticks_ms(self) -> int:
        return ((self._now_us() + self.ticks_offset_us) // 1000) & TICKS_MAX

    def advance_ms(self, ms: float) -> None:
        """Virtual time only: moves the clock and runs the interrupts that fell due."""
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("advance_ms() needs a VirtualClock")
        self.clock.advance_us(round(ms * 1000))
        self.safe_point(self.clock.now_us())

    # -- interrupts and the sensor ---------------------------------------------------------------

    def safe_point(self, now_us: int) -> None:
        """Runs the handlers of sensor edges before now_us, then scheduled calls.

        Between safe points the VM counts as idle: a scheduled handler then runs right after its
        edge, so it sees the edge's time. Only block_ms() makes the VM busy."""
        if self._in_irq or not self._irq_enabled:
            return
        self._check_watchdog(now_us)
        line = self._irq_lines.get(self.sensor_pin)
        if line is not None and line.handler is not None and self.sewing is not None:
            times = self.sewing.edge_times
            end = bisect.bisect_left(times, now_us / 1e6)
            for i in range(line.cursor, end):
                self._run_handler(line, int(times[i] * 1e6))
                line.cursor = i + 1
            line.cursor = max(line.cursor, end)
        if self._scheduled:
            pending, self._scheduled = self._scheduled, []
            for func, arg in pending:
                func(arg)
        if self._timers and not self._in_timer:
            self._run_timers(now_us)

    def _run_handler(self, line: _IrqLine, at_us: int) -> None:
        self._in_irq = True
        self._irq_now_us = at_us
        self.irq_calls += 1
        try:
            line.handler(line.pin)
        except Exception as e:  # MicroPython prints and carries on
            self.irq_errors += 1
            print(f"virtual board: unhandled exception in IRQ handler: {e!r}")
        finally:
            self._irq_now_us = None
            self._in_irq = False

    def block_ms(self, ms: float) -> None:
        """Virtual time: the VM is stuck for `ms` (a flash erase, the Wi-Fi driver, a blocking
        call). Edges meanwhile queue their soft handlers, SCHEDULER_DEPTH at most (the rest are
        lost, as mp_sched_schedule refuses them), and those run when the VM is free again,
        every one of them seeing that late time in ticks_us()."""
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("block_ms() needs a VirtualClock")
        self.safe_point(self.clock.now_us())
        start = self.clock.now_us()
        self.clock.advance_us(round(ms * 1000))
        end = self.clock.now_us()
        line = self._irq_lines.get(self.sensor_pin)
        if line is not None and line.handler is not None and self.sewing is not None:
            last = bisect.bisect_left(self.sewing.edge_times, end / 1e6)
            waiting = last - line.cursor
            self.irq_lost += max(0, waiting - SCHEDULER_DEPTH)
            for _ in range(min(waiting, SCHEDULER_DEPTH)):
                self._run_handler(line, end)
            line.cursor = last
        del start
        self.safe_point(end)

    def attach_irq(self, pin, handler) -> None:
        cursor = self._edge_cursor()
        if handler is None:
            self._irq_lines.pop(pin.id, None)
        else:
            self._irq_lines[pin.id] = _IrqLine(pin, handler, cursor)

    # -- the watchdog ------------------------------------------------------------------------------

    def start_watchdog(self, timeout_ms: int) -> None:
        self.wdt_started = True
        self.wdt_timeout_ms = timeout_ms
        self.wdt_fed_at_us = self.clock.now_us()
        if not isinstance(self.clock, VirtualClock):
            import threading

            threading.Thread(target=self._watchdog_thread, daemon=True, name="wdt").start()

    def feed_watchdog(self) -> None:
        self.wdt_feeds += 1
        self.wdt_fed_at_us = self.clock.now_us()

    def _watchdog_expired(self, now_us: int) -> bool:
        return self.wdt_started and now_us - self.wdt_fed_at_us > self.wdt_timeout_ms * 1000

    def _check_watchdog(self, now_us: int) -> None:
        if isinstance(self.clock, VirtualClock) and self._watchdog_expired(now_us):
            self.wdt_started = False
            self.wdt_resets += 1
            raise BoardReset(4)

    def _watchdog_thread(self) -> None:
        import _thread
        import time as _t

        while self.wdt_started:
            if self._watchdog_expired(self.clock.now_us()):
                self.wdt_started = False
                self.wdt_resets += 1
                self.wdt_fired = True
                _thread.interrupt_main()  # the main thread (the firmware) stops where it is
                return
            _t.sleep(0.1)

    def attach_counter(self, counter) -> int:
        self._counters[counter] = self._edge_cursor()
        return 0

    def detach_counter(self, counter) -> None:
        self._counters.pop(counter, None)

    def _edge_cursor(self) -> int:
        if self.sewing is None:
            return 0
        return self.sewing.edge_index(self.clock.now_us() / 1e6)

    def counter_edges(self, counter) -> int:
        """Edges a PCNT unit counted since it was last read: sensor edges only if its source is
        the sensor pin, and only pulses at least as wide as its glitch filter."""
        if counter not in self._counters or self.sewing is None:
            return 0
        src = counter.src
        if src is None or getattr(src, "id", None) != self.sensor_pin:
            return 0
        start = self._counters[counter]
        end = bisect.bisect_left(self.sewing.edge_times, self._now_us() / 1e6)
        min_w = counter.filter_ns * 1e-9
        widths = self.sewing.edge_widths
        n = sum(1 for i in range(start, end) if widths[i] >= min_w)
        self._counters[counter] = end
        return n

    def sensor_level(self) -> int:
        if self.sewing is None:
            return 0
        t = self._now_us() / 1e6
        i = bisect.bisect_right(self.sewing.edge_times, t) - 1
        return int(i >= 0 and t < self.sewing.edge_times[i] + self.sewing.edge_widths[i])

    def disable_irq(self) -> bool:
        state, self._irq_enabled = self._irq_enabled, False
        return state

    def enable_irq(self, state: bool = True) -> None:
        self._irq_enabled = bool(state)
        if self._irq_enabled:
            self.safe_point(self.clock.now_us())

    def schedule(self, func, arg) -> None:
        if len(self._scheduled) >= 8:    # MICROPY_SCHEDULER_DEPTH
            raise RuntimeError("schedule queue full")
        self._scheduled.append((func, arg))

    # -- machine.Timer (soft callbacks at safe points, as ESP32's timers schedule them) --------

    def start_timer(self, timer, one_shot: bool, period_ms: int, callback) -> None:
        now = self.clock.now_us()
        self._timers[timer.id] = [now + int(period_ms * 1000), int(period_ms * 1000), one_shot, callback, timer]

    def stop_timer(self, timer) -> None:
        self._timers.pop(timer.id, None)

    def _run_timers(self, now_us: int) -> None:
        self._in_timer = True
        try:
            for tid, t in list(self._timers.items()):
                if t[0] <= now_us and self._timers.get(tid) is t:
                    if t[2]:
                        del self._timers[tid]
                    else:
                        t[0] += max(1, t[1])
                    if t[3] is not None:
                        t[3](t[4])
        finally:
            self._in_timer = False

    # -- the rest of the board ------------------------------------------------------------------

    def restart(self) -> None:
        """After machine.reset(): what lived in RAM is gone (modules, timers, interrupts, counters)
        and ticks start again from 0; the flash folder stays. Then run_main() boots again."""
        self._timers.clear()
        self._irq_lines.clear()
        self._counters.clear()
        self._scheduled.clear()
        self._purge_firmware_modules()
        self.ticks_offset_us = -self.clock.now_us()

    def set_link(self, up: bool) -> None:
        self.link_up = bool(up)

    def reset(self) -> None:
        self.wdt_started = False
        raise BoardReset(3)

    def serve_ntp(self) -> int:
        """An NTP server on the board's LAN (the gateway's, in a workshop): answers on a
        loopback UDP port while the Wi-Fi link is up, with the host's clock. Returns the port."""
        import socket
        import struct
        import threading
        import time as _t

        if self.ntp_port is not None:
            return self.ntp_port
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        self.ntp_port = sock.getsockname()[1]

        def serve():
            while True:
                data, addr = sock.recvfrom(512)
                if len(data) < 48 or not self.link_up:
                    continue
                now = _t.time() + 2208988800
                secs = int(now)
                frac = int((now - secs) * 2**32)
                reply = bytearray(48)
                reply[0] = 0x24  # no leap warning, version 4, server
                reply[1] = 2
                struct.pack_into("!II", reply, 32, secs, frac)
                struct.pack_into("!II", reply, 40, secs, frac)
                self.ntp_requests += 1
                sock.sendto(bytes(reply), addr)

        threading.Thread(target=serve, daemon=True, name="ntp").start()
        return self.ntp_port

    def stitches_generated(self) -> int:
        """Real stitches the sewing machine has made so far (ground truth)."""
        if self.sewing is None:
            return 0
        return self.sewing.stitches_before(self.clock.now_us() / 1e6)
