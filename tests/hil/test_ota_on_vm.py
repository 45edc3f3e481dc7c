"""The firmware's update code on the real MicroPython VM: sn_ota's Updater (its HTTP client on
asyncio streams, the Ed25519 check of sn_sig yielding to the loop, the streamed download with its
SHA-256 checks, the staging) and sn_boot's swap and confirm, run by the official MicroPython
WebAssembly build, talking to the gateway's real OTA server.

The VM is driven the way the serial bench drives a board: through its raw REPL
(tests/hil/raw_repl.py) on a serial port (a pseudo-terminal in front of tests/hil/mp_repl.mjs).
It has no sockets, so tests/hil/vm/vmnet.py gives the firmware asyncio streams whose bytes this
test relays to the gateway over real TCP, and turns the VM's asyncio loop step by step.

A good release is staged (the board resets), swapped by the boot layer, confirmed and reported;
one whose sn_app.py arrives with a flipped byte is refused by its SHA-256 and the board's files
stay as they were. Prints the heap the update takes on the VM.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import select
import socket
import time
from pathlib import Path

import pytest
import serial

from edge_gateway.ota import Ota, load_release_key
from edge_gateway.outbox import Outbox
from edge_gateway.provision import broker_passwd_with
from edge_gateway.web import create_app
from hub.server import BackgroundServer
from tests.hil.pty_devices import NodeRepl
from tests.hil.raw_repl import RawRepl
from tests.ota_world import make_release, new_key, tamper_file

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
VM_DIR = Path(__file__).with_name("vm")
DEVICE, PASSWORD = "sn-0a11b0a7d001", "vm-board-pw"
FW = re.search(r'^FW_VERSION = "([^"]+)"', (FIRMWARE / "sn_app.py").read_text(), re.M).group(1)


@pytest.fixture
def gateway(tmp_path):
    key, pub = new_key(tmp_path)
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    passwd.write_text(broker_passwd_with(passwd, DEVICE, PASSWORD))
    ota = Ota(tmp_path / "ota.sqlite", load_release_key(str(key) + ".pub"), devices=lambda: [DEVICE])
    with Outbox(tmp_path / "gw.sqlite", "ws-vm", {DEVICE: "m01"}) as outbox, \
            BackgroundServer(create_app(outbox, workshop="ws-vm", operator_password="x", ota=ota,
                                        ota_passwd_file=passwd)) as server:
        yield {"ota": ota, "key": key, "pub": pub, "port": int(server.url.rsplit(":", 1)[1]), "tmp": tmp_path}
    ota.close()


@pytest.fixture
def vm(gateway):
    device = NodeRepl()
    port = serial.Serial(device.path, baudrate=115200, timeout=0.05)
    try:
        repl = RawRepl(port, raw_paste=False, timeout=60)
        repl.interrupt()
        repl.enter()
        files = {p.name: p.read_bytes() for p in sorted(FIRMWARE.glob("*.py"))}
        files["sewnet.json"] = json.dumps({
            "device": DEVICE, "password": PASSWORD, "wifi": {"ssid": "vm"},
            "broker": {"host": "127.0.0.1", "port": 1883}, "ntp_host": None,
            "ota_port": gateway["port"], "ota_poll_s": 1}).encode()
        files["release.pub"] = (gateway["pub"] + "\n").encode()
        for name in ("vmnet.py", "machine.py"):
            files[name] = (VM_DIR / name).read_bytes()
        # The VM has no socket module: the names the firmware imports (the gateway is an IP
        # address, so nothing is resolved), as tests/mpvm gives them.
        files["socket.py"] = (REPO / "tests" / "mpvm" / "shims" / "socket.py").read_bytes()
        repl.put_files(files, "/flash")
        repl.exec("import sys, os, gc, json\nsys.path.insert(0, '/flash')\nos.chdir('/flash')\n"
                  "import vmnet, machine, sn_config, sn_boot, sn_ota\n"
                  "class App:\n    pass\n"
                  "app = App()\napp.cfg = sn_config.load()\napp.sent = 0\n"
                  "def report(tag, **kw):\n    print(tag + ' ' + json.dumps(kw))\n")
        yield repl
    finally:
        port.close()
        device.close()


def lines(out: bytes, tag: str) -> list:
    return [json.loads(line.split(" ", 1)[1]) for line in out.decode().splitlines() if line.startswith(tag + " ")]


def drive(repl: RawRepl, timeout: float = 180) -> tuple[dict, list[str], int]:
    """Turns the VM's loop and relays its TCP to the gateway until the task ends. Returns the last
    step's report, what the firmware printed, and the largest live heap seen between steps."""
    socks: dict[int, socket.socket] = {}
    printed: list[str] = []
    peak = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            out = repl.exec("vmnet.step(100)", timeout=60).decode()
            report = None
            for line in out.splitlines():
                if line.startswith("VMNET "):
                    report = json.loads(line[6:])
                elif line.strip():
                    printed.append(line.strip())
            heap = repl.exec("vmnet.live_heap()").decode().split()
            peak = max(peak, int(heap[heap.index("HEAP") + 1]))
            for cid, host, port in report["opened"]:
                socks[cid] = socket.create_connection((host, port), timeout=10)
            for cid, data in report["sent"]:
                socks[cid].sendall(bytes.fromhex(data))
            for cid in report["closed"]:
                s = socks.pop(cid, None)
                if s is not None:
                    s.close()
            if report["done"]:
                return report, printed, peak
            feeds = []
            ready, _, _ = select.select(list(socks.values()), [], [], 0.01) if socks else ([], [], [])
            for cid, s in list(socks.items()):
                if s in ready:
                    data = s.recv(16384)
                    feeds.append(f"vmnet.feed({cid}, {data!r}, {data == b''})")
                    if not data:
                        socks.pop(cid).close()
            if feeds:
                repl.exec("\n".join(feeds))
            assert time.monotonic() < deadline, f"the VM's update did not end within {timeout:.0f} s: {printed[-5:]}"
    finally:
        for s in socks.values():
            s.close()


def flash_hashes(repl: RawRepl) -> dict[str, str]:
    names = ast.literal_eval(repl.exec("print(sorted(n for n in os.listdir('/flash') if n.endswith('.py')))")
                             .decode().strip())
    return repl.hashes(names, "/flash")


def test_a_good_release_is_staged_swapped_and_confirmed_on_micropython(gateway, vm):
    ota = gateway["ota"]
    release = make_release(gateway["tmp"], gateway["key"], "9.9.9")
    ota.add_release(release)
    ota.start_rollout("9.9.9")
    vm.exec(f"u = sn_ota.Updater(app, {FW!r}, log=print)\nvmnet.start(u.check())")
    base = int(vm.exec("vmnet.live_heap()").split()[1])
    t0 = time.monotonic()
    report, printed, peak = drive(vm)
    took = time.monotonic() - t0
    assert report["error"] and "Reset" in report["error"], (report, printed)
    assert any("firmware 9.9.9 staged (1 files changed): resetting" in p for p in printed), printed
    journal = lines(vm.exec("report('J', **sn_boot.journal())"), "J")[0]
    assert (journal["phase"], journal["version"], journal["files"]) == ("staged", "9.9.9", ["sn_app.py"])
    bytes_in = lines(vm.exec("report('B', bytes_in=u.bytes_in, bytes_out=u.bytes_out)"), "B")[0]

    # The next start: the boot layer swaps the files and arms the trial timer.
    vm.exec("sn_boot.boot()")
    want = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((gateway["tmp"] / "fw-9.9.9").glob("*.py"))}
    got = flash_hashes(vm)
    assert {n: got.get(n) for n in want} == want, "the board runs the release's files"
    trial = lines(vm.exec("report('T', trial=sn_boot.on_trial(), timers=[t.args[1] for t in machine.timers if t.args])"),
                  "T")[0]
    assert trial["trial"] and trial["timers"] == [300_000]

    # A summary got through on the new version: the updater confirms and tells the gateway.
    vm.exec("app.sent = 1\nu = sn_ota.Updater(app, '9.9.9', log=print)\nsn_boot.confirm()\nvmnet.start(u.check())")
    report, printed, _ = drive(vm)
    assert report["error"] is None, (report, printed)
    view = ota.view()
    assert view["boards"][DEVICE]["firmware"] == "9.9.9"
    assert view["rollout"]["state"] == "done", view["rollout"]
    left = lines(vm.exec("report('L', old=os.listdir('ota/old') if sn_boot.exists('ota/old') else [],"
                         " trial=sn_boot.on_trial())"), "L")[0]
    assert left == {"old": [], "trial": None}
    after = int(vm.exec("vmnet.live_heap()").split()[1])
    print(f"\nOTA on the MicroPython VM: {bytes_in['bytes_in']:,} B down, {bytes_in['bytes_out']:,} B up, "
          f"{took:.1f} s through the raw REPL; live heap {base:,} B before, up to {peak:,} B between the "
          f"update's steps, {after:,} B after")


def test_a_corrupted_download_is_refused_on_micropython(gateway, vm):
    ota = gateway["ota"]
    ota.add_release(make_release(gateway["tmp"], gateway["key"], "9.9.8"))
    tamper_file(gateway["tmp"] / "ota.sqlite", "9.9.8", "sn_app.py",
                lambda data: data[:2000] + bytes([data[2000] ^ 0x01]) + data[2001:])
    ota.start_rollout("9.9.8")
    before = flash_hashes(vm)
    vm.exec(f"u = sn_ota.Updater(app, {FW!r}, log=print)\nvmnet.start(u.check())")
    report, printed, _ = drive(vm)
    assert report["error"] is None, (report, printed)        # no reset
    assert any("firmware 9.9.8 refused: sn_app.py: SHA-256 does not match" in p for p in printed), printed
    assert flash_hashes(vm) == before
    assert lines(vm.exec("report('N', new=os.listdir('ota/new') if sn_boot.exists('ota/new') else [],"
                         " resets=machine.resets)"), "N")[0] == {"new": [], "resets": 0}
    view = ota.view()
    assert view["rollout"]["state"] == "stopped"
    assert "sn_app.py: SHA-256 does not match" in view["rollout"]["reason"]
    assert view["boards"][DEVICE]["firmware"] == FW
