# sn_summary: the board's side of docs/protocol.md sections 1-3 (topics, summary, status, will).
#
# The JSON is written by hand in the contract's key order: MicroPython dicts do not keep
# insertion order, and a summary sent again must be the same bytes as the first time.
# Summaries wait in RAM as fixed 48-byte records (not as JSON text): 360 queued summaries take
# 17 KB instead of ~80 KB of an ESP32's ~100 KB free heap, and encode() rebuilds identical bytes.

import struct

VERSION = 1
MAX_BYTES = 512
TOPIC_ROOT = "sewnet/v1/"

# boot, seq, uptime_ms, interval_ms, stitches, run_ms, stops, peak_spm, total, time (0 = unsynced)
RECORD_FORMAT = "<IIQIIIIIQI"
RECORD_SIZE = struct.calcsize(RECORD_FORMAT)

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
    _int("seq", s.get("seq"), 1, 2147483647)
    _int("uptime_ms", s.get("uptime_ms"), 0, 1 << 53)
    iv = _int("interval_ms", s.get("interval_ms"), 1000, 3600000)
    st = _int("stitches", s.get("stitches"), 0, iv // 5)
    _int("run_ms", s.get("run_ms"), 0, iv)
    _int("stops", s.get("stops"), 0, 10000)
    _int("peak_spm", s.get("peak_spm"), 0, 30000)
    _int("total", s.get("total"), st)
    t = s.get("time")
    if t is not None:
        _int("time", t, 1600000000)


def encode(s):
    """Summary dict -> compact JSON bytes, keys in the contract's order; `time` only when set."""
    parts = [
        '{"v":1,"device":"', s["device"],
        '","boot":', str(s["boot"]),
        ',"seq":', str(s["seq"]),
        ',"uptime_ms":', str(s["uptime_ms"]),
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
    """Summary dict -> fixed-size record for the RAM queue (device id is the board's own)."""
    t = s.get("time")
    return struct.pack(RECORD_FORMAT, s["boot"], s["seq"], s["uptime_ms"], s["interval_ms"],
                       s["stitches"], s["run_ms"], s["stops"], s["peak_spm"], s["total"],
                       0 if t is None else t)


def unpack(record, device):
    f = struct.unpack(RECORD_FORMAT, record)
    s = {"v": VERSION, "device": device, "boot": f[0], "seq": f[1], "uptime_ms": f[2],
         "interval_ms": f[3], "stitches": f[4], "run_ms": f[5], "stops": f[6],
         "peak_spm": f[7], "total": f[8]}
    if f[9]:
        s["time"] = f[9]
    return s


def status(device, boot, fw, counter, interval_ms, uptime_ms=None, queued=None, dropped=None,
           online=True):
    """Retained status (online) or, with online=False, the last will: the same object with
    state offline and without the live figures (a will is registered once, at connect)."""
    parts = [
        '{"v":1,"device":"', device,
        '","state":"', "online" if online else "offline",
        '","boot":', str(boot),
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


def will(device, boot, fw, counter, interval_ms):
    return status(device, boot, fw, counter, interval_ms, online=False)
