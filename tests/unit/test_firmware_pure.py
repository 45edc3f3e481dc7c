"""The firmware's pure modules under CPython: summary bytes against the shared vectors, the
512-byte limit at worst-case values, the acknowledgement window, the flash spool, and the
counting rules of the contract."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.waiting import Beat

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
VECTORS = json.loads((REPO / "tests" / "vectors" / "summaries.json").read_text())
CONTRACT_ORDER = ["v", "device", "boot", "nonce", "seq", "uptime_ms", "sent_ms", "interval_ms", "stitches",
                  "run_ms", "stops", "peak_spm", "total", "time"]


@pytest.fixture(scope="module")
def fw():
    """The firmware's flat modules, imported from firmware/ as the board imports them."""
    sys.path.insert(0, str(FIRMWARE))
    try:
        import sn_config
        import sn_counting
        import sn_mqtt
        import sn_queue
        import sn_spool
        import sn_state
        import sn_summary

        class FW:
            config, counting, mqtt, queue, spool, state, summary = (
                sn_config, sn_counting, sn_mqtt, sn_queue, sn_spool, sn_state, sn_summary)

        yield FW
    finally:
        sys.path.remove(str(FIRMWARE))


def valid_cases():
    """The vectors of the version the firmware writes (v1 ones are for the gateway only)."""
    return [pytest.param(c, id=c["name"]) for c in VECTORS["valid"] if c["payload"]["v"] == 2]


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
    assert again == {k: v for k, v in payload.items() if k != "sent_ms"}
    assert fw.summary.encode(again, payload["sent_ms"]) == fw.summary.encode(payload)
    assert fw.summary.ident(record) == (payload["boot"], payload["nonce"], payload["seq"])


def test_board_side_check_refuses_what_the_gateway_calls_schema(fw):
    cases = [c for c in VECTORS["invalid"] if c["reason"] == "schema" and '"v":1' not in c["raw"]]
    assert cases
    for case in cases:
        payload = json.loads(case["raw"])
        with pytest.raises(fw.summary.SummaryError):
            fw.summary.check(payload)


def worst_case_summary():
    return {"v": 2, "device": "z" * 32, "boot": 2**31 - 1, "nonce": 2**31 - 1, "seq": 2**31 - 1,
            "uptime_ms": 2**53, "sent_ms": 2**53, "interval_ms": 3_600_000, "stitches": 720_000,
            "run_ms": 3_600_000, "stops": 10_000, "peak_spm": 30_000, "total": 2**64 - 1, "time": 2**32 - 1}


def test_worst_case_summary_fits_512_bytes(fw):
    s = worst_case_summary()
    fw.summary.check(s)
    data = fw.summary.encode(s)
    assert json.loads(data) == s
    assert len(data) <= fw.summary.MAX_BYTES == 512
    assert fw.summary.unpack(fw.summary.pack(s), s["device"]) == {k: v for k, v in s.items() if k != "sent_ms"}


def test_status_and_last_will_follow_section_3(fw):
    status = json.loads(fw.summary.status("sn-3c71bf0a12f4", 17, 99, "0.2.0", "pcnt", 10000,
                                          uptime_ms=420000, queued=3, dropped=1))
    assert status == {"v": 2, "device": "sn-3c71bf0a12f4", "state": "online", "boot": 17, "nonce": 99,
                      "uptime_ms": 420000, "fw": "0.2.0", "counter": "pcnt",
                      "interval_ms": 10000, "queued": 3, "dropped": 1}
    will = json.loads(fw.summary.will("sn-3c71bf0a12f4", 17, 99, "0.2.0", "pcnt", 10000))
    assert will == {"v": 2, "device": "sn-3c71bf0a12f4", "state": "offline", "boot": 17, "nonce": 99,
                    "fw": "0.2.0", "counter": "pcnt", "interval_ms": 10000}
    big = fw.summary.status("z" * 32, 2**31 - 1, 2**31 - 1, "0.2.0", "pcnt", 3_600_000, uptime_ms=2**53,
                            queued=50000, dropped=2**31)
    assert len(big) <= 512


def test_device_ids_and_topics(fw):
    ok = ["sn-3c71bf0a12f4", "m0", "a" * 32, "0_-x"]
    bad = ["", "a", "A1", "-ab", "sn_ü1", "a" * 33, None, 12, "sn/3c"]
    assert all(fw.summary.valid_device(d) for d in ok)
    assert not any(fw.summary.valid_device(d) for d in bad)
    assert fw.summary.topic("sn-3c71bf0a12f4", "summary") == "sewnet/v1/sn-3c71bf0a12f4/summary"


# -- acknowledgement window ---------------------------------------------------------------------


def tdiff(a, b):
    return a - b


def test_window_holds_at_most_its_size_and_matches_acks_by_identity(fw):
    w = fw.queue.AckWindow(3, timeout_ms=1000)
    for serial, seq in ((65, 1), (66, 2), (67, 3)):
        assert not w.full()
        w.sent(serial, 1, 7, seq, 0)
    assert w.full() and w.cursor == 67
    assert w.acked(1, 8, [(1, 3)]) == [], "another boot's nonce: not ours"
    assert w.acked(1, 7, [(2, 2)]) == [66]
    assert not w.full() and len(w) == 2
    assert w.acked(1, 7, [(1, 1), (3, 9)]) == [65, 67] and len(w) == 0


def test_window_sends_again_after_a_reconnect_and_after_silence_with_backoff(fw):
    w = fw.queue.AckWindow(2, timeout_ms=1000, timeout_max_ms=4000)
    w.sent(10, 1, 7, 1, 0)
    w.sent(11, 1, 7, 2, 0)
    assert w.full()
    w.restart()                                   # new broker connection
    assert w.cursor == -1 and not w.full(), "both go again, oldest first"
    w.sent(10, 1, 7, 1, 100)
    w.sent(11, 1, 7, 2, 100)
    assert w.full() and len(w) == 2
    assert not w.due(999, tdiff)
    assert w.due(1000, tdiff) and w.cursor == -1 and w.timeout_ms == 2000
    assert not w.due(2999, tdiff) and w.due(3000, tdiff) and w.timeout_ms == 4000
    assert w.due(7000, tdiff) and w.timeout_ms == 4000, "capped"
    assert w.acked(1, 7, [(1, 2)]) == [10, 11] and w.timeout_ms == 1000
    w.sent(12, 1, 7, 3, 8000)
    w.retain(lambda serial: serial != 12)         # the spool dropped it (full)
    assert len(w) == 0


# -- flash spool ---------------------------------------------------------------------------------


def rec(fw, seq, boot=1, nonce=7):
    s = {"boot": boot, "nonce": nonce, "seq": seq, "uptime_ms": seq * 1000, "interval_ms": 1000, "stitches": 5,
         "run_ms": 100, "stops": 0, "peak_spm": 300, "total": 1000 + 5 * seq}
    return fw.summary.pack(s), s["total"]


def spool_at(fw, path, capacity=500):
    sp = fw.spool.Spool(str(path), capacity=capacity, total_at=fw.summary.TOTAL_OFFSET)
    sp.open()
    return sp


def drain(sp, fw, ack=True):
    out, after = [], -1
    while (item := sp.next_unacked(after)) is not None:
        after = item[0]
        out.append(fw.summary.ident(item[1])[2])
        if ack:
            sp.ack(item[0])
    return out


def test_spool_keeps_summaries_until_acknowledged_across_restarts(fw, tmp_path):
    sp = spool_at(fw, tmp_path / "spool")
    serials = [sp.append(*rec(fw, q)) for q in range(1, 101)]
    assert len(sp) == 100 and sorted(serials) == serials
    for serial in serials[:40]:
        assert sp.ack(serial)
    assert not sp.ack(serials[0]), "a copy's acknowledgement changes nothing"
    sp.flush()
    again = spool_at(fw, tmp_path / "spool")                  # a reset
    assert len(again) == 60 and again.last_total == 1000 + 5 * 100
    assert drain(again, fw) == list(range(41, 101))
    assert len(again) == 0


def test_spool_acknowledgements_not_yet_written_only_cost_a_resend(fw, tmp_path):
    sp = spool_at(fw, tmp_path / "spool")
    serials = [sp.append(*rec(fw, q)) for q in range(1, 4)]
    sp.ack(serials[0])                                         # power cut before it is written
    again = spool_at(fw, tmp_path / "spool")
    assert drain(again, fw, ack=False) == [1, 2, 3]


def test_spool_is_bounded_drops_oldest_and_remembers_the_count(fw, tmp_path):
    sp = spool_at(fw, tmp_path / "spool", capacity=126)       # two segments of 63
    for q in range(1, 201):
        sp.append(*rec(fw, q))
    assert len(sp) + sp.dropped == 200 and 63 <= len(sp) <= 126
    kept = drain(sp, fw, ack=False)
    assert kept == list(range(201 - len(kept), 201)), "the newest are kept"
    again = spool_at(fw, tmp_path / "spool")
    assert (len(again), again.dropped) == (len(sp), sp.dropped)
    assert len(list((tmp_path / "spool").iterdir())) <= 3


def test_spool_survives_a_write_cut_short_and_a_damaged_record(fw, tmp_path):
    sp = spool_at(fw, tmp_path / "spool")
    for q in range(1, 11):
        sp.append(*rec(fw, q))
    seg = sorted((tmp_path / "spool").iterdir())[-1]
    data = bytearray(seg.read_bytes())
    data[5 * 64 + 10] ^= 0xFF                                   # a flipped bit in seq 5's record
    seg.write_bytes(bytes(data[:-20]))                          # and the last write cut short
    again = spool_at(fw, tmp_path / "spool")
    assert again.corrupt == 2
    assert drain(again, fw, ack=False) == [1, 2, 3, 4, 6, 7, 8, 9]
    assert again.last_total == 1000 + 5 * 9, "the lifetime total comes back from the newest record"
    again.append(*rec(fw, 11))                                  # never after the torn tail
    assert drain(spool_at(fw, tmp_path / "spool"), fw, ack=False) == [1, 2, 3, 4, 6, 7, 8, 9, 11]


def test_spool_spreads_writes_over_new_files_and_deletes_acknowledged_ones(fw, tmp_path):
    sp = spool_at(fw, tmp_path / "spool")
    names = set()
    for q in range(1, 1001):
        serial = sp.append(*rec(fw, q))
        sp.ack(serial)
        names |= {p.name for p in (tmp_path / "spool").iterdir()}
    assert len(names) >= 1000 // 63, "a new file every 63 summaries"
    assert len(list((tmp_path / "spool").iterdir())) <= 2
    assert sp.writes < 1000 * 1.4, "about one record per summary, acknowledgements batched"


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
    assert cfg["ntp_host"] == "192.168.0.2", "NTP from the gateway on the LAN by default"
    assert cfg["wdt_ms"] == 60000, "the watchdog is on by default"
    assert fw.config.check(good_config(ntp_host=None))["ntp_host"] is None
    assert fw.config.check(good_config(queue_len=360))["spool_len"] == 360, "the old key still reads"
    s3 = fw.config.check(good_config(variant="esp32-s3-devkitc", interval_ms=1000))
    assert s3["counter"] == "pcnt" and s3["sensor_pin"] == 4 and s3["interval_ms"] == 1000
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
    ({"variant": "esp32-c3"}, "no pulse counter"),
    ({"counter": "irq"}, "not supported"),
    ({"wdt_ms": 2000}, "wdt_ms"),
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
    supported = {k for k, v in boards.items() if not k.startswith("_") and v.get("supported", True)}
    assert set(fw.config.VARIANTS) == supported
    assert set(fw.config.UNSUPPORTED) == {k for k in boards if not k.startswith("_")} - supported


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
    sub = m.subscribe_packet("sewnet/v1/sn-1/ack", 7)
    assert sub[0] == 0x82 and sub[2:4] == b"\x00\x07" and sub[-1] == 1


def test_every_boot_draws_a_new_nonce(fw, tmp_path):
    path = str(tmp_path / "sn_state.json")
    nonces = set()
    for _ in range(20):
        st = fw.state.State(path)
        st.start_boot()
        assert 1 <= st.nonce < 2**31
        nonces.add(st.nonce)
    assert len(nonces) == 20
    # Flash erased: the counter starts over, the identity does not repeat.
    (tmp_path / "sn_state.json").unlink()
    st = fw.state.State(path)
    assert st.start_boot() == 1 and st.nonce not in nonces


def test_acknowledgements_are_parsed_or_ignored(fw):
    assert fw.summary.parse_ack(b'{"v":2,"boot":3,"nonce":9,"seqs":[[1,4],[6,6]]}') == (3, 9, [(1, 4), (6, 6)])
    for bad in (b"", b"[]", b'{"boot":3}', b'{"boot":"3","nonce":9,"seqs":[]}', b"\xff"):
        assert fw.summary.parse_ack(bad) is None


# -- nothing blocks the loop: name lookups, NTP ----------------------------------------------------


def _ticking(coro_factory):
    """Runs a coroutine beside a 10 ms beat; returns (result, beats seen meanwhile)."""
    import asyncio

    async def main():
        async with Beat() as beat:
            result = await coro_factory()
        return result, beat.ticks

    return asyncio.run(main())


def test_a_name_is_resolved_once_per_attempt_in_a_thread(fw, monkeypatch):
    import time as _time

    calls = []

    def slow_lookup(host, port):            # a DNS server that takes 300 ms to answer
        calls.append(host)
        _time.sleep(0.3)
        return [(2, 1, 6, "", ("192.168.0.2", port))]

    monkeypatch.setattr(fw.mqtt.socket, "getaddrinfo", slow_lookup)
    addr, ticks = _ticking(lambda: fw.mqtt.resolve("gateway.local", 1883))
    assert addr == "192.168.0.2" and calls == ["gateway.local"]
    assert ticks >= 15, f"the loop ran on during the lookup ({ticks} ticks)"
    assert _ticking(lambda: fw.mqtt.resolve("192.168.0.9", 1883))[0] == "192.168.0.9"
    assert calls == ["gateway.local"], "an IP address needs no lookup"


def test_ntp_from_the_gateway_does_not_block_the_loop(fw):
    import socket
    import struct
    import threading
    import time as _time

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():                           # an NTP server answering after 300 ms
        data, addr = server.recvfrom(64)
        _time.sleep(0.3)
        reply = bytearray(48)
        struct.pack_into("!I", reply, 40, 3_972_000_000)
        server.sendto(bytes(reply), addr)

    threading.Thread(target=answer, daemon=True).start()
    try:
        t, ticks = _ticking(lambda: fw.mqtt.ntp_query("127.0.0.1", port, 2000))
    finally:
        server.close()
    assert t == 3_972_000_000
    assert ticks >= 15, f"the loop ran on while waiting for the answer ({ticks} ticks)"
