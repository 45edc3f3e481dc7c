"""`sewnet device ...`: what a technician needs to put a board on a sewing machine, and the
virtual board for everyone without one.

    sewnet device id --mac 3C:71:BF:0A:12:F4          -> sn-3c71bf0a12f4
    sewnet device bundle --device sn-... --out DIR   firmware files + validated sewnet.json
    sewnet device flash --port /dev/ttyUSB0 ...      the same bundle copied with mpremote
    sewnet device virtual --flash DIR ...            a virtual ESP32 running the same files
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from sewnet.resources import shipped

FIRMWARE_DIR = shipped("firmware")

app = typer.Typer(no_args_is_help=True, help="Boards: ids, flash bundles, flashing, virtual boards.")


@app.callback()
def main() -> None:
    """Boards: ids, flash bundles, flashing, virtual boards."""


def device_id_from_mac(mac: str) -> str:
    digits = re.sub(r"[^0-9a-fA-F]", "", mac)
    if len(digits) != 12:
        raise typer.BadParameter(f"{mac!r} is not a MAC address (12 hex digits)")
    return "sn-" + digits.lower()


def _firmware_config_checker():
    """The firmware's own sn_config.check, so a bundle is refused here for exactly the reasons
    the board would refuse it at boot."""
    sys.path.insert(0, str(FIRMWARE_DIR))
    try:
        spec = importlib.util.spec_from_file_location("sn_config", FIRMWARE_DIR / "sn_config.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(FIRMWARE_DIR))
    return module


def _secret(value: Optional[str], file: Optional[Path], env: str, what: str) -> Optional[str]:
    if value:
        return value
    if file:
        return file.read_text().strip()
    return os.environ.get(env)


def build_bundle(out: Path, config: dict, release_key: Optional[Path] = None) -> Path:
    """Write the firmware files and sewnet.json into `out` (the board's flash root), and the hub's
    release public key as release.pub (without it the board refuses every firmware update)."""
    sn_config = _firmware_config_checker()
    try:
        sn_config.check(config)
    except sn_config.ConfigError as e:
        raise typer.BadParameter(str(e)) from None
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(FIRMWARE_DIR.glob("*.py")):
        shutil.copy2(f, out / f.name)
    target = out / "sewnet.json"
    target.write_text(json.dumps(config, indent=1) + "\n")
    target.chmod(0o600)  # it holds the board's Wi-Fi and MQTT passwords
    if release_key is not None:
        text = release_key.read_text(encoding="ascii", errors="replace").strip()
        if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise typer.BadParameter(f"{release_key}: a release key's .pub file holds 64 hex digits "
                                     "(sewnet hub release public-key)")
        (out / "release.pub").write_text(text.lower() + "\n")
    return out


def _config_from_options(device, password, password_file, wifi_ssid, wifi_password, wifi_password_file,
                         broker_host, broker_port, variant, interval_ms, machine) -> dict:
    password = _secret(password, password_file, "SEWNET_DEVICE_PASSWORD", "password")
    if not password:
        password = secrets.token_urlsafe(12)
        typer.echo(f"generated MQTT password for {device}: {password}\n"
                   f"  register it on the gateway Pi: put it in a file, then sudo sewnet gateway add-board"
                   f" --device {device} --machine <machine> --password-file <that file>", err=True)
    config = {"device": device, "password": password, "variant": variant, "interval_ms": interval_ms,
              "wifi": {"ssid": wifi_ssid,
                       "password": _secret(wifi_password, wifi_password_file, "SEWNET_WIFI_PASSWORD", "wifi") or ""},
              "broker": {"host": broker_host, "port": broker_port}}
    if machine:
        config["machine"] = machine
    return config


_Device = Annotated[str, typer.Option(help="Device id (= MQTT user name), e.g. from `sewnet device id`.")]
_Password = Annotated[Optional[str], typer.Option(help="Board's MQTT password (better: --password-file or "
                                                       "SEWNET_DEVICE_PASSWORD; generated when absent).")]
_PasswordFile = Annotated[Optional[Path], typer.Option(exists=True, dir_okay=False)]
_Ssid = Annotated[str, typer.Option(help="Workshop Wi-Fi network name.")]
_WifiPw = Annotated[Optional[str], typer.Option(help="Wi-Fi password (or --wifi-password-file, SEWNET_WIFI_PASSWORD).")]
_Host = Annotated[str, typer.Option(help="Workshop broker (the gateway Pi) address.")]
_Port = Annotated[int, typer.Option(min=1, max=65535)]
_Variant = Annotated[str, typer.Option(help="Board variant from hardware/boards.json.")]
_Interval = Annotated[int, typer.Option(min=1000, max=3_600_000, help="Summary interval, ms.")]
_Machine = Annotated[Optional[str], typer.Option(help="Machine id painted on the sewing machine (informative).")]
_ReleaseKey = Annotated[Optional[Path], typer.Option(exists=True, dir_okay=False,
                                                     help="The hub's release key .pub: lets the board take "
                                                          "signed updates over the air.")]


@app.command("id")
def device_id(mac: Annotated[str, typer.Option(help="The board's Wi-Fi MAC, as esptool or the REPL prints it.")]) -> None:
    """Print the device id for a board's MAC address."""
    typer.echo(device_id_from_mac(mac))


@app.command()
def bundle(device: _Device, wifi_ssid: _Ssid, broker_host: _Host,
           out: Annotated[Path, typer.Option(help="Folder to write (the board's flash root).")],
           password: _Password = None, password_file: _PasswordFile = None,
           wifi_password: _WifiPw = None, wifi_password_file: _PasswordFile = None,
           broker_port: _Port = 1883, variant: _Variant = "esp32-devkitc", interval_ms: _Interval = 10_000,
           machine: _Machine = None, release_key: _ReleaseKey = None) -> None:
    """Write a board's flash bundle: the firmware files and a validated sewnet.json."""
    config = _config_from_options(device, password, password_file, wifi_ssid, wifi_password, wifi_password_file,
                                  broker_host, broker_port, variant, interval_ms, machine)
    build_bundle(out, config, release_key)
    typer.echo(f"bundle for {device} written to {out}")


def mpremote_commands(port: str, bundle_dir: Path) -> list[list[str]]:
    files = sorted(p.name for p in bundle_dir.iterdir() if p.is_file())
    copy = [sys.executable, "-m", "mpremote", "connect", port, "fs", "cp"] + [str(bundle_dir / f) for f in files] + [":"]
    return [copy, [sys.executable, "-m", "mpremote", "connect", port, "reset"]]


@app.command()
def flash(port: Annotated[str, typer.Option(help="Serial port of the board, e.g. /dev/ttyUSB0.")],
          device: _Device, wifi_ssid: _Ssid, broker_host: _Host,
          password: _Password = None, password_file: _PasswordFile = None,
          wifi_password: _WifiPw = None, wifi_password_file: _PasswordFile = None,
          broker_port: _Port = 1883, variant: _Variant = "esp32-devkitc", interval_ms: _Interval = 10_000,
          machine: _Machine = None, release_key: _ReleaseKey = None,
          dry_run: Annotated[bool, typer.Option(help="Print the mpremote commands instead of running them.")] = False,
          ) -> None:
    """Copy the firmware and this board's sewnet.json onto a board running MicroPython (>= 1.26),
    then reset it. See docs/flashing.md for putting MicroPython itself on a new board."""
    config = _config_from_options(device, password, password_file, wifi_ssid, wifi_password, wifi_password_file,
                                  broker_host, broker_port, variant, interval_ms, machine)
    with tempfile.TemporaryDirectory(prefix="sewnet-bundle-") as tmp:
        bundle_dir = build_bundle(Path(tmp), config, release_key)
        for cmd in mpremote_commands(port, bundle_dir):
            if dry_run:
                typer.echo(" ".join(cmd))
                continue
            result = subprocess.run(cmd)
            if result.returncode != 0:
                typer.echo(f"flashing {device} failed: {' '.join(cmd[2:5])} exited {result.returncode}", err=True)
                raise typer.Exit(1)
    if not dry_run:
        typer.echo(f"{device} flashed; it connects to {wifi_ssid} and {broker_host}:{broker_port} after reset")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def virtual(ctx: typer.Context) -> None:
    """Run a virtual ESP32 (arguments as `python -m simulators.virtual_board --help`)."""
    from simulators.virtual_board.__main__ import main as board_main

    raise typer.Exit(board_main(ctx.args))
