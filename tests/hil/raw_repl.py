"""MicroPython's raw REPL over a serial port, as its own tools speak it (tools/pyboard.py,
mpremote's transport_serial.py; the device side is shared/runtime/pyexec.c):

    \\r\\x03\\x03      Ctrl-C: interrupt the running program (main.py), back at the >>> prompt
    \\r\\x01          Ctrl-A: raw REPL; the board answers "raw REPL; CTRL-B to exit\\r\\n>"
    code \\x04       Ctrl-D ends the code; the board answers "OK", runs it, then sends its
                    output, \\x04, any exception's traceback, \\x04, and the next ">"
    \\x05A\\x01       raw-paste mode (MicroPython >= 1.14): "R\\x01" and a 16-bit window size
                    (little-endian); the host sends at most a window of bytes until the board
                    sends \\x01 for another; \\x04 ends the code, the board echoes \\x04, then the
                    output as above. "R\\x00": not supported; anything else: too old (the board
                    took "\\x05A" as code and reset the raw REPL on \\x01).
    \\r\\x02          Ctrl-B: back to the friendly REPL

Raw-paste is what boards with a small USB/UART buffer need for long code; a port that has no
blocking stdin (the WebAssembly build's event-driven REPL) would wait forever inside it, so it
can be turned off.

Files go over as Python: `f = open(name, 'wb')`, then `w(b'...')` chunks, then checked with the
board's own SHA-256.
"""

from __future__ import annotations

import hashlib
import struct
import time

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_PROMPT = b">>> "
#: Bytes of file data per w(...) call and per exec: a board's raw REPL keeps a line in its heap.
CHUNK = 256
CHUNKS_PER_EXEC = 8


class ReplError(RuntimeError):
    """The board's REPL misbehaved, or code run on it raised (its traceback is the message)."""


def file_write_code(name: str, data: bytes) -> list[str]:
    """The exec()s that write `data` to `name` on the board: open, chunks, close."""
    if "'" in name or "\\" in name or "\n" in name:
        raise ValueError(f"file name {name!r} cannot be written through the REPL")
    parts = [f"f=open('{name}','wb')\nw=f.write"]
    body = [f"w({data[i:i + CHUNK]!r})" for i in range(0, len(data), CHUNK)]
    for i in range(0, len(body), CHUNKS_PER_EXEC):
        parts.append("\n".join(body[i:i + CHUNKS_PER_EXEC]))
    parts.append("f.close()")
    return parts


WIPE_CODE = """
import os
def _wipe(d):
    for e in list(os.ilistdir(d)):
        p = (d.rstrip('/') + '/' + e[0]) if d != '/' else '/' + e[0]
        if e[1] == 0x4000:
            _wipe(p)
            os.rmdir(p)
        elif p not in %(keep)r:
            os.remove(p)
_wipe(%(root)r)
print(sorted(os.listdir(%(root)r)))
"""

HASH_CODE = """
import hashlib, binascii
def _sha(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            h.update(b)
    return binascii.hexlify(h.digest()).decode()
print(repr({n: _sha(%(root)r + n) for n in %(names)r}))
"""


class RawRepl:
    """The raw REPL on an open port (pyserial's Serial or anything with read(n) honouring its
    timeout, write, flush)."""

    def __init__(self, port, *, raw_paste: bool = True, timeout: float = 10.0) -> None:
        self.port = port
        self.raw_paste = raw_paste
        self.timeout = timeout
        self.transcript = bytearray()     # everything the board sent, for a failing test's log

    # -- bytes ----------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def _read_exact(self, n: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        out = b""
        while len(out) < n:
            chunk = self.port.read(n - len(out))
            if chunk:
                self.transcript += chunk
                out += chunk
            elif time.monotonic() > deadline:
                raise ReplError(f"the board sent {out!r}, {n} bytes expected within {timeout:.0f} s")
        return out

    def read_until(self, ending: bytes, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out = bytearray()
        while not out.endswith(ending):
            b = self.port.read(1)
            if b:
                self.transcript += b
                out += b
            elif time.monotonic() > deadline:
                raise ReplError(f"waited for {ending!r}; the board sent {bytes(out[-200:])!r}")
        return bytes(out)

    # -- the REPL -------------------------------------------------------------------------------

    def interrupt(self, timeout: float = 10.0) -> None:
        """Ctrl-C until the friendly prompt shows: the firmware stops where it was."""
        deadline = time.monotonic() + timeout
        while True:
            self._write(b"\r\x03\x03")
            try:
                self.read_until(FRIENDLY_PROMPT, timeout=0.5)
                return
            except ReplError:
                if time.monotonic() > deadline:
                    raise ReplError(f"no >>> prompt within {timeout:.0f} s of Ctrl-C") from None

    def enter(self) -> None:
        self._write(b"\r\x01")
        self.read_until(RAW_BANNER)

    def leave(self) -> None:
        self._write(b"\r\x02")

    def exec(self, code: str | bytes, timeout: float | None = None) -> bytes:
        """Runs `code` on the board; returns what it printed. Raises ReplError with the board's
        traceback if it raised."""
        data = code.encode() if isinstance(code, str) else code
        self.read_until(b">")
        if self.raw_paste:
            self._paste(data)
        else:
            self._plain(data)
        wait = self.timeout if timeout is None else timeout
        out = self.read_until(b"\x04", wait)[:-1]
        err = self.read_until(b"\x04", wait)[:-1]
        if err:
            raise ReplError(err.decode(errors="replace").strip())
        return out

    def _paste(self, data: bytes) -> None:
        self._write(b"\x05A\x01")
        answer = self._read_exact(2, self.timeout)
        if answer == b"R\x00":
            # Understood but not supported: the board shows its prompt again.
            self.read_until(b">")
            self.raw_paste = False
            return self._plain(data)
        if answer != b"R\x01":
            # An old board took "\x05A" as code and restarted its raw REPL on \x01.
            self.read_until(b"w REPL; CTRL-B to exit\r\n>")
            self.raw_paste = False
            return self._plain(data)
        window = struct.unpack("<H", self._read_exact(2, self.timeout))[0]
        room = window
        i = 0
        while i < len(data):
            while room == 0 or self.port.in_waiting:
                b = self._read_exact(1, self.timeout)
                if b == b"\x01":
                    room += window
                elif b == b"\x04":          # the board ended the paste (a syntax error ahead)
                    self._write(b"\x04")
                    return
                else:
                    raise ReplError(f"unexpected {b!r} from the board during raw paste")
            part = data[i:i + room]
            self._write(part)
            room -= len(part)
            i += len(part)
        self._write(b"\x04")
        self.read_until(b"\x04")

    def _plain(self, data: bytes) -> None:
        for i in range(0, len(data), CHUNK):
            self._write(data[i:i + CHUNK])
            time.sleep(0.01)   # the board's UART buffer: tools/pyboard.py paces the same way
        self._write(b"\x04")
        ok = self._read_exact(2, self.timeout)
        if ok != b"OK":
            raise ReplError(f"the board did not take the code: {ok!r}")

    # -- files ----------------------------------------------------------------------------------

    def wipe(self, root: str = "/", keep: tuple[str, ...] = ("/boot.py",)) -> list[str]:
        """Removes every file and folder under `root` but `keep`; returns what is left."""
        out = self.exec(WIPE_CODE % {"root": root, "keep": list(keep)}, timeout=60)
        return eval_list(out)

    def put(self, name: str, data: bytes, root: str = "/") -> None:
        for part in file_write_code(root.rstrip("/") + "/" + name if root != "/" else "/" + name, data):
            self.exec(part)

    def hashes(self, names: list[str], root: str = "/") -> dict[str, str]:
        prefix = root if root.endswith("/") else root + "/"
        out = self.exec(HASH_CODE % {"root": prefix, "names": list(names)}, timeout=60)
        import ast

        return ast.literal_eval(out.decode().strip())

    def put_files(self, files: dict[str, bytes], root: str = "/") -> None:
        """Writes every file, then checks each against the board's own SHA-256 of it."""
        for name, data in files.items():
            self.put(name, data, root)
        got = self.hashes(list(files), root)
        want = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
        bad = sorted(n for n in files if got.get(n) != want[n])
        if bad:
            raise ReplError(f"written wrong on the board: {', '.join(bad)}")


def eval_list(out: bytes) -> list[str]:
    import ast

    value = ast.literal_eval(out.decode().strip())
    if not isinstance(value, list):
        raise ReplError(f"expected a list, got {out!r}")
    return value
