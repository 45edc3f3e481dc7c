"""`sewnet demo`: the whole spine on one machine with nothing but Python.

Per workshop an in-process MQTT broker (amqtt) stands in for Mosquitto and a gateway runs as an
asyncio task; virtual boards run the firmware's own files, one process each. Instead of InfluxDB
the hub itself takes the gateways' line-protocol writes (/api/v2/write) into its embedded store.
The gateway's uplink code is the same one that writes to a real InfluxDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

from sewnet.processes import terminate

ROOT = Path(__file__).resolve().parents[1]


def _free_port(preferred: int = 0) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


SHIFT_S = 3600  # a virtual machine sews for an hour, then its board restarts for the next shift


class DemoBoard:
    """A virtual board process. When its sewing machine's shift is over the board is restarted,
    as a power cycle: the boot counter goes up and the lifetime total carries on from flash."""

    def __init__(self, flash: Path, device: str, password: str, broker_port: int, seed: int, interval_ms: int):
        self.flash, self.device, self.password = flash, device, password
        self.broker_port, self.seed, self.interval_ms = broker_port, seed, interval_ms
        self.shift = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.flash.mkdir(parents=True, exist_ok=True)
        (self.flash / "truth.json").unlink(missing_ok=True)
        log = open(self.flash.parent / f"{self.device}.log", "ab")
        env = dict(os.environ, SEWNET_DEVICE_PASSWORD=self.password, PYTHONUNBUFFERED="1",
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulators.virtual_board", "--flash", str(self.flash), "--device", self.device,
             "--broker", f"127.0.0.1:{self.broker_port}", "--interval-ms", str(self.interval_ms),
             "--seed", str(self.seed + 7919 * self.shift), "--sew-seconds", str(SHIFT_S), "--max-spm", "7000",
             "--stop-scale", "0.1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        log.close()
        self.shift += 1

    def shift_over(self) -> bool:
        try:
            return bool(json.loads((self.flash / "truth.json").read_text()).get("sewing_done"))
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        terminate(self.proc, timeout=5)


async def _supervise(boards: list["DemoBoard"]) -> None:
    while True:
        await asyncio.sleep(5)
        for b in boards:
            if b.shift_over() or b.proc.poll() is not None:
                b.stop()
                b.start()


async def _demo(workshops: int, machines: int, hub_port: int, data_dir: Path, interval_ms: int,
                flush_interval_s: float, duration: float | None) -> None:
    from edge_gateway.config import parse_config
    from edge_gateway.service import run_gateway
    from hub.app import create_app
    from hub.core.settings import load_settings
    from hub.server import BackgroundServer
    from sewnet.embedded_broker import start_broker

    data_dir.mkdir(parents=True, exist_ok=True)
    # Fresh secrets every run; they live in memory and in data_dir/demo.json (mode 0600) only.
    api_token, write_token = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    settings = load_settings(telemetry="embedded", embedded_path=data_dir / "hub" / "telemetry.sqlite",
                             embedded_write_token=write_token, api_tokens=[api_token])
    (data_dir / "hub").mkdir(exist_ok=True)
    hub = BackgroundServer(create_app(settings), host="127.0.0.1", port=_free_port(hub_port)).start()

    brokers, gateways, boards, shop_info = [], [], [], []
    try:
        for w in range(workshops):
            name = f"ws-demo-{w + 1:02d}"
            shop = data_dir / name
            devices = {f"sn-demo{w + 1:02d}{m + 1:06x}": f"m{m + 1:02d}" for m in range(machines)}
            users = {d: secrets.token_urlsafe(12) for d in devices}
            users["gateway"] = gateway_pw = secrets.token_urlsafe(12)
            broker_port = _free_port()
            brokers.append(await start_broker(broker_port, shop / "broker", users, "gateway"))
            web_port, operator_pw = _free_port(), secrets.token_urlsafe(9)
            config = parse_config({
                "workshop": name, "data_dir": str(shop / "gateway"),
                "mqtt": {"host": "127.0.0.1", "port": broker_port, "username": "gateway", "password": gateway_pw,
                         "protocol": "3.1.1"},  # amqtt has no MQTT 5
                "uplink": {"api": "v2", "url": hub.url, "org": "sewnet-demo", "bucket": "sewnet",
                           "token": write_token, "flush_interval_s": flush_interval_s},
                "registry": devices,
                "web": {"host": "127.0.0.1", "port": web_port, "operator_password": operator_pw},
            }, source=f"demo gateway {name}")
            gateways.append(asyncio.create_task(run_gateway(config), name=f"gateway-{name}"))
            for m, device in enumerate(devices):
                board = DemoBoard(shop / "boards" / device, device, users[device], broker_port,
                                  seed=100 * w + m, interval_ms=interval_ms)
                board.start()
                boards.append(board)
            shop_info.append({"workshop": name, "gateway_url": f"http://127.0.0.1:{web_port}/",
                              "operator_password": operator_pw, "broker_port": broker_port,
                              "machines": list(devices.values())})

        info = {"hub_url": hub.url, "api_token": api_token, "page": f"{hub.url}/?token={api_token}",
                "workshops": shop_info}
        info_path = data_dir / "demo.json"
        info_path.write_text(json.dumps(info, indent=1))
        info_path.chmod(0o600)
        print("\nSewNet demo is running (Ctrl-C stops it).\n")
        print(f"  Hub, live capacity:  {info['page']}")
        print(f"  Capacity API:        curl -H 'Authorization: Bearer {api_token}' {hub.url}/api/v1/capacity")
        for s in shop_info:
            print(f"  {s['workshop']} gateway page: {s['gateway_url']}  (operator password: {s['operator_password']})")
        print(f"\n  Boards publish every {interval_ms / 1000:.0f} s, gateways ship every {flush_interval_s:.0f} s:"
              " the first figures appear within about half a minute.\n", flush=True)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        supervisor = asyncio.create_task(_supervise(boards))
        waiters = [asyncio.create_task(stop.wait())] + gateways
        done, _ = await asyncio.wait(waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        supervisor.cancel()
        for task in done:
            if task in gateways and task.exception():
                raise task.exception()
    finally:
        for b in boards:
            b.stop()
        for task in gateways:
            task.cancel()
        for task in gateways:
            with contextlib.suppress(BaseException):
                await task
        for b in brokers:
            with contextlib.suppress(Exception):
                await b.shutdown()
        hub.stop()
        print("SewNet demo stopped.")


def run_demo(workshops: int = 2, machines: int = 3, hub_port: int = 8080, data_dir: str | Path = "var/demo",
             interval_ms: int = 10_000, flush_interval_s: float = 10.0, duration: float | None = None) -> None:
    asyncio.run(_demo(workshops, machines, hub_port, Path(data_dir).resolve(), interval_ms, flush_interval_s,
                      duration))
