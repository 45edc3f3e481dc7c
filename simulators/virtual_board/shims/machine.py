"""Simulated `machine` for an ESP32: Pin (with soft interrupts), Counter, unique_id, reset,
WDT, Timer (soft callbacks), disable_irq/enable_irq.

Only the sensor pin carries a signal (the board's sewing machine); other pins are plain
latches. Pin.irq takes handler, trigger and wake, as ports/esp32/machine_pin.c does: no `hard`
(a TypeError, like MicroPython's argument parser), and every handler is scheduled (board.py).
Counter is MicroPython's ports/esp32/modules/machine.py on the PCNT: one object per unit
(Counter(0, ...) again is the same object), the PCNT counts up to +-32000 and each overflow is
added in software, so value() counts on past 16 bits (and past 2**30 into a big int); value(v)
returns the count and sets it to v; the glitch filter is min(filter_ns * 80 // 1000, 1023) APB
cycles, so pulses narrower than that are not counted.
"""

from simulators.virtual_board import runtime

PCNT_FILTER_MAX_NS = 12787   # 1023 APB cycles at 80 MHz
PCNT_RANGE = 32000


def unique_id():
    return runtime.board().unique_id


def reset():
    runtime.board().reset()


def soft_reset():
    runtime.board().reset()


def reset_cause():
    return 1     # PWRON_RESET


PWRON_RESET = 1


def freq(*args):
    return 240000000


def idle():
    return None


def disable_irq():
    return runtime.board().disable_irq()


def enable_irq(state=True):
    runtime.board().enable_irq(state)


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._value = 0 if value is None else int(bool(value))

    def init(self, mode=-1, pull=-1, *, value=None):
        self.__init__(self.id, mode, pull, value=value)

    def value(self, v=None):
        b = runtime.board()
        if v is None:
            if self.id == b.sensor_pin:
                return b.sensor_level()
            return self._value
        self._value = int(bool(v))
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0

    def irq(self, handler=None, trigger=IRQ_RISING, wake=None):
        if trigger != Pin.IRQ_RISING and handler is not None:
            raise ValueError("the virtual board delivers rising edges only")
        runtime.board().attach_irq(self, handler)

    def __repr__(self):
        return "Pin(%d)" % self.id


class Counter:
    RISING = 1
    FALLING = 2
    UP = 1
    DOWN = -1

    def __new__(cls, unit_id, *args, **kwargs):
        units = runtime.board().counter_units
        self = units.get(unit_id)
        if self is None:
            self = units[unit_id] = object.__new__(cls)
        return self

    def __init__(self, unit_id, src=None, *, edge=RISING, direction=UP, filter_ns=0, **kwargs):
        self.id = unit_id
        if getattr(self, "_configured", False) and src is None and not kwargs:
            return       # Counter(0) again: the same unit, as it is
        self.init(src, edge=edge, direction=direction, filter_ns=filter_ns, **kwargs)

    def init(self, src=None, *, edge=RISING, direction=UP, filter_ns=0, **kwargs):
        if kwargs:
            raise TypeError("unsupported Counter arguments: %s" % ", ".join(sorted(kwargs)))
        if edge != Counter.RISING or direction != Counter.UP:
            raise ValueError("the virtual PCNT counts rising edges upwards only")
        if filter_ns < 0:
            raise ValueError("filter_ns must be >= 0")
        self.src = src
        cycles = min(max(0, filter_ns * 80 // 1000), 1023)
        self.filter_ns = cycles * 1000 // 80
        self._pcnt = 0          # the hardware register, -32000 .. 32000
        self._overflows = 0
        self._offset = 0
        self._configured = True
        runtime.board().attach_counter(self)

    def deinit(self):
        runtime.board().detach_counter(self)
        self._configured = False

    def value(self, v=None):
        if not getattr(self, "_configured", False):
            raise RuntimeError("not initialised")
        n = self._pcnt + runtime.board().counter_edges(self)
        self._overflows += n // PCNT_RANGE   # the PCNT resets to 0 at its limit; an IRQ counts it
        self._pcnt = n % PCNT_RANGE
        result = self._overflows * PCNT_RANGE + self._pcnt + self._offset
        if v is not None:
            self._overflows = 0
            self._offset = v - self._pcnt
        return result


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, **kwargs):
        self.id = id
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, period=-1, callback=None, freq=None):
        if freq is not None:
            period = 1000 // freq
        if period < 0:
            raise ValueError("period")
        runtime.board().start_timer(self, mode == Timer.ONE_SHOT, period, callback)

    def deinit(self):
        runtime.board().stop_timer(self)


class WDT:
    """Once started it cannot be stopped (as on the ESP32); not fed within `timeout` ms, the
    board resets."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        runtime.board().start_watchdog(timeout)

    def feed(self):
        runtime.board().feed_watchdog()


class RTC:
    def datetime(self, *args):
        import time
        t = time.gmtime()
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
