# vmnet: TCP for the firmware on the MicroPython WebAssembly VM, relayed by the test host.
#
# The VM has no sockets. asyncio.open_connection here gives the firmware a stream whose far end
# is the test on the host, which drives this VM through its raw REPL (tests/hil/raw_repl.py, as
# on a real board) and relays the bytes to a real server (the gateway's OTA API):
#   vmnet.start(coro)    the task to run (its result or exception is kept)
#   vmnet.step(ms)       turns the asyncio loop (the port's own, fed here instead of by JS
#                        timers) for up to `ms`; prints one line "VMNET <json>": connections
#                        opened, bytes written (hex), connections closed, whether the task
#                        ended
#   vmnet.feed(cid, data, eof)   bytes from the server for connection cid
#   vmnet.live_heap()    collects and prints the heap in use: call it as a REPL command of its
#                        own (this port's collector keeps what a running call's stack may reach)
import json
import time
import binascii

import asyncio
from asyncio import core

_pending = []
core._schedule_run_iter = _pending.append   # the loop is turned by step(), not by JS timers
core.new_event_loop()

_conns = {}
_next = [0]
_opened = []
_sent = []
_closed = []
result = {"done": False, "error": None, "value": None}


class Stream:
    def __init__(self, cid):
        self.cid = cid
        self.inbox = b""
        self.eof = False
        self.event = asyncio.Event()

    async def _wait(self):
        self.event.clear()
        await self.event.wait()

    async def readline(self):
        while b"\n" not in self.inbox and not self.eof:
            await self._wait()
        i = self.inbox.find(b"\n")
        i = len(self.inbox) if i < 0 else i + 1
        line, self.inbox = self.inbox[:i], self.inbox[i:]
        return line

    async def read(self, n=-1):
        while not self.inbox and not self.eof:
            await self._wait()
        if n < 0:
            n = len(self.inbox)
        data, self.inbox = self.inbox[:n], self.inbox[n:]
        return data

    async def readexactly(self, n):
        while len(self.inbox) < n:
            if self.eof:
                raise EOFError("connection closed")
            await self._wait()
        data, self.inbox = self.inbox[:n], self.inbox[n:]
        return data

    def write(self, data):
        _sent.append((self.cid, binascii.hexlify(data).decode()))

    async def drain(self):
        pass

    def close(self):
        if self.cid in _conns:
            del _conns[self.cid]
            _closed.append(self.cid)

    async def wait_closed(self):
        pass


async def open_connection(host, port):
    _next[0] += 1
    s = Stream(_next[0])
    _conns[s.cid] = s
    _opened.append((s.cid, host, port))
    return s, s


asyncio.open_connection = open_connection


def start(coro):
    result["done"], result["error"], result["value"] = False, None, None

    async def main():
        try:
            result["value"] = await coro
        except BaseException as e:      # the firmware's machine.reset() included
            result["error"] = repr(e)
        result["done"] = True

    core.create_task(main())


def step(ms=20):
    end = time.ticks_add(time.ticks_ms(), ms)
    while True:
        del _pending[:]
        core._run_iter()
        if _sent or _opened or _closed or result["done"] or not _pending:
            break
        left = time.ticks_diff(end, time.ticks_ms())
        if left <= 0:
            break
        if _pending[-1] > 0:
            time.sleep_ms(min(_pending[-1], left))
    print("VMNET " + json.dumps({"opened": _opened, "sent": _sent, "closed": _closed, "done": result["done"],
                                 "error": result["error"]}))
    del _opened[:]
    del _sent[:]
    del _closed[:]


def live_heap():
    import gc

    gc.collect()
    print("HEAP %d" % gc.mem_alloc())


def feed(cid, data, eof=False):
    s = _conns.get(cid)
    if s is None:
        return
    s.inbox += data
    s.eof = s.eof or eof
    s.event.set()
