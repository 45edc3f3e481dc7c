"""The firmware's counting path (sn_hw counter -> sn_counting.Tally), fed by the sewing model
through the virtual board's machine.Counter (the PCNT), counts exactly, in virtual time.

After every 100 ms tick the firmware's lifetime total must equal the real stitches made so far:
no more (glitches) and no fewer (a value past 16 bits and past 2**30, 10,000 spm, a late loop).
And why pin interrupts are not supported (hardware/README.md): on the virtual board's soft
interrupts, modelled on MicroPython's ESP32 port, a busy VM loses stitches."""

from __future__ import annotations

import json

import pytest

from simulators.sewing import SPIKE, SewingMachine
from simulators.virtual_board import BOARDS_FILE, VirtualBoard, VirtualClock
from simulators.virtual_board.board import SCHEDULER_DEPTH

PINS = json.loads(BOARDS_FILE.read_text())


def config(variant, **over):
    c = {"device": "sn-3c71bf0a12f4", "password": "not-used", "wifi": {"ssid": "bench"},
         "broker": {"host": "127.0.0.1"}, "variant": variant}
    c.update(over)
    return c


made: list = []


class Rig:
    """A virtual board in virtual time, and the firmware's own counter and tally."""

    def __init__(self, tmp_path, sewing, variant, ticks_offset_ms=0, **cfg_over):
        self.sewing = sewing
        self.board = VirtualBoard(tmp_path / "flash", sewing=sewing, clock=VirtualClock(),
                                  sensor_pin=PINS[variant]["sensor_pin"],
                                  ticks_offset_ms=ticks_offset_ms)
        self.board.flash(config(variant, **cfg_over))
        self.board.install()
        made.append(self)
        sn_config = self.board.import_firmware("sn_config")
        self.cfg = sn_config.load(str(tmp_path / "flash" / "sewnet.json"))
        self.counting = self.board.import_firmware("sn_counting")
        self.counter = self.board.import_firmware("sn_hw").make_counter(self.cfg)
        self.tally = self.counting.Tally()

    def run(self, seconds, step_ms=100, check_every_tick=True):
        for _ in range(round(seconds * 1000 / step_ms)):
            self.board.advance_ms(step_ms)
            n = self.counter.take()
            self.tally.tick(n, step_ms // 100)
            self.counter.idle()
            if check_every_tick:
                assert self.tally.total == self.board.stitches_generated(), \
                    f"at {self.board.clock.now_s():.1f} s"
        return self.tally.total

    def close(self):
        self.board.uninstall()


@pytest.fixture
def rig(tmp_path):
    def make(*a, **kw):
        return Rig(tmp_path, *a, **kw)

    yield make
    while made:
        made.pop().close()


def flat_out(seed, seconds, **glitches):
    """Sewing near 10,000 spm most of the time: >200k stitches in ~25 minutes of sewing."""
    return SewingMachine(seed, seconds, max_spm=10000, min_speed=0.9, burst_s=(20.0, 60.0),
                         pause_s=(0.5, 2.0), long_stop_prob=0.0, **glitches)


def test_pcnt_counts_exactly_across_many_16_bit_wraps_and_rejects_spikes(rig):
    sewing = flat_out(1, 1500.0, spikes_per_s=4.0, spike_width_ns=(200, 12000))
    assert sewing.stitches > 200_000
    r = rig(sewing, "esp32-devkitc")
    assert r.counter.kind == "pcnt" and r.cfg["filter_ns"] == 12700
    raw_before = r.counter._ctr.value()
    total = r.run(1500.0)
    assert total == sewing.stitches
    assert sewing.stitches // 65536 >= 3, "16 bits were passed several times"
    # machine.Counter on the ESP32 adds the PCNT's overflows in software: it does not wrap at 16 bits.
    assert r.counter._ctr.value() == raw_before + sewing.stitches
    assert sewing.glitch_count(SPIKE) > 3000, "and thousands of spikes were there to reject"


def test_pcnt_without_its_filter_would_count_the_spikes(rig):
    # The control for the test above: the filter is what keeps spikes out.
    sewing = flat_out(2, 60.0, spikes_per_s=20.0)
    r = rig(sewing, "esp32-devkitc", filter_ns=0)
    total = r.run(60.0, check_every_tick=False)
    assert total == sewing.stitches + sewing.glitch_count(SPIKE) > sewing.stitches


def test_counter_past_2_to_the_30_still_counts_exactly(rig):
    sewing = flat_out(3, 120.0)
    r = rig(sewing, "esp32-devkitc")
    r.counter._ctr.value(2**30 - 500)     # a long-lived board: the count leaves MicroPython's small ints
    r.counter._delta.last = r.counter._ctr.value()
    assert r.run(120.0) == sewing.stitches
    assert r.counter._ctr.value() == 2**30 - 500 + sewing.stitches > 2**30


def test_the_same_counter_unit_is_one_object(rig):
    r = rig(flat_out(3, 1.0), "esp32-devkitc")
    machine = r.board.import_firmware("sn_hw").machine
    assert machine.Counter(0) is r.counter._ctr


class SoftIrqCounter:
    """What the firmware did on the ESP32-C3 before it was declared unsupported: count rising
    edges in a pin interrupt with a 2.5 ms software lockout against bounce."""

    def __init__(self, board, pin):
        self.board = board
        machine = board.import_firmware("sn_hw").machine
        counting = board.import_firmware("sn_counting")
        import time
        self.lockout = counting.Lockout(2500, time.ticks_diff)
        self.edges = 0
        self._ticks_us = time.ticks_us
        self.pin = machine.Pin(pin, machine.Pin.IN)
        with pytest.raises(TypeError):     # ESP32: no hard interrupts for pins
            self.pin.irq(handler=self.on_edge, trigger=machine.Pin.IRQ_RISING, hard=True)
        self.pin.irq(handler=self.on_edge, trigger=machine.Pin.IRQ_RISING)

    def on_edge(self, pin):
        if self.lockout.accept(self._ticks_us()):
            self.edges += 1


def test_soft_pin_interrupts_lose_stitches_while_the_vm_is_busy(rig):
    # ~8,000 spm: an edge every 7.5 ms. An idle VM runs each scheduled handler at once: exact.
    sewing = SewingMachine(7, 20.0, max_spm=8000, min_speed=1.0, jitter=0.0, burst_s=(100.0, 100.0),
                           long_stop_prob=0.0, start_s=0.0)
    r = rig(sewing, "esp32-devkitc")
    soft = SoftIrqCounter(r.board, r.cfg["sensor_pin"])
    for _ in range(10_000):                # 10 s in 1 ms steps
        r.board.advance_ms(1)
    assert soft.edges == sewing.stitches_before(10.0)
    # Then 40 ms of every 100 ms the VM is busy (a flash write, the Wi-Fi driver): about 5 edges
    # wait each time, one more than the scheduler's queue holds, and the handlers that do run all
    # see the same late time, so the lockout takes them for bounce.
    before, edges_before = sewing.stitches_before(10.0), soft.edges
    for _ in range(100):
        r.board.block_ms(40)
        for _ in range(60):
            r.board.advance_ms(1)
    made = sewing.stitches_before(20.0) - before
    counted = soft.edges - edges_before
    assert r.board.irq_lost > 0 and SCHEDULER_DEPTH == 4
    assert counted < made * 0.8, f"counted {counted} of {made}"


@pytest.mark.parametrize("variant", ["esp32-devkitc", "esp32-s3-devkitc"])
def test_flat_out_at_10000_spm(rig, variant):
    sewing = SewingMachine(5, 30.0, max_spm=10000, min_speed=1.0, jitter=0.0,
                           burst_s=(100.0, 100.0), long_stop_prob=0.0, spikes_per_s=50.0)
    r = rig(sewing, variant)
    r.run(10.0)
    f = r.tally.close_interval()
    assert f["stitches"] == sewing.stitches_before(10.0) in (1666, 1667)
    assert f["run_ms"] == 10000 and f["stops"] == 0
    assert f["peak_spm"] in (9960, 10020)
    assert f["stitches"] <= f["interval_ms"] // 5, "within the contract's 12,000 spm bound"


@pytest.mark.parametrize("variant", ["esp32-devkitc", "esp32-c6-devkitc"])
def test_a_late_loop_loses_nothing(rig, variant):
    # The loop held up for 5 s at a time (flash writes, a DNS lookup, the Wi-Fi driver).
    sewing = flat_out(6, 600.0, spikes_per_s=2.0)
    r = rig(sewing, variant)
    r.run(600.0, step_ms=5000)
    assert r.tally.total == sewing.stitches
