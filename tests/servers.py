"""Real servers for tests and benchmarks: Mosquitto, InfluxDB 1.x, VictoriaMetrics and PostgreSQL.

Each one runs from its Debian package's binary on a free loopback port with everything it writes
in a temporary folder, so a test can stop, restart or kill it without touching the machine's own
services (a Mosquitto may already listen on 1883 here; we never use it).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import secrets
import signal
import socket
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import httpx

from edge_gateway.provision import render_mosquitto_snippet
from sewnet.processes import terminate
from sewnet.resources import shipped

from tests.waiting import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def restartable_port() -> int:
    """A free port for a server that tests stop and start again on it (a gateway's page). It lies
    below the kernel's ephemeral range, where free_port() draws from: there, while the server is
    down, any client's outgoing connection may take the port as its own, and the restarted server
    fails to bind (seen with a gateway SIGKILLed while boards connected at 20 connections a second)."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low = 10_000 if ephemeral_low > 11_000 else 1024
    for _ in range(200):
        port = random.randrange(low, ephemeral_low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def require_binary(path: str, package: str) -> str:
    if not (os.path.exists(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"{path} not found: install the Debian package {package!r} (make test does)")
    return path


def mqtt_connack(host: str, port: int, user: str, password: str, timeout: float = 2.0) -> int | None:
    """The CONNACK return code (0: accepted) a broker gives an MQTT 3.1.1 CONNECT with these
    credentials, client id = user name and a persistent session (so no session is wiped), or None
    when nothing answers. Disconnects cleanly."""
    def field(text: str) -> bytes:
        data = text.encode()
        return len(data).to_bytes(2, "big") + data

    # protocol name, level 4, flags: user name + password, clean session off; keepalive 10 s.
    body = field("MQTT") + bytes([4, 0b1100_0000]) + (10).to_bytes(2, "big") + field(user) + field(user) + field(password)
    assert len(body) < 128, "one byte of remaining length is all this helper writes"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(bytes([0x10, len(body)]) + body)
            answer = b""
            while len(answer) < 4:
                chunk = sock.recv(4 - len(answer))
                if not chunk:
                    return None
                answer += chunk
            if answer[0] != 0x20:
                return None
            if answer[3] == 0:
                sock.sendall(b"\xe0\x00")  # DISCONNECT: no last will, no "connection lost" noise
            return answer[3]
    except OSError:
        return None


class _Process:
    """A server process in its own session, so stop/kill reach the whole group."""

    name = "server"
    #: The signal that asks this server to shut down cleanly.
    stop_signal = signal.SIGTERM

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"{self.name}.log"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _popen_options(self) -> dict:
        """More subprocess.Popen arguments (e.g. the user to run as)."""
        return {}

    def start(self, timeout: float = 30.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.workdir,
            **self._popen_options()
        )
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            return self._ready()

        wait_for(up, timeout=timeout, what=f"{self.name} ready")

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful stop (SIGTERM): the server saves what it keeps on disk."""
        terminate(self.proc, timeout, self.stop_signal)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


class Mosquitto(_Process):
    """Mosquitto 2.0 as in production: no anonymous access, a password per device, the pattern
    ACL that confines each device to sewnet/v1/<its user name>/#, persistence on."""

    name = "mosquitto"
    binary = "/usr/sbin/mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, size_limits: bool = True,
                 autosave_interval: int = 5):
        """size_limits=False drops the shipped message_size_limit/max_packet_size, as on a broker
        set up without SewNet's snippet: for tests of the gateway's own defence against big payloads.
        autosave_interval: seconds between writes of the in-memory queue to disk (production: 60),
        what a SIGKILL loses at most."""
        super().__init__(workdir)
        require_binary(self.binary, "mosquitto")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.passwd_file = self.workdir / "passwd"
        self.acl_file = self.workdir / "sewnet.acl"
        self.conf_file = self.workdir / "mosquitto.conf"
        (self.workdir / "data").mkdir(exist_ok=True)
        self.gateway_user, self.gateway_password = "gateway", secrets.token_urlsafe(12)
        self.admin_user, self.admin_password = "admin", secrets.token_urlsafe(12)
        self.passwords: dict[str, str] = {}
        self.passwd_file.write_text("")
        self._set_password(self.gateway_user, self.gateway_password)
        self._set_password(self.admin_user, self.admin_password)
        # A user with no rights at all, to ask the broker whether it answers (readiness).
        self.probe_user, self.probe_password = "probe", secrets.token_urlsafe(12)
        self._set_password(self.probe_user, self.probe_password)
        # The shipped ACL, plus an all-seeing user for the tests' watchers. Client ids are user
        # names (use_username_as_clientid), so clients that must be connected at the same time
        # need users of their own: add_watcher() makes more.
        self.acl_file.write_text((shipped("deploy") / "sewnet.acl").read_text()
                                 + f"\nuser {self.admin_user}\ntopic readwrite #\n")
        # The shipped conf.d snippet as `sewnet gateway install` writes it, then what Debian's
        # main file sets (persistence) and what only tests need.
        snippet = render_mosquitto_snippet(self.workdir, self.port, bind="127.0.0.1")
        if not size_limits:
            snippet = re.sub(r"(?m)^(message_size_limit|max_packet_size) ", r"# \1 ", snippet)
        self.conf_file.write_text(
            snippet
            + "\n# tests\n"
            "persistence true\n"
            f"persistence_location {self.workdir / 'data'}/\n"
            f"autosave_interval {autosave_interval}\n"
            # the gateway may be down for a while: keep everything queued for its session
            "max_queued_messages 200000\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            # we run as root in CI; without this mosquitto drops to a user that cannot read tmp
            "user root\n"
        )
        os.chmod(self.passwd_file, 0o600)
        os.chmod(self.acl_file, 0o600)

    def _set_password(self, user: str, password: str) -> None:
        subprocess.run(["mosquitto_passwd", "-b", str(self.passwd_file), user, password], check=True,
                       capture_output=True)
        self.passwords[user] = password

    def add_device(self, device_id: str, password: str | None = None) -> str:
        password = password or secrets.token_urlsafe(12)
        self._set_password(device_id, password)
        if self.running:
            self.proc.send_signal(signal.SIGHUP)  # reloads password and ACL files
            # The main loop reloads at its next turn: wait until the broker takes the new password.
            wait_for(lambda: mqtt_connack(self.host, self.port, device_id, password) == 0, timeout=10,
                     what=f"mosquitto to accept {device_id} after the reload")
        return password

    def add_watcher(self, name: str) -> str:
        """Another user that may read and write everything (tests only); returns its password."""
        with self.acl_file.open("a") as f:
            f.write(f"\nuser {name}\ntopic readwrite #\n")
        return self.add_device(name)

    def _command(self) -> list[str]:
        return [self.binary, "-c", str(self.conf_file)]

    def _ready(self) -> bool:
        # An open port is not enough: Mosquitto listens before it installs its signal handlers,
        # and a SIGHUP (add_device) in between would end it. A CONNACK comes from the main loop.
        return port_open(self.host, self.port) and mqtt_connack(
            self.host, self.port, self.probe_user, self.probe_password) == 0


class InfluxDB1(_Process):
    """InfluxDB 1.x (Debian's 1.6.7) with authentication on and an admin user."""

    name = "influxdb"
    binary = "/usr/bin/influxd"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        require_binary(self.binary, "influxdb")
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.username, self.password = "sewnet", secrets.token_urlsafe(12)
        self.database = "sewnet"
        self._bootstrapped = False
        self.conf_file = self.workdir / "influxdb.conf"
        d = self.workdir
        self.conf_file.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  enabled = true\n  bind-address = "127.0.0.1:{self.port}"\n'
            "  auth-enabled = true\n  log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
            "[subscriber]\n  enabled = false\n"
        )

    def _command(self) -> list[str]:
        return [self.binary, "run", "-config", str(self.conf_file)]

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 60.0) -> None:
        super().start(timeout)
        if not self._bootstrapped:
            # With auth on and no users yet, InfluxDB accepts exactly this one statement.
            r = httpx.post(f"{self.url}/query", data={
                "q": f"CREATE USER \"{self.username}\" WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES"})
            r.raise_for_status()
            self.query(f'CREATE DATABASE "{self.database}"', method="POST")
            self._bootstrapped = True

    def query(self, q: str, method: str = "GET", database: str | None = None) -> dict:
        params = {"q": q, "db": database or self.database, "u": self.username, "p": self.password, "epoch": "s"}
        r = httpx.request(method, f"{self.url}/query", params=params, timeout=10)
        r.raise_for_status()
        body = r.json()
        for result in body.get("results", []):
            if "error" in result:
                raise RuntimeError(result["error"])
        return body

    def write(self, lines: str, precision: str = "s") -> None:
        r = httpx.post(f"{self.url}/write", params={"db": self.database, "precision": precision,
                                                    "u": self.username, "p": self.password},
                       content=lines.encode(), timeout=10)
        r.raise_for_status()

    def series_sum(self, field: str, where: str = "true", group_by: str = '"machine"') -> dict:
        """sum(field) per tag value of the last group-by tag, over all time."""
        body = self.query(f'SELECT sum("{field}") FROM "sewing" WHERE time > 0 GROUP BY {group_by}')
        out: dict = {}
        for s in body["results"][0].get("series", []) or []:
            key = tuple(s["tags"].values()) if len(s["tags"]) > 1 else next(iter(s["tags"].values()))
            out[key] = s["values"][0][1]
        return out


class VictoriaMetrics(_Process):
    """VictoriaMetrics: a real server that implements InfluxDB's v2 write API."""

    name = "victoria-metrics"
    binary = "/usr/bin/victoria-metrics"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        require_binary(self.binary, "victoria-metrics")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        #: More command-line flags for the next start, e.g. -httpAuth.username=... to refuse writes.
        self.extra_args: list[str] = []

    def _command(self) -> list[str]:
        return [self.binary, f"-storageDataPath={self.workdir / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y", "-loggerLevel=ERROR",
                # one sample per series and millisecond, like InfluxDB's last-write-wins
                "-dedup.minScrapeInterval=1ms", *self.extra_args]

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def export(self, match: str = '{__name__=~"sewing_.*"}') -> list[dict]:
        httpx.get(f"{self.url}/internal/force_flush", timeout=10)
        r = httpx.get(f"{self.url}/api/v1/export", params={"match[]": match}, timeout=10)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def postgresql_bindir() -> Path:
    """The newest PostgreSQL server under /usr/lib/postgresql/<major>/bin (Debian's layout, where
    several majors can sit side by side; the major is whatever `postgresql` pulled in)."""
    found = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if all(os.access(bindir / b, os.X_OK) for b in ("initdb", "postgres")) and bindir.parent.name.isdigit():
            found.append((int(bindir.parent.name), bindir))
    if not found:
        raise RuntimeError("initdb/postgres not found under /usr/lib/postgresql/*/bin: install the Debian "
                           "package 'postgresql' (make test does)")
    return max(found)[1]


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[2])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _proc_stat(int(entry.name))
            if st and st[1] == pid:
                out.append(int(entry.name))
    return out


class PostgreSQL(_Process):
    """PostgreSQL from Debian's `postgresql` package: its own cluster (initdb) in a temporary folder,
    TCP on a free loopback port, the unix socket in that folder too, password (SCRAM) logins only.

    Roles: `postgres`, the superuser the tests use to make and drop databases, and `sewnet`, the
    application's login, owner of the `sewnet` database and of every database made by
    create_database(). Both passwords are generated per server.

    PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user the
    package creates, and the folder must be one that user can reach: pytest's tmp_path sits under
    a root-only folder, hence make_workdir()."""

    name = "postgresql"
    # SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client (a test's connection
    # pool) to leave; SIGINT is the "fast" one: roll back open transactions, checkpoint, exit.
    stop_signal = signal.SIGINT

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.bindir = postgresql_bindir()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.data_dir = self.workdir / "data"
        self.socket_dir = self.workdir / "socket"
        self.socket_dir.mkdir(exist_ok=True)
        self.admin_user, self.admin_password = "postgres", secrets.token_urlsafe(16)
        self.user, self.password = "sewnet", secrets.token_urlsafe(16)
        self.database = "sewnet"
        self._bootstrapped = False
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("postgres")
            self._as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            for path in (self.workdir, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        else:
            self._as_user = {}

    @staticmethod
    def make_workdir() -> Path:
        """A fresh folder straight under the system's temporary folder (the caller removes it)."""
        import tempfile

        return Path(tempfile.mkdtemp(prefix="sewnet-postgresql-"))

    def _popen_options(self) -> dict:
        return self._as_user

    def _command(self) -> list[str]:
        return [str(self.bindir / "postgres"), "-D", str(self.data_dir),
                "-c", f"port={self.port}", "-c", f"listen_addresses={self.host}",
                "-c", f"unix_socket_directories={self.socket_dir}",
                # No fsync: a test's crash is a killed process, not a lost machine, and a killed
                # PostgreSQL still finds every WAL write of a committed transaction in the OS
                # cache (synchronous_commit stays on). Making a database per test then takes tens
                # of milliseconds instead of hundreds on a busy disk.
                "-c", "fsync=off",
                "-c", "log_min_messages=warning", "-c", "log_checkpoints=off"]

    def _initdb(self) -> None:
        pwfile = self.workdir / "admin-password"
        pwfile.write_text(self.admin_password + "\n")
        os.chmod(pwfile, 0o600)
        if self._as_user:
            os.chown(pwfile, self._as_user["user"], self._as_user["group"])
        try:
            # --no-sync: initdb's closing fsync of the fresh cluster protects against a power cut,
            # which a test folder does not outlive anyway; the running server keeps fsync on.
            r = subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.admin_user,
                                f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale",
                                "--no-sync"],
                               capture_output=True, text=True, cwd=self.workdir, **self._as_user)
        finally:
            pwfile.unlink()
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed ({r.returncode}): {r.stdout[-1000:]}{r.stderr[-1000:]}")

    def start(self, timeout: float = 60.0) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        super().start(timeout)
        if not self._bootstrapped:
            from psycopg import sql

            with self.admin() as conn:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)))
            self.create_database(self.database)
            self._bootstrapped = True

    def admin(self, database: str = "postgres"):
        """A psycopg connection as the superuser, in autocommit (CREATE/DROP DATABASE need it)."""
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.admin_user, password=self.admin_password,
                               dbname=database, autocommit=True, connect_timeout=5)

    def _ready(self) -> bool:
        import psycopg

        try:
            with self.admin():
                return True
        except psycopg.OperationalError:  # not listening yet, or "the database system is starting up"
            return False

    def url_for(self, database: str, password: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3) for `database` as the `sewnet` role."""
        from sqlalchemy import URL

        return URL.create("postgresql+psycopg", username=self.user,
                          password=self.password if password is None else password,
                          host=self.host, port=self.port, database=database).render_as_string(hide_password=False)

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database owned by `sewnet`; returns its name. template0 rather than the
        default template1, so nothing a test put into template1 leaks into the next one."""
        from psycopg import sql

        name = name or f"t_{secrets.token_hex(6)}"
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                sql.Identifier(name), sql.Identifier(self.user)))
        return name

    def drop_database(self, name: str) -> None:
        """Drops it even while a test's pool still holds connections to it."""
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def cluster_state(self) -> str:
        """What pg_control says, e.g. "shut down" after a clean stop, "in production" while running
        or after a crash."""
        r = subprocess.run([str(self.bindir / "pg_controldata"), "-D", str(self.data_dir)],
                           capture_output=True, text=True, check=True, env={**os.environ, "LC_ALL": "C"})
        return re.search(r"^Database cluster state:\s*(.+)$", r.stdout, re.M).group(1).strip()

    def kill(self) -> None:
        """A crash: SIGKILL to the postmaster and every backend, so nothing gets to flush or
        checkpoint. Backends are not in the postmaster's process group (each calls setsid()), so
        they are found by parent pid while the postmaster is stopped and cannot fork more. Returns
        once all are gone: a new postmaster refuses to start while an old backend still holds the
        shared memory."""
        if not (self.proc and self.proc.poll() is None):
            return
        pid = self.proc.pid
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: (_proc_stat(pid) or ("T",))[0] in "TtZX", timeout=5, what="postmaster stopped")
        backends = _children(pid)
        self.proc.kill()
        for child in backends:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        wait_for(lambda: all((_proc_stat(c) or ("Z",))[0] in "ZX" for c in backends), timeout=10,
                 what="postgres backends gone")


@contextlib.contextmanager
def own_postgresql() -> Iterator[PostgreSQL]:
    """A PostgreSQL of the caller's own (a test session's, a bench's), started in a fresh folder;
    killed and its folder removed afterwards, whatever happened."""
    server = PostgreSQL(PostgreSQL.make_workdir())
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.workdir, ignore_errors=True)


class DemoBroker:
    """The demo's in-process broker (sewnet/embedded_broker.py) on an event loop of its own, for
    tests that hold it to the same rules as the workshop's Mosquitto."""

    name = "demo-broker"

    def __init__(self, workdir: Path, devices: list[str]):
        self.workdir = Path(workdir)
        self.host, self.port = "127.0.0.1", free_port()
        self.gateway_user, self.gateway_password = "gateway", secrets.token_urlsafe(12)
        self.passwords = {d: secrets.token_urlsafe(12) for d in devices}
        self.passwords[self.gateway_user] = self.gateway_password
        self._loop = None
        self._thread = None
        self._broker = None

    def start(self, timeout: float = 30.0) -> None:
        import asyncio
        import threading

        from sewnet.embedded_broker import start_broker

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-broker", daemon=True)
        self._thread.start()
        self._broker = asyncio.run_coroutine_threadsafe(
            start_broker(self.port, self.workdir, self.passwords, self.gateway_user), self._loop).result(timeout)

    def kill(self) -> None:
        import asyncio

        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(30)
            self._broker = None
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
            self._thread = None

    def log_tail(self, n: int = 2000) -> str:
        return ""
