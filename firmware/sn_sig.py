# sn_sig: Ed25519 signature verification (RFC 8032) for release manifests, in plain MicroPython.
#
# The ESP32 port has hashlib.sha256 but no public-key cryptography and no SHA-512, so both are
# here in Python on MicroPython's big ints. Only verification: the board never signs. The hub
# signs the SHA-256 digest of the manifest's bytes (hub/release), so the SHA-512 inside Ed25519
# runs over a single 128-byte block whatever the manifest's size.
#
# Verification is strict: a public key or R that is not a canonical point encoding, or s >= L,
# is refused before any arithmetic; the check is the cofactorless [s]B - [h]A == R, compared as
# encodings (as libsodium and the `cryptography` package do for valid signatures).
#
# Check.steps() is a generator that yields every few dozen point operations, so the board's
# asyncio loop (sampler, MQTT keepalive, watchdog) keeps running during the ~seconds it takes on
# an ESP32; verify() runs it to the end for callers that can block.

P = (1 << 255) - 19
L = (1 << 252) + 27742317777372353535851937790883648493
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555
_D2 = (2 * _D) % P
_SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960
_YMASK = (1 << 255) - 1

_M64 = 0xFFFFFFFFFFFFFFFF
_H512 = (
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
    0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
)
_K512 = (
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
    0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
    0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
    0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
    0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
    0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
    0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
    0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
)


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & _M64


def sha512(data):
    """SHA-512 (FIPS 180-4) of bytes; slow on a board, so kept to a block or two."""
    n = len(data)
    msg = bytes(data) + b"\x80" + bytes((111 - n) % 128) + (n * 8).to_bytes(16, "big")
    h = list(_H512)
    for off in range(0, len(msg), 128):
        w = [int.from_bytes(msg[off + 8 * i:off + 8 * i + 8], "big") for i in range(16)]
        for i in range(16, 80):
            x, y = w[i - 15], w[i - 2]
            s0 = _rotr(x, 1) ^ _rotr(x, 8) ^ (x >> 7)
            s1 = _rotr(y, 19) ^ _rotr(y, 61) ^ (y >> 6)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & _M64)
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            t1 = (hh + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)) + ((e & f) ^ (~e & g))
                  + _K512[i] + w[i]) & _M64
            t2 = ((_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))) & _M64
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M64, c, b, a, (t1 + t2) & _M64
        h = [(h[0] + a) & _M64, (h[1] + b) & _M64, (h[2] + c) & _M64, (h[3] + d) & _M64,
             (h[4] + e) & _M64, (h[5] + f) & _M64, (h[6] + g) & _M64, (h[7] + hh) & _M64]
    out = b""
    for v in h:
        out += v.to_bytes(8, "big")
    return out


# -- the curve, in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z ---------------

def _add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * _D2 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p):
    x1, y1, z1, _ = p
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _encode(p):
    x, y, z, _ = p
    zi = pow(z, P - 2, P)
    x = x * zi % P
    y = y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decode(s):
    """A point from its 32-byte encoding, or None when it is not a canonical one."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= _YMASK
    if y >= P:
        return None
    yy = y * y % P
    x2 = (yy - 1) * pow(_D * yy + 1, P - 2, P) % P
    if x2 == 0:
        if sign:
            return None
        x = 0
    else:
        x = pow(x2, (P + 3) // 8, P)
        if (x * x - x2) % P:
            x = x * _SQRT_M1 % P
        if (x * x - x2) % P:
            return None
        if (x & 1) != sign:
            x = P - x
    return (x, y, 1, x * y % P)


_B = (_BX, _BY, 1, _BX * _BY % P)
_STEP = 24          # point-operation rounds between yields


class Check:
    """One signature check; run steps() to the end, then read ok (and why when not ok)."""

    def __init__(self, public_key, message, signature):
        self.public_key = bytes(public_key)
        self.message = bytes(message)
        self.signature = bytes(signature)
        self.ok = None
        self.why = None

    def _refuse(self, why):
        self.ok = False
        self.why = why

    def steps(self):
        if len(self.public_key) != 32:
            self._refuse("public key is not 32 bytes")
            return
        if len(self.signature) != 64:
            self._refuse("signature is not 64 bytes")
            return
        a = _decode(self.public_key)
        if a is None:
            self._refuse("public key is not a point on the curve")
            return
        r = self.signature[:32]
        s = int.from_bytes(self.signature[32:], "little")
        if s >= L or _decode(r) is None:
            self._refuse("signature is malformed")
            return
        yield
        h = int.from_bytes(sha512(r + self.public_key + self.message), "little") % L
        yield
        # [s]B + [h](-A), both scalars at once (Straus): one doubling per bit, one addition for
        # each bit where either scalar has a 1.
        neg_a = ((P - a[0]) % P, a[1], a[2], (P - a[3]) % P)
        table = (None, _B, neg_a, _add(_B, neg_a))
        q = (0, 1, 1, 0)
        for i in range(252, -1, -1):
            q = _double(q)
            k = ((s >> i) & 1) | (((h >> i) & 1) << 1)
            if k:
                q = _add(q, table[k])
            if i % _STEP == 0:
                yield
        if _encode(q) == r:
            self.ok = True
        else:
            self._refuse("signature does not match")


def verify(public_key, message, signature):
    """True when `signature` is the Ed25519 signature of `message` by `public_key` (bytes)."""
    c = Check(public_key, message, signature)
    for _ in c.steps():
        pass
    return c.ok
