"""A virtual board's updater (firmware/sn_ota.py, its own files under CPython) against the gateway's
real OTA server (uvicorn on a free port): damaged or foreign releases are refused with a reason
and the board keeps its files; a good one is staged, swapped by the boot layer and confirmed; a
power cut at any rename of the swap or the rollback leaves a board that boots a whole version;
a version that never confirms is rolled back by the board's own timer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from edge_gateway.outbox import Outbox
from edge_gateway.ota import Ota, load_release_key
from edge_gateway.provision import broker_passwd_with
from edge_gateway.web import create_app
from hub.server import BackgroundServer
from simulators.virtual_board import BoardReset, RealClock, VirtualBoard
from tests.ota_world import SHIPPED, make_release, new_key, tamper_file, tamper_signature
from tests.waiting import Beat

DEVICE = "sn-0a0b0c0d0e01"
PASSWORD = "board-secret-1"
REGISTRY = {DEVICE: "m01"}


@pytest.fixture
def world(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    key_file, pub = new_key(keys)
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    passwd.write_text(broker_passwd_with(passwd, DEVICE, PASSWORD))
    ota = Ota(tmp_path / "ota.sqlite", load_release_key(Path(str(key_file) + ".pub")), devices=lambda: list(REGISTRY))
    with Outbox(tmp_path / "gw.sqlite", "ws-ota", REGISTRY) as outbox:
        app = create_app(outbox, workshop="ws-ota", operator_password="operator-pw", ota=ota, ota_passwd_file=passwd)
        with BackgroundServer(app) as server:
            port = int(server.url.rsplit(":", 1)[1])
            yield {"tmp": tmp_path, "key": key_file, "pub": pub, "ota": ota, "port": port,
                   "db": tmp_path / "ota.sqlite"}
    ota.close()


def flash_board(world, name="flash", password=PASSWORD, host="127.0.0.1") -> VirtualBoard:
    board = VirtualBoard(world["tmp"] / name, clock=RealClock())
    board.flash({"device": DEVICE, "password": password, "wifi": {"ssid": "x"},
                 "broker": {"host": host, "port": 1}, "ota_port": world["port"], "ota_poll_s": 1})
    (board.flash_dir / "release.pub").write_text(world["pub"] + "\n")
    return board


def files_of(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.py"))}


class App:
    """What the updater reads of sn_app.App: cfg and the count of summaries the gateway acknowledged."""

    def __init__(self, board):
        self.cfg = board.import_firmware("sn_config").load()
        self.acked = 0


def check_once(board, version=SHIPPED):
    """One updater check on the board; returns (updater, reset happened)."""
    sn_ota = board.import_firmware("sn_ota")
    updater = sn_ota.Updater(App(board), version, log=lambda m: None)
    try:
        asyncio.run(updater.check())
    except BoardReset:
        return updater, True
    return updater, False


def events(board) -> list[dict]:
    try:
        return json.loads((board.flash_dir / "ota" / "events.json").read_text())
    except FileNotFoundError:
        return []


def boot(board):
    """machine.reset(), then the boot layer as main.py runs it; returns sn_boot."""
    board.restart()
    sn_boot = board.import_firmware("sn_boot")
    sn_boot.boot()
    return sn_boot


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "bad_signature", "newer_bootloader", "no_key"])
def test_a_damaged_or_foreign_release_is_refused_and_the_board_keeps_its_version(world, damage):
    rel = make_release(world["tmp"], world["key"], "9.2.0",
                       min_bootloader=2 if damage == "newer_bootloader" else None)
    world["ota"].add_release(rel)
    if damage == "flipped_byte":
        tamper_file(world["db"], "9.2.0", "sn_app.py", lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:])
    elif damage == "truncated":
        tamper_file(world["db"], "9.2.0", "sn_app.py", lambda b: b[: len(b) // 2])
    elif damage == "bad_signature":
        tamper_signature(world["db"], "9.2.0")
    world["ota"].start_rollout("9.2.0")
    board = flash_board(world)
    if damage == "no_key":
        (board.flash_dir / "release.pub").unlink()
    before = files_of(board.flash_dir)
    with board.install(chdir=True):
        _, reset = check_once(board)
        assert not reset
        assert files_of(board.flash_dir) == before
        assert not any((board.flash_dir / "ota" / "new").glob("*")), "nothing left staged"
        sn_boot = boot(board)
        assert sn_boot.on_trial() is None and files_of(board.flash_dir) == before
    reason = {"flipped_byte": "sn_app.py: SHA-256 does not match", "truncated": "sn_app.py: ",
              "bad_signature": "signature refused: ",
              "newer_bootloader": "needs boot layer 2, this board has 1",
              "no_key": "no release key on this board"}[damage]
    assert events(board) == []  # the refusal was reported at once: the gateway has it
    view = world["ota"].view()
    assert view["rollout"]["state"] == "stopped"
    assert reason in view["rollout"]["reason"], view["rollout"]["reason"]
    assert view["rollout"]["boards"][0]["state"] == "failed"


def test_a_good_update_swaps_confirms_and_reports_the_new_version(world):
    world["ota"].add_release(make_release(world["tmp"], world["key"], "9.2.0"))
    world["ota"].start_rollout("9.2.0")
    board = flash_board(world)
    new = files_of(world["tmp"] / "fw-9.2.0")
    with board.install(chdir=True):
        updater, reset = check_once(board)
        assert reset, "staged, then machine.reset()"
        assert updater.bytes_in > 0
        sn_boot = boot(board)
        trial = sn_boot.on_trial()
        assert trial is not None and trial["version"] == "9.2.0" and trial["starts"] == 1
        got = files_of(board.flash_dir)
        assert {n: got[n] for n in new if n not in ("main.py", "sn_boot.py")} == \
               {n: h for n, h in new.items() if n not in ("main.py", "sn_boot.py")}
        # The new version delivers a summary: it confirms and reports.
        app = App(board)
        app.acked = 1
        upd = board.import_firmware("sn_ota").Updater(app, "9.2.0", log=lambda m: None)
        assert sn_boot.confirm()
        asyncio.run(upd.check())
        assert events(board) == []
        assert not (board.flash_dir / "ota" / "old").exists() or not any((board.flash_dir / "ota" / "old").iterdir())
    view = world["ota"].view()
    assert view["boards"][DEVICE]["firmware"] == "9.2.0"
    assert view["rollout"]["state"] == "done"
    assert view["rollout"]["boards"][0]["state"] == "installed"


def _staged_board(world, version="9.2.0", **release_opts):
    world["ota"].add_release(make_release(world["tmp"], world["key"], version, **release_opts))
    world["ota"].start_rollout(version)
    board = flash_board(world)
    old = files_of(board.flash_dir)
    with board.install(chdir=True):
        _, reset = check_once(board)
        assert reset
    return board, old


class PowerCut(BaseException):
    pass


class CutAfter:
    """`os` for the boot layer, the power going after `n` renames or removes."""

    def __init__(self, n):
        self.left = n

    def _tick(self):
        if self.left == 0:
            raise PowerCut()
        self.left -= 1

    def rename(self, a, b):
        self._tick()
        os.rename(a, b)

    def remove(self, p):
        self._tick()
        os.remove(p)

    def __getattr__(self, name):
        return getattr(os, name)


def _whole_version(board, old, new) -> str:
    got = {n: h for n, h in files_of(board.flash_dir).items()}
    for n in list(got):
        if n not in old and n not in new:
            del got[n]
    if got == old:
        return "old"
    if got == {**old, **new}:
        return "new"
    return "mixed"


def _bigger_change(fw: Path) -> None:
    """A release that changes three files and adds one, so a swap has many steps to cut."""
    for name in ("sn_queue.py", "sn_summary.py"):
        (fw / name).write_text((fw / name).read_text() + "\n# changed in 9.2.0\n")
    (fw / "sn_extra.py").write_text("X = 1\n")


@pytest.mark.parametrize("phase", ["swap", "rollback"])
def test_a_power_cut_at_any_step_leaves_a_board_that_boots_a_whole_version(world, phase):
    board, old = _staged_board(world, edit=_bigger_change)
    new = {n: h for n, h in files_of(world["tmp"] / "fw-9.2.0").items() if n not in ("main.py", "sn_boot.py")}
    saved = {p.relative_to(board.flash_dir): p.read_bytes() for p in board.flash_dir.rglob("*") if p.is_file()}
    cuts = 0
    with board.install(chdir=True):
        for n in range(200):
            # Lay the flash back as it was when the update was staged (and, for the rollback, swapped).
            for p in list(board.flash_dir.rglob("*")):
                if p.is_file():
                    p.unlink()
            for rel, data in saved.items():
                (board.flash_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (board.flash_dir / rel).write_bytes(data)
            if phase == "rollback":
                sn_boot = boot(board)
                assert sn_boot.on_trial() is not None
                j = json.loads((board.flash_dir / "ota" / "boot.json").read_text())
                j["starts"] = sn_boot.MAX_TRIAL_BOOTS          # the next start rolls back
                (board.flash_dir / "ota" / "boot.json").write_text(json.dumps(j))
            board.restart()
            sn_boot = board.import_firmware("sn_boot")
            sn_boot.os = CutAfter(n)
            try:
                sn_boot.boot()
                finished = True
            except PowerCut:
                finished = False
                cuts += 1
            # Power back: boot again, normally.
            sn_boot = boot(board)
            state = _whole_version(board, old, new)
            want = "new" if phase == "swap" else "old"
            assert state == want, f"cut after {n} steps: {state}"
            for name in (new if phase == "swap" else old):
                compile((board.flash_dir / name).read_text(), name, "exec")
            if phase == "swap":
                assert sn_boot.on_trial() is not None, "the new version is on trial"
            else:
                assert sn_boot.on_trial() is None
                assert events(board)[-1]["result"] == "rolled_back"
            if finished:
                break
    assert cuts >= 10, "the cut hit every rename and remove of the update"


def test_a_version_that_never_reports_healthy_is_rolled_back_by_the_board_itself(world):
    board, old = _staged_board(world, health_s=5)
    with board.install(chdir=True):
        sn_boot = boot(board)
        assert sn_boot.on_trial() is not None
        assert _whole_version(board, old, {}) != "old"
        deadline = time.monotonic() + 20
        with pytest.raises(BoardReset):
            while time.monotonic() < deadline:       # the application runs; it never confirms
                time.ticks_ms()
                time.sleep(0.05)
        sn_boot = boot(board)
        assert sn_boot.on_trial() is None
        assert files_of(board.flash_dir) == old
        ev = events(board)[-1]
        assert ev["result"] == "rolled_back" and ev["reason"] == "did not report healthy within 5 s"
        _, reset = check_once(board)             # reports it; the same rollout is not tried again
        assert not reset
    view = world["ota"].view()
    assert view["rollout"]["state"] == "stopped"
    assert "did not report healthy within 5 s" in view["rollout"]["reason"]


def test_a_crash_loop_on_trial_rolls_back_after_max_starts(world):
    board, old = _staged_board(world)
    with board.install(chdir=True):
        for _ in range(3):
            sn_boot = boot(board)
            assert sn_boot.on_trial() is not None     # ...and the application crashes: reset
        sn_boot = boot(board)
        assert sn_boot.on_trial() is None and files_of(board.flash_dir) == old
        assert events(board)[-1]["reason"] == "did not report healthy in 3 starts"


def test_the_gateways_name_is_looked_up_once_per_check_off_the_loop_and_hashing_yields(world, monkeypatch):
    """A board may know its gateway by name. The updater looks it up in a thread once per check
    (MicroPython's open_connection, modelled by the virtual board, would look it up ON the loop
    for each of the update's requests, holding the sampler while the DNS server is away), and
    hashes the installed files a chunk at a time with the loop running between the chunks."""
    import socket

    world["ota"].add_release(make_release(world["tmp"], world["key"], "9.2.0"))
    world["ota"].start_rollout("9.2.0")
    board = flash_board(world, host="gateway.local")
    real, lookups = socket.getaddrinfo, []

    def slow_dns(host, port, *args):            # a DNS server that takes 1.5 s to answer
        if host == "gateway.local":
            lookups.append(host)
            time.sleep(1.5)
            host = "127.0.0.1"
        return real(host, port, *args)

    monkeypatch.setattr(socket, "getaddrinfo", slow_dns)
    beat = Beat()                                # the sampler's stand-in

    async def check_beside_the_beat(updater):
        async with beat:
            await updater.check()

    with board.install(chdir=True):
        sn_ota = board.import_firmware("sn_ota")
        updater = sn_ota.Updater(App(board), SHIPPED, log=lambda m: None)
        with pytest.raises(BoardReset):           # the whole update, staged, then machine.reset()
            asyncio.run(check_beside_the_beat(updater))
        assert lookups == ["gateway.local"], "one lookup for the check and every download"
        assert beat.longest < 0.75, f"the loop stood still for {beat.longest:.2f} s"

        async def hashed_beside_every_turn(path):
            async with Beat(0) as turns:
                digest = await sn_ota.file_sha256(path)
            return digest, turns.ticks

        big = board.flash_dir / "big.bin"
        big.write_bytes(os.urandom(sn_ota.FILE_MAX))
        digest, turns = asyncio.run(hashed_beside_every_turn(str(big)))
        assert digest == hashlib.sha256(big.read_bytes()).hexdigest()
        assert turns >= sn_ota.FILE_MAX // sn_ota.CHUNK - 1, f"the loop ran {turns} times during the hash"
        assert asyncio.run(sn_ota.file_sha256("no-such-file.py")) is None


def test_a_board_with_a_wrong_password_gets_nothing(world):
    world["ota"].add_release(make_release(world["tmp"], world["key"], "9.2.0"))
    world["ota"].start_rollout("9.2.0")
    board = flash_board(world, password="not-the-password")
    with board.install(chdir=True):
        sn_ota = board.import_firmware("sn_ota")
        updater = sn_ota.Updater(App(board), SHIPPED, log=lambda m: None)
        with pytest.raises(sn_ota.OtaError, match="HTTP 401"):
            asyncio.run(updater.check())
    assert world["ota"].counts["auth_failed"] == 1
    assert world["ota"].view()["boards"] == {}


def test_a_password_file_the_gateway_cannot_read_is_said_not_a_crash(tmp_path):
    """The field fault of issue 10 §2: the gateway pointed at a password file it cannot read (the
    broker's own, 600 mosquitto). Boards get 503 with the reason (not a 500), it is counted, and
    /updates says what to do. (A folder in its place: the test runs as root, who reads any file.)"""
    import httpx

    key_file, _ = new_key(tmp_path)
    ota = Ota(tmp_path / "ota.sqlite", load_release_key(Path(str(key_file) + ".pub")), devices=lambda: list(REGISTRY))
    unreadable = tmp_path / "passwd-folder"
    unreadable.mkdir()
    with Outbox(tmp_path / "gw.sqlite", "ws-ota", REGISTRY) as outbox:
        app = create_app(outbox, workshop="ws-ota", operator_password="operator-pw", ota=ota,
                         ota_passwd_file=unreadable)
        with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            r = client.post(f"/ota/v1/boards/{DEVICE}/check", json={"firmware": "0.1.0", "bootloader": 1},
                            auth=(DEVICE, PASSWORD))
            assert r.status_code == 503 and "password file" in r.json()["detail"]
            assert ota.counts["passwd_unreadable"] == 1 and ota.counts["auth_failed"] == 0
            client.post("/login", data={"password": "operator-pw"})
            page = client.get("/updates").text
            assert 'id="passwd-problem"' in page and "sewnet gateway enable-updates" in page
    ota.close()


def test_bad_input_at_the_update_server_is_answered_in_words_and_counted_never_a_500(world):
    """The boards' API and the operator's settings form: a report nested past the JSON parser's
    depth, one that is not an object, and numbers that float() reads but no board can take
    ("inf", "nan", 1e999) each get a plain answer (Korean first), are counted, and change nothing."""
    import httpx

    url = f"http://127.0.0.1:{world['port']}"
    with httpx.Client(base_url=url, timeout=10) as client:
        check = f"/ota/v1/boards/{DEVICE}/check"
        for body in (b"[" * 5000 + b"]" * 5000, b"[]", b"\xff"):
            r = client.post(check, content=body, auth=(DEVICE, PASSWORD))
            assert r.status_code == 422, (body[:10], r.status_code, r.text)
            assert r.json()["detail"].startswith("읽을 수 있는 JSON 객체가 아닙니다 / ")
        r = client.post(check, json={"firmware": "<b>0.2</b>", "bootloader": 1}, auth=(DEVICE, PASSWORD))
        assert r.status_code == 422 and r.json()["detail"].startswith("보드의 보고 형식이 맞지 않습니다 / ")
        assert world["ota"].counts["bad_requests"] == 4 and world["ota"].view()["boards"] == {}
        # A report with one event the gateway cannot read: the rest of it counts, the event is counted.
        r = client.post(check, json={"firmware": SHIPPED, "bootloader": 1, "events": [{"result": "maybe"}, 7]},
                        auth=(DEVICE, PASSWORD))
        assert r.status_code == 200 and world["ota"].counts["bad_events"] == 2
        assert world["ota"].view()["boards"][DEVICE]["firmware"] == SHIPPED
        assert client.post("/login", data={"password": "operator-pw"}).status_code == 303
        for typed in ("inf", "nan", "1e999", "열"):
            r = client.post("/updates/config", data={"device": "all", "interval_s": typed})
            assert r.status_code == 400, (typed, r.status_code)
            assert "요약 간격 (초): 숫자를 적으세요" in r.text and "summary interval (s): write a number" in r.text
        assert world["ota"].view()["configs"] == {}
        r = client.post("/updates/config", data={"device": "all", "interval_s": "30"}, follow_redirects=False)
        assert r.status_code == 303
        assert world["ota"].view()["configs"][DEVICE]["values"] == {"interval_ms": 30_000}
