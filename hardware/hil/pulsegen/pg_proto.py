# pg_proto: the SewNet bench pulse generator's line protocol and its pulse plans.
#
# Pure Python for MicroPython (the generator, a Raspberry Pi Pico: main.py) and CPython (the
# test host's driver, tests/hil/pulsegen.py, and the virtual bench, which runs this very
# Controller in place of the Pico). One checker and one plan on both sides: what the suite asks
# for is what the PIO plays, edge for edge.
#
# Protocol: one ASCII line per command (LF or CRLF), one line per answer; DONE lines come by
# themselves when a train ends.
#   HELLO                                   -> OK HELLO pulsegen <VERSION> <CLOCK_HZ>
#   POWER 0|1                               -> OK POWER 0|1    relay of the board under test;
#                                              0 also ends a train (DONE ... 1) and floats the output
#   TRAIN n period_us width_us [every ns]   -> OK TRAIN <id>, later DONE <id> <pulses> <spikes> <cut>
#        n pulses `width_us` high every `period_us`; with `every` > 0 a spike `ns` wide sits in the
#        middle of the gap after every `every`-th pulse (narrower than the PCNT filter: not a stitch)
#   STOP                                    -> OK STOP         (a running train ends: DONE ... 1)
#   STATUS                                  -> OK STATUS power=<0|1> busy=<0|1> pulses=<n> spikes=<n> errors=<n>
# Anything else, or a bad number, is answered `ERR <Korean> / <English>` and counted (errors=).
# A line arriving while a train plays is handled at once (the PIO plays on by itself).

VERSION = 1
# The PIO state machine runs at 10 MHz: one cycle is 0.1 us, so widths are exact to 100 ns.
CLOCK_HZ = 10000000
CYCLES_PER_US = CLOCK_HZ // 1000000
# The PIO program (main.py) spends 2 cycles of every high phase and 6 of every low phase on its
# own instructions; a phase cannot be shorter than that.
MIN_HIGH = 2
MIN_LOW = 6

MAX_PULSES = 1000000
MIN_PERIOD_US = 200          # 300,000 stitches a minute: far above any sewing machine
MAX_PERIOD_US = 10000000     # one stitch every 10 s
MIN_SPIKE_NS = 200
MAX_SPIKE_NS = 100000
MAX_LINE = 80


class ProtocolError(Exception):
    def __init__(self, ko, en):
        super().__init__(en)
        self.ko = ko
        self.en = en

    def line(self):
        return "ERR %s / %s" % (self.ko, self.en)


def _int(word, name, low=0, high=9999999999):
    # int() would take "1_000", "+5" and " 7 " too; the protocol's numbers are plain digits.
    if not word or len(word) > 10 or not all("0" <= c <= "9" for c in word):
        raise ProtocolError("%s 값이 숫자가 아님: %s" % (name, word[:12]),
                            "%s is not a whole number: %s" % (name, word[:12]))
    v = int(word)
    if v < low or v > high:
        raise ProtocolError("%s 범위 %d..%d 밖: %d" % (name, low, high, v),
                            "%s must be %d..%d, got %d" % (name, low, high, v))
    return v


def check_train(n, period_us, width_us, every=0, spike_ns=0):
    """Raises ProtocolError unless the PIO can play this train exactly."""
    if n < 1 or n > MAX_PULSES:
        raise ProtocolError("펄스 수 범위 1..%d 밖: %d" % (MAX_PULSES, n),
                            "n must be 1..%d, got %d" % (MAX_PULSES, n))
    if period_us < MIN_PERIOD_US or period_us > MAX_PERIOD_US:
        raise ProtocolError("주기 범위 %d..%d us 밖: %d" % (MIN_PERIOD_US, MAX_PERIOD_US, period_us),
                            "period_us must be %d..%d, got %d" % (MIN_PERIOD_US, MAX_PERIOD_US, period_us))
    gap = (period_us - width_us) * CYCLES_PER_US
    if width_us < 1 or gap < MIN_LOW:
        raise ProtocolError("펄스 폭은 1 us 이상, 주기보다 1 us 이상 짧아야 함: %d" % width_us,
                            "width_us must be at least 1 and 1 us shorter than the period, got %d" % width_us)
    if every < 0 or every > n:
        raise ProtocolError("스파이크 간격 범위 0..%d 밖: %d" % (n, every),
                            "every must be 0..%d, got %d" % (n, every))
    if every:
        if spike_ns < MIN_SPIKE_NS or spike_ns > MAX_SPIKE_NS:
            raise ProtocolError("스파이크 폭 범위 %d..%d ns 밖: %d" % (MIN_SPIKE_NS, MAX_SPIKE_NS, spike_ns),
                                "spike_ns must be %d..%d, got %d" % (MIN_SPIKE_NS, MAX_SPIKE_NS, spike_ns))
        s = spike_ns * CYCLES_PER_US // 1000
        if (gap - s) // 2 < MIN_LOW:
            raise ProtocolError("스파이크가 펄스 사이에 들어가지 않음",
                                "the spike does not fit in the gap between pulses")


def plan(n, period_us, width_us, every=0, spike_ns=0):
    """The train as the PIO plays it: (high_cycles, low_cycles, is_spike) per pulse, in order.
    A pulse with a spike after it is split so the period stays exact. A generator: a million
    pulses take no memory on the Pico."""
    high = width_us * CYCLES_PER_US
    gap = (period_us - width_us) * CYCLES_PER_US
    s = spike_ns * CYCLES_PER_US // 1000 if every else 0
    first = (gap - s) // 2
    for i in range(1, n + 1):
        if every and i % every == 0:
            yield high, first, False
            yield s, gap - s - first, True
        else:
            yield high, gap, False


def counts(n, every):
    """(pulses, spikes) a whole train plays."""
    return n, (n // every if every else 0)


def train_line(n, period_us, width_us, every=0, spike_ns=0):
    """The host's TRAIN command (checked first: a bad train is refused before it goes out)."""
    check_train(n, period_us, width_us, every, spike_ns)
    if every:
        return "TRAIN %d %d %d %d %d" % (n, period_us, width_us, every, spike_ns)
    return "TRAIN %d %d %d" % (n, period_us, width_us)


class Controller:
    """The generator's command side. `hw` plays trains and switches the relay:
        hw.power(on)                   relay on/off (off also floats the output pin)
        hw.start(train_id, plan_iter)  starts playing; later calls controller.finished(...)
        hw.stop()                      ends the train at once; it then calls finished(..., cut=True)
    Returns each answer as one line (no line ending)."""

    def __init__(self, hw):
        self.hw = hw
        self.powered = False
        self.busy = False
        self.train_id = 0
        self.pulses = 0          # played in all, since the generator started
        self.spikes = 0
        self.errors = 0

    def handle(self, line):
        try:
            return self._handle(line)
        except ProtocolError as e:
            self.errors += 1
            return e.line()

    def _handle(self, line):
        if isinstance(line, bytes):
            try:
                line = line.decode()
            except UnicodeError:
                raise ProtocolError("ASCII가 아닌 줄", "the line is not ASCII")
        if len(line) > MAX_LINE:
            raise ProtocolError("줄이 너무 김 (%d자 이하)" % MAX_LINE, "line longer than %d characters" % MAX_LINE)
        words = line.strip().split()
        if not words:
            raise ProtocolError("빈 명령", "empty command")
        cmd, args = words[0].upper(), words[1:]
        if cmd == "HELLO" and not args:
            return "OK HELLO pulsegen %d %d" % (VERSION, CLOCK_HZ)
        if cmd == "POWER" and len(args) == 1:
            on = _int(args[0], "POWER", 0, 1)
            if not on and self.busy:
                self.hw.stop()
            self.hw.power(bool(on))
            self.powered = bool(on)
            return "OK POWER %d" % on
        if cmd == "TRAIN" and len(args) in (3, 5):
            # Digits here; the ranges, with their reasons, are check_train's (the host's too).
            n, period, width = _int(args[0], "n"), _int(args[1], "period_us"), _int(args[2], "width_us")
            every = spike = 0
            if len(args) == 5:
                every, spike = _int(args[3], "every"), _int(args[4], "spike_ns")
            check_train(n, period, width, every, spike)
            if not self.powered:
                raise ProtocolError("보드 전원이 꺼져 있음 (POWER 1 먼저)",
                                    "the board is not powered (POWER 1 first)")
            if self.busy:
                raise ProtocolError("펄스열 재생 중 (STOP 또는 DONE을 기다림)",
                                    "a train is playing (STOP it or wait for DONE)")
            self.train_id += 1
            self.busy = True
            self.hw.start(self.train_id, plan(n, period, width, every, spike))
            return "OK TRAIN %d" % self.train_id
        if cmd == "STOP" and not args:
            if self.busy:
                self.hw.stop()
            return "OK STOP"
        if cmd == "STATUS" and not args:
            return "OK STATUS power=%d busy=%d pulses=%d spikes=%d errors=%d" % (
                self.powered, self.busy, self.pulses, self.spikes, self.errors)
        if cmd in ("HELLO", "POWER", "TRAIN", "STOP", "STATUS"):
            raise ProtocolError("%s 인자 개수가 틀림" % cmd, "wrong number of arguments for %s" % cmd)
        raise ProtocolError("알 수 없는 명령: %s" % cmd[:12], "unknown command: %s" % cmd[:12])

    def finished(self, train_id, pulses, spikes, cut):
        """The hardware's report of a train that ended; returns the DONE line to send."""
        self.busy = False
        self.pulses += pulses
        self.spikes += spikes
        return "DONE %d %d %d %d" % (train_id, pulses, spikes, 1 if cut else 0)


def parse_done(line):
    """(train_id, pulses, spikes, cut) of a DONE line, or None."""
    words = line.split()
    if len(words) != 5 or words[0] != "DONE":
        return None
    try:
        tid, pulses, spikes, cut = (int(w) for w in words[1:])
    except ValueError:
        return None
    return tid, pulses, spikes, bool(cut)
