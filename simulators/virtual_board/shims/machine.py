"""Simulated `machine` for an ESP32: Pin (with interrupts), Counter (the 16-bit PCNT),
unique_id, reset, WDT, Timer (soft callbacks), disable_irq/enable_irq.

Only the sensor pin carries a signal (the board's sewing machine); other pins are plain
latches. The Counter wraps at 65536 like the raw PCNT register, so the firmware's wrap
handling is exercised; its glitch filter ignores pulses narrower than filter_ns, capped at the
ESP32's ~12.8 us like the real driver ("the longest filter supported that is <= filter_ns").
"""

from simulators.virtual_board import runtime

PCNT_FILTER_MAX_NS = 12787   # 1023 APB cycles at 80 MHz


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

    def irq(self, handler=None, trigger=IRQ_RISING, *, hard=False, wake=None):
        if trigger != Pin.IRQ_RISING and handler is not None:
            raise ValueError("the virtual board delivers rising edges only")
        runtime.board().attach_irq(self, handler, hard)

    def __repr__(self):
        return "Pin(%d)" % self.id


class Counter:
    RISING = 1
    FALLING = 2
    UP = 1
    DOWN = -1

    def __init__(self, id, src=None, *, edge=RISING, direction=UP, filter_ns=0, **kwargs):
        self.id = id
        self.init(src, edge=edge, direction=direction, filter_ns=filter_ns, **kwargs)

    def init(self, src=None, *, edge=RISING, direction=UP, filter_ns=0, **kwargs):
        if kwargs:
            raise TypeError("unsupported Counter arguments: %s" % ", ".join(sorted(kwargs)))
        if edge != Counter.RISING or direction != Counter.UP:
            raise ValueError("the virtual PCNT counts rising edges upwards only")
        if filter_ns < 0:
            raise ValueError("filter_ns must be >= 0")
        self.src = src
        self.filter_ns = min(filter_ns, PCNT_FILTER_MAX_NS)
        self._raw = 0
        self._cursor = runtime.board().attach_counter(self)

    def deinit(self):
        runtime.board().detach_counter(self)

    def value(self, v=None):
        b = runtime.board()
        self._raw = (self._raw + b.counter_edges(self)) & 0xFFFF
        old = self._raw
        if v is not None:
            self._raw = v & 0xFFFF
        return old


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
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        runtime.board().wdt_started = True

    def feed(self):
        runtime.board().wdt_feeds += 1


class RTC:
    def datetime(self, *args):
        import time
        t = time.gmtime()
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
