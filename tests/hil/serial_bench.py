"""The serial bench (hardware/hil/README.md): a real ESP32 board whose USB serial port is the
board under test's console and raw REPL, a Raspberry Pi Pico running hardware/hil/pulsegen on a
second USB port (pulses into the board's sensor GPIO, and the relay on the board's 5 V), and this
machine as the workshop (broker, gateway) on the bench LAN.

The relay cuts the board's USB 5 V, so its USB-serial bridge goes with it: the console port
vanishes at every power cut and comes back at power on (use the /dev/serial/by-id/ name, which
stays the same). Provisioning powers the board, stops the firmware with Ctrl-C before its
watchdog starts (main.py imports the application for about a second first), erases the flash,
writes the files over the raw REPL, checks each against the board's SHA-256 and powers off.
A watchdog that fires meanwhile (the firmware got further) resets the board: the driver tries
again, three times in all.
"""

from __future__ import annotations

import os
import threading
import time

from tests.hil.board import Board
from tests.hil.pulsegen import PulseGen, SerialLink
from tests.hil.raw_repl import RawRepl, ReplError

BAUD = 115200


class SerialBench(Board):
    kind = "serial"

    def __init__(self, console_port: str, pulsegen_port: str, device: str, host_for_board: str, *,
                 serial_factory=None, fs_root: str = "/", raw_paste: bool = True,
                 port_gone_s: float = 5.0) -> None:
        if serial_factory is None:
            import serial

            serial_factory = serial.Serial
        self.serial_factory = serial_factory
        self.console_port = console_port
        self.device = device
        self.host_for_board = host_for_board
        self.pulsegen = PulseGen(SerialLink(pulsegen_port, serial_factory=serial_factory))
        self.pulsegen.hello()
        self._log = bytearray()
        self._log_lock = threading.Lock()
        self._ser = None
        self._reader: threading.Thread | None = None
        self._reading = threading.Event()
        self.fs_root = fs_root          # the board's filesystem; "/" on an ESP32 (boot.py stays)
        self.raw_paste = raw_paste
        self.port_gone_s = port_gone_s

    # -- Board -------------------------------------------------------------------------------------

    def power(self, on: bool) -> None:
        if not on:
            self._close_console()
            self.pulsegen.power(False)
            self._wait_port_gone()
            return
        self.pulsegen.power(True)
        self._open_console()

    def provision(self, files: dict[str, bytes]) -> None:
        last: Exception | None = None
        for _attempt in range(3):
            self.power(False)
            self.power(True)
            self._stop_reading()          # the REPL reads the port itself for a while
            repl = RawRepl(self._ser, raw_paste=self.raw_paste, timeout=10)
            try:
                repl.interrupt()
                repl.enter()
                repl.wipe(self.fs_root)
                repl.put_files(files, self.fs_root)
                repl.leave()
                self.power(False)
                with self._log_lock:
                    self._log = bytearray()
                return
            except (ReplError, OSError) as e:   # a watchdog reset, a vanished port: again
                last = e
                with self._log_lock:
                    self._log += repl.transcript
            finally:
                self._start_reading()
        self.power(False)
        raise ReplError(f"could not provision the board on {self.console_port} in 3 tries: {last}")

    def console(self) -> str:
        with self._log_lock:
            return self._log.decode("utf-8", "replace")

    def close(self) -> None:
        try:
            self.power(False)
        finally:
            self.pulsegen.link.close()

    # -- the console port ------------------------------------------------------------------------

    @property
    def console_open(self) -> bool:
        return self._ser is not None

    def _open_console(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if os.path.exists(self.console_port):
                try:
                    # dtr/rts low: on ESP32 DevKits they drive EN and GPIO0 through the bridge
                    # (both low: the board runs; a wrong mix resets it or starts its ROM loader).
                    self._ser = self.serial_factory(self.console_port, baudrate=BAUD, timeout=0.05,
                                                    dsrdtr=False, rtscts=False)
                except OSError:
                    self._ser = None
                else:
                    try:
                        self._ser.dtr = False
                        self._ser.rts = False
                    except OSError:
                        pass            # a port without modem lines (a USB CDC board, a test's pty)
                    break
            if time.monotonic() > deadline:
                raise OSError(f"{self.console_port} did not come back within {timeout:.0f} s of power on")
            time.sleep(0.1)
        self._start_reading()

    def _wait_port_gone(self) -> None:
        """After the relay opens, until the bridge's port has gone (udev takes a moment): opening
        it again before would reach the dying device. A port that stays (a board powered some
        other way) is left after port_gone_s."""
        deadline = time.monotonic() + self.port_gone_s
        while os.path.exists(self.console_port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _start_reading(self) -> None:
        if self._ser is None or self._reader is not None:
            return
        self._reading.set()
        self._reader = threading.Thread(target=self._read, daemon=True, name="board console")
        self._reader.start()

    def _stop_reading(self) -> None:
        self._reading.clear()
        if self._reader is not None:
            self._reader.join(2)
            self._reader = None

    def _read(self) -> None:
        ser = self._ser
        while self._reading.is_set():
            try:
                chunk = ser.read(256)
            except Exception:
                return                 # the port went with the power
            if chunk:
                with self._log_lock:
                    self._log += chunk

    def _close_console(self) -> None:
        self._stop_reading()
        if self._ser is not None:
            try:
                self._ser.close()
            except OSError:
                pass
            self._ser = None
