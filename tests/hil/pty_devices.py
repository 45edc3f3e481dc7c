"""Serial devices for the bench driver's tests, on pseudo-terminals: the driver opens `path` with
pyserial as it opens /dev/ttyACM0 or a board's USB serial port."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import tty
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MP_PACKAGE = REPO / "tests" / "mpvm" / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


class PtyDevice:
    """The device end of a pseudo-terminal; `path` is the port the driver opens, as it opens
    /dev/ttyACM0. What the driver writes comes to on_bytes(); write() answers."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._stop = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if data:
                self.on_bytes(data)

    def on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self._stop = True
        os.close(self._slave)
        os.close(self.master)


class NodeRepl(PtyDevice):
    """The official MicroPython WebAssembly build's REPL (tests/hil/mp_repl.mjs) behind a serial
    port: bytes in go to its stdin, its stdout comes back out."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not MP_PACKAGE.is_dir():
            raise RuntimeError("Node.js and tests/mpvm's npm package are needed (make test installs both)")
        self.proc = subprocess.Popen([node, str(Path(__file__).with_name("mp_repl.mjs")), str(MP_PACKAGE)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        super().__init__()
        self._out = threading.Thread(target=self._pump, daemon=True)
        self._out.start()

    def _pump(self) -> None:
        while True:
            data = self.proc.stdout.read1(4096)
            if not data:
                return
            try:
                self.write(data)
            except OSError:
                return

    def on_bytes(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        super().close()
