"""Setting up a workshop gateway, registering boards, connecting it to the hub's work offers and
turning on board updates: `sewnet gateway install`, `add-board`, `connect-hub` and `enable-updates`
(docs/deploy-raspberry-pi.md).

All of them run as root on the gateway Pi and are safe to run again. Every file is written whole to a
temporary file beside its target and renamed over it, so a failure leaves the old file as it
was; a changed gateway.toml is checked by the gateway's own config loader before it replaces the
old one, and only the edited key changes (comments and the rest of the file stay).

`--root DIR` puts every path under DIR instead of `/` (the test walks the guide that way); then
no system user is created, nothing is chowned and systemd is left alone.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import typer

from sewnet.resources import shipped

from .config import ConfigError, load_config, parse_config
from .contract import DEVICE_ID, TAG_VALUE

SERVICE_USER = "sewnet"
BROKER_USER = "mosquitto"
GATEWAY_MQTT_USER = "gateway"
EXAMPLE_CONFIG = Path(__file__).with_name("gateway.example.toml")


class ProvisionError(Exception):
    """Something the person running the command can fix; the message says what."""


@dataclass(frozen=True)
class Layout:
    """Where a workshop gateway keeps its files (under `root`, normally `/`)."""

    root: Path = Path("/")

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def etc(self) -> Path:
        return self.at("/etc/sewnet")

    @property
    def config(self) -> Path:
        return self.etc / "gateway.toml"

    @property
    def data_dir(self) -> Path:
        return self.at("/var/lib/sewnet")

    @property
    def mqtt_password(self) -> Path:
        return self.etc / "mqtt.password"

    @property
    def uplink_password(self) -> Path:
        return self.etc / "uplink.password"

    @property
    def operator_password(self) -> Path:
        return self.etc / "operator.password"

    @property
    def hub_token(self) -> Path:
        return self.etc / "hub.token"

    @property
    def boards_passwd(self) -> Path:
        """The boards' lines of the broker's password file, for the gateway's update server."""
        return self.etc / "boards.passwd"

    @property
    def release_key(self) -> Path:
        return self.etc / "release.pub"

    @property
    def mosquitto(self) -> Path:
        return self.at("/etc/mosquitto")

    @property
    def mosquitto_main(self) -> Path:
        return self.mosquitto / "mosquitto.conf"

    @property
    def mosquitto_snippet(self) -> Path:
        return self.mosquitto / "conf.d" / "sewnet.conf"

    @property
    def acl(self) -> Path:
        return self.mosquitto / "sewnet.acl"

    @property
    def passwd(self) -> Path:
        return self.mosquitto / "passwd"

    @property
    def unit(self) -> Path:
        return self.at("/etc/systemd/system/sewnet-gateway.service")

    @property
    def is_system(self) -> bool:
        return self.root == Path("/")


# --- pure: rendering and editing text -------------------------------------------------------

def render_mosquitto_snippet(etc_mosquitto: Path, port: int, bind: str | None = None) -> str:
    """The shipped conf.d snippet with its paths under `etc_mosquitto` and the listener on `port`."""
    text = (shipped("deploy") / "mosquitto.conf").read_text()
    text = text.replace("/etc/mosquitto/", f"{etc_mosquitto}/")
    listener = f"listener {port}" + (f" {bind}" if bind else "")
    return re.sub(r"(?m)^listener 1883$", listener, text)


def render_unit(sewnet_bin: Path, config: Path, data_dir: Path) -> str:
    text = (shipped("deploy") / "sewnet-gateway.service").read_text()
    text = text.replace("/opt/sewnet/.venv/bin/sewnet", str(sewnet_bin))
    text = text.replace("/etc/sewnet/gateway.toml", str(config))
    return text.replace("ReadWritePaths=/var/lib/sewnet", f"ReadWritePaths={data_dir}")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_value(value) -> str:
    """A TOML literal for a str, bool, int or float."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # A JSON string is a TOML basic string once DEL is escaped too (TOML forbids it raw), and
    # with ensure_ascii=False, since TOML has no surrogate-pair escapes.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_value(key)


def _line_pair(line: str) -> tuple[str, str] | None:
    """(key, trailing comment) when `line` is one `key = value` of the table it is in."""
    line = line.removesuffix("\r")
    try:
        parsed = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return None
    if len(parsed) != 1 or isinstance(next(iter(parsed.values())), dict):
        return None
    key = next(iter(parsed))
    comment = ""
    for i, ch in enumerate(line):
        if ch == "#":
            try:
                if tomllib.loads(line[:i]) == parsed:
                    comment = line[i:]
                    break
            except tomllib.TOMLDecodeError:
                continue
    return key, comment


def _header(line: str) -> dict | None:
    """What a table header line opens (`[a]` -> {"a": {}}), or None for any other line."""
    if not line.lstrip().startswith("["):
        return None
    try:
        return tomllib.loads(line.removesuffix("\r"))
    except tomllib.TOMLDecodeError:
        return None


def toml_set(text: str, table: str | None, key: str, value=None) -> str:
    """`text` with `key` of `[table]` (None: the top level) set to `value`, or removed when value
    is None, every other line as it was. Raises ProvisionError when the result would not be
    exactly that change (the key is written in a form this editor does not handle)."""
    where = f"[{table}] {key}" if table else key
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProvisionError(f"not valid TOML: {exc}") from None
    if table is not None and not isinstance(before.get(table, {}), dict):
        raise ProvisionError(f"cannot change {where}: {table} is not a table here; change it by hand")
    if value is None and key not in (before if table is None else before.get(table, {})):
        return text
    # Only "\n" ends a TOML line (str.splitlines would also split at U+0085, U+2028, ...).
    lines = text.removesuffix("\n").split("\n")
    # The table's span: from its header (or the top) to the next header.
    start, end, header_at = 0, len(lines), None
    if table is None:
        end = next((i for i, ln in enumerate(lines) if _header(ln)), len(lines))
    else:
        wanted = _header(f"[{toml_key(table)}]")
        for i, ln in enumerate(lines):
            opens = _header(ln)
            if header_at is None and opens == wanted:
                header_at, start = i, i + 1
            elif header_at is not None and opens:
                end = i
                break
    new_line = None if value is None else f"{toml_key(key)} = {toml_value(value)}"
    found = None
    if table is None or header_at is not None:
        for i in range(start, end):
            pair = _line_pair(lines[i])
            if pair and pair[0] == key:
                found = i
                if new_line is not None and pair[1]:
                    new_line = f"{new_line}  {pair[1]}"
                break
    if found is not None:
        lines[found:found + 1] = [] if new_line is None else [new_line]
    elif new_line is not None:
        if table is not None and header_at is None:
            lines += ["", f"[{toml_key(table)}]", new_line]
        else:
            last = max((i for i in range(start, end) if _line_pair(lines[i])), default=start - 1)
            lines.insert(last + 1, new_line)
    result = "\n".join(lines) + "\n"

    expected = copy.deepcopy(before)
    section = expected if table is None else expected.setdefault(table, {})
    if value is None:
        section.pop(key, None)
    else:
        section[key] = value
    try:
        after = tomllib.loads(result)
    except tomllib.TOMLDecodeError:
        after = None
    if after != expected:
        raise ProvisionError(f"cannot change {where} in this file safely (is it written as a dotted key or an"
                             " inline table?): change it by hand")
    return result


def mosquitto_main_problem(main_conf: Path, snippet_dir: Path) -> str | None:
    """Why the broker's main config would not load our conf.d snippet, or None."""
    try:
        text = main_conf.read_text()
    except OSError as exc:
        return f"{main_conf}: cannot read ({exc.strerror}); is the mosquitto package installed?"
    words = [ln.split(None, 1) for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    settings = [(w[0], w[1].strip() if len(w) > 1 else "") for w in words]
    if not any(k == "include_dir" and Path(v) == snippet_dir for k, v in settings):
        return (f"{main_conf} does not include {snippet_dir}: add the line `include_dir {snippet_dir}`"
                " (Debian's own file has it)")
    if ("persistence", "true") not in settings:
        return (f"{main_conf} does not turn persistence on: add `persistence true` and a persistence_location"
                " (Debian's own file has both), or the gateway's queue is lost when the broker restarts")
    return None


# --- files ----------------------------------------------------------------------------------

def owners(layout: Layout) -> dict[Path, tuple[str, str]]:
    """Who owns each file and folder these commands write on the Pi: (user, group). Modes are set
    under --root too; owners only on a system install.

    The gateway's user reads its own folder and, of the broker's files, only the boards' password
    lines: boards log in to the update server with their MQTT user and password, so the hashes
    are copied into boards.passwd (root's, group sewnet, mode 640: the gateway reads it and
    cannot change it). Mosquitto's own password file stays 600 and its own: Mosquitto 2.0 warns
    when that file's owner or group is not its user's, and says future versions will refuse it,
    and putting the gateway in group mosquitto would open the broker's other files to it."""
    s, b = SERVICE_USER, BROKER_USER
    return {
        layout.etc: (s, s), layout.data_dir: (s, s),
        layout.mqtt_password: (s, s), layout.operator_password: (s, s), layout.uplink_password: (s, s),
        layout.hub_token: (s, s), layout.config: (s, s),
        layout.boards_passwd: ("root", s), layout.release_key: ("root", "root"),
        layout.passwd: (b, b), layout.acl: (b, b),
        layout.mosquitto_snippet: ("root", "root"), layout.unit: ("root", "root"),
    }


def _ids(layout: Layout, path: Path) -> tuple[int, int] | None:
    """The numeric owner of `path` on a system install; None under --root (nothing is chowned)."""
    if not layout.is_system:
        return None
    import grp
    import pwd

    user, group = owners(layout)[path]
    try:
        return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        raise ProvisionError(f"there is no user or group {user}:{group}: run `sewnet gateway install` first") from None


def boards_passwd_text(broker_passwd: str, boards) -> str:
    """The lines of the broker's password file that belong to `boards` (the gateway's registered
    boards: not the gateway's own login, nor anyone else's), in the file's order."""
    boards = set(boards)
    return "".join(ln + "\n" for ln in broker_passwd.splitlines() if ln.partition(":")[0] in boards)


def sync_boards_passwd(layout: Layout, boards) -> bool:
    """boards.passwd from the broker's password file for the registered `boards`, mode 640;
    whether it changed."""
    try:
        text = layout.passwd.read_text()
    except FileNotFoundError:
        text = ""
    return write_atomic(layout.boards_passwd, boards_passwd_text(text, boards), mode=0o640,
                        owner=_ids(layout, layout.boards_passwd), exact=True)


def _owner(user: str) -> tuple[int, int] | None:
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def write_atomic(path: Path, text: str, mode: int = 0o600, owner: tuple[int, int] | None = None,
                 exact: bool = False) -> bool:
    """Write `text` to `path` through a temporary file and a rename; keep an existing file's owner
    and mode unless told, or (`exact`) give it `mode` and `owner` even when it exists. Returns
    whether the content (or, with `exact`, the mode or owner) changed."""
    try:
        old = path.read_text()
        st = path.stat()
        if not exact:
            mode = st.st_mode & 0o7777
            owner = owner or (st.st_uid, st.st_gid)
    except FileNotFoundError:
        old = None
    if old == text:
        if not exact:
            return False
        changed = False
        if st.st_mode & 0o7777 != mode:
            os.chmod(path, mode)
            changed = True
        if owner and os.geteuid() == 0 and (st.st_uid, st.st_gid) != owner:
            os.chown(path, *owner)
            changed = True
        return changed
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), mode)
            if owner and os.geteuid() == 0:
                os.fchown(f.fileno(), *owner)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _read_secret(path: Path) -> str | None:
    try:
        value = path.read_bytes().decode("utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProvisionError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ProvisionError(f"{path}: not UTF-8 text") from None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        # mosquitto_passwd reads lines of C strings: a control character would cut the password.
        raise ProvisionError(f"{path}: a password is one line of printable characters")
    return value or None


def broker_passwd_has(passwd: Path, user: str, password: str) -> bool:
    """Whether the broker's password file already gives `user` this password (Mosquitto 2.0's
    `$7$` lines: PBKDF2-SHA512), so running install again changes nothing."""
    import base64
    import hashlib
    import hmac

    try:
        lines = passwd.read_text().splitlines()
    except FileNotFoundError:
        return False
    for line in lines:
        name, _, stored = line.partition(":")
        parts = stored.split("$")
        if name != user or len(parts) != 5 or parts[1] != "7":
            continue
        try:
            salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
            got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(want))
        except ValueError:
            return False
        return hmac.compare_digest(got, want)
    return False


def broker_passwd_with(passwd: Path, user: str, password: str) -> str:
    """The broker's password file with `user` set to `password`, hashed by mosquitto_passwd.
    The password never appears on a command line: mosquitto_passwd -U hashes a private
    temporary file in place."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise ProvisionError("mosquitto_passwd not found: install the mosquitto package (apt-get install mosquitto)")
    if ":" in user or "\n" in password or not password:
        raise ProvisionError(f"{user}: a broker user name has no ':' and a password is one non-empty line")
    with tempfile.TemporaryDirectory(prefix=".sewnet-", dir=passwd.parent) as tmp:
        plain = Path(tmp) / "one"
        plain.touch(mode=0o600)
        plain.write_text(f"{user}:{password}\n")
        done = subprocess.run([tool, "-U", str(plain)], capture_output=True, text=True)
        hashed = plain.read_text().strip()
        if done.returncode != 0 or not hashed.startswith(f"{user}:$"):
            raise ProvisionError(f"mosquitto_passwd could not hash the password for {user}")
    try:
        lines = passwd.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [ln for ln in lines if ln.strip() and not ln.startswith(f"{user}:")]
    return "\n".join(kept + [hashed]) + "\n"


def _systemd() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _run(cmd: list[str]) -> bool:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        typer.echo(f"  `{' '.join(cmd)}` failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}",
                   err=True)
    return done.returncode == 0


def reload_broker(layout: Layout) -> str:
    """Make the running broker read its password and ACL files again."""
    if layout.is_system and _systemd():
        return "broker reloaded" if _run(["systemctl", "reload", "mosquitto"]) else \
            "reload the broker: sudo systemctl reload mosquitto"
    # Without systemd (sysvinit, or a broker started by hand with -d) the main config's pid_file
    # names the broker; SIGHUP is what `systemctl reload mosquitto` sends too.
    pid_file = None
    try:
        for ln in layout.mosquitto_main.read_text().splitlines():
            parts = ln.split(None, 1)
            if len(parts) == 2 and parts[0] == "pid_file":
                pid_file = Path(parts[1].strip())
    except OSError:
        pass
    try:
        pid = int(pid_file.read_text().strip()) if pid_file else 0
        if pid > 0:
            os.kill(pid, signal.SIGHUP)
            return f"broker reloaded (SIGHUP to {pid})"
    except (OSError, ValueError):
        pass
    return "the broker is not running here: it reads the new password when it starts"


# --- the commands ---------------------------------------------------------------------------

@dataclass
class InstallOptions:
    workshop: str
    uplink_url: str
    uplink_username: str | None
    uplink_password_file: Path | None
    broker_port: int = 1883
    web_port: int = 8080
    root: Path = Path("/")
    start: bool = True
    hub_url: str | None = None
    hub_token_file: Path | None = None


def _new_config_text(opts: InstallOptions, layout: Layout) -> str:
    text = EXAMPLE_CONFIG.read_text()
    for table, key, value in [
        (None, "workshop", opts.workshop),
        (None, "data_dir", str(layout.data_dir)),
        ("mqtt", "port", opts.broker_port),
        ("mqtt", "username", GATEWAY_MQTT_USER),
        ("mqtt", "password_file", str(layout.mqtt_password)),
        ("uplink", "url", opts.uplink_url),
        ("uplink", "username", opts.uplink_username),
        ("uplink", "password_file", str(layout.uplink_password)),
        ("web", "port", opts.web_port),
        ("web", "operator_password_file", str(layout.operator_password)),
    ]:
        text = toml_set(text, table, key, value)
    for device in tomllib.loads(text).get("registry", {}):  # the example's sample boards
        text = toml_set(text, "registry", device, None)
    if opts.hub_url:
        text = toml_set(text, "hub", "url", opts.hub_url)
        text = toml_set(text, "hub", "workshop_token_file", str(layout.hub_token))
    else:
        text = _without_table(text, "hub")  # no hub given: offers stay off, and the page says so
    return text


def _without_table(text: str, table: str) -> str:
    """`text` without `[table]`: its header, its lines and the comment lines just above it."""
    lines = text.removesuffix("\n").split("\n")
    wanted = _header(f"[{toml_key(table)}]")
    start = next((i for i, ln in enumerate(lines) if _header(ln) == wanted), None)
    if start is None:
        return text
    end = next((i for i in range(start + 1, len(lines)) if _header(lines[i])), len(lines))
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    out = "\n".join(lines[:start] + lines[end:]) + "\n"
    if table in tomllib.loads(out):
        raise ProvisionError(f"cannot leave out [{table}]: change it by hand")
    return out


def install(opts: InstallOptions) -> list[str]:
    """Set up (or check again) a workshop gateway. Returns what it did, one line each."""
    layout = Layout(opts.root)
    done: list[str] = []
    if not TAG_VALUE.fullmatch(opts.workshop):
        raise ProvisionError(f"--workshop {opts.workshop!r}: use letters, digits, '-', '_' or '.'")
    if os.geteuid() != 0 and layout.is_system:
        raise ProvisionError("run it as root (sudo): it writes under /etc and /var/lib")
    problem = mosquitto_main_problem(layout.mosquitto_main, layout.mosquitto_snippet.parent)
    if problem:
        raise ProvisionError(problem)

    uplink = _read_secret(opts.uplink_password_file) if opts.uplink_password_file else None
    uplink = uplink or os.environ.get("SEWNET_UPLINK_PASSWORD") or _read_secret(layout.uplink_password)
    if opts.uplink_password_file and not uplink:
        raise ProvisionError(f"--uplink-password-file {opts.uplink_password_file}: missing or empty")
    if not uplink:
        raise ProvisionError("the InfluxDB password for this workshop is missing: give --uplink-password-file FILE"
                             " (from whoever runs the central InfluxDB) or SEWNET_UPLINK_PASSWORD")
    hub_token = None
    if opts.hub_url:
        if not opts.hub_url.startswith(("http://", "https://")):
            raise ProvisionError(f"--hub-url {opts.hub_url!r}: give the hub's address, e.g. https://hub.example.org")
        hub_token = _read_secret(opts.hub_token_file) if opts.hub_token_file else _read_secret(layout.hub_token)
        if not hub_token:
            raise ProvisionError("the hub's token for this workshop is missing: give --hub-token-file FILE (from "
                                 "`sewnet hub workshop-token issue WORKSHOP` on the hub)")
    elif opts.hub_token_file:
        raise ProvisionError("--hub-token-file needs --hub-url: which hub is the token for?")

    # Check the new config before anything is written.
    config_text = None
    if not layout.config.exists():
        config_text = _new_config_text(opts, layout)
        try:
            parse_config(tomllib.loads(config_text), str(layout.config))
        except ConfigError as exc:
            raise ProvisionError(str(exc)) from None

    if layout.is_system:
        if _owner(SERVICE_USER) is None:
            subprocess.run(["useradd", "--system", "--home", str(layout.data_dir), "--shell", "/usr/sbin/nologin",
                            SERVICE_USER], check=True)
            done.append(f"user {SERVICE_USER} created")
    else:
        done.append(f"user {SERVICE_USER}: not created under --root")

    for folder in (layout.etc, layout.data_dir):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if layout.is_system:
            os.chown(folder, *_ids(layout, folder))

    secrets_out = {layout.mqtt_password: _read_secret(layout.mqtt_password) or secrets.token_urlsafe(24),
                   layout.operator_password: _read_secret(layout.operator_password) or secrets.token_urlsafe(12),
                   layout.uplink_password: uplink}
    if hub_token:
        secrets_out[layout.hub_token] = hub_token
    for path, value in secrets_out.items():
        if write_atomic(path, value + "\n", owner=_ids(layout, path)):
            done.append(f"secret {path} written")

    if config_text is not None:
        write_atomic(layout.config, config_text, owner=_ids(layout, layout.config))
        done.append(f"gateway config {layout.config} written")
    else:
        done.append(f"gateway config {layout.config} kept as it is")
    try:  # the file as the service will read it, secrets included
        load_config(layout.config).check_secrets()
    except ConfigError as exc:
        raise ProvisionError(str(exc)) from None

    port = load_config(layout.config).mqtt.port
    snippet = render_mosquitto_snippet(layout.mosquitto, port)
    acl = (shipped("deploy") / "sewnet.acl").read_text()
    passwd = layout.passwd.read_text() if broker_passwd_has(layout.passwd, GATEWAY_MQTT_USER, secrets_out[
        layout.mqtt_password]) else broker_passwd_with(layout.passwd, GATEWAY_MQTT_USER, secrets_out[layout.mqtt_password])
    for path, text, mode in ((layout.mosquitto_snippet, snippet, 0o644), (layout.acl, acl, 0o600),
                             (layout.passwd, passwd, 0o600)):
        if write_atomic(path, text, mode=mode, owner=_ids(layout, path) if path != layout.mosquitto_snippet else None):
            done.append(f"broker file {path} written")
    # The boards' password lines for the gateway's update server (owners(): why a copy).
    if sync_boards_passwd(layout, load_config(layout.config).registry):
        done.append(f"boards' passwords for the update server {layout.boards_passwd} written")

    sewnet_bin = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "sewnet" else \
        Path(sys.executable).with_name("sewnet")
    if write_atomic(layout.unit, render_unit(sewnet_bin, layout.config, layout.data_dir), mode=0o644):
        done.append(f"systemd unit {layout.unit} written")

    if layout.is_system and opts.start and _systemd():
        for cmd in (["systemctl", "daemon-reload"], ["systemctl", "restart", "mosquitto"],
                    ["systemctl", "enable", "--now", "sewnet-gateway"], ["systemctl", "restart", "sewnet-gateway"]):
            if not _run(cmd):
                raise ProvisionError(f"`{' '.join(cmd)}` failed: see journalctl -u {cmd[-1]}")
        done.append("mosquitto restarted, sewnet-gateway enabled and (re)started")
    else:
        done.append("start them: sudo systemctl daemon-reload && sudo systemctl restart mosquitto"
                    " && sudo systemctl enable --now sewnet-gateway")
    done.append(f"operator page password: sudo cat {layout.operator_password}")
    return done


def _read_config(config_path: Path) -> tuple[str, dict]:
    """gateway.toml's text (to edit line by line) and what it says, or why it cannot be read."""
    try:
        text = config_path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise ProvisionError(f"{config_path} does not exist: run `sewnet gateway install` first") from None
    except OSError as exc:
        raise ProvisionError(f"{config_path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"{config_path}: not valid TOML: {exc}") from None


def _table(current: dict, name: str, config_path: Path) -> dict:
    table = current.get(name, {})
    if not isinstance(table, dict):
        raise ProvisionError(f"{config_path}: {name} is not a table there; change it by hand")
    return table


def _with_values(text: str, name: str, table: dict, values: dict) -> str:
    """`text` with [name]'s `values` (None: the key goes). Only what differs is edited, so running
    it again leaves the file byte for byte."""
    for key, value in values.items():
        if table.get(key) != value:
            text = toml_set(text, name, key, value)
    return text


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _put_back(path: Path, old: bytes | None) -> None:
    """A secret file as it was before: gone if there was none, else its old bytes in place (the
    file keeps the owner and mode it has now)."""
    if old is None:
        path.unlink(missing_ok=True)
        return
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as f:
        f.write(old)


def _write_config(config_path: Path, new_text: str, text: str, undo: Callable[[], None]) -> bool:
    """gateway.toml replaced by `new_text` once the secret it names is in place, then read back
    as the service will read it; if it cannot be written or read, `text` goes back and `undo()`
    puts the secret back: nothing is left half done. Returns whether the file changed."""
    try:
        changed = write_atomic(config_path, new_text)
        try:
            load_config(config_path).check_secrets()
        except ConfigError as exc:
            write_atomic(config_path, text)
            raise ProvisionError(str(exc)) from None
    except BaseException:
        undo()
        raise
    return changed


def _restart_gateway(layout: Layout, restart: bool, then: str | None, to: str) -> str:
    """Restart the gateway so it reads its new config (systemd on a real install), or say how to."""
    if restart and layout.is_system and _systemd():
        if _run(["systemctl", "try-restart", "sewnet-gateway"]):
            return "gateway restarted" + (f": {then}" if then else "")
        return "restart the gateway: sudo systemctl restart sewnet-gateway"
    return f"restart the gateway to {to}: sudo systemctl restart sewnet-gateway"


def add_board(config_path: Path, device: str, machine: str, password: str | None, root: Path,
              restart: bool = True) -> tuple[list[str], str]:
    """Give a board its broker password and its machine in the gateway's registry.
    Returns what it did and the board's password."""
    layout = Layout(root)
    if not DEVICE_ID.fullmatch(device):
        raise ProvisionError(f"--device {device!r} is not a device id (sn- and 12 hex digits, from `sewnet device id`)")
    if not TAG_VALUE.fullmatch(machine):
        raise ProvisionError(f"--machine {machine!r}: use letters, digits, '-', '_' or '.'")
    try:
        text = config_path.read_text(encoding="utf-8")
        cfg = parse_config(tomllib.loads(text), str(config_path))
    except OSError as exc:
        raise ProvisionError(f"{config_path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"{config_path}: not valid TOML: {exc}") from None
    except ConfigError as exc:
        raise ProvisionError(str(exc)) from None
    if device == cfg.mqtt.username:
        raise ProvisionError(f"--device {device!r} is the gateway's own broker user")
    if password is not None and (not password or any(ord(ch) < 32 or ord(ch) == 127 for ch in password)):
        raise ProvisionError("the board's password must be one line of printable characters")
    password = password or secrets.token_urlsafe(12)

    new_text = toml_set(text, "registry", device, machine)
    try:
        parse_config(tomllib.loads(new_text), str(config_path))
    except ConfigError as exc:
        raise ProvisionError(str(exc)) from None
    if not layout.passwd.parent.is_dir():
        raise ProvisionError(f"{layout.passwd.parent} does not exist: run `sewnet gateway install` first")
    passwd = broker_passwd_with(layout.passwd, device, password)

    # Both files are ready; now replace them, the broker's first (a board that can log in but
    # is not registered yet is rejected as unknown_device and kept for inspection).
    done = []
    try:
        old_passwd = layout.passwd.read_text()
    except FileNotFoundError:
        old_passwd = None
    write_atomic(layout.passwd, passwd, owner=_ids(layout, layout.passwd))
    done.append(f"broker password for {device} set in {layout.passwd}")
    before = cfg.registry.get(device)
    try:
        # The same hash for the gateway's update server, where the board logs in for its updates.
        sync_boards_passwd(layout, {**cfg.registry, device: machine})
        write_atomic(config_path, new_text)
    except BaseException:
        # Leave nothing half done: the broker's file goes back as it was, and the copy with it.
        if old_passwd is None:
            layout.passwd.unlink(missing_ok=True)
        else:
            write_atomic(layout.passwd, old_passwd)
        sync_boards_passwd(layout, cfg.registry)
        raise
    done.append(f"{device} = {machine!r} in [registry] of {config_path}"
                + (f" (was {before!r})" if before and before != machine else ""))
    done.append(reload_broker(layout))
    # The registry is read at start; a restart loses nothing (the broker queues meanwhile).
    done.append(_restart_gateway(layout, restart, None, "use the new registry"))
    return done, password


def hub_url_problem(url: str) -> str | None:
    """Why `url` cannot be the hub's address for the gateway, in plain words, or None."""
    from urllib.parse import urlsplit

    import httpx

    example = "give the hub's address, e.g. https://hub.example.org"
    if not url.startswith(("http://", "https://")):
        return f"--url {url!r}: {example}"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return f"--url {url!r}: an address has no spaces or control characters; {example}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number from 0 to 65535)
        httpx.URL(f"{url.rstrip('/')}/api/v1/workshops/w/offers")  # as the gateway will build it
    except (ValueError, httpx.InvalidURL):
        return f"--url {url!r}: not an address; {example}"
    if not parts.hostname:
        return f"--url {url!r}: no host name; {example}"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return f"--url {url!r}: the hub's address only, without '?' or '#'; {example}"
    return None


def connect_hub(config_path: Path, url: str, token: str | None, root: Path, restart: bool = True) -> list[str]:
    """Give an installed gateway the hub's address and its workshop token: the token into
    /etc/sewnet/hub.token (0600, the service's), `[hub] url` and `workshop_token_file` into
    gateway.toml (every other line kept). Everything is checked before anything is written; the
    same values again change nothing. Returns what it did, one line each."""
    layout = Layout(root)
    problem = hub_url_problem(url)
    if problem:
        raise ProvisionError(problem)
    url = url.rstrip("/")  # what the gateway's config makes of it anyway
    if not token:
        raise ProvisionError("the hub's token for this workshop is missing: give --token-file FILE (from "
                             "`sewnet hub workshop-token issue WORKSHOP --file FILE` on the hub)")
    if os.geteuid() != 0 and layout.is_system:
        raise ProvisionError("run it as root (sudo): it writes under /etc/sewnet")
    text, current = _read_config(config_path)
    hub = _table(current, "hub", config_path)
    new_text = _with_values(text, "hub", hub, {"url": url, "workshop_token_file": str(layout.hub_token),
                                               "workshop_token": None})
    try:
        cfg = parse_config(tomllib.loads(new_text), str(config_path))
        # The service's own check of every secret, with the new token as it will read it.
        cfg.model_copy(update={"hub": cfg.hub.model_copy(update={"workshop_token": token,
                                                                 "workshop_token_file": None})}).check_secrets()
    except ConfigError as exc:
        raise ProvisionError(str(exc)) from None
    service = None
    if layout.is_system:
        service = _owner(SERVICE_USER)
        if service is None:
            raise ProvisionError(f"there is no user {SERVICE_USER}: run `sewnet gateway install` first")

    # Both files are ready: the token first (the running gateway still reads the old config),
    # then the config; if the config cannot be written the token goes back as it was.
    done = []
    old_token = _read_bytes(layout.hub_token)
    token_changed = write_atomic(layout.hub_token, token + "\n", mode=0o600, owner=service, exact=True)
    if token_changed:
        same = old_token is not None and old_token.decode("utf-8", "replace").strip() == token
        done.append(f"token {layout.hub_token}: mode 600, owner {SERVICE_USER}" if same else
                    f"token {layout.hub_token} " + ("written" if old_token is None else "replaced"))
    config_changed = _write_config(config_path, new_text, text, undo=lambda: _put_back(layout.hub_token, old_token))
    if config_changed:
        before = f" (was {hub.get('url')})" if hub.get("url") not in (None, url) else ""
        done.append(f"[hub] url = {url!r}{before}, workshop_token_file in {config_path}")
    if not (token_changed or config_changed):
        return [f"already connected to {url}: nothing changed"]
    # The hub link is set up at start; a restart loses nothing (the broker queues meanwhile).
    done.append(_restart_gateway(layout, restart, "its page shows the offers within a minute", "fetch the offers"))
    return done


def enable_updates(config_path: Path, key_text: str, root: Path, restart: bool = True) -> list[str]:
    """Turn on board updates (issue 10 §2): the hub's release public key into
    /etc/sewnet/release.pub, `[ota] release_key_file` and `board_passwd_file` into gateway.toml
    (every other line kept), the boards' password lines into boards.passwd. Everything is checked
    before anything is written; the same key again changes nothing. Returns what it did."""
    layout = Layout(root)
    key = key_text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise ProvisionError("the release key is 64 hex digits: the output of `sewnet hub release public-key` on "
                             "the hub, in a file")
    if os.geteuid() != 0 and layout.is_system:
        raise ProvisionError("run it as root (sudo): it writes under /etc/sewnet")
    text, current = _read_config(config_path)
    ota = _table(current, "ota", config_path)
    new_text = _with_values(text, "ota", ota, {"release_key_file": str(layout.release_key),
                                               "board_passwd_file": str(layout.boards_passwd)})
    try:
        parse_config(tomllib.loads(new_text), str(config_path))
    except ConfigError as exc:
        raise ProvisionError(str(exc)) from None

    # The key first, then the config (as connect_hub: the key goes back if the config cannot be written).
    done = []
    old_key = _read_secret(layout.release_key)
    if old_key and old_key.lower() != key:
        done.append(f"the release key in {layout.release_key} was {old_key[:12]}…: boards flashed with the old key "
                    "refuse releases signed by the new one until they are flashed again")
    old_bytes = _read_bytes(layout.release_key)
    key_changed = write_atomic(layout.release_key, key + "\n", mode=0o644, owner=_ids(layout, layout.release_key),
                               exact=True)
    if key_changed:
        done.append(f"release key {layout.release_key} written")
    if sync_boards_passwd(layout, current.get("registry") or {}):
        done.append(f"boards' passwords for the update server {layout.boards_passwd} written")
    config_changed = _write_config(config_path, new_text, text, undo=lambda: _put_back(layout.release_key, old_bytes))
    if config_changed:
        done.append(f"[ota] release_key_file, board_passwd_file in {config_path}")
    if not (key_changed or config_changed):
        return done + ["board updates already on: nothing changed"]
    done.append(_restart_gateway(layout, restart, "/updates lists the hub's releases once it has checked",
                                 "serve updates"))
    return done


# --- command line (registered on `sewnet gateway`) ---------------------------------------------

def _fail(exc: Exception) -> None:
    if isinstance(exc, OSError) and exc.strerror:
        exc = f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _secret_option(path: Path, option: str, where_from: str = "") -> str:
    value = _read_secret(path)
    if value is None:
        raise ProvisionError(f"{option} {path}: missing or empty{where_from}")
    return value


def _echo_done(step: Callable[[], list[str]]) -> None:
    """Run a step and print what it did, a line each, or its one-line error (exit 2)."""
    try:
        done = step()
    except (ProvisionError, OSError) as exc:
        _fail(exc)
    for line in done:
        typer.echo(line)


def install_command(
    workshop: str = typer.Option(..., help="Workshop id (InfluxDB tag), e.g. ws-changsin-01."),
    uplink_url: str = typer.Option(..., help="The central InfluxDB, e.g. https://influx.example.org:8086."),
    uplink_username: str = typer.Option(None, help="This workshop's InfluxDB user (default: the workshop id)."),
    uplink_password_file: Path = typer.Option(None, help="File holding that user's password (or SEWNET_UPLINK_PASSWORD)."),
    broker_port: int = typer.Option(1883, min=1, max=65535, help="Port the boards connect to."),
    web_port: int = typer.Option(8080, min=1, max=65535, help="Port of the operator page."),
    root: Path = typer.Option(Path("/"), help="Install under this folder instead of / (for trying it out)."),
    start: bool = typer.Option(True, help="Start mosquitto and the gateway with systemd afterwards."),
    hub_url: str = typer.Option(None, help="The hub whose work offers this workshop sees, e.g. https://hub.example.org "
                                           "(leave out: no offers on the page)."),
    hub_token_file: Path = typer.Option(None, help="File holding this workshop's hub token (`sewnet hub "
                                                   "workshop-token issue WORKSHOP --file FILE` on the hub)."),
) -> None:
    """Set up this Pi as a workshop gateway: user, folders, secrets, broker, config, service.
    Safe to run again: existing secrets and gateway.toml are kept."""
    opts = InstallOptions(workshop, uplink_url, uplink_username or workshop, uplink_password_file,
                          broker_port, web_port, root.resolve(), start, hub_url, hub_token_file)
    try:
        for line in install(opts):
            typer.echo(line)
    except (ProvisionError, OSError, subprocess.CalledProcessError) as exc:
        _fail(exc)


def add_board_command(
    config: Path = typer.Option(None, "--config", "-c", help="The gateway's TOML file [default: /etc/sewnet/gateway.toml]."),
    device: str = typer.Option(..., help="Device id, from `sewnet device id --mac ...`."),
    machine: str = typer.Option(..., help="Machine id painted on the sewing machine, e.g. m03."),
    password_file: Path = typer.Option(None, help="The board's broker password (default: a new random one)."),
    root: Path = typer.Option(Path("/"), help="Where the broker's files are (as given to install)."),
    restart: bool = typer.Option(True, help="Restart the gateway with systemd so it knows the board."),
) -> None:
    """Register one board: its broker password, its machine in the gateway's registry, reload."""
    try:
        password = None if password_file is None else _secret_option(password_file, "--password-file")
        root = root.resolve()
        done, password = add_board(config or Layout(root).config, device, machine, password, root, restart)
    except (ProvisionError, OSError) as exc:
        _fail(exc)
    for line in done:
        typer.echo(line)
    typer.echo(f"\nboard password for {device} (give it to the technician for `sewnet device flash`):\n{password}")


def connect_hub_command(
    url: str = typer.Option(..., help="The hub whose work offers this workshop sees, e.g. https://hub.example.org."),
    token_file: Path = typer.Option(..., help="File holding this workshop's hub token (`sewnet hub workshop-token "
                                              "issue WORKSHOP --file FILE` on the hub)."),
    config: Path = typer.Option(None, "--config", "-c", help="The gateway's TOML file [default: /etc/sewnet/gateway.toml]."),
    root: Path = typer.Option(Path("/"), help="Where the gateway's files are (as given to install)."),
    restart: bool = typer.Option(True, help="Restart the gateway with systemd so it fetches the offers."),
) -> None:
    """Connect an installed gateway to the hub's work offers (or give it a new token). Safe to run again."""
    root = root.resolve()
    _echo_done(lambda: connect_hub(config or Layout(root).config, url, _secret_option(
        token_file, "--token-file", " (from `sewnet hub workshop-token issue WORKSHOP --file FILE` on the hub)"),
        root, restart))


def enable_updates_command(
    release_key_file: Path = typer.Option(..., help="File holding the hub's release public key (`sewnet hub release "
                                                    "public-key` on the hub)."),
    config: Path = typer.Option(None, "--config", "-c", help="The gateway's TOML file [default: /etc/sewnet/gateway.toml]."),
    root: Path = typer.Option(Path("/"), help="Where the gateway's files are (as given to install)."),
    restart: bool = typer.Option(True, help="Restart the gateway with systemd so it serves updates."),
) -> None:
    """Turn on firmware updates and settings for the boards (the hub's release key). Safe to run again."""
    root = root.resolve()
    _echo_done(lambda: enable_updates(config or Layout(root).config,
                                      _secret_option(release_key_file, "--release-key-file"), root, restart))
