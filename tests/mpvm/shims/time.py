# Virtual time for the firmware on the MicroPython VM: the VM's own ticks plus the time the test
# driver (vm.py) skips while every task sleeps, so a simulated day takes minutes. The built-in
# time module is reached with an empty sys.path (MicroPython then imports the built-in).
import sys

_saved = sys.path[:]
_me = sys.modules.pop("time", None)
while sys.path:
    sys.path.pop()
try:
    import time as _rt
finally:
    sys.path.extend(_saved)
    if _me is not None:
        sys.modules["time"] = _me

skipped_ms = 0
_ticks_from = 0       # a power cut starts the tick counter again from 0 (power_on)


def skip(ms):
    global skipped_ms
    skipped_ms += ms


def power_on():
    """Power back after a cut: ticks count from 0 again, as on a board (time() is not the
    board's to keep: it has no RTC)."""
    global _ticks_from
    _ticks_from = -(_rt.ticks_ms() + skipped_ms)


def ticks_ms():
    return _rt.ticks_add(_rt.ticks_ms(), skipped_ms + _ticks_from)


def ticks_us():
    return _rt.ticks_add(_rt.ticks_us(), (skipped_ms + _ticks_from) * 1000)


ticks_cpu = ticks_us
ticks_add = _rt.ticks_add
ticks_diff = _rt.ticks_diff
gmtime = _rt.gmtime
localtime = _rt.localtime
mktime = _rt.mktime


def time():
    return _rt.time() + skipped_ms // 1000


def time_ns():
    return _rt.time_ns() + skipped_ms * 1000000


def sleep_ms(ms):
    skip(ms)


def sleep_us(us):
    skip(us // 1000)


def sleep(s):
    skip(int(s * 1000))
