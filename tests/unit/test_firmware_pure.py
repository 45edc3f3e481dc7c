"""The firmware's pure modules under CPython: summary bytes against the shared vectors, the
512-byte limit at worst-case values, the RAM queue, and the counting rules of the contract."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
VECTORS = json.loads((REPO / "tests" / "vectors" / "summaries.json").read_text())
CONTRACT_ORDER = ["v", "device", "boot", "seq", "uptime_ms", "interval_ms", "stitches", "run_ms",
                  "stops", "peak_spm", "total", "time"]


@pytest.fixture(scope="module")
def fw():
    """The firmware's flat modules, imported from firmware/ as the board imports them."""
    sys.path.insert(0, str(FIRMWARE))
    try:
        import sn_config
        import sn_counting
        import sn_mqtt
        import sn_queue
        import sn_state
        import sn_summary

        class FW:
            config, counting, mqtt, queue, state, summary = (
                sn_config, sn_counting, sn_mqtt, sn_queue, sn_state, sn_summary)

        yield FW
    finally:
        sys.path.remove(str(FIRMWARE))


def valid_cases():
    return [pytest.param(c, id=c["name"]) for c in VECTORS["valid"]]


# -- summary encoding --------------------------------------------------------------------------


@pytest.mark.parametrize("case", valid_cases())
def test_encoded_summary_is_the_vector_payload(fw, case):
    payload = case["payload"]
    data = fw.summary.encode(payload)
    assert json.loads(data) == payload
    assert b" " not in data, "compact JSON: every byte counts on the uplink"
    assert list(json.loads(data)) == [k for k in CONTRACT_ORDER if k in payload]
    fw.summary.check(payload)


@pytest.mark.parametrize("case", valid_cases())
def test_queued_record_reencodes_to_identical_bytes(fw, case):
    payload = case["payload"]
    record = fw.summary.pack(payload)
    assert len(record) == fw.summary.RECORD_SIZE
    again = fw.summary.unpack(record, payload["device"])
    assert again == payload
    assert fw.summary.encode(again) == fw.summary.encode(payload)


def test_board_side_check_refuses_what_the_gateway_calls_schema(fw):
    cases = [c for c in VECTORS["invalid"] if c["reason"] == "schema"]
    assert cases
    for case in cases:
        payload = json.loads(case["raw"])
        with pytest.raises(fw.summary.SummaryError):
            fw.summary.check(payload)


def worst_case_summary():
    return {"v": 1, "device": "z" * 32, "boot": 2**31 - 1, "seq": 2**31 - 1, "uptime_ms": 2**53,
            "interval_ms": 3_600_000, "stitches": 720_000, "run_ms": 3_600_000, "stops": 10_000,
            "peak_spm": 30_000, "total": 2**64 - 1, "time": 2**32 - 1}


def test_worst_case_summary_fits_512_bytes(fw):
    s = worst_case_summary()
    fw.summary.check(s)
    data = fw.summary.encode(s)
    assert json.loads(data) == s
    assert len(data) <= fw.summary.MAX_BYTES == 512
    assert fw.summary.unpack(fw.summary.pack(s), s["device"]) == s


def test_status_and_last_will_follow_section_3(fw):
    status = json.loads(fw.summary.status("sn-3c71bf0a12f4", 17, "0.1.0", "pcnt", 10000,
                                          uptime_ms=420000, queued=3, dropped=1))
    assert status == {"v": 1, "device": "sn-3c71bf0a12f4", "state": "online", "boot": 17,
                      "uptime_ms": 420000, "fw": "0.1.0", "counter": "pcnt",
                      "interval_ms": 10000, "queued": 3, "dropped": 1}
    will = json.loads(fw.summary.will("sn-3c71bf0a12f4", 17, "0.1.0", "irq", 10000))
    assert will == {"v": 1, "device": "sn-3c71bf0a12f4", "state": "offline", "boot": 17,
                    "fw": "0.1.0", "counter": "irq", "interval_ms": 10000}
    big = fw.summary.status("z" * 32, 2**31 - 1, "0.1.0", "pcnt", 3_600_000, uptime_ms=2**53,
                            queued=5000, dropped=2**31)
    assert len(big) <= 512


def test_device_ids_and_topics(fw):
    ok = ["sn-3c71bf0a12f4", "m0", "a" * 32, "0_-x"]
    bad = ["", "a", "A1", "-ab", "sn_ü1", "a" * 33, None, 12, "sn/3c"]
    assert all(fw.summary.valid_device(d) for d in ok)
    assert not any(fw.summary.valid_device(d) for d in bad)
    assert fw.summary.topic("sn-3c71bf0a12f4", "summary") == "sewnet/v1/sn-3c71bf0a12f4/summary"


# -- queue ---------------------------------------------------------------------------------------


def test_queue_is_fifo_and_drops_oldest_with_a_count(fw):
    q = fw.queue.SummaryQueue(3, 4)
    for i in range(5):
        q.push(bytes([i]) * 4)
    assert len(q) == 3 and q.dropped == 2
    got = []
    while (item := q.peek()) is not None:
        key, rec = item
        assert q.pop(key)
        got.append(rec[0])
    assert got == [2, 3, 4]
    assert q.peek() is None and not q.pop(0)


def test_queue_pop_after_the_head_was_dropped_keeps_newer_records(fw):
    q = fw.queue.SummaryQueue(2, 1)
    q.push(b"a")
    key, rec = q.peek()                 # in flight...
    q.push(b"b")
    q.push(b"c")                        # ...and dropped meanwhile (queue full)
    assert q.dropped == 1
    assert not q.pop(key), "the delivered record is gone; do not drop a newer one"
    assert [q.peek()[1]] == [b"b"]


def test_queue_ring_wraps_many_times(fw):
    from collections import deque

    q = fw.queue.SummaryQueue(7, 2)
    model: deque[int] = deque(maxlen=7)      # what drop-oldest means
    dropped = 0
    for i in range(1000):
        if len(model) == 7:
            dropped += 1
        q.push(i.to_bytes(2, "big"))
        model.append(i)
        if i % 3 == 0:
            key, rec = q.peek()
            assert int.from_bytes(rec, "big") == model.popleft()
            assert q.pop(key)
        assert len(q) == len(model) and q.dropped == dropped
    drained = []
    while (item := q.peek()) is not None:
        q.pop(item[0])
        drained.append(int.from_bytes(item[1], "big"))
    assert drained == list(model)


def test_queue_rejects_records_of_the_wrong_size(fw):
    q = fw.queue.SummaryQueue(2, 4)
    with pytest.raises(ValueError):
        q.push(b"abc")


# -- counting rules ------------------------------------------------------------------------------


def test_delta_is_exact_across_the_16_bit_wrap(fw):
    assert fw.counting.delta(65530, 4) == 10
    assert fw.counting.delta(-3, 2) == 5          # signed readings fold the same way
    d = fw.counting.WrapDelta(65000)
    raw, total = 65000, 0
    for step in [17] * 20000:                     # 340,000 pulses: five wraps
        raw = (raw + step) & 0xFFFF
        total += d.update(raw)
    assert total == 340000


def tally_run(fw, ticks):
    t = fw.counting.Tally()
    for n in ticks:
        t.tick(n)
    return t


def test_run_ms_counts_ticks_with_stitches(fw):
    t = tally_run(fw, [3, 0, 5, 5, 0, 0, 1])
    f = t.close_interval()
    assert f["run_ms"] == 400 and f["stitches"] == 14 and f["interval_ms"] == 700


def test_a_stop_is_two_seconds_without_stitches_after_running(fw):
    assert tally_run(fw, [0] * 50).close_interval()["stops"] == 0, "idle from boot is no stop"
    assert tally_run(fw, [4] + [0] * 19).close_interval()["stops"] == 0, "1.9 s is a pause"
    assert tally_run(fw, [4] + [0] * 20).close_interval()["stops"] == 1
    assert tally_run(fw, [4] + [0] * 200).close_interval()["stops"] == 1, "one stop, however long"
    assert tally_run(fw, ([4] + [0] * 25) * 3).close_interval()["stops"] == 3


def test_a_stop_across_an_interval_boundary_counts_once(fw):
    t = fw.counting.Tally()
    for n in [5] * 10 + [0] * 10:
        t.tick(n)
    first = t.close_interval()
    for _ in range(30):
        t.tick(0)
    second = t.close_interval()
    assert (first["stops"], second["stops"]) == (0, 1)


def test_peak_spm_is_the_best_one_second_window(fw):
    # 10,000 spm = 166.7 stitches/s: ticks of 17,17,16,... in one second
    t = fw.counting.Tally()
    for i in range(100):
        t.tick(17 if i % 3 else 16)
    # best window holds three 16s and seven 17s: 167 stitches in 1 s
    assert t.close_interval()["peak_spm"] == 10020
    t = tally_run(fw, [10] * 10 + [0] * 10)
    assert t.close_interval()["peak_spm"] == 6000
    t = tally_run(fw, [0, 30, 0, 0])
    assert t.close_interval()["peak_spm"] == 1800, "one burst in a 1 s window"


def test_an_interval_without_stitches_has_no_peak(fw):
    t = tally_run(fw, [20] * 10)
    t.close_interval()
    t.tick(0)
    assert t.close_interval()["peak_spm"] == 0


def test_late_ticks_spread_stitches_and_keep_run_ms_within_the_interval(fw):
    t = fw.counting.Tally()
    t.tick(50, ticks=5)          # the loop was held up for 0.5 s
    t.tick(0, ticks=25)
    f = t.close_interval()
    assert f == {"interval_ms": 3000, "stitches": 50, "run_ms": 500, "stops": 1,
                 "peak_spm": 3000, "total": 50}


def test_total_is_lifetime_and_never_reset(fw):
    t = fw.counting.Tally(total=1_234_567)
    t.tick(10)
    assert t.close_interval()["total"] == 1_234_577
    t.tick(5)
    f = t.close_interval()
    assert f["total"] == 1_234_582 and f["stitches"] == 5


def test_lockout_rejects_bounce_and_survives_tick_wrap(fw):
    period = 1 << 30

    def ticks_diff(a, b):
        return ((a - b + period // 2) % period) - period // 2

    lk = fw.counting.Lockout(2500, ticks_diff)
    t0 = period - 1000                             # 1 ms before the microsecond ticks wrap
    assert lk.accept(t0)
    assert not lk.accept((t0 + 800) % period)      # bounce, across the wrap
    assert not lk.accept((t0 + 2499) % period)
    assert lk.accept((t0 + 6000) % period)         # next stitch at 10,000 spm
    assert lk.rejected == 2
    lk.expire((t0 + 6000 + 2_000_000) % period)
    assert lk.last == -1
    assert lk.accept(5)


# -- config, state, MQTT packets -----------------------------------------------------------------


def good_config(**over):
    c = {"device": "sn-3c71bf0a12f4", "password": "pw", "wifi": {"ssid": "ws"},
         "broker": {"host": "192.168.0.2"}}
    c.update(over)
    return c


def test_config_defaults_come_from_the_variant(fw):
    cfg = fw.config.check(good_config())
    assert cfg["counter"] == "pcnt" and cfg["sensor_pin"] == 34 and cfg["interval_ms"] == 10000
    assert cfg["broker"] == {"host": "192.168.0.2", "port": 1883}
    c3 = fw.config.check(good_config(variant="esp32-c3", interval_ms=1000))
    assert c3["counter"] == "irq" and c3["lockout_us"] == 2500 and c3["interval_ms"] == 1000
    cfg = fw.config.check({k: v for k, v in good_config().items() if k != "device"},
                          default_device="sn-a4cf12ee0b71")
    assert cfg["device"] == "sn-a4cf12ee0b71"


@pytest.mark.parametrize("bad, words", [
    ({"interval_ms": 500}, "interval_ms"),
    ({"interval_ms": 1050}, "multiple of 100"),
    ({"interval_ms": True}, "interval_ms"),
    ({"password": ""}, "password"),
    ({"device": "SN-1"}, "device"),
    ({"variant": "esp8266"}, "variant"),
    ({"counter": "adc"}, "counter"),
    ({"wifi": "ws"}, "wifi"),
    ({"broker": {"host": "gw", "port": 70000}}, "broker.port"),
    ({"intervall_ms": 1000}, "unknown key"),
])
def test_bad_config_is_refused_with_a_reason(fw, bad, words):
    with pytest.raises(fw.config.ConfigError) as e:
        fw.config.check(good_config(**bad))
    assert words in str(e.value) and "sewnet.json" in str(e.value)


def test_config_file_missing_or_not_json(fw, tmp_path):
    with pytest.raises(fw.config.ConfigError, match="not found"):
        fw.config.load(str(tmp_path / "sewnet.json"))
    (tmp_path / "sewnet.json").write_text("{oops")
    with pytest.raises(fw.config.ConfigError, match="not valid JSON"):
        fw.config.load(str(tmp_path / "sewnet.json"))


def test_firmware_pin_maps_match_hardware_boards_json(fw):
    boards = json.loads((REPO / "hardware" / "boards.json").read_text())
    for variant, pins in fw.config.VARIANTS.items():
        for key, value in pins.items():
            assert boards[variant][key] == value, f"{variant}.{key}"
    assert set(fw.config.VARIANTS) == {k for k in boards if not k.startswith("_")}


def test_state_counts_boots_and_saves_atomically(fw, tmp_path):
    path = str(tmp_path / "sn_state.json")
    st = fw.state.State(path)
    assert st.start_boot() == 1
    st.save(1234)
    assert not st.save_if_changed(1234) and st.save_if_changed(1240)
    again = fw.state.State(path)
    assert again.start_boot() == 2 and again.total == 1240
    # power lost after the tmp file was written but before the rename (FAT fallback path)
    (tmp_path / "sn_state.json").rename(tmp_path / "sn_state.json.tmp")
    third = fw.state.State(path)
    assert third.start_boot() == 3 and third.total == 1240
    assert not (tmp_path / "sn_state.json.tmp").exists()


def test_mqtt_packets(fw):
    m = fw.mqtt
    pkt = m.connect_packet("sn-1", "sn-1", "pw", 30, clean=False,
                           will=("sewnet/v1/sn-1/status", b"{}", True, 1))
    assert pkt[0] == 0x10 and pkt[2:8] == b"\x00\x04MQTT" and pkt[8] == 4
    assert pkt[9] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04          # user, pw, will retain/QoS 1/flag
    pub = m.publish_packet("t", b"x" * 200, pid=258, qos=1, retain=True, dup=True)
    assert pub[0] == 0x30 | 0x08 | 0x02 | 0x01
    assert pub[1:3] == bytes([(205 & 0x7F) | 0x80, 1])          # 205 bytes: two-byte length
    assert pub[3:8] == b"\x00\x01t\x01\x02"
