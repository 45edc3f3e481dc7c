"""`sewnet gateway install` / `add-board` / `connect-hub` and the files they ship: the TOML editor changes one
key and nothing else (hypothesis), bad input gives one line and exit 2 with every file as it
was (hypothesis), and the shipped files agree with each other (unit, service, ports, packages)."""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edge_gateway.cli import app
from edge_gateway.config import load_config
from edge_gateway.contract import DEVICE_ID, TAG_VALUE
from edge_gateway.provision import (Layout, ProvisionError, mosquitto_main_problem, render_unit, toml_key,
                                    toml_set, toml_value)
from sewnet.resources import shipped

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "edge_gateway" / "gateway.example.toml"
STOCK = ROOT / "tests" / "data" / "debian-mosquitto.conf"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

names = st.text(min_size=1, max_size=10)
scalars = st.one_of(st.text(max_size=20), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False))
tables = st.dictionaries(names, st.dictionaries(names, scalars, max_size=4), max_size=3)
comments = st.lists(st.sampled_from(["", "# a note", "   # indented note", "# [registry]"]), min_size=8, max_size=8)


def write(top: dict, tabs: dict, notes: list[str]) -> str:
    lines = [notes[0]] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in top.items()]
    for i, (name, body) in enumerate(tabs.items()):
        lines += [notes[(i + 1) % len(notes)], f"[{toml_key(name)}]  # table"]
        lines += [f"{toml_key(k)} = {toml_value(v)}   # value" for k, v in body.items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(top=st.dictionaries(names, scalars, max_size=4), tabs=tables, notes=comments,
       table=st.one_of(st.none(), names), key=names, value=st.one_of(st.none(), scalars))
@example(top={}, tabs={"registry": {"sn-a": "m1"}}, notes=[""] * 8, table="registry", key="sn-b", value="m2")
def test_toml_set_changes_that_key_and_keeps_every_other_line(top, tabs, notes, table, key, value):
    tabs = {name: body for name, body in tabs.items() if name not in top}  # else not TOML at all
    text = write(top, tabs, notes)
    before = tomllib.loads(text)
    try:
        after_text = toml_set(text, table, key, value)
    except ProvisionError:
        # Only when the key cannot be written where it belongs, e.g. a top-level key named like
        # a table.
        assert (table is None and isinstance(before.get(key), dict)) or \
            (table is not None and not isinstance(before.get(table, {}), dict))
        return
    after = tomllib.loads(after_text)
    if value is None:
        (before if table is None else before.get(table, {})).pop(key, None)
    else:
        (before if table is None else before.setdefault(table, {}))[key] = value
    assert after == before
    kept = [ln for ln in text.split("\n") if not ln.startswith((f"{toml_key(key)} =",))]
    assert all(ln in after_text.split("\n") for ln in kept)


def test_add_board_on_the_example_keeps_its_comments():
    text = EXAMPLE.read_text()
    edited = toml_set(text, "registry", "sn-0123456789ab", "m09")
    assert edited.splitlines()[:len(text.splitlines())] != [] and set(text.splitlines()) <= set(edited.splitlines())
    assert tomllib.loads(edited)["registry"]["sn-0123456789ab"] == "m09"
    moved = toml_set(edited, "registry", "sn-3c71bf0a12f4", "m04")
    assert 'sn-3c71bf0a12f4" = "m04"' in moved or 'sn-3c71bf0a12f4 = "m04"' in moved
    assert len(moved.splitlines()) == len(edited.splitlines())


def test_an_inline_registry_is_refused_not_mangled():
    with pytest.raises(ProvisionError, match="by hand"):
        toml_set('workshop = "w"\nregistry = {"sn-aa" = "m1"}\n', "registry", "sn-bb", "m2")


def test_the_broker_check_reads_debians_file_and_names_what_is_missing(tmp_path):
    main = tmp_path / "mosquitto.conf"
    main.write_text(STOCK.read_text())
    assert mosquitto_main_problem(main, Path("/etc/mosquitto/conf.d")) is None
    # As this machine's /etc/mosquitto/mosquitto.conf: edited, without include_dir.
    main.write_text(STOCK.read_text().replace("include_dir /etc/mosquitto/conf.d\n", ""))
    assert "include_dir /etc/mosquitto/conf.d" in mosquitto_main_problem(main, Path("/etc/mosquitto/conf.d"))
    main.write_text(STOCK.read_text().replace("persistence true\n", ""))
    assert "persistence true" in mosquitto_main_problem(main, Path("/etc/mosquitto/conf.d"))


def test_the_service_may_write_the_example_data_dir():
    data_dir = Path(tomllib.loads(EXAMPLE.read_text())["data_dir"])
    for unit in ((shipped("deploy") / "sewnet-gateway.service").read_text(),
                 render_unit(Path("/opt/sewnet/.venv/bin/sewnet"), Layout().config, Layout().data_dir)):
        writable = re.search(r"(?m)^ReadWritePaths=(.*)$", unit).group(1).split()
        assert any(data_dir.is_relative_to(p) for p in writable), (data_dir, writable)
    assert Layout().data_dir == data_dir


def test_one_hub_port_and_one_gateway_page_port_everywhere():
    import inspect

    from edge_gateway.config import WebConfig
    from hub.cli import run as hub_run
    from sewnet.cli import demo

    hub_port = inspect.signature(hub_run).parameters["port"].default
    gateway_port = WebConfig().port
    assert inspect.signature(demo).parameters["hub_port"].default.default == hub_port
    docs = {p: p.read_text() for p in [ROOT / "README.md", ROOT / "hub" / "README.md",
                                       ROOT / "docs" / "deploy-raspberry-pi.md", shipped("deploy") / "sewnet-hub.service"]}
    for path, text in docs.items():
        for port in re.findall(r"sewnet hub run [^`\n]*--port (\d+)", text):
            assert int(port) == hub_port, path
    for path in (ROOT / "docs" / "deploy-raspberry-pi.md", ROOT / "edge_gateway" / "README.md"):
        for port in re.findall(r"http://<pi[^>]*>:(\d+)/", path.read_text()):
            assert int(port) == gateway_port, path
    assert tomllib.loads(EXAMPLE.read_text())["web"]["port"] == gateway_port


def test_every_python_package_is_in_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("sewnet", "edge_gateway", "hub", "simulators")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, found - listed


# --- the commands with bad input -------------------------------------------------------------

def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(result) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def _gateway_root(base: Path) -> tuple[Path, Path]:
    root = Path(tempfile.mkdtemp(dir=base))
    (root / "etc/mosquitto/conf.d").mkdir(parents=True)
    (root / "etc/mosquitto/passwd").write_text("gateway:$7$101$c2FsdA==$aGFzaA==\n")
    (root / "etc/sewnet").mkdir(parents=True)
    config = root / "etc/sewnet/gateway.toml"
    config.write_text(EXAMPLE.read_text())
    return root, config


device_ids = st.one_of(st.from_regex(DEVICE_ID, fullmatch=True), st.text(max_size=40),
                       st.sampled_from(["gateway", "sn-3c71bf0a12f4", "-x", "SN-ABC"]))
machine_ids = st.one_of(st.from_regex(TAG_VALUE, fullmatch=True).filter(lambda s: len(s) < 40), st.text(max_size=20))


@FUZZ
@given(device=device_ids, machine=machine_ids, password=st.one_of(st.none(), st.binary(max_size=30)))
@example(device="sn-0123456789ab", machine="m09", password=None)
@example(device="sn-0123456789ab", machine="m09", password=b"\xff")
@example(device="sn-0123456789ab", machine="m 09", password=None)
@example(device="gateway", machine="m09", password=None)
def test_add_board_with_any_input_registers_it_or_says_why_in_one_line(tmp_path, device, machine, password):
    root, config = _gateway_root(tmp_path)
    args = ["add-board", f"--config={config}", f"--device={device}", f"--machine={machine}", f"--root={root}",
            "--no-restart"]
    if password is not None:
        (tmp_path / "board.pw").write_bytes(password)
        args.append(f"--password-file={tmp_path / 'board.pw'}")
    before = _digest(root)
    result = CliRunner().invoke(app, args)
    if result.exit_code == 0:
        assert DEVICE_ID.fullmatch(device) and TAG_VALUE.fullmatch(machine) and device != "gateway"
        assert tomllib.loads(config.read_text())["registry"][device] == machine
        passwd = (root / "etc/mosquitto/passwd").read_text().splitlines()
        assert passwd[0].startswith("gateway:") and passwd[-1].startswith(f"{device}:$7$")
    else:
        _one_line_error(result)
        assert _digest(root) == before


@FUZZ
@given(workshop=st.one_of(st.from_regex(TAG_VALUE, fullmatch=True).filter(lambda s: len(s) < 30),
                          st.text(max_size=20)),
       url=st.one_of(st.just("https://influx.example.org:8086"), st.text(max_size=30)),
       password=st.one_of(st.none(), st.binary(max_size=20)), include=st.booleans())
@example(workshop="ws-a", url="https://influx.example.org:8086", password=b"pw", include=True)
@example(workshop="ws-a", url="ftp://x", password=b"pw", include=True)
@example(workshop="ws-a", url="https://influx.example.org:8086", password=b"pw", include=False)
def test_install_with_any_input_installs_or_says_why_in_one_line(tmp_path, monkeypatch, workshop, url, password,
                                                                 include):
    monkeypatch.delenv("SEWNET_UPLINK_PASSWORD", raising=False)
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "etc/mosquitto/conf.d").mkdir(parents=True)
    stock = STOCK.read_text().replace("/etc/mosquitto", f"{root}/etc/mosquitto")
    (root / "etc/mosquitto/mosquitto.conf").write_text(stock if include else stock.replace("include_dir", "#"))
    args = ["install", f"--workshop={workshop}", f"--uplink-url={url}", f"--root={root}"]
    if password is not None:
        (tmp_path / "uplink.pw").write_bytes(password)
        args.append(f"--uplink-password-file={tmp_path / 'uplink.pw'}")
    before = _digest(root)
    result = CliRunner().invoke(app, args)
    if result.exit_code == 0:
        assert include and TAG_VALUE.fullmatch(workshop) and url.startswith(("http://", "https://"))
        cfg = tomllib.loads((root / "etc/sewnet/gateway.toml").read_text())
        assert cfg["workshop"] == workshop and cfg["registry"] == {}
        assert (root / "etc/sewnet/uplink.password").read_text().strip() == password.decode().strip()
        assert (root / "etc/mosquitto/passwd").read_text().startswith("gateway:$7$")
    else:
        _one_line_error(result)
        assert _digest(root) == before


# --- connect-hub -------------------------------------------------------------------------------

def _install(base: Path, *extra: str) -> Path:
    """A gateway installed under a new root by the real `install` (no hub unless `extra` names one)."""
    root = Path(tempfile.mkdtemp(dir=base))
    (root / "etc/mosquitto/conf.d").mkdir(parents=True)
    (root / "etc/mosquitto/mosquitto.conf").write_text(STOCK.read_text().replace("/etc/mosquitto",
                                                                                 f"{root}/etc/mosquitto"))
    (base / "uplink.pw").write_text("uplink-pw\n")
    result = CliRunner().invoke(app, ["install", "--workshop=ws-a", "--uplink-url=http://influx:8086",
                                      f"--uplink-password-file={base / 'uplink.pw'}", f"--root={root}", "--no-start",
                                      *extra])
    assert result.exit_code == 0, result.output
    return root


def _connect(root: Path, url: str, token_file: Path):
    return CliRunner().invoke(app, ["connect-hub", f"--url={url}", f"--token-file={token_file}", f"--root={root}"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("installed")
    (base / "old.token").write_text("old-token-1\n")
    return {"fresh": _install(base),
            "with_hub": _install(base, "--hub-url=https://old-hub.example.org", f"--hub-token-file={base / 'old.token'}")}


def test_connect_hub_connects_an_installed_gateway_and_again_changes_nothing(tmp_path, installed):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    shutil.copytree(installed["fresh"], root, dirs_exist_ok=True)
    config = root / "etc/sewnet/gateway.toml"
    token = root / "etc/sewnet/hub.token"
    before = config.read_text()
    assert "hub" not in tomllib.loads(before)
    (tmp_path / "hub.token").write_text("tok-" + "a" * 40 + "\n")

    result = _connect(root, "https://hub.example.org/", tmp_path / "hub.token")
    assert result.exit_code == 0, result.output
    assert "restart the gateway" in result.output
    after = config.read_text()
    assert set(before.splitlines()) <= set(after.splitlines())  # every line kept
    cfg = load_config(config)
    cfg.check_secrets()
    assert cfg.hub.url == "https://hub.example.org" and cfg.hub.workshop_token_file == token
    assert cfg.hub.secret() == "tok-" + "a" * 40
    assert stat.S_IMODE(token.stat().st_mode) == 0o600

    # Again, with the same values: not one byte changes, and it says so.
    digest = _digest(root)
    result = _connect(root, "https://hub.example.org", tmp_path / "hub.token")
    assert result.exit_code == 0 and "nothing changed" in result.output, result.output
    assert _digest(root) == digest
    # A token someone made readable to all is made the service's own again.
    token.chmod(0o644)
    assert _connect(root, "https://hub.example.org", tmp_path / "hub.token").exit_code == 0
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and _digest(root) == digest

    # A new token replaces the old one; the config stays as it was.
    (tmp_path / "hub.token").write_text("tok-new\n")
    result = _connect(root, "https://hub.example.org", tmp_path / "hub.token")
    assert result.exit_code == 0 and "replaced" in result.output, result.output
    assert token.read_text() == "tok-new\n" and config.read_text() == after


def test_connect_hub_moves_a_gateway_to_another_hub_and_drops_an_inline_token(tmp_path, installed):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    shutil.copytree(installed["with_hub"], root, dirs_exist_ok=True)
    config = root / "etc/sewnet/gateway.toml"
    # By hand, someone put the token in the file itself (the service would refuse both).
    text = toml_set(config.read_text(), "hub", "workshop_token", "inline-token")
    config.write_text(toml_set(text, "hub", "workshop_token_file", None))
    (tmp_path / "hub.token").write_text("tok-2\n")
    result = _connect(root, "http://10.0.0.5:8080", tmp_path / "hub.token")
    assert result.exit_code == 0, result.output
    assert "was https://old-hub.example.org" in result.output
    hub = tomllib.loads(config.read_text())["hub"]
    assert hub == {**hub, "url": "http://10.0.0.5:8080", "workshop_token_file": str(root / "etc/sewnet/hub.token")}
    assert "workshop_token" not in hub and hub["poll_interval_s"] == 60  # the example's other keys stay
    assert load_config(config).hub.secret() == "tok-2"


def test_connect_hub_without_an_install_says_to_install(tmp_path):
    (tmp_path / "hub.token").write_text("tok\n")
    result = _connect(tmp_path, "https://hub.example.org", tmp_path / "hub.token")
    _one_line_error(result)
    assert "sewnet gateway install" in result.stderr
    assert not (tmp_path / "etc").exists()


def _header_safe(token: bytes) -> bool:
    try:
        text = token.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False
    return bool(text) and all(0x21 <= ord(c) <= 0x7e for c in text)


@FUZZ
@given(url=st.one_of(st.sampled_from(["https://hub.example.org", "http://10.0.0.5:8080/", "http://[::1]:8080",
                                      "https://hub.example.org/sewnet"]),
                     st.from_regex(r"https?://[^/]{0,12}(/.{0,8})?", fullmatch=True), st.text(max_size=30)),
       token=st.one_of(st.none(), st.binary(max_size=30),
                       st.from_regex(r"[!-~]{1,40}\n?", fullmatch=True).map(str.encode)),
       which=st.sampled_from(["fresh", "with_hub"]))
@example(url="https://hub.example.org", token=b"tok-1", which="fresh")
@example(url="https://hub.example.org", token=b"tok 1", which="fresh")
@example(url="https://hub.example.org", token=b"\xff", which="with_hub")
@example(url="https://hub.example.org", token=b"  \n", which="fresh")
@example(url="https://hub example.org", token=b"tok-1", which="fresh")
@example(url="http://:8080", token=b"tok-1", which="fresh")
@example(url="http://hub:99999", token=b"tok-1", which="fresh")
@example(url="ftp://hub", token=b"tok-1", which="fresh")
def test_connect_hub_with_any_input_connects_or_says_why_in_one_line(tmp_path, installed, url, token, which):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    shutil.copytree(installed[which], root, dirs_exist_ok=True)
    config = root / "etc/sewnet/gateway.toml"
    token_file = tmp_path / "given.token"
    token_file.unlink(missing_ok=True)
    if token is not None:
        token_file.write_bytes(token)
    before, old_text = _digest(root), config.read_text()
    result = _connect(root, url, token_file)
    event("connected" if result.exit_code == 0 else "refused")
    if result.exit_code == 0:
        assert url.startswith(("http://", "https://")) and not any(c.isspace() for c in url)
        assert token is not None and _header_safe(token)
        cfg = load_config(config)
        cfg.check_secrets()
        assert cfg.hub.url == url.rstrip("/") and cfg.hub.secret() == token.decode().strip()
        assert stat.S_IMODE((root / "etc/sewnet/hub.token").stat().st_mode) == 0o600
        kept = [ln for ln in old_text.splitlines() if not ln.startswith(("url =", "workshop_token_file ="))]
        assert set(kept) <= set(config.read_text().splitlines())
    else:
        _one_line_error(result)
        assert _digest(root) == before


# --- board updates: the boards' passwords for the update server, the release key ----------------

def test_the_gateway_reads_only_the_boards_lines_and_never_the_brokers_files(tmp_path):
    """What install gives each file: the gateway's user owns its folder, reads the boards'
    password lines (root's file, its group, 640) and owns nothing of the broker's; Mosquitto's
    password file stays its own (owner and group, 600: Mosquitto 2.0 warns on anything else)."""
    from edge_gateway.provision import BROKER_USER, SERVICE_USER, owners

    layout = Layout(tmp_path)
    plan = owners(layout)
    assert plan[layout.boards_passwd] == ("root", SERVICE_USER)
    assert plan[layout.passwd] == plan[layout.acl] == (BROKER_USER, BROKER_USER)
    gateway_reads = {layout.config, layout.mqtt_password, layout.operator_password, layout.uplink_password,
                     layout.hub_token}
    assert all(plan[p] == (SERVICE_USER, SERVICE_USER) for p in gateway_reads)
    assert not [p for p, (user, group) in plan.items() if p.is_relative_to(layout.mosquitto)
                and SERVICE_USER in (user, group)]


def test_boards_passwd_holds_the_boards_lines_only():
    from edge_gateway.provision import boards_passwd_text

    text = ("gateway:$7$101$aaaa$bbbb\nsn-0a0b0c0d0e01:$7$101$cccc$dddd\n\nadmin:$7$101$x$y\n"
            "sn-0a0b0c0d0e02:$7$101$eeee$ffff\nsn-0a0b0c0d0e03:$7$101$gggg$hhhh\n")
    registry = {"sn-0a0b0c0d0e02": "m2", "sn-0a0b0c0d0e01": "m1", "sn-0a0b0c0d0e09": "m9"}
    assert boards_passwd_text(text, registry) == ("sn-0a0b0c0d0e01:$7$101$cccc$dddd\n"
                                                  "sn-0a0b0c0d0e02:$7$101$eeee$ffff\n")
    assert boards_passwd_text("", registry) == "" and boards_passwd_text(text, {}) == ""


def test_add_board_and_enable_updates_let_the_board_log_in_to_the_update_server(tmp_path):
    from edge_gateway.ota import board_password_ok, load_release_key

    root = _install(tmp_path)
    layout = Layout(root)
    assert layout.boards_passwd.read_text() == "" and stat.S_IMODE(layout.boards_passwd.stat().st_mode) == 0o640
    (tmp_path / "board.pw").write_text("board-pw-1\n")
    added = CliRunner().invoke(app, ["add-board", "--device=sn-0a0b0c0d0e01", "--machine=m01", f"--root={root}",
                                     f"--password-file={tmp_path / 'board.pw'}"])
    assert added.exit_code == 0, added.output
    broker_line = [ln for ln in layout.passwd.read_text().splitlines() if ln.startswith("sn-0a0b0c0d0e01:")]
    assert layout.boards_passwd.read_text().splitlines() == broker_line
    assert stat.S_IMODE(layout.passwd.stat().st_mode) == 0o600  # the broker's own, as it was
    assert stat.S_IMODE(layout.boards_passwd.stat().st_mode) == 0o640

    # Updates off until the hub's key is given; a key that is not one is refused, nothing written.
    config = root / "etc/sewnet/gateway.toml"
    assert load_config(config).ota is None
    digest = _digest(root)
    (tmp_path / "bad.pub").write_text("not a key\n")
    bad = CliRunner().invoke(app, ["enable-updates", f"--release-key-file={tmp_path / 'bad.pub'}", f"--root={root}"])
    assert bad.exit_code == 2 and "64 hex digits" in bad.output and _digest(root) == digest
    key = "ab" * 32
    (tmp_path / "release.pub").write_text(key + "\n")
    on = CliRunner().invoke(app, ["enable-updates", f"--release-key-file={tmp_path / 'release.pub'}", f"--root={root}"])
    assert on.exit_code == 0 and "restart the gateway" in on.output, on.output
    cfg = load_config(config)
    cfg.check_secrets()
    assert cfg.ota.release_key_file == layout.release_key and cfg.ota.board_passwd_file == layout.boards_passwd
    assert load_release_key(cfg.ota.release_key_file).public_bytes_raw().hex() == key
    assert board_password_ok(cfg.ota.board_passwd_file, "sn-0a0b0c0d0e01", "board-pw-1")
    assert not board_password_ok(cfg.ota.board_passwd_file, "sn-0a0b0c0d0e01", "board-pw-2")
    assert not board_password_ok(cfg.ota.board_passwd_file, "gateway", (root / "etc/sewnet/mqtt.password")
                                 .read_text().strip())  # the gateway's own broker login is not there
    digest = _digest(root)
    again = CliRunner().invoke(app, ["enable-updates", f"--release-key-file={tmp_path / 'release.pub'}",
                                     f"--root={root}"])
    assert again.exit_code == 0 and "nothing changed" in again.output and _digest(root) == digest

    # install again (an upgrade, a repair) keeps the copy in step with the broker's file.
    layout.boards_passwd.write_text("")
    reinstall = CliRunner().invoke(app, ["install", "--workshop=ws-a", "--uplink-url=http://influx:8086",
                                         f"--root={root}", "--no-start"])
    assert reinstall.exit_code == 0, reinstall.output
    assert layout.boards_passwd.read_text().splitlines() == broker_line
