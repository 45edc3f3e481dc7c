"""The hardware-in-the-loop scenarios (issue 10 §3), one suite for both benches:

    pytest tests/hil                                  the virtual board (also in `make test`)
    pytest tests/hil --board serial:/dev/ttyUSB0 ...  a real board (hardware/hil/README.md)

Each scenario provisions the board from this tree's firmware, powers it through the relay, sews
with the pulse generator and counts at the gateway: every stitch the generator played while the
board had power must be in the gateway's outbox exactly once (lost 0, doubled 0). A stitch
counts once its interval has closed, so a power cut comes at least two intervals after the last
pulse. Faults are timed by what the board holds, not by the clock: each scenario shows the fault
hit summaries in flight before it checks that nothing was lost.
"""

from __future__ import annotations

import re

import pytest

from tests.hil.pulsegen import spm_period_us
from tests.hil.world import FIRMWARE
from tests.ota_world import tamper_file
from tests.waiting import wait_for

FW = re.search(r'^FW_VERSION = "([^"]+)"', (FIRMWARE / "sn_app.py").read_text(), re.M).group(1)
INTERVAL_S = 1.0


def power_on(bench, timeout: float = 30) -> dict:
    """Relay on; returns the board's first `online` status of this power-on."""
    w = bench.world
    since = len(w.listener.statuses())
    bench.board.power(True)
    return wait_for(lambda: w.board_online(since), timeout=timeout, what="the board online at the broker",
                    interval=0.1)


def sew(bench, seconds: float, spm: int = 6000, **spikes):
    """A train of `seconds` at `spm`, the pulse 30 % of the period (a hall switch on a handwheel);
    waits for its DONE. Returns the stitches played."""
    period = spm_period_us(spm)
    n = max(1, round(seconds * 1_000_000 / period))
    done = bench.board.pulsegen.play(n, period_us=period, width_us=period * 3 // 10, **spikes)
    assert done.pulses == n and not done.cut, done
    return done


def closed(bench, intervals: float = 2.5) -> None:
    """Lets the board close the interval holding the last pulse (and publish it): waits until
    the broker has seen a summary that began after now (a deadline, not a sleep)."""
    w = bench.world
    before = {(s["boot"], s.get("nonce"), s["seq"]) for s in w.listener.summaries()}
    need = int(intervals)

    def enough():
        return sum(1 for s in w.listener.summaries() if (s["boot"], s.get("nonce"), s["seq"]) not in before) >= need

    wait_for(enough, timeout=intervals * INTERVAL_S + 15, what=f"{need} more summaries at the broker")


def test_counting_at_speed(bench):
    """Three speeds up to 11,000 stitches a minute (an industrial lockstitch head tops out near
    5,500; the contract takes up to 12,000): every stitch counted once, and the summaries report
    the speed."""
    w, b = bench.world, bench.board
    b.provision(w.board_files())
    power_on(bench)
    played = 0
    for spm in (3000, 8000, 11000):
        played += sew(bench, 2.0, spm).pulses
    closed(bench)
    n, stitches = w.wait_stored(played, timeout=30)
    assert stitches == played == 100 + 267 + 367
    peaks = [s["peak_spm"] for s in w.listener.summaries()]
    assert 0.9 * 11000 <= max(peaks) <= 1.1 * 11000, peaks
    seqs = sorted(s["seq"] for s in w.listener.summaries())
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"a summary is missing: {seqs}"


def test_glitches_are_not_stitches(bench):
    """Spikes narrower than the PCNT filter (2 us and 12 us, under its 12.7 us) between stitches at
    10,000 spm: the stitches counted, not one spike."""
    w, b = bench.world, bench.board
    b.provision(w.board_files())
    power_on(bench)
    a = sew(bench, 3.0, 10000, every=1, spike_ns=2000)
    c = sew(bench, 3.0, 10000, every=3, spike_ns=12000)
    assert a.spikes == a.pulses and c.spikes == c.pulses // 3 > 0
    closed(bench)
    w.wait_stored(a.pulses + c.pulses, timeout=30)


def test_broker_crash_while_the_gateway_is_away(bench):
    """The gateway is away (a Pi rebooting), the board hands summaries to the broker, and the
    broker is SIGKILLed before it saves them: the board must still have them."""
    w, b = bench.world, bench.board
    b.provision(w.board_files())
    power_on(bench)
    first = sew(bench, 2.0, 8000).pulses
    closed(bench)
    w.wait_stored(first, timeout=30)

    w.gateway.stop()
    held = sew(bench, 3.0, 8000).pulses
    closed(bench)
    # In flight: the broker took these summaries (the admin subscriber got them) for a gateway
    # that has not stored them.
    at_broker = sum(s["stitches"] for s in w.listener.summaries())
    assert at_broker == first + held, (at_broker, first, held)
    assert w.stored()[1] == first

    w.broker.kill()                       # SIGKILL: no save since it took them
    during = sew(bench, 2.0, 8000).pulses  # the board counts on with no broker at all
    w.broker.start()
    w.gateway.start()
    closed(bench)
    w.wait_stored(first + held + during, timeout=60,
                  what="every stitch at the gateway after the broker's crash")


def test_power_cut_with_summaries_waiting(bench):
    """The broker is down, the board sews and holds its summaries; the relay cuts its power and
    restores it; then the broker comes back: every stitch arrives, once."""
    w, b = bench.world, bench.board
    b.provision(w.board_files())
    power_on(bench)
    first = sew(bench, 2.0, 6000).pulses
    closed(bench)
    w.wait_stored(first, timeout=30)
    life = {(s["boot"], s.get("nonce")) for s in w.listener.summaries()}
    assert len(life) == 1

    w.broker.stop()
    waiting = sew(bench, 3.0, 6000).pulses
    # Two intervals after the last pulse its summary is closed and waits on the board.
    b.wait_intervals(2, INTERVAL_S)
    if b.kind == "virtual" and "spooled" in b.figures():
        figures = b.figures()
        assert figures["spooled"] >= 3, f"nothing waiting on the board at the cut: {figures}"

    b.power(False)                       # the relay: no goodbye, RAM gone
    since = len(w.listener.statuses())
    b.power(True)
    w.broker.start()
    wait_for(lambda: w.board_online(since), timeout=30, what="the board online again")
    closed(bench)
    w.wait_stored(first + waiting, timeout=60, what="every stitch at the gateway after the power cut")
    lives = {(s["boot"], s.get("nonce")) for s in w.listener.summaries()}
    assert life < lives, "the summaries of the life before the cut came from the board's flash"
    old = [s for s in w.listener.summaries() if (s["boot"], s.get("nonce")) in life]
    assert sum(s["stitches"] for s in old) == first + waiting


def test_ota_with_a_corrupted_download(bench):
    """A release whose sn_app.py reaches the board with one byte flipped: the board refuses it
    by its SHA-256, keeps its version, reports why, and counts on throughout."""
    w, b = bench.world, bench.board
    b.provision(w.board_files())
    power_on(bench)
    wait_for(lambda: (w.ota.view()["boards"].get(w.device) or {}).get("firmware") == FW, timeout=30,
             what="the board's first update check")
    w.release("9.1.0")
    tamper_file(w.config.data_dir / "ota.sqlite", "9.1.0", "sn_app.py",
                lambda data: data[:1000] + bytes([data[1000] ^ 0x20]) + data[1001:])
    w.ota.start_rollout("9.1.0")
    played = sew(bench, 6.0, 7000).pulses        # the check and the download happen meanwhile
    wait_for(lambda: w.ota.view()["rollout"]["state"] == "stopped", timeout=30, what="the rollout stops")
    view = w.ota.view()
    assert "sn_app.py: SHA-256 does not match" in view["rollout"]["reason"], view["rollout"]
    assert view["rollout"]["boards"][0]["state"] == "failed"
    assert view["boards"][w.device]["firmware"] == FW
    closed(bench)
    w.wait_stored(played, timeout=30)
    lives = {(s["boot"], s.get("nonce")) for s in w.listener.summaries()}
    assert len(lives) == 1, "the board never restarted"
    assert all(s.get("fw") == FW for s in w.listener.statuses() if s.get("state") == "online")


def _never_healthy(fw):
    """A version that runs and publishes, but whose updater never sees a summary acknowledged
    (its health check: sn_ota confirms once App.acked > 0)."""
    app = fw / "sn_app.py"
    text = app.read_text()
    assert "self.acked += 1" in text
    app.write_text(text.replace("self.acked += 1", "self.acked += 0"))


def test_update_that_never_reports_healthy_is_rolled_back(bench):
    """A signed release that runs but never reports healthy: the board swaps to it, the trial
    timer of its boot layer expires, it rolls back by itself, reports why, and the stitches sewn
    on either version all arrive once."""
    w, b = bench.world, bench.board
    b.provision(w.board_files())
    power_on(bench)
    wait_for(lambda: (w.ota.view()["boards"].get(w.device) or {}).get("firmware") == FW, timeout=30,
             what="the board's first update check")
    before = sew(bench, 2.0, 6000).pulses
    closed(bench)
    w.wait_stored(before, timeout=30)

    statuses = len(w.listener.statuses())
    w.release("9.2.0", edit=_never_healthy, health_s=12)
    w.ota.start_rollout("9.2.0")
    trial = wait_for(lambda: next((s for s in w.listener.statuses()[statuses:]
                                   if s.get("state") == "online" and s.get("fw") == "9.2.0"), None),
                     timeout=60, what="the board running 9.2.0 on trial")
    on_trial = sew(bench, 3.0, 6000).pulses
    closed(bench)

    wait_for(lambda: w.ota.view()["rollout"]["state"] == "stopped", timeout=60, what="the rollout stops")
    view = w.ota.view()
    assert "did not report healthy within 12 s" in view["rollout"]["reason"], view["rollout"]
    wait_for(lambda: next((s for s in w.listener.statuses()[statuses:]
                           if s.get("state") == "online" and s.get("fw") == FW and s["boot"] != trial["boot"]),
                          None), timeout=30, what=f"the board back on {FW}")
    wait_for(lambda: w.ota.view()["boards"][w.device]["firmware"] == FW, timeout=30,
             what="the gateway sees the board back on its version")
    assert "rolled back: did not report healthy within 12 s" in b.console()
    after = sew(bench, 2.0, 6000).pulses
    closed(bench)
    w.wait_stored(before + on_trial + after, timeout=30, what="the stitches sewn before, on trial and after")


@pytest.mark.xfail(strict=True, reason="issue 10 §2: the updater resets the board as soon as a release is staged"
                   " (sn_ota.Updater._reset): the stitches of the interval still open and those sewn while the"
                   " board restarts are never counted (an update could wait for the machine to stand still)")
def test_sewing_through_an_update(bench):
    """A good release rolled out while the machine sews: the board updates, confirms, and every
    stitch the generator played (the board had power throughout) is counted once."""
    w, b = bench.world, bench.board
    b.provision(w.board_files())
    power_on(bench)
    wait_for(lambda: (w.ota.view()["boards"].get(w.device) or {}).get("firmware") == FW, timeout=30,
             what="the board's first update check")
    statuses = len(w.listener.statuses())
    w.release("9.3.0")
    period = spm_period_us(6000)
    train = b.pulsegen.train(1500, period_us=period, width_us=period * 3 // 10)   # 15 s of sewing
    w.ota.start_rollout("9.3.0")
    wait_for(lambda: w.ota.view()["rollout"]["state"] == "done", timeout=60, what="the update confirmed")
    took = w.ota.view()["rollout"]["ended_at"] - w.ota.view()["rollout"]["started_at"]
    done = b.pulsegen.wait_done(train, timeout=30)
    assert any(s.get("fw") == "9.3.0" for s in w.listener.statuses()[statuses:] if s.get("state") == "online")
    closed(bench)
    print(f"\nupdate while sewing: {took:.1f} s from the rollout to the confirmed version")
    w.wait_stored(done.pulses, timeout=20, what="every stitch sewn through the update")
