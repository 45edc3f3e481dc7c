"""One bad message must never block the others (issue 5, item 1).

Before the fix, each of these made the batch's transaction raise: the ingest loop never
acknowledged, the broker redelivered the same batch forever, and nothing after it was stored for
any board.
"""

from __future__ import annotations

from edge_gateway.outbox import Incoming
from tests.unit.boards import D1, D2, T0, msg, open_store, stamps, status


def decided(r, batch) -> bool:
    return r.accepted + r.duplicates + r.statuses + sum(r.rejected.values()) == len(batch)


def test_a_retained_status_with_a_lone_surrogate_is_rejected_and_blocks_nobody(tmp_path):
    with open_store(tmp_path) as s:
        bad = status(D1, fw="\ud800", retained=True)  # json.dumps writes the escape "\ud800"
        assert b'"fw": "\\ud800"' in bad.payload
        batch = [msg(D2, 1), bad, msg(D2, 2), msg(D1, 1)]
        r = s.ingest(batch)
        assert decided(r, batch) and (r.accepted, r.statuses, dict(r.rejected)) == (3, 0, {"schema": 1})
        kept = s.rejected()[0]
        assert kept["reason"] == "schema" and kept["payload"] == bad.payload
        assert kept["detail"].startswith("fw: not text") and "\\ud800" in kept["detail"]
        # ... and after it, for every board.
        assert s.ingest([msg(D2, 3), msg(D1, 2)]).accepted == 2
        assert stamps(s, "m02") == [T0 + 10, T0 + 20, T0 + 30]


def test_a_second_summary_with_uptime_2_to_the_53_is_refused_and_blocks_nobody(tmp_path):
    with open_store(tmp_path) as s:
        assert s.ingest([msg(D1, 1, synced=False)]).accepted == 1
        huge = msg(D1, 2, synced=False, uptime_ms=2**53)
        batch = [msg(D2, 1), huge, msg(D2, 2)]
        r = s.ingest(batch)
        assert decided(r, batch) and r.accepted == 2 and r.rejected == {"implausible_time": 1}
        kept = s.rejected()[0]
        assert kept["reason"] == "implausible_time" and "2020" in kept["detail"] and kept["payload"] == huge.payload
        assert s.ingest([msg(D2, 3), msg(D1, 3, synced=False)]).accepted == 2
        # The board's own later summaries keep their place: the bad one moved nothing.
        assert stamps(s, "m01") == [T0 + 10, T0 + 30]
        assert s.counters()["rejected.implausible_time"] == 1


def test_a_topic_with_a_lone_surrogate_is_kept_as_a_bad_topic(tmp_path):
    with open_store(tmp_path) as s:
        batch = [Incoming("sewnet/v1/\ud800/summary", b"{}", T0), msg(D1, 1)]
        r = s.ingest(batch)
        assert r.accepted == 1 and r.rejected == {"bad_topic": 1}
        assert s.rejected()[0]["topic"] == "sewnet/v1/\\ud800/summary"


def test_a_message_that_still_breaks_the_batch_is_taken_out_and_kept_as_store_error(tmp_path):
    with open_store(tmp_path) as s:
        # A fault no check foresaw, tied to one message: a real SQLite trigger refuses one line.
        s._db.execute("CREATE TRIGGER poison BEFORE INSERT ON outbox WHEN NEW.tail LIKE '%stitches=13i%'"
                      " BEGIN SELECT RAISE(ABORT, 'poisoned line'); END")
        poisoned = msg(D2, 1, stitches=13)
        batch = [msg(D1, 1), poisoned, msg(D1, 2), status(D2), msg(D2, 2), msg(D1, 1)]
        r = s.ingest(batch)
        assert decided(r, batch)
        assert (r.accepted, r.duplicates, r.statuses, dict(r.rejected)) == (3, 1, 1, {"store_error": 1})
        kept = s.rejected()[0]
        assert kept["reason"] == "store_error" and kept["payload"] == poisoned.payload
        assert "poisoned line" in kept["detail"]
        # Nothing of the poisoned message stuck (its identity is free), everything else did.
        assert stamps(s, "m01") == [T0 + 10, T0 + 20] and stamps(s, "m02") == [T0 + 20]
        assert s.counters() == {"accepted": 3, "duplicate": 1, "status": 1, "rejected.store_error": 1}
        again = s.ingest([poisoned, msg(D2, 3)])
        assert (again.accepted, dict(again.rejected)) == (1, {"store_error": 1})
        assert {d["device"]: d["state"] for d in s.devices(now=T0)}[D2] == "online"
