"""Contract v2 at the gateway (docs/protocol.md): boot nonces keep a board that started over
(flash erased, or replaced under the same id) from being dropped as a copy of its old life, the
uptime at publish time anchors a boot even when its first summary waited in the board's queue,
and every decided v2 summary is listed for the gateway's acknowledgement to the board."""

from __future__ import annotations

from edge_gateway.outbox import KEEP_BOOTS
from tests.unit.boards import D1, D2, T0, msg, open_store, stamps


def v2(device, seq, *, boot=1, nonce=1111, sent_delay_ms=0, **kw):
    kw.setdefault("sent_ms", 10_000 * seq + sent_delay_ms)
    return msg(device, seq, boot=boot, v=2, nonce=nonce, **kw)


def test_a_board_that_started_over_is_a_new_life_not_a_copy(tmp_path):
    with open_store(tmp_path) as s:
        # The old life: boots 1..3, then the flash is erased and the counter starts at 1 again.
        for boot in (1, 2, 3):
            r = s.ingest([v2(D1, seq, boot=boot, nonce=500 + boot) for seq in (1, 2)])
            assert r.accepted == 2
        new = s.ingest([v2(D1, seq, boot=1, nonce=9001, stitches=7) for seq in (1, 2, 3)])
        assert (new.accepted, new.duplicates) == (3, 0)
        # A copy of either life is still a copy.
        again = s.ingest([v2(D1, 2, boot=1, nonce=501), v2(D1, 2, boot=1, nonce=9001)])
        assert (again.accepted, again.duplicates) == (0, 2)
        assert s.counters()["new_life"] == 1
        dev = next(d for d in s.devices() if d["device"] == D1)
        assert (dev["boot"], dev["life"], dev["seq"]) == (1, 1, 3)
        assert dev["missing"] == 0


def test_a_new_life_survives_the_old_lifes_boots_being_pruned(tmp_path):
    with open_store(tmp_path) as s:
        for boot in range(1, KEEP_BOOTS + 11):
            s.ingest([v2(D1, 1, boot=boot, nonce=10_000 + boot, at=T0 + boot)])
        s.prune_seen(T0 + 10_000)
        # Boot 5's row is gone (pruned); its identity is remembered, so its copy is still a copy.
        assert s.ingest([v2(D1, 1, boot=5, nonce=10_005)]).duplicates == 1
        # The board starts over: boot 1 with a nonce never seen is kept, even below the pruned boots.
        assert s.ingest([v2(D1, 1, boot=1, nonce=77)]).accepted == 1
        s.prune_seen(T0 + 20_000)
        assert s.ingest([v2(D1, 2, boot=1, nonce=77)]).accepted == 1
        assert s.ingest([v2(D1, 2, boot=2, nonce=78)]).accepted == 1  # its next boot, same life


def test_v1_boards_keep_working_beside_v2(tmp_path):
    with open_store(tmp_path) as s:
        assert s.ingest([msg(D2, 1), msg(D2, 2)]).accepted == 2
        # The same board after an update to v2 firmware: its next boot continues its life.
        r = s.ingest([v2(D2, 1, boot=2, nonce=42)])
        assert r.accepted == 1 and "new_life" not in s.counters()
        assert s.ingest([msg(D2, 2)]).duplicates == 1


def test_the_uptime_at_publish_time_anchors_a_boot_whose_summaries_waited(tmp_path):
    # Unsynced board; its first summaries sat an hour in its queue (no Wi-Fi), then all went out.
    hour = 3_600_000
    with open_store(tmp_path) as s:
        first = [v2(D1, seq, synced=False, sent_delay_ms=hour - 10_000 * seq + 10_000,
                    at=T0 + 3600 + 10 + seq * 0.01) for seq in (1, 2, 3)]
        s.ingest(first[:1])  # the boot's first summary comes alone: it alone sets the anchor
        s.ingest(first[1:])
        got = stamps(s, "m01")
    # Each interval end lies where it happened (T0 + 10 s per seq), not an hour later.
    assert [t - T0 for t in got] == [10, 20, 30]


def test_acknowledgements_list_every_decided_v2_summary_per_boot(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([v2(D1, 1)])
        r = s.ingest([
            v2(D1, 1),                                   # a copy: decided long ago, acknowledged again
            v2(D1, 2),                                   # stored
            v2(D1, 50, uptime_ms=1000, sent_ms=1000),    # refused for its time: never to be resent
            v2(D2, 1, boot=4, nonce=99),
            msg(D2, 9),                                  # v1: boards without nonce get no acknowledgement
        ])
        assert {k: sorted(v) for k, v in r.acks.items()} == {(D1, 1, 1111): [1, 2, 50], (D2, 4, 99): [1]}
        assert r.rejected["implausible_time"] == 1
