# sn_summary: the board's side of docs/protocol.md sections 1-3 (topics, summary, status, will).
#
# The JSON is written by hand in the contract's key order: MicroPython dicts do not keep
# insertion order, and a summary sent again must be the same bytes as the first time except its
# `sent_ms` (the uptime of this copy's publish, contract v2). Summaries wait in the flash spool
# (sn_spool) as fixed 52-byte records, not as JSON text; encode() rebuilds the same bytes.

import struct

VERSION = 2
MAX_BYTES = 512
TOPIC_ROOT = "sewnet/v1/"

# boot, nonce, seq, uptime_ms, interval_ms, stitches, run_ms, stops, peak_spm, total,
# time (0 = unsynced)
RECORD_FORMAT = "<IIIQIIIIIQI"
RECORD_SIZE = struct.calcsize(RECORD_FORMAT)
TOTAL_OFFSET = 40          # where `total` lies in a record (sn_spool recovers it from there)
# boot, nonce, seq of a record: enough to match the gateway's acknowledgement
IDENT_FORMAT = "<III"

_ID_FIRST = "abcdefghijklmnopqrstuvwxyz0123456789"
_ID_REST = _ID_FIRST + "_-"


class SummaryError(ValueError):
    pass


def valid_device(device):
    """Device id rule of the contract: ^[a-z0-9][a-z0-9_-]{1,31}$ (no re: tiny ports lack it)."""
    if not isinstance(device, str) or not 2 <= len(device) <= 32:
        return False
    if device[0] not in _ID_FIRST:
        return False
    for c in device[1:]:
        if c not in _ID_REST:
            return False
    return True


def topic(device, kind):
    return TOPIC_ROOT + device + "/" + kind


def _int(name, value, lo, hi=None):
    # bool is an int subclass on CPython; the contract says booleans are not integers.
    if isinstance(value, bool) or not isinstance(value, int):
        raise SummaryError("%s must be an integer" % name)
    if value < lo or (hi is not None and value > hi):
        raise SummaryError("%s=%d out of range" % (name, value))
    return value


def check(s):
    """Raises SummaryError naming the first field that breaks the contract's ranges, so a
    firmware bug shows up on the board instead of as a rejection at the gateway."""
    if not valid_device(s.get("device")):
        raise SummaryError("device id %r is not valid" % (s.get("device"),))
    _int("boot", s.get("boot"), 1, 2147483647)
    _int("nonce", s.get("nonce"), 1, 2147483647)
    _int("seq", s.get("seq"), 1, 2147483647)
    up = _int("uptime_ms", s.get("uptime_ms"), 0, 1 << 53)
    if "sent_ms" in s:
        _int("sent_ms", s.get("sent_ms"), up, 1 << 53)
    iv = _int("interval_ms", s.get("interval_ms"), 1000, 3600000)
    st = _int("stitches", s.get("stitches"), 0, iv // 5)
    _int("run_ms", s.get("run_ms"), 0, iv)
    _int("stops", s.get("stops"), 0, 10000)
    _int("peak_spm", s.get("peak_spm"), 0, 30000)
    _int("total", s.get("total"), st)
    t = s.get("time")
    if t is not None:
        _int("time", t, 1600000000)


def encode(s, sent_ms=None):
    """Summary dict -> compact JSON bytes, keys in the contract's order; `time` only when set.
    `sent_ms`: the uptime now, as this copy goes out (else the dict's own `sent_ms`)."""
    if sent_ms is None:
        sent_ms = s["sent_ms"]
    parts = [
        '{"v":2,"device":"', s["device"],
        '","boot":', str(s["boot"]),
        ',"nonce":', str(s["nonce"]),
        ',"seq":', str(s["seq"]),
        ',"uptime_ms":', str(s["uptime_ms"]),
        ',"sent_ms":', str(sent_ms),
        ',"interval_ms":', str(s["interval_ms"]),
        ',"stitches":', str(s["stitches"]),
        ',"run_ms":', str(s["run_ms"]),
        ',"stops":', str(s["stops"]),
        ',"peak_spm":', str(s["peak_spm"]),
        ',"total":', str(s["total"]),
    ]
    t = s.get("time")
    if t is not None:
        parts.append(',"time":')
        parts.append(str(t))
    parts.append("}")
    return "".join(parts).encode()


def pack(s):
    """Summary dict -> fixed-size record for the spool (device id is the board's own)."""
    t = s.get("time")
    return struct.pack(RECORD_FORMAT, s["boot"], s["nonce"], s["seq"], s["uptime_ms"],
                       s["interval_ms"], s["stitches"], s["run_ms"], s["stops"], s["peak_spm"],
                       s["total"], 0 if t is None else t)


def unpack(record, device):
    f = struct.unpack_from(RECORD_FORMAT, record)
    s = {"v": VERSION, "device": device, "boot": f[0], "nonce": f[1], "seq": f[2],
         "uptime_ms": f[3], "interval_ms": f[4], "stitches": f[5], "run_ms": f[6], "stops": f[7],
         "peak_spm": f[8], "total": f[9]}
    if f[10]:
        s["time"] = f[10]
    return s


def ident(record):
    """(boot, nonce, seq) of a record, without building the summary."""
    return struct.unpack_from(IDENT_FORMAT, record)


def parse_ack(payload):
    """The gateway's acknowledgement (docs/protocol.md 1) -> (boot, nonce, [(lo, hi), ...]), or
    None for anything else (a board never trusts a message it cannot read)."""
    try:
        import json
        a = json.loads(payload)
        boot, nonce, seqs = a["boot"], a["nonce"], a["seqs"]
        out = []
        for r in seqs:
            lo, hi = r[0], r[1]
            if isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi:
                out.append((lo, hi))
        if isinstance(boot, int) and isinstance(nonce, int):
            return boot, nonce, out
    except (ValueError, KeyError, TypeError, IndexError):
        pass
    return None


def status(device, boot, nonce, fw, counter, interval_ms, uptime_ms=None, queued=None,
           dropped=None, online=True):
    """Retained status (online) or, with online=False, the last will: the same object with
    state offline and without the live figures (a will is registered once, at connect)."""
    parts = [
        '{"v":2,"device":"', device,
        '","state":"', "online" if online else "offline",
        '","boot":', str(boot),
        ',"nonce":', str(nonce),
    ]
    if online:
        parts.append(',"uptime_ms":')
        parts.append(str(uptime_ms))
    parts.append(',"fw":"')
    parts.append(fw)
    parts.append('","counter":"')
    parts.append(counter)
    parts.append('","interval_ms":')
    parts.append(str(interval_ms))
    if online:
        parts.append(',"queued":')
        parts.append(str(queued))
        parts.append(',"dropped":')
        parts.append(str(dropped))
    parts.append("}")
    return "".join(parts).encode()


def will(device, boot, nonce, fw, counter, interval_ms):
    return status(device, boot, nonce, fw, counter, interval_ms, online=False)
