# Runs the firmware's asyncio App on the MicroPython VM in virtual time, against a fake broker
# that acknowledges each summary as the gateway does after its commit (contract v2).
#
# The WebAssembly port's asyncio (asyncio/core.py) asks JavaScript's setTimeout for every wait;
# here its _schedule_run_iter is replaced, so run() turns the loop itself and, when every task
# sleeps, skips the virtual clock (time.py) to the next wake-up instead of waiting.
import json
import struct

import asyncio
from asyncio import core

import time

_pending = []
core._schedule_run_iter = _pending.append
core.new_event_loop()


def run(coro, seconds):
    """Runs `coro` (and the tasks it starts; None: what runs already) for `seconds` of virtual
    time."""
    if coro is not None:
        core.create_task(coro)
    end = time.ticks_add(time.ticks_ms(), int(seconds * 1000))
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        del _pending[:]
        core._run_iter()
        if not _pending:
            return False          # nothing left to run
        dt = _pending[-1]
        if dt > 0:
            time.skip(min(dt, time.ticks_diff(end, time.ticks_ms()) + 1))
    return True


class Broker:
    """Enough of Mosquitto and the gateway for one board: CONNACK, SUBACK, PUBACK, PINGRESP, and
    per summary an acknowledgement on the board's ack topic. `down()` cuts the connection."""

    def __init__(self, gateway=True):
        self.gateway = gateway
        self.summaries = {}       # (boot, nonce, seq) -> stitches, first copy (clear() to save room)
        self.received = 0         # distinct summaries ever
        self.stitches = 0         # their stitches
        self.copies = 0
        self.lost = 0             # acknowledged to the board, then lost in a crash (crash())
        self.refused = 0          # refused by the contract, as the gateway does: never acknowledged
        self.connects = 0
        self.statuses = 0
        self.streams = []
        self.held = []            # what arrived while the gateway was away, not yet stored
        self.done = set()         # identities the "gateway" stored (kept across clear())

    def gateway_back(self):
        """The gateway comes back: what the broker held is stored (not acknowledged: the board
        sends it again, and the copy is acknowledged)."""
        self.gateway = True
        for ident in self.held:
            self.done.add(ident)
        self.held = []

    def down(self):
        for s in self.streams:
            s.closed = True
            s.event.set()
        self.streams = []

    def crash(self, held):
        """SIGKILL between autosaves: the connection drops and the summaries it acknowledged
        but held for an absent gateway (`held`, as (boot, nonce, seq)) are gone."""
        self.down()
        for ident in held:
            st = self.summaries.pop(ident, None)
            if st is not None:
                self.received -= 1
                self.stitches -= st
                self.lost += 1

    async def open_connection(self, host, port):
        s = _Stream(self)
        self.streams.append(s)
        return s, s


class _Stream:
    def __init__(self, broker):
        self.broker = broker
        self.inbox = bytearray()
        self.event = asyncio.Event()
        self.closed = False
        self.pid = 0

    # reader
    async def readexactly(self, n):
        while len(self.inbox) < n:
            if self.closed:
                raise EOFError("connection closed")
            self.event.clear()
            await self.event.wait()
        data = bytes(self.inbox[:n])
        self.inbox = self.inbox[n:]
        return data

    # writer
    def write(self, pkt):
        if self.closed:
            raise OSError("closed")
        kind = pkt[0] & 0xF0
        n, i, shift = 0, 1, 0
        while True:
            b = pkt[i]
            n |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                break
            shift += 7
        body = pkt[i:i + n]
        if kind == 0x10:
            self.broker.connects += 1
            self._send(b"\x20\x02\x00\x00")
        elif kind == 0x80:
            self._send(b"\x90\x03" + body[:2] + b"\x01")
        elif kind == 0xC0:
            self._send(b"\xd0\x00")
        elif kind == 0x30:
            tlen = (body[0] << 8) | body[1]
            topic = bytes(body[2:2 + tlen]).decode()
            pid = body[2 + tlen:4 + tlen]
            payload = bytes(body[4 + tlen:])
            self._send(b"\x40\x02" + pid)
            if topic.endswith("/summary"):
                self._summary(topic, payload)
            elif topic.endswith("/status"):
                self.broker.statuses += 1

    def _summary(self, topic, payload):
        s = json.loads(payload)
        ident = (s["boot"], s["nonce"], s["seq"])
        self.broker.last_sent_ms = s["sent_ms"]
        b = self.broker
        if s["sent_ms"] < s["uptime_ms"]:
            # The gateway's schema rule (a copy published before its interval ended): refused,
            # counted, not acknowledged, so the board would send it again for ever.
            b.refused += 1
            return
        if not b.gateway:
            if ident in b.summaries:
                b.copies += 1
            else:
                b.held.append(ident)
                b.summaries[ident] = s["stitches"]
                b.received += 1
                b.stitches += s["stitches"]
            return
        if ident in b.summaries or ident in b.done:
            b.copies += 1
        else:
            b.summaries[ident] = s["stitches"]
            b.received += 1
            b.stitches += s["stitches"]
        b.done.add(ident)
        ack = json.dumps({"v": 2, "boot": s["boot"], "nonce": s["nonce"], "seqs": [[s["seq"], s["seq"]]]})
        t = topic[:-len("summary")] + "ack"
        self.pid = self.pid % 65535 + 1
        body = struct.pack("!H", len(t)) + t.encode() + struct.pack("!H", self.pid) + ack.encode()
        self._send(bytes((0x32, len(body))) + body)

    def _send(self, data):
        self.inbox.extend(data)
        self.event.set()

    async def drain(self):
        pass

    def close(self):
        self.closed = True
        self.event.set()

    async def wait_closed(self):
        pass
