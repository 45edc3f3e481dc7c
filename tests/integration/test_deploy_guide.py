"""docs/deploy-raspberry-pi.md and docs/flashing.md, walked on this Debian machine.

Every code block marked `<!-- guide: NAME -->` is run as written, with three changes: no
`sudo` (the test runs as the user it is), every path under a temporary root instead of `/`
(`--root`, and /opt/sewnet/.venv and /root/ mapped into it), and the broker and InfluxDB on
free ports. Skipped, because this machine has no systemd as init: `systemctl` (install and
add-board print what they would run instead); the broker is started as Debian's sysvinit
script does (`mosquitto -c /etc/mosquitto/mosquitto.conf -d`) and the gateway as the unit's
ExecStart. `apt-get` is skipped too: the packages are installed here, which the test checks.

Run as root (as here), the test gives every file the owner `sewnet gateway install` gives it on a
Pi (edge_gateway.provision.owners, with a free uid standing in for the user `sewnet` and the
package's `mosquitto`), and runs the gateway as that unprivileged user (setpriv, as systemd's
User=sewnet), from a venv on the system's Python 3.11 (pyenv's lives under /root, which that user
cannot enter): so a board logging in to the gateway's update server proves the gateway's user reads
the boards' passwords, and a probe as that user proves it cannot read the broker's files. Not
root, the gateway runs as the test's user and the probe is left out.

The hub of the work-offers step runs in the test's process (hub.server.BackgroundServer) on a
SQLite database that the installed `sewnet hub db upgrade` built and `sewnet registry import`
filled; the guide's `/etc/sewnet/hub.env` is a file in the test's folder naming that database.
After `connect-hub` the test restarts the gateway as `systemctl restart` would and waits for it
to fetch its offers with the token the guide issued.

The broker's main file is Debian's own /etc/mosquitto/mosquitto.conf (tests/data holds the copy
shipped by the installed package, checked against dpkg's md5) with its paths moved under the
root, conf.d included. SewNet is installed NON-editable into a fresh venv from a copy of the
repository: `pip install --no-deps --no-build-isolation --no-index`, with the shared venv's
dependencies visible through a .pth file (a folder of links to them, without the editable
sewnet), so the test needs no network and takes seconds.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from edge_gateway.provision import BROKER_USER, SERVICE_USER, Layout, owners, toml_set
from hub.app import create_app
from hub.core.settings import load_settings
from hub.release import firmware_version
from hub.server import BackgroundServer
from tests.integration.test_broker_rules import summary
from tests.ota_world import WORKSHOPS_CSV
from tests.servers import free_port, port_open
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
STOCK_MOSQUITTO_CONF = ROOT / "tests" / "data" / "debian-mosquitto.conf"
BLOCK = re.compile(r"<!-- guide: ([\w-]+) -->\s*```bash\n(.*?)```", re.S)


def guide_blocks(path: Path) -> dict[str, str]:
    return {name: body for name, body in BLOCK.findall(path.read_text())}


def stock_mosquitto_conf() -> str:
    text = STOCK_MOSQUITTO_CONF.read_text()
    conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "mosquitto"], capture_output=True,
                               text=True).stdout
    known = re.search(r"/etc/mosquitto/mosquitto.conf ([0-9a-f]{32})", conffiles)
    if known:  # the copy is the installed package's own file
        assert hashlib.md5(text.encode()).hexdigest() == known.group(1)
    return text


def under(root: Path, text: str) -> str:
    for folder in ("/etc/mosquitto", "/run/mosquitto", "/var/lib/mosquitto", "/var/log/mosquitto"):
        text = text.replace(folder, f"{root}{folder}")
    return text


SYSTEM_PYTHON = Path("/usr/bin/python3")


def service_user_possible() -> bool:
    """Root, setpriv and a system Python of this Python's version (the shared packages' ABI)."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not SYSTEM_PYTHON.exists():
        return False
    done = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print(*sys.version_info[:2])"],
                          capture_output=True, text=True)
    return done.returncode == 0 and done.stdout.split() == [str(v) for v in sys.version_info[:2]]


def free_uid(start: int = 64100) -> int:
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            try:
                grp.getgrgid(uid)
            except KeyError:
                return uid
        uid += 1


def fresh_venv(where: Path, python: str = sys.executable) -> Path:
    """A venv that sees the shared venv's packages, but not its editable sewnet."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(where)], check=True)
    shared = Path(sysconfig.get_paths()["purelib"])
    view = where / "shared-dependencies"
    view.mkdir()
    for entry in shared.iterdir():
        if not entry.name.startswith(("sewnet", "__editable__")) \
                and entry.suffix != ".pth":
            (view / entry.name).symlink_to(entry)
    site = Path(subprocess.run([str(where / "bin" / "python"), "-c", "import sysconfig;"
                                "print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "shared-dependencies.pth").write_text(f"{view}\n")
    return where


def run(cmd, env, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, **kw)
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "mosquitto.db" not in p.name
            and p.suffix not in (".log", ".pid") and "var/lib/sewnet" not in str(p)}


@pytest.fixture
def pi_root(tmp_path):
    """Where the guide's / is: a folder any user may pass through when the gateway is to run as an
    unprivileged user (pytest's own temporary folders are root's alone)."""
    if not service_user_possible():
        yield tmp_path / "root"
        return
    base = Path(tempfile.mkdtemp(prefix="sewnet-guide-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base / "root"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.timeout(240)
def test_the_deploy_guide_on_stock_debian(tmp_path, influxdb, pi_root):
    guide = guide_blocks(ROOT / "docs" / "deploy-raspberry-pi.md")
    laptop = guide_blocks(ROOT / "docs" / "flashing.md")["laptop"]
    root = pi_root
    as_service = service_user_possible()
    venv = root / "opt" / "sewnet" / ".venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(WORKSHOP="ws-guide-01", INFLUX=influxdb.url, ADMIN_USER=influxdb.username,
               ADMIN_PASSWORD=influxdb.password, WORKSHOP_PASSWORD="wp-" + os.urandom(6).hex(),
               HUB_PASSWORD="hp-" + os.urandom(6).hex(), HOME=str(tmp_path / "home"))
    broker_port, web_port = free_port(), free_port()
    hub_env_file = tmp_path / "hub" / "hub.env"  # the guide's /etc/sewnet/hub.env on the hub

    def guide_step(name: str, *extra: str) -> str:
        script = re.sub(r"(?<![\w/])/root/", f"{tmp_path}/", guide[name].replace("sudo ", ""))
        script = script.replace("/opt/sewnet/.venv/", f"{venv}/").replace("/etc/sewnet/hub.env", str(hub_env_file))
        script = script.replace("/var/lib/sewnet-hub/", f"{tmp_path}/hub/var/")
        if extra:
            script = re.sub(r"(sewnet gateway [\w-]+ .*)", lambda m: m.group(1) + " " + " ".join(extra), script)
        return run(["bash", "-euo", "pipefail", "-c", script], env).stdout

    # Packages (apt-get skipped: they are here).
    assert "apt-get install -y mosquitto python3-venv" in guide["packages"]
    for tool in ("mosquitto", "mosquitto_passwd", "curl"):
        assert shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists(), f"{tool} missing"

    # The central InfluxDB, as the guide creates it (the fixture made the database already).
    influxdb.query('DROP DATABASE "sewnet"', method="POST")
    guide_step("influxdb")

    # Debian's Mosquitto as installed by the package, under the root.
    (root / "etc" / "mosquitto" / "conf.d").mkdir(parents=True)
    for folder in ("run/mosquitto", "var/lib/mosquitto", "var/log/mosquitto"):
        (root / folder).mkdir(parents=True)
    (root / "etc/mosquitto/mosquitto.conf").write_text(under(root, stock_mosquitto_conf()))
    # Test only: as root, Mosquitto would switch to user mosquitto, who cannot enter pytest's tmp.
    (root / "etc/mosquitto/conf.d/zz-test-only.conf").write_text("user root\n")

    # SewNet itself, non-editable from a copy of the repository (the guide: pip install /opt/sewnet).
    assert re.search(r"pip install /opt/sewnet$", guide["sewnet"], re.M) and "-e" not in guide["sewnet"]
    assert "bin/pip install" in laptop and "-e " not in laptop
    source = tmp_path / "sewnet-source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", "*.egg-info",
                                                                "build", ".pytest_cache", ".hypothesis"))
    venv.parent.mkdir(parents=True, exist_ok=True)
    fresh_venv(venv, str(SYSTEM_PYTHON) if as_service else sys.executable)
    run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         str(source)], env)
    where = run([str(venv / "bin/python"), "-c", "import sewnet, edge_gateway; print(sewnet.__file__,"
                 " edge_gateway.__file__)"], env, cwd=tmp_path).stdout.split()
    assert all(p.startswith(str(venv)) for p in where), where
    # The files the packages read at run time, such as the pages' templates, are installed too.
    site_packages = Path(where[0]).parents[1]
    read_at_run_time = {p.relative_to(ROOT) for top in ("hub", "edge_gateway")
                        for p in (ROOT / top).rglob("templates/*")}
    assert read_at_run_time, "no templates found in the source"
    missing = {str(p) for p in read_at_run_time if not (site_packages / p).is_file()}
    assert not missing, f"not installed by pip install: {sorted(missing)}"
    sewnet = str(venv / "bin/sewnet")

    # The technician's commands from that install (docs/flashing.md).
    assert run([sewnet, "device", "id", "--mac", "3C:71:BF:0A:12:F4"], env).stdout.strip() == "sn-3c71bf0a12f4"
    (tmp_path / "board.pw").write_text("board-password-1\n")
    run([sewnet, "device", "bundle", "--device", "sn-3c71bf0a12f4", "--wifi-ssid", "changsin-2F", "--broker-host",
         "127.0.0.1", "--password-file", str(tmp_path / "board.pw"), "--out", str(tmp_path / "bundle")], env)
    assert {"main.py", "sn_app.py", "sewnet.json"} <= {p.name for p in (tmp_path / "bundle").iterdir()}
    # The hub's migrations travel in the package too: that install builds the schema and sees it current.
    hub_database = f"sqlite:///{tmp_path / 'hub' / 'hub.sqlite'}"
    hub_env = {**env, "SEWNET_HUB_DATABASE_URL": hub_database}
    assert "(current)" in run([sewnet, "hub", "db", "upgrade"], hub_env, cwd=tmp_path).stdout
    assert "(current)" in run([sewnet, "hub", "db", "current"], hub_env, cwd=tmp_path).stdout

    # Install the gateway: one command. Then again: nothing changes.
    out = guide_step("install", f"--root {root}", f"--broker-port {broker_port}", f"--web-port {web_port}")
    assert "gateway config" in out and "written" in out
    before = tree_digest(root)
    out = guide_step("install", f"--root {root}", f"--broker-port {broker_port}", f"--web-port {web_port}")
    assert tree_digest(root) == before, out
    assert " written" not in out, out

    # The owners install gives every file on a Pi, a free uid standing in for the user sewnet.
    layout = Layout(root)
    service_id = free_uid()
    try:
        broker_ids = pwd.getpwnam(BROKER_USER).pw_uid, pwd.getpwnam(BROKER_USER).pw_gid
    except KeyError:
        broker_ids = (free_uid(service_id + 1),) * 2
    ids = {SERVICE_USER: (service_id, service_id), BROKER_USER: broker_ids, "root": (0, 0)}

    def own() -> None:
        """Each file as `install` owns it on a system (after every step: under --root they chown nothing)."""
        if not as_service:
            return
        for path, (user, group) in owners(layout).items():
            if path.exists():
                os.chown(path, ids[user][0], ids[group][1])

    as_gateway = ["setpriv", f"--reuid={service_id}", f"--regid={service_id}", "--clear-groups"] if as_service else []

    config = root / "etc/sewnet/gateway.toml"
    unit = (root / "etc/systemd/system/sewnet-gateway.service").read_text()
    data_dir = Path(re.search(r'(?m)^data_dir = "(.*)"', config.read_text()).group(1))
    rw = re.search(r"(?m)^ReadWritePaths=(.*)$", unit).group(1).split()
    assert any(data_dir.is_relative_to(p) for p in rw), (data_dir, rw)
    assert re.search(r"(?m)^ExecStart=(\S+) gateway run --config (\S+)$", unit).groups() == (sewnet, str(config))

    # The broker: Debian's main file plus what install added, started as sysvinit does.
    mosquitto_conf = root / "etc/mosquitto/mosquitto.conf"
    subprocess.run(["/usr/sbin/mosquitto", "-c", str(mosquitto_conf), "-d"], check=True, timeout=30)
    pid_file = root / "run/mosquitto/mosquitto.pid"
    wait_for(pid_file.exists, timeout=10, what="mosquitto's pid file")
    broker_pid = int(pid_file.read_text())
    gateway = hub = None
    try:
        wait_for(lambda: port_open("127.0.0.1", broker_port), timeout=10, what="mosquitto listening")

        # One board, one command; the broker reloads (SIGHUP through the pid file).
        out = guide_step("add-board", f"--root {root}")
        password = out.strip().splitlines()[-1]
        assert "sn-3c71bf0a12f4" in out and "SIGHUP" in out, out
        assert 'sn-3c71bf0a12f4 = "m03"' in config.read_text()
        own()

        # The gateway as its unit runs it; it ships every second instead of every 600 s.
        config.write_text(toml_set(config.read_text(), "uplink", "flush_interval_s", 1))
        def start_gateway() -> subprocess.Popen:
            with open(tmp_path / "gateway.log", "ab") as log:
                return subprocess.Popen([*as_gateway, sewnet, "gateway", "run", "--config", str(config)], env=env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        gateway = start_gateway()
        operator = (root / "etc/sewnet/operator.password").read_text().strip()

        def snapshot() -> dict | None:
            assert gateway.poll() is None, (tmp_path / "gateway.log").read_text()[-3000:]
            try:
                r = httpx.get(f"http://127.0.0.1:{web_port}/api/v1/devices",
                              headers={"Authorization": f"Bearer {operator}"}, timeout=2)
            except httpx.HTTPError:
                return None
            return r.json() if r.status_code == 200 else None

        def subscribed():
            return (snapshot() or {}).get("ingest", {}).get("subscribed")

        wait_for(subscribed, timeout=30, what="the gateway subscribed")

        board = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sn-3c71bf0a12f4")
        board.username_pw_set("sn-3c71bf0a12f4", password)
        board.connect("127.0.0.1", broker_port)
        board.loop_start()
        try:
            board.publish("sewnet/v1/sn-3c71bf0a12f4/summary", summary("sn-3c71bf0a12f4", 1), qos=1).wait_for_publish(10)
        finally:
            board.loop_stop()
            board.disconnect()

        def stored():
            status = json.loads(run([*as_gateway, sewnet, "gateway", "status", "--config", str(config), "--json"],
                                    env).stdout)
            return [d for d in status["devices"] if d["machine"] == "m03" and d["stitches_today"] == 10]

        wait_for(stored, timeout=20, what="the summary in the gateway's store", interval=0.5)
        # ... and in InfluxDB, written by the workshop's user the guide created.
        wait_for(lambda: influxdb.series_sum("stitches") == {"m03": 10}, timeout=20, what="the summary in InfluxDB")
        assert snapshot()["hub"] is None  # installed without --hub-url: no offers yet

        # Work offers: the workshop in the hub's registry, the hub serving, its settings in hub.env.
        (tmp_path / "workshops.csv").write_text(WORKSHOPS_CSV.format(workshop=env["WORKSHOP"]))
        run([sewnet, "registry", "import", "workshops", str(tmp_path / "workshops.csv")], hub_env, cwd=tmp_path)
        hub_env_file.write_text(f"SEWNET_HUB_DATABASE_URL={hub_database}\n")
        hub_env_file.chmod(0o600)
        hub = BackgroundServer(create_app(load_settings(database_url=hub_database,
                                                        embedded_path=tmp_path / "hub" / "telemetry.sqlite"))).start()
        env["HUB"] = hub.url

        # On the hub: the workshop's token, into a file only its owner reads.
        out = guide_step("hub-token")
        assert f"token for {env['WORKSHOP']} written" in out, out
        token = (tmp_path / "hub.token").read_text().strip()
        assert token and (tmp_path / "hub.token").stat().st_mode & 0o777 == 0o600
        # On the gateway: connect it, and the copy is gone.
        out = guide_step("connect-hub", f"--root {root}")
        assert "restart the gateway" in out, out
        assert not (tmp_path / "hub.token").exists()
        assert (root / "etc/sewnet/hub.token").read_text().strip() == token
        assert tomllib.loads(config.read_text())["hub"] == {"url": hub.url,
                                                            "workshop_token_file": str(root / "etc/sewnet/hub.token")}
        own()

        # `systemctl restart sewnet-gateway`, as the unit runs it; it fetches its offers with the token.
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(20) == 0
        gateway = start_gateway()

        def offers_fetched():
            link = (snapshot() or {}).get("hub")
            assert not (link and link["problem"]), link  # a refused token or an unreachable hub fails at once
            return link and link["checks"] >= 1 and link["level"] == "ok" and link["last_check_at"]

        wait_for(offers_fetched, timeout=20, what="the gateway's offers fetched from the hub", interval=0.3)
        assert snapshot()["hub"]["ko"].startswith("정상")
        assert snapshot()["releases"] is None  # no [ota] yet: no releases fetched

        # Board updates (step 6): the hub's release key, updates on at the gateway, a release published.
        with hub_env_file.open("a") as f:
            f.write(f"SEWNET_HUB_RELEASE_KEY_FILE={tmp_path / 'hub' / 'release.key'}\n")
        guide_step("hub-release-key")
        assert (tmp_path / "release.pub").read_text() == (tmp_path / "hub" / "release.key.pub").read_text()
        out = guide_step("enable-updates", f"--root {root}")
        assert "restart the gateway" in out and not (tmp_path / "release.pub").exists(), out
        assert tomllib.loads(config.read_text())["ota"] == {"release_key_file": str(layout.release_key),
                                                            "board_passwd_file": str(layout.boards_passwd)}
        own()
        out = guide_step("publish")
        version = firmware_version(ROOT / "firmware")
        assert f"release {version} published" in out, out

        # `systemctl restart sewnet-gateway`: at start it asks the hub for releases, and keeps this one.
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(20) == 0
        gateway = start_gateway()

        def release_fetched():
            releases = (snapshot() or {}).get("releases")
            assert not (releases and releases["problem"]), releases
            return releases and releases["fetched"] == 1

        wait_for(release_fetched, timeout=30, what="the hub's release fetched by the gateway", interval=0.3)
        # The board logs in to the update server with its MQTT password: the gateway's own user
        # reads it (boards.passwd). No rollout yet: nothing offered until the operator starts one.
        ota = f"http://127.0.0.1:{web_port}/ota/v1/boards/sn-3c71bf0a12f4/check"
        report = {"firmware": "0.1.0", "bootloader": 1}
        checked = httpx.post(ota, json=report, auth=("sn-3c71bf0a12f4", password), timeout=10)
        assert checked.status_code == 200, checked.text
        assert checked.json() == {"firmware": None, "config": None}
        assert httpx.post(ota, json=report, auth=("sn-3c71bf0a12f4", "not-its-password"), timeout=10).status_code == 401
        with httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=10) as page:
            page.post("/login", data={"password": operator})
            updates = page.get("/updates").text
        assert f'id="release-{version}"' in updates and f'<option value="{version}">' in updates

        if as_service:
            # What the gateway's user may read: the boards' lines, and none of the broker's files.
            def readable(path: Path) -> bool:
                return subprocess.run([*as_gateway, str(SYSTEM_PYTHON), "-c", "import sys; open(sys.argv[1]).read()",
                                       str(path)], capture_output=True).returncode == 0

            assert readable(layout.boards_passwd) and readable(layout.release_key)
            assert not readable(layout.passwd) and not readable(layout.acl)
            assert oct(layout.passwd.stat().st_mode & 0o777) == "0o600"
            assert (layout.passwd.stat().st_uid, layout.passwd.stat().st_gid) == broker_ids
    finally:
        if gateway is not None:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(20)
        if hub is not None:
            hub.stop()
        os.kill(broker_pid, signal.SIGTERM)
