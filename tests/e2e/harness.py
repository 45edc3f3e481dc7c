"""A small SewNet network for end-to-end tests: per workshop a real Mosquitto, a real gateway
process and virtual boards (each its own process, running the firmware's files), all shipping to
one real InfluxDB that a real hub reads.

Ground truth is what the boards' sewing-machine models generated (truth.json in each flash
folder); the tests compare it with what InfluxDB stores.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sewnet.processes import terminate
from tests.servers import InfluxDB1, Mosquitto
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def write_toml(path: Path, data: dict) -> None:
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, values in data.items():
        if isinstance(values, dict):
            lines.append(f"\n[{section}]")
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Board:
    device: str
    machine: str
    flash: Path
    proc: subprocess.Popen | None = None

    def truth(self) -> dict:
        try:
            return json.loads((self.flash / "truth.json").read_text())
        except (OSError, ValueError):
            return {}

    def sewing_done(self) -> bool:
        return bool(self.truth().get("sewing_done"))

    def status(self) -> dict:
        """The firmware's own figures (spooled, in flight, sent, acked, resets; status.json)."""
        try:
            return json.loads((self.flash / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> None:
        terminate(self.proc, timeout=10)


@dataclass
class Workshop:
    name: str
    root: Path
    broker: Mosquitto
    influx: InfluxDB1
    boards: list[Board] = field(default_factory=list)
    gateway: subprocess.Popen | None = None
    config_path: Path | None = None
    web_port: int = 0
    operator_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    def write_gateway_config(self, flush_interval_s: float = 1.0, overrides: dict | None = None) -> None:
        """`overrides`: keys to change, per section (`{"store": {"min_free_mb": 1}}`) or at the top;
        None removes a key (an inline password given as a `password_file` instead, say)."""
        from tests.servers import restartable_port

        self.web_port = self.web_port or restartable_port()
        self.config_path = self.root / "gateway.toml"
        data = {
            "workshop": self.name,
            "data_dir": str(self.root / "gateway-data"),
            "mqtt": {"host": self.broker.host, "port": self.broker.port, "username": self.broker.gateway_user,
                     "password": self.broker.gateway_password, "client_id": f"sewnet-gateway-{self.name}",
                     "reconnect_max_s": 1.0},
            "uplink": {"api": "v1", "url": self.influx.url, "database": self.influx.database,
                       "username": self.influx.username, "password": self.influx.password,
                       "flush_interval_s": flush_interval_s, "backoff_max_s": 1.0},
            "registry": {b.device: b.machine for b in self.boards},
            "web": {"host": "127.0.0.1", "port": self.web_port, "operator_password": self.operator_password},
        }
        for key, value in (overrides or {}).items():
            if isinstance(value, dict):
                section = data.setdefault(key, {})
                for k, v in value.items():
                    if v is None:
                        section.pop(k, None)
                    else:
                        section[k] = v
            elif value is None:
                data.pop(key, None)
            else:
                data[key] = value
        write_toml(self.config_path, data)

    def start_gateway(self, env: dict | None = None) -> None:
        """`env`: more environment for the gateway process (e.g. libfaketime's, for a clock that is off)."""
        assert self.config_path is not None
        log = open(self.root / "gateway.log", "ab")
        self.gateway = subprocess.Popen([sys.executable, "-m", "edge_gateway", "--config", str(self.config_path)],
                                        stdout=log, stderr=subprocess.STDOUT, env=dict(_env(), **(env or {})),
                                        cwd=ROOT, start_new_session=True)
        log.close()

    def gateway_snapshot(self, timeout: float = 2) -> dict:
        import httpx

        r = httpx.get(f"http://127.0.0.1:{self.web_port}/api/v1/devices",
                      headers={"Authorization": f"Bearer {self.operator_password}"}, timeout=timeout)
        r.raise_for_status()
        return r.json()

    def wait_gateway_listening(self, timeout: float = 30) -> None:
        """Until the gateway has subscribed once, the broker has no session to queue summaries
        for it (in a workshop the gateway is installed before the first board)."""
        import httpx

        def subscribed():
            if self.gateway.poll() is not None:
                raise RuntimeError(f"gateway {self.name} exited: {self.gateway_log()}")
            try:
                return self.gateway_snapshot()["ingest"].get("subscribed")
            except httpx.HTTPError:
                return False

        wait_for(subscribed, timeout=timeout, what=f"gateway {self.name} subscribed", interval=0.1)

    def kill_gateway(self) -> None:
        """SIGKILL: no chance to flush or say goodbye, as when the Pi loses power."""
        assert self.gateway is not None
        self.gateway.kill()
        self.gateway.wait()

    def stop_gateway(self) -> None:
        terminate(self.gateway, timeout=15)

    def gateway_log(self) -> str:
        try:
            return (self.root / "gateway.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def add_boards(ws: Workshop, count: int) -> None:
    for i in range(count):
        device = f"sn-{ws.name[-2:]}{i + 1:010x}"
        ws.boards.append(Board(device=device, machine=f"m{i + 1:02d}", flash=ws.root / "boards" / device))


def start_board(ws: Workshop, board: Board, seed: int, sew_seconds: float, interval_ms: int = 1000,
                max_spm: int = 10_000, glitches: bool = True) -> None:
    password = ws.broker.add_device(board.device)
    board.flash.mkdir(parents=True, exist_ok=True)
    log = open(board.flash.parent / f"{board.device}.log", "ab")
    cmd = [sys.executable, "-m", "simulators.virtual_board", "--flash", str(board.flash), "--device", board.device,
           "--broker", f"{ws.broker.host}:{ws.broker.port}",
           "--interval-ms", str(interval_ms), "--seed", str(seed), "--sew-seconds", str(sew_seconds),
           "--max-spm", str(max_spm), "--stop-scale", "0.05"]
    if glitches:
        cmd.append("--glitches")
    board.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                  env=dict(_env(), SEWNET_DEVICE_PASSWORD=password),
                                  start_new_session=True)
    log.close()


def influx_stitches_per_machine(influx: InfluxDB1) -> dict[tuple[str, str], int]:
    body = influx.query('SELECT sum("stitches") FROM "sewing" WHERE time > 0 GROUP BY "workshop", "machine"')
    out = {}
    for s in body["results"][0].get("series", []) or []:
        out[(s["tags"]["workshop"], s["tags"]["machine"])] = s["values"][0][1]
    return out


def ground_truth(workshops: list[Workshop]) -> dict[tuple[str, str], int]:
    return {(ws.name, b.machine): b.truth()["stitches_generated"] for ws in workshops for b in ws.boards}


def wait_all_sewn(workshops: list[Workshop], timeout: float) -> None:
    def done():
        for ws in workshops:
            for b in ws.boards:
                if b.proc.poll() is not None:
                    raise RuntimeError(f"board {b.device} exited early:\n"
                                       + (b.flash.parent / f"{b.device}.log").read_text()[-2000:])
        return all(b.sewing_done() for ws in workshops for b in ws.boards)

    wait_for(done, timeout=timeout, what="every board's sewing machine to finish", interval=0.25)
