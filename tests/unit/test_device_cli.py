"""The technician's commands: device ids, flash bundles, the flashing plan.

Flashing itself needs a board on a serial port, which CI does not have: the `flash` test checks
the mpremote commands it would run (--dry-run)."""

import json
import stat

from typer.testing import CliRunner

from sewnet.cli import app

runner = CliRunner()
BASE = ["--device", "sn-3c71bf0a12f4", "--wifi-ssid", "changsin-2F", "--broker-host", "192.168.10.2"]


def test_device_id_from_mac():
    r = runner.invoke(app, ["device", "id", "--mac", "3C:71:BF:0A:12:F4"])
    assert r.exit_code == 0 and r.output.strip() == "sn-3c71bf0a12f4"
    r = runner.invoke(app, ["device", "id", "--mac", "3C:71:BF"])
    assert r.exit_code != 0 and "not a MAC address" in r.output


def test_bundle_holds_every_firmware_file_and_a_config_the_firmware_accepts(tmp_path, monkeypatch):
    monkeypatch.setenv("SEWNET_DEVICE_PASSWORD", "board-secret-1")
    out = tmp_path / "flash"
    r = runner.invoke(app, ["device", "bundle", *BASE, "--out", str(out), "--variant", "esp32-s3-devkitc"])
    assert r.exit_code == 0, r.output
    from pathlib import Path
    firmware = {p.name for p in (Path(__file__).parents[2] / "firmware").glob("*.py")}
    assert firmware <= {p.name for p in out.iterdir()}
    config = json.loads((out / "sewnet.json").read_text())
    assert config["password"] == "board-secret-1" and config["variant"] == "esp32-s3-devkitc"
    assert stat.S_IMODE((out / "sewnet.json").stat().st_mode) == 0o600

    import sys
    sys.path.insert(0, str(out))
    try:
        import sn_config
        checked = sn_config.load(str(out / "sewnet.json"))
    finally:
        sys.path.remove(str(out))
        sys.modules.pop("sn_config", None)
        sys.modules.pop("sn_summary", None)
    assert checked["counter"] == "pcnt" and checked["broker"] == {"host": "192.168.10.2", "port": 1883}


def test_bundle_refuses_what_the_board_would_refuse(tmp_path):
    r = runner.invoke(app, ["device", "bundle", "--device", "SN-Upper", "--wifi-ssid", "x", "--broker-host", "h",
                            "--password", "pw", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "MQTT user name" in r.output
    r = runner.invoke(app, ["device", "bundle", *BASE, "--password", "pw", "--variant", "esp8266",
                            "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "variant" in r.output
    # A chip without a pulse counter cannot count reliably (hardware/README.md): refused with why.
    r = runner.invoke(app, ["device", "bundle", *BASE, "--password", "pw", "--variant", "esp32-c3",
                            "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "ESP32-C3 has no pulse" in r.output
    assert not (tmp_path / "o").exists()


def test_flash_plan_copies_the_bundle_then_resets(tmp_path):
    r = runner.invoke(app, ["device", "flash", "--port", "/dev/ttyUSB0", "--dry-run", *BASE, "--password", "pw"])
    assert r.exit_code == 0, r.output
    copy, reset = [line.split() for line in r.output.strip().splitlines()]
    assert copy[2:7] == ["mpremote", "connect", "/dev/ttyUSB0", "fs", "cp"] and copy[-1] == ":"
    assert any(a.endswith("/sewnet.json") for a in copy) and any(a.endswith("/main.py") for a in copy)
    assert reset[2:] == ["mpremote", "connect", "/dev/ttyUSB0", "reset"]
