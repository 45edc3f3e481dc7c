"""What sits around the board under test, the same on both benches: a real Mosquitto (the
workshop's broker, SewNet's ACL and passwords), the workshop gateway running in this process
(ingest into its SQLite outbox, its OTA server and rollouts) and an admin subscriber that records
what the board publishes. The outbox is where a summary counts as delivered: its lines are what
the gateway ships to InfluxDB (the uplink points nowhere here, so they stay for the count).

On the serial bench the broker and the gateway's page listen on the bench LAN address the board
is given (--bench-host); on the virtual bench, on 127.0.0.1.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from edge_gateway.config import parse_config
from edge_gateway.outbox import Outbox
from edge_gateway.service import Gateway
from tests.ota_world import make_release, new_key
from tests.servers import Mosquitto, free_port, restartable_port
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
WORKSHOP = "ws-hil"
MACHINE = "m-hil"
_STITCHES = re.compile(r"[ ,]stitches=(\d+)i")


def firmware_files(folder: Path = FIRMWARE) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}


def firmware_config_keys(folder: Path = FIRMWARE) -> set[str]:
    """The integer settings this firmware's sn_config accepts (its _INTS table): the suite writes
    only keys the firmware on the bench knows (an unknown key stops a board, by design)."""
    tree = ast.parse((folder / "sn_config.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_INTS" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise RuntimeError("firmware/sn_config.py has no _INTS table")


class Refused(Exception):
    """The gateway refused messages of the board: a board must publish what the contract takes, so
    a refusal fails the scenario at once (wait_for retries only on AssertionError). `refused`:
    the gateway's rows."""

    def __init__(self, message: str, refused: list[dict]):
        super().__init__(message)
        self.refused = refused


class Doubled(Exception):
    """More stitches at the gateway than the generator played."""


class BenchMosquitto(Mosquitto):
    """tests.servers.Mosquitto on a port it can be restarted on, listening on `bind` as well when
    the board is on a LAN, and saving its in-memory queue only every `autosave_s` (production
    keeps Debian's 30 min default unless told otherwise; SewNet's deploy sets 60 s): a SIGKILL
    loses what it acknowledged since."""

    def __init__(self, workdir: Path, bind: str = "127.0.0.1", autosave_s: int = 60):
        super().__init__(workdir, port=restartable_port())
        conf = self.conf_file.read_text()
        conf = re.sub(r"(?m)^autosave_interval \d+$", f"autosave_interval {autosave_s}", conf)
        if bind != "127.0.0.1":
            conf = re.sub(rf"(?m)^listener {self.port} 127\.0\.0\.1$", f"listener {self.port} {bind}", conf)
        self.conf_file.write_text(conf)
        self.bind = bind


@dataclass
class Seen:
    """What the admin subscriber saw of the board (QoS 1: copies are counted, not kept)."""

    summaries: dict[tuple, dict] = field(default_factory=dict)
    copies: int = 0
    statuses: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Listener:
    def __init__(self, broker: Mosquitto, device: str) -> None:
        self.seen = Seen()
        self.subscribed = threading.Event()
        user = f"hil-watch-{secrets.token_hex(3)}"
        password = broker.add_watcher(user)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, clean_session=False)
        c.username_pw_set(user, password)
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_connect = lambda cl, *a: cl.subscribe(f"sewnet/v1/{device}/#", qos=1)
        c.reconnect_delay_set(0.2, 1.0)
        c.connect(broker.host, broker.port)
        c.loop_start()
        self.client = c
        assert self.subscribed.wait(10), "the admin subscriber could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        with self.seen.lock:
            if msg.topic.endswith("/summary"):
                key = (body.get("boot"), body.get("nonce"), body.get("seq"))
                if key in self.seen.summaries:
                    self.seen.copies += 1
                else:
                    self.seen.summaries[key] = body
            elif msg.topic.endswith("/status"):
                self.seen.statuses.append(body)

    def summaries(self) -> list[dict]:
        with self.seen.lock:
            return list(self.seen.summaries.values())

    def statuses(self) -> list[dict]:
        with self.seen.lock:
            return list(self.seen.statuses)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class GatewayThread:
    """edge_gateway's Gateway (ingest, uplink, page with the OTA server) on its own event loop."""

    def __init__(self, config) -> None:
        self.config = config
        self.gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        self.gateway = Gateway(self.config)
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._task = loop.create_task(self.gateway.run())
            ready.set()
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            except BaseException as e:  # shown by the scenario that waits on it
                self.error = e
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="gateway")
        self._thread.start()
        ready.wait(10)
        wait_for(lambda: self.check() and self.gateway.ingest.health.subscribed, timeout=30,
                 what="the gateway subscribed at the broker")

    def check(self) -> bool:
        if self.error is not None:
            raise AssertionError(f"the gateway stopped: {self.error!r}")
        return True

    def stop(self) -> None:
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(30)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class World:
    def __init__(self, root: Path, device: str, *, bind: str = "127.0.0.1", board_host: str = "127.0.0.1",
                 wifi: tuple[str, str] = ("sewnet-virtual", "virtual"), variant: str = "esp32-devkitc") -> None:
        self.root = Path(root)
        self.variant = variant
        self.device = device
        self.board_host = board_host
        self.wifi = wifi
        self.broker = BenchMosquitto(self.root / "mosquitto", bind=bind)
        self.broker.start()
        self.password = self.broker.add_device(device)
        keys = self.root / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        self.release_key, self.release_pub = new_key(keys)
        self.web_port = free_port()
        self.operator_password = secrets.token_urlsafe(12)
        self.config = parse_config({
            "workshop": WORKSHOP,
            "data_dir": str(self.root / "gateway"),
            "mqtt": {"host": self.broker.host, "port": self.broker.port, "username": self.broker.gateway_user,
                     "password": self.broker.gateway_password, "client_id": "sewnet-gateway-hil",
                     "reconnect_max_s": 1.0},
            # Nothing listens there: the lines stay in the outbox, where the suite counts them.
            "uplink": {"url": f"http://127.0.0.1:{free_port()}", "flush_interval_s": 86400},
            "registry": {device: MACHINE},
            "web": {"host": bind, "port": self.web_port, "operator_password": self.operator_password},
            "store": {"min_free_mb": 0, "synchronous": "NORMAL"},
            "ota": {"release_key_file": str(keys / "release.key.pub"), "board_passwd_file": str(self.broker.passwd_file),
                    "rollout_timeout_s": 120},
        })
        self.gateway = GatewayThread(self.config)
        self.gateway.start()
        self.listener = Listener(self.broker, device)

    # -- the board's files ----------------------------------------------------------------------

    def board_config(self, **settings) -> dict:
        """sewnet.json for the board under test: this world's broker and OTA server, fast
        intervals for a quick suite. Settings the firmware does not know are left out."""
        known = firmware_config_keys()
        cfg = {"device": self.device, "password": self.password,
               "wifi": {"ssid": self.wifi[0], "password": self.wifi[1]},
               "broker": {"host": self.board_host, "port": self.broker.port},
               "variant": self.variant, "ntp_host": None}
        wanted = {"interval_ms": 1000, "keepalive_s": 10, "backoff_max_ms": 2000, "state_save_ms": 10000,
                  "ota_port": self.web_port, "ota_poll_s": 2, "ack_timeout_ms": 5000, **settings}
        cfg.update({k: v for k, v in wanted.items() if k in known})
        return cfg

    def board_files(self, **settings) -> dict[str, bytes]:
        files = firmware_files()
        files["sewnet.json"] = json.dumps(self.board_config(**settings), indent=1).encode()
        files["release.pub"] = (self.release_pub + "\n").encode()
        return files

    # -- what the gateway holds -----------------------------------------------------------------

    @property
    def outbox(self):
        return self.gateway.gateway.outbox

    @property
    def ota(self):
        return self.gateway.gateway.ota

    def stored(self) -> tuple[int, int]:
        """(summaries, stitches) of the board in the gateway's outbox: what goes on to InfluxDB.
        While the gateway is stopped, its store is read as `sewnet gateway status` does."""
        if self.gateway.running:
            pending = self.outbox.pending(1_000_000)
        else:
            with Outbox(self.config.store_path, WORKSHOP, self.config.registry, inspect=True) as outbox:
                pending = outbox.pending(1_000_000)
        lines = [p.line for p in pending if f",machine={MACHINE}," in p.line]
        return len(lines), sum(int(_STITCHES.search(line).group(1)) for line in lines)

    def wait_stored(self, stitches: int, timeout: float, what: str = "") -> tuple[int, int]:
        """Until the outbox holds exactly `stitches` of the board; fails at once on more (doubled)."""
        def exact():
            self.gateway.check()
            refused = [r for r in self.outbox.rejected(20) if f"/{self.device}/" in r["topic"]]
            if refused:
                raise Refused(f"the gateway refused {len(refused)} of the board's messages:"
                           f" {refused[:3]}", refused)
            n, got = self.stored()
            if got > stitches:
                raise Doubled(f"the gateway holds {got} stitches, {got - stitches} more than were played")
            assert got == stitches, f"the gateway holds {got} of the {stitches} stitches played"
            return n, got

        return wait_for(exact, timeout=timeout, what=what or f"{stitches} stitches stored at the gateway",
                        interval=0.1)

    def board_online(self, since: int = 0) -> dict | None:
        """The board's newest `online` status published after status number `since`."""
        online = [s for s in self.listener.statuses()[since:] if s.get("state") == "online"]
        return online[-1] if online else None

    def release(self, version: str, *, edit=None, health_s: int = 300) -> Path:
        """A release of this tree's firmware as `version`, signed with the world's key, added to the
        gateway's OTA store."""
        (self.root / "releases").mkdir(exist_ok=True)
        folder = make_release(self.root / "releases", self.release_key, version, edit=edit, health_s=health_s)
        self.ota.add_release(folder)
        return folder

    def close(self) -> None:
        try:
            self.listener.close()
        finally:
            try:
                self.gateway.stop()
            finally:
                self.broker.kill()


def wait_until(predicate, timeout: float, what: str):
    return wait_for(predicate, timeout=timeout, what=what, interval=0.1)


def now() -> float:
    return time.monotonic()
