# sn_mqtt: a small non-blocking MQTT 3.1.1 client for asyncio, after Peter Hinch's mqtt_as.
#
# umqtt blocks the whole board on a QoS 1 publish and never pings; here every network wait has
# a deadline, the link is watched, and a dropped connection is re-made with exponential backoff
# while the sampling task keeps counting. publish() returns only once the broker has the
# message (PUBACK), re-sending it with DUP set and the same packet id after a reconnect. On every
# connect the client subscribes (QoS 1) to one topic, the board's ack topic, and hands what
# arrives there to on_message before acknowledging it.
#
# Name lookups happen once per connect attempt, never on the event loop: an IP address needs
# none, a name is resolved in a thread (lwIP's getaddrinfo blocks for seconds when the DNS
# server is away). ntp_query() asks an NTP server over a non-blocking UDP socket.

try:
    import asyncio
except ImportError:          # MicroPython before 1.21
    import uasyncio as asyncio
import random
import socket
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
_NTP_REQUEST = b"\x1b" + bytes(47)

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


def subscribe_packet(topic, pid, qos=1):
    body = struct.pack("!H", pid) + _field(topic) + bytes((qos,))
    return bytes((SUBSCRIBE,)) + _varlen(len(body)) + body


def is_ip(host):
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or int(p) > 255:
            return False
    return True


async def resolve(host, port, timeout_ms=15000):
    """The address to connect to: `host` itself when it is an IP address, else one DNS lookup
    in a thread, so the event loop (and the sampler on it) runs on meanwhile."""
    if is_ip(host):
        return host
    try:
        import _thread
    except ImportError:
        _thread = None
    if _thread is None:      # a port without threads: blocking; the sampler makes up the ticks
        return socket.getaddrinfo(host, port)[0][-1][0]
    box = []

    def lookup():
        try:
            box.append(socket.getaddrinfo(host, port)[0][-1][0])
        except Exception as e:
            box.append(e)

    _thread.start_new_thread(lookup, ())
    waited = 0
    while not box:
        if waited >= timeout_ms:
            raise OSError("no DNS answer for %s" % host)
        await asyncio.sleep(0.05)
        waited += 50
    if isinstance(box[0], Exception):
        raise box[0]
    return box[0]


async def ntp_query(host, port=123, timeout_ms=2000):
    """The NTP server's transmit time (seconds since 1900), or None without an answer in time.
    Non-blocking: ntptime.settime() would hold the whole board for up to its socket timeout."""
    ip = await resolve(host, port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        s.sendto(_NTP_REQUEST, (ip, port))
        waited = 0
        while True:
            try:
                data = s.recv(48)
                if len(data) >= 48:
                    return struct.unpack("!I", data[40:44])[0]
            except OSError:
                pass
            if waited >= timeout_ms:
                return None
            await asyncio.sleep(0.05)
            waited += 50
    finally:
        s.close()


def publish_packet(topic, payload, pid=0, qos=0, retain=False, dup=False):
    head = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = _field(topic)
    if qos:
        body += struct.pack("!H", pid)
    body += payload
    return bytes((head,)) + _varlen(len(body)) + body


class MQTTClient:
    def __init__(self, client_id, host, port=1883, user=None, password=None, keepalive_s=30,
                 clean_session=False, will=None, link=None, on_connect=None, subscribe=None,
                 on_message=None,
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
        self._sub_topic = subscribe        # subscribed (QoS 1) on every connect
        self._on_message = on_message      # function(topic, payload) for what arrives there
        self._suback = asyncio.Event()
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
            if self._sub_topic is not None:
                await self._subscribe(gen)
            if self._on_connect is not None and gen == self._gen and self.connected:
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

    async def _subscribe(self, gen):
        self._suback.clear()
        try:
            await self._send(subscribe_packet(self._sub_topic, self._next_pid()))
            await asyncio.wait_for(self._suback.wait(), self._ack_timeout)
        except Exception as e:
            self._drop(gen, "subscribe: %r" % (e,))

    async def _connect(self):
        # One name lookup per attempt, off the event loop (resolve()).
        addr = await resolve(self.host, self.port)
        r, w = await asyncio.wait_for(asyncio.open_connection(addr, self.port),
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
                elif kind == SUBACK:
                    if len(body) >= 3 and body[2] != 0x80:
                        self._suback.set()
                    else:
                        raise MQTTError("broker refused the subscription")
                elif kind == PUBLISH:
                    tlen = (body[0] << 8) | body[1]
                    topic = bytes(body[2:2 + tlen]).decode()
                    at = 2 + tlen
                    pid = None
                    if head & 0x06:
                        pid = body[at:at + 2]
                        at += 2
                    if self._on_message is not None:
                        try:
                            self._on_message(topic, bytes(body[at:]))
                        except Exception as e:
                            self._log("mqtt: message on %s: %r" % (topic, e))
                    # Acknowledged after it was handled: a crash before this and the broker
                    # delivers it again.
                    if pid is not None:
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
