"""The firmware's counting path (sn_hw counter -> sn_counting.Tally), fed by the sewing model
through the virtual board's PCNT or pin interrupts, counts exactly, in virtual time.

After every 100 ms tick the firmware's lifetime total must equal the real stitches made so far:
no more (glitches, bounce) and no fewer (wraps, 10,000 spm, a late loop)."""

from __future__ import annotations

import json

import pytest

from simulators.sewing import BOUNCE, SPIKE, SewingMachine
from simulators.virtual_board import BOARDS_FILE, VirtualBoard, VirtualClock

PINS = json.loads(BOARDS_FILE.read_text())


def config(variant, **over):
    c = {"device": "sn-3c71bf0a12f4", "password": "not-used", "wifi": {"ssid": "bench"},
         "broker": {"host": "127.0.0.1"}, "variant": variant}
    c.update(over)
    return c


class Rig:
    """A virtual board in virtual time, and the firmware's own counter and tally."""

    def __init__(self, tmp_path, sewing, variant, ticks_offset_ms=0, **cfg_over):
        self.sewing = sewing
        self.board = VirtualBoard(tmp_path / "flash", sewing=sewing, clock=VirtualClock(),
                                  sensor_pin=PINS[variant]["sensor_pin"],
                                  ticks_offset_ms=ticks_offset_ms)
        self.board.flash(config(variant, **cfg_over))
        self.board.install()
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
    made = []

    def make(*a, **kw):
        r = Rig(tmp_path, *a, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


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
    assert sewing.stitches // 65536 >= 3, "the 16-bit counter wrapped several times"
    assert r.counter._ctr.value() == (raw_before + sewing.stitches) % 65536
    assert sewing.glitch_count(SPIKE) > 3000, "and thousands of spikes were there to reject"


def test_pcnt_without_its_filter_would_count_the_spikes(rig):
    # The control for the test above: the filter is what keeps spikes out.
    sewing = flat_out(2, 60.0, spikes_per_s=20.0)
    r = rig(sewing, "esp32-devkitc", filter_ns=0)
    total = r.run(60.0, check_every_tick=False)
    assert total == sewing.stitches + sewing.glitch_count(SPIKE) > sewing.stitches


def test_irq_path_counts_exactly_with_bounce_inside_the_lockout(rig):
    sewing = flat_out(3, 1400.0, bounce_prob=0.5, bounce_max_us=1500)
    assert sewing.stitches > 200_000
    # ticks_ms starts 5 s before its 2**30 wrap; ticks_us wraps every ~18 minutes anyway
    r = rig(sewing, "esp32-c3", ticks_offset_ms=(1 << 30) - 5000)
    assert r.counter.kind == "irq" and r.cfg["lockout_us"] == 2500
    assert r.run(1400.0) == sewing.stitches
    assert r.counter.rejected == sewing.glitch_count(BOUNCE) > 50_000


def test_irq_path_with_a_too_short_lockout_would_count_bounce(rig):
    sewing = flat_out(4, 60.0, bounce_prob=0.5, bounce_max_us=1500)
    r = rig(sewing, "esp32-c3", lockout_us=200)
    assert r.run(60.0, check_every_tick=False) > sewing.stitches


@pytest.mark.parametrize("variant", ["esp32-devkitc", "esp32-c3"])
def test_flat_out_at_10000_spm(rig, variant):
    sewing = SewingMachine(5, 30.0, max_spm=10000, min_speed=1.0, jitter=0.0,
                           burst_s=(100.0, 100.0), long_stop_prob=0.0,
                           **({"bounce_prob": 1.0} if variant == "esp32-c3" else {"spikes_per_s": 50.0}))
    r = rig(sewing, variant)
    r.run(10.0)
    f = r.tally.close_interval()
    assert f["stitches"] == sewing.stitches_before(10.0) in (1666, 1667)
    assert f["run_ms"] == 10000 and f["stops"] == 0
    assert f["peak_spm"] in (9960, 10020)
    assert f["stitches"] <= f["interval_ms"] // 5, "within the contract's 12,000 spm bound"


@pytest.mark.parametrize("variant", ["esp32-devkitc", "esp32-c3"])
def test_a_late_loop_loses_nothing(rig, variant):
    # The loop held up for 5 s at a time (flash writes, a blocking NTP call, Wi-Fi driver).
    sewing = flat_out(6, 600.0, spikes_per_s=2.0) if variant == "esp32-devkitc" else \
        flat_out(6, 600.0, bounce_prob=0.3)
    r = rig(sewing, variant)
    r.run(600.0, step_ms=5000)
    assert r.tally.total == sewing.stitches
