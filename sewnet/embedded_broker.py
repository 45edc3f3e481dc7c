"""An in-process MQTT broker (amqtt) for `sewnet demo`, set up like the workshop's Mosquitto
(docs/deploy/mosquitto.conf): no anonymous access, one password per device, each device confined
to its own topics, the client id bound to the user name, and the same size limits.

amqtt 0.12.1 acts on a CONNECT's client id before it checks the password (a clean session of
that id is deleted, a connected client with it is dropped) and publishes a last will without
its topic ACL. Plugins run too late for either, so a front door stands before the broker (an
amqtt "external" listener): it reads each CONNECT itself, checks the password, refuses a will
outside the user's own topics, replaces the client id with the user name and only then hands
the connection to the broker. It frames every later packet to apply Mosquitto's
max_packet_size and message_size_limit without holding an oversized packet.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path

from amqtt.adapters import ReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.plugins.topic_checking import TopicAccessControlListPlugin
from pwdlib.hashers.argon2 import Argon2Hasher

TOPIC_ROOT = "sewnet/v1"
LISTENER = "default"
#: As in docs/deploy/mosquitto.conf.
MESSAGE_SIZE_LIMIT = 1024
MAX_PACKET_SIZE = 2048
CONNECT_TIMEOUT_S = 10

log = logging.getLogger("sewnet.demo.broker")

# CONNACK return codes of MQTT 3.1.1
_UNACCEPTABLE_PROTOCOL, _BAD_CREDENTIALS, _NOT_AUTHORIZED = 1, 4, 5


def write_password_file(path: Path, users: dict[str, str]) -> None:
    hasher = Argon2Hasher()
    path.write_text("".join(f"{user}:{hasher.hash(pw)}\n" for user, pw in users.items()))
    path.chmod(0o600)


def _acls(devices: list[str], gateway_user: str) -> tuple[dict, dict]:
    # amqtt has no %u pattern like Mosquitto's ACL, so the rule is spelled out per device.
    publish = {d: [f"{TOPIC_ROOT}/{d}/#"] for d in devices}
    # The gateway acknowledges stored summaries on each board's ack topic (contract v2).
    publish[gateway_user] = [f"{TOPIC_ROOT}/+/config", f"{TOPIC_ROOT}/+/ack"]
    subscribe = {d: [f"{TOPIC_ROOT}/{d}/#"] for d in devices}
    subscribe[gateway_user] = [f"{TOPIC_ROOT}/#"]
    return publish, subscribe


def broker_config(port: int, devices: list[str], gateway_user: str) -> dict:
    publish, subscribe = _acls(devices, gateway_user)
    return {
        # "external": amqtt opens no socket; FrontDoor listens on `port` and hands connections over.
        "listeners": {LISTENER: {"type": "external", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            # The front door has checked the password; this only refuses a connection without a user.
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False},
            "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
                "publish_acl": publish, "acl": subscribe},
        },
    }


class Refused(Exception):
    """A connection the front door closes; the message says why (for the log, never a secret)."""


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(first byte, body) of the next packet; refuses one over MAX_PACKET_SIZE unread."""
    first = (await reader.readexactly(1))[0]
    length = 0
    for i in range(4):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            break
    else:
        raise Refused("malformed remaining length")
    if length + 1 > MAX_PACKET_SIZE:
        raise Refused(f"packet of {length} bytes over max_packet_size {MAX_PACKET_SIZE}")
    return first, await reader.readexactly(length)


class _Fields:
    """Reads the length-prefixed fields of a CONNECT body."""

    def __init__(self, body: bytes):
        self.body, self.at = body, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.body):
            raise Refused("truncated CONNECT")
        out = self.body[self.at:self.at + n]
        self.at += n
        return out

    def blob(self) -> bytes:
        (n,) = struct.unpack("!H", self.take(2))
        return self.take(n)

    def text(self) -> str:
        try:
            return self.blob().decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("CONNECT field is not UTF-8") from None


def _field(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


class _Connect:
    """An MQTT 3.1.1 CONNECT, as far as the front door needs it."""

    def __init__(self, body: bytes):
        f = _Fields(body)
        self.protocol, self.level = f.text(), f.take(1)[0]
        if (self.protocol, self.level) != ("MQTT", 4):
            raise Refused(f"protocol {self.protocol!r} level {self.level} (MQTT 3.1.1 only)")
        self.flags = f.take(1)[0]
        self.keepalive = f.take(2)
        self.client_id = f.text()
        self.will = (f.text(), f.blob()) if self.flags & 0x04 else None
        self.username = f.text() if self.flags & 0x80 else None
        self.password = f.blob() if self.flags & 0x40 else None

    def with_client_id(self, client_id: str) -> bytes:
        body = _field(b"MQTT") + bytes([4, self.flags]) + self.keepalive + _field(client_id.encode())
        if self.will:
            body += _field(self.will[0].encode()) + _field(self.will[1])
        if self.username is not None:
            body += _field(self.username.encode())
        if self.password is not None:
            body += _field(self.password)
        return bytes([0x10]) + _remaining_length(len(body)) + body


class _FramedReader(ReaderAdapter):
    """What the broker reads: the rewritten CONNECT, then the client's packets one by one, with
    oversized publishes dropped (QoS 0/1: acknowledged, as Mosquitto's message_size_limit does)
    and oversized packets ending the connection (Mosquitto's max_packet_size)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connect: bytes, who: str):
        self._reader, self._writer, self._who = reader, writer, who
        self._buffer = bytearray(connect)

    async def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            try:
                self._buffer += await self._next()
            except (Refused, asyncio.IncompleteReadError, ConnectionError) as exc:
                if isinstance(exc, Refused):
                    log.warning("demo broker: closing %s: %s", self._who, exc)
                partial, self._buffer = bytes(self._buffer), bytearray()
                if n < 0:
                    return partial
                raise asyncio.IncompleteReadError(partial, n) from None
        out, self._buffer = bytes(self._buffer[:n]), self._buffer[n:]
        return out

    async def _next(self) -> bytes:
        while True:
            first, body = await _read_packet(self._reader)
            if first >> 4 != 3:  # not a PUBLISH
                return bytes([first]) + _remaining_length(len(body)) + body
            qos = (first >> 1) & 3
            (topic_len,) = struct.unpack("!H", body[:2])
            payload_at = 2 + topic_len + (2 if qos else 0)
            if len(body) - payload_at <= MESSAGE_SIZE_LIMIT:
                return bytes([first]) + _remaining_length(len(body)) + body
            if qos == 2:
                raise Refused("oversized QoS 2 publish")
            log.warning("demo broker: dropped a %d-byte publish from %s (message_size_limit %d)",
                        len(body) - payload_at, self._who, MESSAGE_SIZE_LIMIT)
            if qos == 1:
                self._writer.write(bytes([0x40, 2]) + body[2 + topic_len:payload_at])

    def feed_eof(self) -> None:
        self._reader.feed_eof()


class FrontDoor:
    def __init__(self, broker: Broker, password_file: Path, publish_acl: dict[str, list[str]]):
        self.broker, self.publish_acl = broker, publish_acl
        self.hashes = dict(line.split(":", 1) for line in password_file.read_text().splitlines() if ":" in line)
        self.hasher = Argon2Hasher()
        self.server: asyncio.Server | None = None

    async def start(self, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)

    async def close(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    async def _refuse(self, writer: asyncio.StreamWriter, code: int, why: str) -> None:
        log.warning("demo broker: refused a connection: %s", why)
        writer.write(bytes([0x20, 2, 0, code]))
        await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first, body = await asyncio.wait_for(_read_packet(reader), CONNECT_TIMEOUT_S)
            if first != 0x10:
                raise Refused("first packet is not CONNECT")
            connect = _Connect(body)
        except Refused as exc:
            return await self._refuse(writer, _UNACCEPTABLE_PROTOCOL, str(exc))
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            writer.close()
            return
        user = connect.username
        known = self.hashes.get(user or "")
        password = connect.password or b""
        if not known or not await asyncio.to_thread(self.hasher.verify, password, known):
            return await self._refuse(writer, _BAD_CREDENTIALS, f"bad user name or password for {user!r}")
        if connect.will and not any(TopicAccessControlListPlugin.topic_ac(connect.will[0], allowed)
                                    for allowed in self.publish_acl.get(user, [])):
            return await self._refuse(writer, _NOT_AUTHORIZED, f"{user}: last will on {connect.will[0]!r}")
        # As Mosquitto's use_username_as_clientid: the session is the user's, whatever id was sent.
        framed = _FramedReader(reader, writer, connect.with_client_id(user), user)
        await self.broker.external_connected(framed, StreamWriterAdapter(writer), LISTENER)


class EmbeddedBroker:
    """The broker and its front door, started and shut down together."""

    def __init__(self, broker: Broker, door: FrontDoor):
        self.broker, self.door = broker, door

    async def shutdown(self) -> None:
        await self.door.close()
        await self.broker.shutdown()


async def start_broker(port: int, workdir: Path, users: dict[str, str], gateway_user: str) -> EmbeddedBroker:
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    workdir.mkdir(parents=True, exist_ok=True)
    pw_file = workdir / "passwd"
    write_password_file(pw_file, users)
    devices = [u for u in users if u != gateway_user]
    broker = Broker(broker_config(port, devices, gateway_user))
    await broker.start()
    door = FrontDoor(broker, pw_file, _acls(devices, gateway_user)[0])
    await door.start(port)
    return EmbeddedBroker(broker, door)
