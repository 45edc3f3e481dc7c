# SewNet bench pulse generator: a Raspberry Pi Pico (RP2040, MicroPython >= 1.20) that plays
# stitch pulse trains into the sensor input of the board under test and switches that board's
# power through a relay. Commands come over the Pico's USB serial port (pg_proto.py has the
# protocol); hardware/hil/README.md has the wiring.
#
# Timing: a PIO state machine at 10 MHz plays each pulse as (high cycles, low cycles) taken from
# its TX FIFO, so widths and periods are exact to 0.1 us whatever MicroPython does meanwhile.
# Core 1 keeps the FIFO fed (a blocking put is fine there); core 0 reads commands and reports.
# A starved FIFO would only stretch a gap (the program waits at `pull` with the pin low): the
# count of pulses never changes.

import _thread
import select
import sys
import time

import machine
import rp2

import pg_proto

PULSE_PIN = 16      # GP16 (pin 21) -> 1 kOhm -> the board's sensor GPIO
RELAY_PIN = 15      # GP15 (pin 20) -> 1 kOhm -> NPN base; the relay cuts the board's 5 V
SM_ID = 0

# 120 MHz divides to the PIO's 10 MHz exactly (125 MHz would need a fractional divider, whose
# cycles jitter by a system clock).
machine.freq(120000000)


@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW, fifo_join=rp2.PIO.JOIN_TX)
def pulse_prog():
    # Per pulse two words: high cycles - 2, low cycles - 6 (pg_proto.MIN_HIGH, MIN_LOW). The
    # names below are the PIO assembler's, which asm_pio provides while it runs this function.
    # The high phase is set(pins, 1) and x+1 jumps; the low phase is set(pins, 0), y+1 jumps
    # and the 4 instructions at the top.
    pull(block)
    mov(x, osr)
    pull(block)
    mov(y, osr)
    set(pins, 1)
    label("high")
    jmp(x_dec, "high")
    set(pins, 0)
    label("low")
    jmp(y_dec, "low")


class Hardware:
    def __init__(self):
        self.relay = machine.Pin(RELAY_PIN, machine.Pin.OUT, value=0)
        self.sm = None
        self._float()
        self.controller = None
        self._stop = False
        self._running = False
        self._result = None          # (train_id, pulses, spikes, cut) for core 0 to report
        self._lock = _thread.allocate_lock()

    def _float(self):
        # An unpowered board must not be fed through its input's protection diodes: the output
        # is an input (high impedance) whenever the relay is off.
        if self.sm is not None:
            self.sm.active(0)
        machine.Pin(PULSE_PIN, machine.Pin.IN)

    def _drive(self):
        self.sm = rp2.StateMachine(SM_ID, pulse_prog, freq=pg_proto.CLOCK_HZ,
                                   set_base=machine.Pin(PULSE_PIN))
        self.sm.active(1)

    def power(self, on):
        if on:
            self._drive()
            self.relay.value(1)
        else:
            self.relay.value(0)
            self._float()

    def start(self, train_id, segments):
        self._stop = False
        self._running = True
        _thread.start_new_thread(self._feed, (train_id, segments))

    def stop(self):
        self._stop = True
        while self._running:
            time.sleep_ms(1)

    def _feed(self, train_id, segments):
        # Core 1. Counts what it hands to the PIO; on a stop, what still sits in the FIFO was
        # never played and is taken off again (kinds of the last few segments are kept). It puts
        # a segment only when the FIFO has room for it, so a stop never waits on a long period.
        sm = self.sm
        pulses = spikes = 0
        recent = []                  # kinds of the segments that may still be in the FIFO
        last_us = 0
        for high, low, is_spike in segments:
            while sm.tx_fifo() > 6 and not self._stop:     # 8 words joined: room for 2
                time.sleep_us(20)
            if self._stop:
                break
            sm.put(high - pg_proto.MIN_HIGH)
            sm.put(low - pg_proto.MIN_LOW)
            if is_spike:
                spikes += 1
            else:
                pulses += 1
            recent.append(is_spike)
            if len(recent) > 5:
                recent.pop(0)
            last_us = (high + low) // pg_proto.CYCLES_PER_US + 1
        cut = self._stop
        if cut:
            sm.active(0)
            unplayed = sm.tx_fifo() // 2
            for is_spike in recent[len(recent) - unplayed:] if unplayed else ():
                if is_spike:
                    spikes -= 1
                else:
                    pulses -= 1
            # A new state machine: its FIFO empty (the words left would play at the next train)
            # and the pin low; or the pin floating if the relay is off.
            if self.relay.value():
                self._drive()
            else:
                self._float()
        else:
            while sm.tx_fifo():
                time.sleep_us(50)
            time.sleep_us(last_us)   # the last segment, taken from the FIFO, plays out
        with self._lock:
            self._result = (train_id, pulses, spikes, cut)
        self._running = False

    def take_result(self):
        with self._lock:
            r, self._result = self._result, None
        return r


def main():
    hw = Hardware()
    ctl = pg_proto.Controller(hw)
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    buf = ""
    print("READY pulsegen %d" % pg_proto.VERSION)     # not an answer: no OK in front
    while True:
        if poll.poll(5):
            c = sys.stdin.read(1)
            if c in ("\n", "\r"):
                if buf:
                    print(ctl.handle(buf))
                    buf = ""
            elif len(buf) <= pg_proto.MAX_LINE:
                buf += c
            else:
                buf = ""
                ctl.errors += 1
                print("ERR 줄이 너무 김 / line too long")
        r = hw.take_result()
        if r is not None:
            print(ctl.finished(*r))


main()
