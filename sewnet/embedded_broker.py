"""An in-process MQTT broker (amqtt) for `sewnet demo`, set up like the workshop's Mosquitto:
no anonymous access, one password per device, each device confined to its own topics."""

from __future__ import annotations

import logging
from pathlib import Path

from amqtt.broker import Broker
from pwdlib.hashers.argon2 import Argon2Hasher

TOPIC_ROOT = "sewnet/v1"


def write_password_file(path: Path, users: dict[str, str]) -> None:
    hasher = Argon2Hasher()
    path.write_text("".join(f"{user}:{hasher.hash(pw)}\n" for user, pw in users.items()))
    path.chmod(0o600)


def broker_config(port: int, password_file: Path, devices: list[str], gateway_user: str) -> dict:
    # amqtt has no %u pattern like Mosquitto's ACL, so the rule is spelled out per device.
    publish = {d: [f"{TOPIC_ROOT}/{d}/#"] for d in devices}
    publish[gateway_user] = []  # the gateway only reads
    subscribe = {d: [f"{TOPIC_ROOT}/{d}/#"] for d in devices}
    subscribe[gateway_user] = [f"{TOPIC_ROOT}/#"]
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(password_file)},
            "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
                "publish_acl": publish, "acl": subscribe},
        },
    }


async def start_broker(port: int, workdir: Path, users: dict[str, str], gateway_user: str) -> Broker:
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    workdir.mkdir(parents=True, exist_ok=True)
    pw_file = workdir / "passwd"
    write_password_file(pw_file, users)
    devices = [u for u in users if u != gateway_user]
    broker = Broker(broker_config(port, pw_file, devices, gateway_user))
    await broker.start()
    return broker
