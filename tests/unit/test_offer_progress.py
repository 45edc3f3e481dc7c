"""Progress's pure parts: which machine sewed for which order when (the gateway's assign reports),
and how many pieces a plan had due by a moment of a Seoul working day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from hub.planning.progress import _spans, planned_by

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)  # 10:00 in Seoul


def report(order: str, machines: list[str], minutes: int):
    return SimpleNamespace(order_id=order, machines=machines, at=T0 + timedelta(minutes=minutes))


def test_a_machine_listed_elsewhere_or_left_out_of_its_offers_list_leaves_it():
    spans = _spans([report("o1", ["m1", "m2"], 0), report("o2", ["m2"], 10), report("o1", ["m1", "m3"], 20),
                    report("o1", [], 30)], T0 + timedelta(hours=1))
    at = lambda m: T0 + timedelta(minutes=m)  # noqa: E731
    assert sorted(spans["o1"]) == [("m1", at(0), at(30)), ("m2", at(0), at(10)), ("m3", at(20), at(30))]
    assert spans["o2"] == [("m2", at(10), None)]  # still on it


def test_pieces_due_by_now_count_earlier_days_and_todays_share_from_the_acceptance():
    days = [{"day": "2026-11-25", "pieces": 100}, {"day": "2026-11-26", "pieces": 90},
            {"day": "2026-11-27", "pieces": 90}]
    noon = datetime(2026, 11, 26, 3, 30, tzinfo=timezone.utc)  # 12:30 in Seoul
    assert planned_by(days, noon) == 100 + 35  # 3.5 of 9 hours
    # Accepted at 12:30: nothing of today's is due yet at 12:30, half of it at 15:15.
    assert planned_by(days, noon, since=noon) == 100
    assert planned_by(days, noon + timedelta(hours=2, minutes=45), since=noon) == 100 + 45
    assert planned_by(days, datetime(2026, 11, 27, 12, tzinfo=timezone.utc)) == 280  # 21:00 the next day
