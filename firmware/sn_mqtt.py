# sn_mqtt: a small non-blocking MQTT 3.1.1 client for asyncio, after Peter Hinch's mqtt_as.
#
# umqtt blocks the whole board on a QoS 1 publish and never pings; here every network wait has
# a deadline, the link is watched, and a dropped connection is re-made with exponential backoff
# while the sampling task keeps counting. publish() returns only once the broker has the
# message (PUBACK), re-sending it with DUP set and the same packet id after a reconnect.

try:
    import asyncio
except ImportError:          # MicroPython before 1.21
    import uasyncio as asyncio
import random
import struct
import time

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

_CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class MQTTError(Exception):
    pass


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return out


def _field(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id, user, password, keepalive_s, clean=True, will=None):
    """will = (topic, payload, retain, qos) or None."""
    flags = 0x02 if clean else 0
    payload = _field(client_id)
    if will:
        w_topic, w_msg, w_retain, w_qos = will
        flags |= 0x04 | (w_qos << 3) | (0x20 if w_retain else 0)
        payload += _field(w_topic) + _field(w_msg)
    if user is not None:
        flags |= 0x80
        payload += _field(user)
        if password is not None:
            flags |= 0x40
            payload += _field(password)
    body = _field("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive_s) + payload
    return bytes((CONNECT,)) + _varlen(len(body)) + body


def publish_packet(topic, payload, pid=0, qos=0, retain=False, dup=False):
    head = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = _field(topic)
    if qos:
        body += struct.pack("!H", pid)
    body += payload
    return bytes((head,)) + _varlen(len(body)) + body


class MQTTClient:
    def __init__(self, client_id, host, port=1883, user=None, password=None, keepalive_s=30,
                 clean_session=False, will=None, link=None, on_connect=None,
                 ack_timeout_ms=5000, connect_timeout_ms=5000, backoff_min_ms=500,
                 backoff_max_ms=30000, log=print):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive_ms = keepalive_s * 1000
        self._keepalive_s = keepalive_s
        # A persistent session (clean_session off) is what lets us re-send an unacknowledged
        # PUBLISH with the same packet id after a reconnect, as MQTT 3.1.1 section 4.4 says.
        self.clean_session = clean_session
        self.will = will
        self._link = link                  # callable: is the Wi-Fi link up?
        self._on_connect = on_connect      # coroutine function, run after every CONNACK
        self._ack_timeout = ack_timeout_ms / 1000
        self._connect_timeout = connect_timeout_ms / 1000
        self._backoff_min = backoff_min_ms
        self._backoff_max = backoff_max_ms
        self._log = log
        self._reader = None
        self._writer = None
        self._gen = 0                      # connection generation: stale tasks see a change
        self.connected = False
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._ack = asyncio.Event()
        self._lock = asyncio.Lock()        # one QoS 1 message in flight keeps order simple
        self._pid = 0
        self._ack_pid = 0
        self._acked_pid = 0
        self._last_rx = 0
        self._last_tx = 0
        self._stopped = False
        self.connects = 0
        self.failures = 0
        self.drops = 0
        self.retransmits = 0
        self.last_error = None

    # -- public ------------------------------------------------------------------------------

    async def run(self):
        """Keeps a connection up for as long as the board runs."""
        delay = self._backoff_min
        while not self._stopped:
            if self._link is not None and not self._link():
                await asyncio.sleep(0.25)
                continue
            try:
                await self._connect()
            except Exception as e:     # OSError, EOFError, timeouts, MQTTError: all retried
                self.failures += 1
                self.last_error = repr(e)
                self._log("mqtt: connect to %s:%d failed: %r; retry in %d ms"
                          % (self.host, self.port, e, delay))
                await self._close_stream()
                await asyncio.sleep(self._jitter(delay) / 1000)
                delay = min(delay * 2, self._backoff_max)
                continue
            delay = self._backoff_min
            gen = self._gen
            reader = asyncio.create_task(self._read_loop(gen))
            pinger = asyncio.create_task(self._keepalive(gen))
            if self._on_connect is not None:
                asyncio.create_task(self._on_connect())
            await self._down.wait()
            reader.cancel()
            pinger.cancel()
            await self._close_stream()
            # Give a restarting broker a moment before hammering it.
            await asyncio.sleep(self._jitter(self._backoff_min) / 1000)

    async def publish(self, topic, payload, retain=False):
        """QoS 1 publish; returns when the broker acknowledged it, however many reconnects
        that takes."""
        async with self._lock:
            pid = self._next_pid()
            dup = False
            while True:
                while not self.connected:
                    await self._up.wait()
                gen = self._gen
                self._ack_pid = pid
                self._acked_pid = 0
                self._ack.clear()
                try:
                    await self._send(publish_packet(topic, payload, pid, 1, retain, dup))
                except Exception as e:
                    self._drop(gen, "send failed: %r" % (e,))
                    dup = True
                    self.retransmits += 1
                    continue
                try:
                    await asyncio.wait_for(self._ack.wait(), self._ack_timeout)
                except asyncio.TimeoutError:
                    pass
                if self._acked_pid == pid:
                    return
                self._drop(gen, "no PUBACK for packet %d" % pid)
                dup = True
                self.retransmits += 1

    async def disconnect(self):
        """Clean goodbye (the broker then does not publish the will)."""
        self._stopped = True
        if self.connected:
            try:
                await self._send(bytes((DISCONNECT, 0)))
            except Exception:
                pass
        self._drop(self._gen, "disconnect")
        await self._close_stream()

    # -- connection ----------------------------------------------------------------------------

    async def _connect(self):
        r, w = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                      self._connect_timeout)
        self._reader, self._writer = r, w
        w.write(connect_packet(self.client_id, self.user, self.password, self._keepalive_s,
                               self.clean_session, self.will))
        await asyncio.wait_for(w.drain(), self._connect_timeout)
        resp = await asyncio.wait_for(r.readexactly(4), self._connect_timeout)
        if resp[0] != CONNACK or resp[1] != 2:
            raise MQTTError("expected CONNACK, got %r" % (resp,))
        rc = resp[3]
        if rc:
            raise MQTTError("broker refused: %s" % _CONNACK_REASONS.get(rc, rc))
        now = time.ticks_ms()
        self._last_rx = self._last_tx = now
        self._gen += 1
        self._down.clear()
        self.connected = True
        self.connects += 1
        self._up.set()
        self._log("mqtt: connected to %s:%d" % (self.host, self.port))

    def _drop(self, gen, reason):
        if gen != self._gen or not self.connected:
            return
        self.connected = False
        self._up.clear()
        self.drops += 1
        self.last_error = reason
        self._log("mqtt: connection lost: %s" % reason)
        self._ack.set()            # wake a publisher waiting for its PUBACK
        self._down.set()

    async def _close_stream(self):
        w = self._writer
        self._reader = self._writer = None
        if w is None:
            return
        try:
            w.close()
            await asyncio.wait_for(w.wait_closed(), 1)
        except Exception:
            pass

    async def _send(self, pkt):
        w = self._writer
        if w is None:
            raise OSError("not connected")
        w.write(pkt)
        await asyncio.wait_for(w.drain(), self._ack_timeout)
        self._last_tx = time.ticks_ms()

    async def _read_loop(self, gen):
        r = self._reader
        try:
            while True:
                head = (await r.readexactly(1))[0]
                n = 0
                shift = 0
                while True:
                    b = (await r.readexactly(1))[0]
                    n |= (b & 0x7F) << shift
                    if not b & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise MQTTError("bad remaining length")
                body = await r.readexactly(n) if n else b""
                self._last_rx = time.ticks_ms()
                kind = head & 0xF0
                if kind == PUBACK:
                    pid = (body[0] << 8) | body[1]
                    if pid == self._ack_pid:
                        self._acked_pid = pid
                        self._ack.set()
                elif kind == PUBLISH and head & 0x06:
                    # Nothing is subscribed in v1; acknowledge anything a persistent session
                    # delivers so the broker does not keep re-sending it.
                    tlen = (body[0] << 8) | body[1]
                    pid = body[2 + tlen:4 + tlen]
                    await self._send(bytes((PUBACK, 2)) + pid)
        except Exception as e:
            self._drop(gen, "read: %r" % (e,))

    async def _keepalive(self, gen):
        step = min(1.0, self.keepalive_ms / 4000)
        try:
            while gen == self._gen and self.connected:
                await asyncio.sleep(step)
                if self._link is not None and not self._link():
                    self._drop(gen, "Wi-Fi link down")
                    return
                now = time.ticks_ms()
                if time.ticks_diff(now, self._last_rx) > self.keepalive_ms:
                    self._drop(gen, "broker silent for %d s" % (self.keepalive_ms // 1000))
                    return
                if time.ticks_diff(now, self._last_tx) >= self.keepalive_ms // 2:
                    await self._send(bytes((PINGREQ, 0)))
        except Exception as e:
            self._drop(gen, "ping: %r" % (e,))

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    @staticmethod
    def _jitter(ms):
        # +-25 %, so a workshop's boards do not all reconnect in the same instant.
        return ms * 3 // 4 + (ms // 2) * random.getrandbits(8) // 256
