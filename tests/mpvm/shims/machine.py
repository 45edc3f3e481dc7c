# A stand-in `machine` for the firmware on the MicroPython VM (no hardware there): a Counter fed
# by a deterministic sewing pattern in virtual time, a WDT that counts feeds, reset() that stops.
import time

stitches_made = 0
wdt_feeds = 0
wdt_timeout = None


def unique_id():
    return b"\x3c\x71\xbf\x0a\x12\xf4"


class BoardReset(Exception):
    pass


def reset():
    raise BoardReset()


class Pin:
    IN = 1
    IRQ_RISING = 1

    def __init__(self, id, mode=-1):
        self.id = id


class Counter:
    RISING = 1
    _start = None

    def __init__(self, unit, src=None, edge=1, filter_ns=0):
        self._start = time.ticks_ms()
        self._base = 0

    def value(self, v=None):
        # Sews 10 s, rests 5 s: 120 stitches a second while sewing (7,200 spm).
        global stitches_made
        ms = time.ticks_diff(time.ticks_ms(), self._start)
        cycles, rest = divmod(ms, 15000)
        n = cycles * 1200 + min(rest, 10000) * 120 // 1000
        stitches_made = n
        return n + self._base


class WDT:
    def __init__(self, id=0, timeout=5000):
        global wdt_timeout
        wdt_timeout = timeout

    def feed(self):
        global wdt_feeds
        wdt_feeds += 1
