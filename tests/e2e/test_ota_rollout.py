"""Three virtual board processes (the firmware's own files, rebooting for real on machine.reset)
on a real Mosquitto, and the gateway's OTA server: a rollout goes to one board first and to the
rest only once it reported healthy; a version that never reports healthy is rolled back by the
board itself and stops the rollout before any other board gets it; settings go down and a bad
one is refused by the board's own checks, with its reason on the operator's page (Chromium).

Prints the OTA figures: time and bytes per board."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
from playwright.sync_api import expect

from edge_gateway.config import parse_config
from edge_gateway.ingest import Ingest
from edge_gateway.outbox import Outbox
from edge_gateway.ota import Ota, load_release_key
from edge_gateway.web import create_app, load_session_key
from hub.server import BackgroundServer
from tests.integration.test_virtual_board import Board, Listener
from tests.ota_world import SHIPPED, make_release, new_key
from tests.waiting import wait_for

DEVICES = ["sn-0a0b0c0d0f01", "sn-0a0b0c0d0f02", "sn-0a0b0c0d0f03"]
REGISTRY = {d: f"m0{i + 1}" for i, d in enumerate(DEVICES)}
OPERATOR = "운영자비밀번호"


def _never_confirms(fw):
    """A version that runs and publishes, but whose updater never sees a summary acknowledged."""
    app = fw / "sn_app.py"
    text = app.read_text()
    assert "self.acked += 1" in text
    app.write_text(text.replace("self.acked += 1", "self.acked += 0"))


@pytest.fixture
def world(tmp_path, mosquitto):
    keys = tmp_path / "keys"
    keys.mkdir()
    key_file, pub = new_key(keys)
    ota = Ota(tmp_path / "ota.sqlite", load_release_key(str(key_file) + ".pub"), devices=lambda: list(REGISTRY),
              rollout_timeout_s=120)
    passwords = {d: mosquitto.add_device(d) for d in DEVICES}
    listener = Listener(mosquitto, "sewnet/v1/+/status", "ota-watcher-" + str(os.getpid()))
    with Outbox(tmp_path / "gw.sqlite", "ws-ota", REGISTRY) as outbox:
        app = create_app(outbox, workshop="ws-ota", operator_password=OPERATOR, ota=ota,
                         ota_passwd_file=mosquitto.passwd_file,
                         session_key=load_session_key(tmp_path / "web-session.key"))
        # The gateway's own ingest: a board on trial is healthy once the gateway has stored (and
        # acknowledged) one of its summaries, end to end.
        cfg = parse_config({"workshop": "ws-ota", "data_dir": str(tmp_path / "gw"), "registry": REGISTRY,
                            "mqtt": {"host": mosquitto.host, "port": mosquitto.port,
                                     "username": mosquitto.gateway_user, "password": mosquitto.gateway_password,
                                     "client_id": "gw-ws-ota", "reconnect_max_s": 1},
                            "uplink": {"api": "v1", "url": "http://127.0.0.1:9", "flush_interval_s": 3600},
                            "web": {"enabled": False}})
        loop = asyncio.new_event_loop()
        ingesting = threading.Thread(target=loop.run_forever, daemon=True, name="ingest")
        ingesting.start()
        ingest = asyncio.run_coroutine_threadsafe(Ingest(cfg, outbox).run(), loop)
        with BackgroundServer(app) as server:
            port = int(server.url.rsplit(":", 1)[1])
            boards = []
            try:
                for d in DEVICES:
                    flash = tmp_path / d
                    flash.mkdir()
                    (flash / "release.pub").write_text(pub + "\n")
                    boards.append(Board(flash, d, passwords[d], mosquitto, ota_port=port, ota_poll_s=1,
                                        sew_seconds=0, no_ntp=True))
                yield {"tmp": tmp_path, "key": key_file, "ota": ota, "server": server, "boards": boards,
                       "listener": listener}
            finally:
                for b in boards:
                    b.stop()
                listener.close()
                ingest.cancel()
                loop.call_soon_threadsafe(loop.stop)
                ingesting.join(10)
    ota.close()


def versions(ota) -> dict[str, str | None]:
    boards = ota.view()["boards"]
    return {d: (boards.get(d) or {}).get("firmware") for d in DEVICES}


def status_fw(listener, device) -> str | None:
    got = [p for t, p, _, _ in listener.of("status") if p.get("device") == device and p.get("state") == "online"]
    return got[-1].get("fw") if got else None


def test_rollout_one_board_first_then_the_rest_stop_on_failure_and_settings(world, browser):
    ota = world["ota"]
    wait_for(lambda: versions(ota) == {d: SHIPPED for d in DEVICES}, timeout=60, what="every board checks in")

    # -- a good release: the first board alone, then the others ------------------------------
    ota.add_release(make_release(world["tmp"], world["key"], "9.2.0"))
    t0 = time.monotonic()
    ota.start_rollout("9.2.0", first=DEVICES[1])
    seen_waiting = False
    while time.monotonic() - t0 < 90:
        r = ota.view()["rollout"]
        states = {b["device"]: b["state"] for b in r["boards"]}
        if states[DEVICES[1]] != "installed":
            assert all(states[d] == "waiting" for d in DEVICES if d != DEVICES[1]), states
            seen_waiting = True
        if r["state"] == "done":
            break
        time.sleep(0.2)
    took = time.monotonic() - t0
    r = ota.view()["rollout"]
    assert seen_waiting and r["state"] == "done", r
    first = next(b for b in r["boards"] if b["device"] == DEVICES[1])
    assert all(b["offered_at"] >= first["done_at"] for b in r["boards"] if b["device"] != DEVICES[1])
    wait_for(lambda: versions(ota) == {d: "9.2.0" for d in DEVICES}, timeout=30, what="every board on 9.2.0")
    wait_for(lambda: all(status_fw(world["listener"], d) == "9.2.0" for d in DEVICES), timeout=30,
             what="each board's retained status says 9.2.0")
    per_board = {b["device"]: b["bytes"] for b in r["boards"]}
    print(f"\nOTA 9.2.0 to 3 boards: {took:.1f} s in all (first board alone, then two at once); "
          f"bytes served per board {per_board}")

    # -- a release that never reports healthy: the first board rolls back, nobody else gets it -----
    ota.add_release(make_release(world["tmp"], world["key"], "9.3.0", edit=_never_confirms, health_s=5))
    ota.start_rollout("9.3.0", first=DEVICES[0])
    wait_for(lambda: ota.view()["rollout"]["state"] == "stopped", timeout=90, what="the rollout stops")
    r = ota.view()["rollout"]
    states = {b["device"]: b["state"] for b in r["boards"]}
    assert states == {DEVICES[0]: "failed", DEVICES[1]: "stopped", DEVICES[2]: "stopped"}
    assert "did not report healthy within 5 s" in r["reason"]
    wait_for(lambda: versions(ota) == {d: "9.2.0" for d in DEVICES}, timeout=30,
             what="the first board back on 9.2.0 by itself")
    assert "rolled back: did not report healthy within 5 s" in world["boards"][0].log_text()

    # -- settings down: a good one applied, a bad one refused with the board's own reason -------
    ota.set_config(DEVICES, {"interval_ms": 2000})
    wait_for(lambda: all(c["state"] == "applied" for c in ota.view()["configs"].values()), timeout=60,
             what="every board applies the new interval")
    for b in world["boards"]:
        assert '"interval_ms": 2000' in (b.flash / "sewnet.json").read_text()
    ota.set_config([DEVICES[2]], {"interval_ms": 500})
    wait_for(lambda: ota.view()["configs"][DEVICES[2]]["state"] == "refused", timeout=30,
             what="the board refuses 0.5 s")
    reason = ota.view()["configs"][DEVICES[2]]["reason"]
    assert reason == "sewnet.json: interval_ms must be an integer 1000..3600000, got 500"

    # -- the operator's page ----------------------------------------------------------------------
    url = world["server"].url
    page = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844}).new_page()
    page.goto(f"{url}/login")
    page.locator("#password").fill(OPERATOR)
    page.click("#login-button")
    page.goto(f"{url}/updates")
    for d in DEVICES:
        expect(page.locator(f"#board-{d} .fw")).to_have_text("9.2.0")
    expect(page.locator("#rollout-state")).to_contain_text("중단됨")
    expect(page.locator(f"#board-{DEVICES[0]} .rollout")).to_contain_text("되돌림")
    expect(page.locator(f"#board-{DEVICES[2]} .config")).to_contain_text("보드가 거부함")
    expect(page.locator(f"#board-{DEVICES[2]} .config")).to_contain_text("interval_ms must be an integer")
    expect(page.locator(f"#board-{DEVICES[0]} .config")).to_contain_text("적용됨")
    for el in page.locator("button, a.button, select, input").all():
        box = el.bounding_box()
        assert box is None or box["height"] >= 48, "large touch targets"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if os.environ.get("SEWNET_SCREENS"):
        page.screenshot(path=os.path.join(os.environ["SEWNET_SCREENS"], "gateway-updates.png"), full_page=True)
