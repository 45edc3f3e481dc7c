"""The hub's release side (`sewnet hub release keygen|sign|verify`, the manifest's rules) and the
gateway's rollout bookkeeping (edge_gateway.ota) on a clock the test moves: one board first, the
rest after its healthy report, a failure or a silence stops it, `sewnet gateway release add`
refuses a release the hub's key did not sign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_gateway.ota import Ota, OtaError, load_release_key
from hub.release import ReleaseError, build_manifest, check_manifest, generate_key, release_files
from sewnet.cli import app as sewnet_app
from tests.ota_world import firmware_copy, make_release, new_key

runner = CliRunner()


def test_keygen_sign_verify_from_the_command_line(tmp_path, monkeypatch):
    key = tmp_path / "secret" / "release.key"
    monkeypatch.setenv("SEWNET_HUB_RELEASE_KEY_FILE", str(key))
    r = runner.invoke(sewnet_app, ["hub", "release", "keygen"])
    assert r.exit_code == 0, r.output
    assert key.stat().st_mode & 0o777 == 0o600
    pub = Path(str(key) + ".pub").read_text().strip()
    assert len(pub) == 64 and pub in r.output
    again = runner.invoke(sewnet_app, ["hub", "release", "keygen"])
    assert again.exit_code == 2 and "never overwritten" in again.output
    assert runner.invoke(sewnet_app, ["hub", "release", "public-key"]).output.strip() == pub

    fw = firmware_copy(tmp_path / "fw", "0.4.0")
    wrong = runner.invoke(sewnet_app, ["hub", "release", "sign", "--firmware", str(fw), "--version", "0.5.0",
                                       "--out", str(tmp_path / "rel")])
    assert wrong.exit_code == 2 and "FW_VERSION" in wrong.output
    ok = runner.invoke(sewnet_app, ["hub", "release", "sign", "--firmware", str(fw), "--out", str(tmp_path / "rel"),
                                    "--health-s", "120"])
    assert ok.exit_code == 0, ok.output
    m = json.loads((tmp_path / "rel" / "manifest.json").read_text())
    assert m["version"] == "0.4.0" and m["min_bootloader"] == 1 and m["health_s"] == 120
    names = {f["name"] for f in m["files"]}
    assert "sn_app.py" in names and not names & {"main.py", "sn_boot.py"}, "the boot layer never travels"
    verify = ["hub", "release", "verify", str(tmp_path / "rel"), "--public-key", str(key) + ".pub"]
    assert runner.invoke(sewnet_app, verify).exit_code == 0
    with (tmp_path / "rel" / "files" / "sn_queue.py").open("a") as f:
        f.write("#")
    bad = runner.invoke(sewnet_app, verify)
    assert bad.exit_code == 1 and "sn_queue.py does not match" in bad.output


def test_the_manifest_rules(tmp_path):
    fw = firmware_copy(tmp_path / "fw", "1.0")
    m = build_manifest(release_files(fw), "1.0", 1)
    for change, words in [
        (lambda m: m["files"].append({"name": "main.py", "size": 1, "sha256": "0" * 64}), "cannot travel"),
        (lambda m: m["files"][0].update(size=200_000), "a board takes at most"),
        (lambda m: m.update(version="1.0 beta"), "version"),
        (lambda m: m.update(min_bootloader=0), "min_bootloader"),
        (lambda m: m["files"].append(dict(m["files"][0])), "listed twice"),
    ]:
        bad = json.loads(json.dumps(m))
        change(bad)
        with pytest.raises(ReleaseError, match=words):
            check_manifest(bad)


def test_the_gateway_takes_only_releases_signed_by_the_hubs_key(tmp_path):
    key, _ = new_key(tmp_path)
    rel = make_release(tmp_path, key, "0.2.0")
    other = tmp_path / "other"
    other.mkdir()
    generate_key(other / "k")
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f'workshop = "ws"\ndata_dir = "data"\n[uplink]\nurl = "http://127.0.0.1:1"\n'
                   f'[ota]\nrelease_key_file = "{other / "k.pub"}"\n')
    r = runner.invoke(sewnet_app, ["gateway", "release", "add", str(rel), "--config", str(cfg)])
    assert r.exit_code == 1 and "does not match the hub's release key" in r.output
    cfg.write_text(cfg.read_text().replace(str(other / "k.pub"), str(key) + ".pub"))
    r = runner.invoke(sewnet_app, ["gateway", "release", "add", str(rel), "--config", str(cfg)])
    assert r.exit_code == 0 and "release 0.2.0 kept" in r.output, r.output


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def __call__(self):
        return self.t


@pytest.fixture
def ota(tmp_path):
    key, _ = new_key(tmp_path)
    clock = Clock()
    o = Ota(tmp_path / "ota.sqlite", load_release_key(str(key) + ".pub"), devices=lambda: ["a1", "b2", "c3"],
            rollout_timeout_s=600, clock=clock)
    o.add_release(make_release(tmp_path, key, "0.2.0"))
    o.clock_ = clock
    for d in ("a1", "b2", "c3"):
        o.check(d, {"firmware": "0.1.0", "bootloader": 1, "events": []})
    yield o
    o.close()


def offer(o, d, fw="0.1.0", events=(), trial=False):
    return o.check(d, {"firmware": fw, "bootloader": 1, "trial": trial, "events": list(events)}).firmware


def test_one_board_first_then_the_rest(ota):
    rid = ota.start_rollout("0.2.0", first="b2")
    assert offer(ota, "a1") is None and offer(ota, "c3") is None
    fw = offer(ota, "b2")
    assert fw["version"] == "0.2.0" and fw["rollout"] == str(rid)
    offer(ota, "b2", fw="0.2.0", trial=True)   # running it, on trial: not yet healthy
    assert ota.view()["rollout"]["state"] == "first"
    assert offer(ota, "a1") is None
    offer(ota, "b2", fw="0.2.0", events=[{"kind": "firmware", "version": "0.2.0", "rollout": str(rid),
                                           "result": "installed"}])
    assert offer(ota, "a1")["version"] == "0.2.0" and offer(ota, "c3")["version"] == "0.2.0"
    for d in ("a1", "c3"):
        offer(ota, d, fw="0.2.0")            # a lost event: running it and not on trial counts
    assert ota.view()["rollout"]["state"] == "done"
    with pytest.raises(OtaError, match="already runs this version"):
        ota.start_rollout("0.2.0")


def test_a_failure_stops_the_rollout_before_the_rest(ota):
    rid = ota.start_rollout("0.2.0", first="a1")
    offer(ota, "a1", events=[{"kind": "firmware", "version": "0.2.0", "rollout": str(rid), "result": "rolled_back",
                              "reason": "did not report healthy within 300 s"}])
    v = ota.view()["rollout"]
    assert v["state"] == "stopped" and v["reason"] == "a1: did not report healthy within 300 s"
    assert {b["device"]: b["state"] for b in v["boards"]} == {"a1": "failed", "b2": "stopped", "c3": "stopped"}
    assert offer(ota, "b2") is None


def test_a_board_silent_past_the_timeout_fails_the_rollout(ota):
    ota.start_rollout("0.2.0", first="c3")
    ota.clock_.t += 601
    v = ota.view()["rollout"]
    assert v["state"] == "stopped" and "no healthy report within 10 min" in v["reason"]


def test_configuration_offers_and_the_boards_answer(ota):
    cid = ota.set_config(["a1", "b2"], {"interval_ms": 5000})
    assert ota.check("a1", {"firmware": "0.1.0", "bootloader": 1}).config == {"id": cid, "values": {"interval_ms": 5000}}
    assert ota.check("c3", {"firmware": "0.1.0", "bootloader": 1}).config is None
    ota.check("b2", {"firmware": "0.1.0", "bootloader": 1, "events": [
        {"kind": "config", "version": cid, "result": "refused", "reason": "sewnet.json: interval_ms ..."}]})
    assert ota.view()["configs"]["b2"]["state"] == "refused"
    assert ota.check("b2", {"firmware": "0.1.0", "bootloader": 1}).config is None
    with pytest.raises(OtaError, match="cannot be set over the air"):
        ota.set_config(["a1"], {"password": 1})
    with pytest.raises(OtaError, match="not registered"):
        ota.set_config(["zz"], {"interval_ms": 5000})


def test_the_flash_bundle_carries_the_release_key(tmp_path):
    key, pub = new_key(tmp_path)
    args = ["device", "bundle", "--device", "sn-0a0b0c0d0e09", "--wifi-ssid", "ws", "--broker-host", "192.0.2.1",
            "--password", "pw-1", "--out", str(tmp_path / "b")]
    r = runner.invoke(sewnet_app, args + ["--release-key", str(key) + ".pub"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b" / "release.pub").read_text().strip() == pub
    (tmp_path / "bad.pub").write_text("not a key\n")
    r = runner.invoke(sewnet_app, args + ["--release-key", str(tmp_path / "bad.pub")])
    assert r.exit_code == 2 and "64 hex digits" in r.output
