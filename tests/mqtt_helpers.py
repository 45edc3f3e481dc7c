"""MQTT helpers shared by the gateway's ingest tests and benchmarks: a board publishing with paho,
a Mosquitto without a message size limit, a process's resident memory."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import paho.mqtt.client as paho

from tests.servers import Mosquitto


def publish_sync(mosquitto, user: str, password: str, items: list[tuple[str, bytes, bool]],
                 timeout: float = 60) -> None:
    """Publish (topic, payload, retain) items at QoS 1 as `user`; return once the broker has
    acknowledged each one."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pub-{user}")
    client.username_pw_set(user, password)
    connected = threading.Event()
    refused: list = []

    def on_connect(c, userdata, flags, reason, properties):
        if reason.is_failure:
            refused.append(reason)
        connected.set()

    client.on_connect = on_connect
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        if not connected.wait(timeout) or refused:
            raise AssertionError(f"publisher {user} could not connect: {refused or 'no CONNACK'}")
        infos = [client.publish(topic, payload, qos=1, retain=retain) for topic, payload, retain in items]
        for info in infos:
            info.wait_for_publish(timeout)
            assert info.is_published(), f"broker did not acknowledge message {info.mid} of {user}"
    finally:
        client.disconnect()
        client.loop_stop()


async def publish_as(mosquitto, user: str, password: str, items: list[tuple[str, bytes, bool]]) -> None:
    # In a thread: the gateway under test may run on this event loop.
    await asyncio.to_thread(publish_sync, mosquitto, user, password, items)


def mosquitto_without_size_limit(workdir: Path) -> Mosquitto:
    """A test Mosquitto that passes payloads of any size (up to MQTT's 256 MiB), to test the gateway
    against a broker set up without message_size_limit."""
    return Mosquitto(workdir, size_limits=False)


def proc_status_kib(pid: int, key: str) -> int:
    """A memory figure of a process from /proc (VmRSS now, VmHWM its peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)
