# sn_hw: the stitch sensor on the handwheel, counted by the ESP32 pulse counter (PCNT) or, on
# chips without one (ESP32-C3), by pin interrupts with a software lockout.
#
# Both counters expose take(): stitches since the previous take(). The main loop calls it every
# 100 ms; only differences of raw readings are used, so a counter that wraps never loses or
# invents stitches.

import time

import machine

import sn_counting

# The interrupt tally wraps at 2**29 so that even `tally + 1` stays a small int on the ESP32
# (31-bit small ints): a hard interrupt handler must not allocate.
_IRQ_BITS = 29
_IRQ_MASK = (1 << _IRQ_BITS) - 1


class PcntCounter:
    kind = "pcnt"

    def __init__(self, unit, pin, filter_ns):
        src = machine.Pin(pin, machine.Pin.IN)
        self._ctr = machine.Counter(unit, src=src, edge=machine.Counter.RISING, filter_ns=filter_ns)
        # Counter.value() is 16 bits wide on the raw PCNT and wider on ports that track
        # overflows; 16-bit deltas are exact for both as long as we read every few minutes.
        self._delta = sn_counting.WrapDelta(self._ctr.value(), 16)

    def take(self):
        return self._delta.update(self._ctr.value())

    def idle(self):
        pass

    @property
    def rejected(self):
        return 0     # the hardware filter drops glitches without telling us


class IrqCounter:
    kind = "irq"

    def __init__(self, pin, lockout_us):
        self._pin = machine.Pin(pin, machine.Pin.IN)
        self._lockout = sn_counting.Lockout(lockout_us, time.ticks_diff)
        self._edges = 0          # written only by the handler: no read-modify-write race
        self._delta = sn_counting.WrapDelta(0, _IRQ_BITS)
        handler = self._on_edge
        try:
            # A hard interrupt cannot be lost when the scheduler queue is full (Wi-Fi or a
            # flash write can hold the loop for longer than 8 stitches at speed).
            self._pin.irq(handler=handler, trigger=machine.Pin.IRQ_RISING, hard=True)
        except (TypeError, ValueError):
            self._pin.irq(handler=handler, trigger=machine.Pin.IRQ_RISING)

    def _on_edge(self, pin):
        if self._lockout.accept(time.ticks_us()):
            self._edges = (self._edges + 1) & _IRQ_MASK

    def take(self):
        return self._delta.update(self._edges)

    def idle(self):
        self._lockout.expire(time.ticks_us())

    @property
    def rejected(self):
        return self._lockout.rejected


def make_counter(cfg):
    """The counter the board variant asks for; falls back to interrupts when the firmware
    build has no machine.Counter (MicroPython < 1.26, or a chip without PCNT)."""
    if cfg["counter"] == "pcnt" and hasattr(machine, "Counter"):
        try:
            return PcntCounter(cfg["pcnt_unit"], cfg["sensor_pin"], cfg["filter_ns"])
        except (ValueError, OSError) as e:
            print("sn_hw: PCNT unavailable (%r), using pin interrupts" % (e,))
    return IrqCounter(cfg["sensor_pin"], cfg["lockout_us"])


def device_id():
    """sn- and the last six bytes of the MAC, as `sewnet device flash` names boards."""
    import binascii
    return "sn-" + binascii.hexlify(machine.unique_id()[-6:]).decode()
