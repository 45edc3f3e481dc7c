# sn_hw: the stitch sensor on the handwheel, counted by the chip's hardware pulse counter (PCNT)
# through machine.Counter (MicroPython >= 1.26; ESP32, S2, S3, C6).
#
# Pin interrupts are not a supported way to count (hardware/README.md): on the ESP32 port they
# are scheduled (soft) interrupts, run late from a short queue, and lost when the queue is full
# while the board is busy (a flash write, the Wi-Fi driver), so stitches would go missing.
#
# take(): stitches since the previous take(). The main loop calls it every 100 ms. machine.Counter
# counts on past 16 bits (it adds the PCNT's overflows in software); only differences of
# readings are used, masked to 16 bits, which stays exact as long as fewer than 65,536 stitches
# fall between two readings (six minutes at 10,000 spm) and also holds for a raw 16-bit PCNT.

import machine

import sn_counting


class PcntCounter:
    kind = "pcnt"

    def __init__(self, unit, pin, filter_ns):
        src = machine.Pin(pin, machine.Pin.IN)
        self._ctr = machine.Counter(unit, src=src, edge=machine.Counter.RISING, filter_ns=filter_ns)
        self._delta = sn_counting.WrapDelta(self._ctr.value(), 16)

    def take(self):
        return self._delta.update(self._ctr.value())

    def idle(self):
        pass

    @property
    def rejected(self):
        return 0     # the hardware filter drops glitches without telling us


class CounterMissing(Exception):
    pass


def make_counter(cfg):
    if not hasattr(machine, "Counter"):
        raise CounterMissing("this MicroPython has no machine.Counter: flash MicroPython 1.26 or"
                             " later built for a chip with a pulse counter (ESP32, S2, S3, C6)")
    return PcntCounter(cfg["pcnt_unit"], cfg["sensor_pin"], cfg["filter_ns"])


def device_id():
    """sn- and the last six bytes of the MAC, as `sewnet device flash` names boards."""
    import binascii
    return "sn-" + binascii.hexlify(machine.unique_id()[-6:]).decode()
