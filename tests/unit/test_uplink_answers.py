"""What the uplink makes of a server's answer (pure functions, no server).

The answers are InfluxDB 1.6.7's own, recorded from the `influxdb` fixture (bodies as it sent
them); the 2.x ones are the shapes InfluxDB 2 documents. The integration tests in
tests/integration/test_gateway_uplink.py check the same decisions against the real server.
"""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from edge_gateway.outbox import PendingLine
from edge_gateway.uplink import (
    BAD_DATA, BUSY, CREDENTIALS, DELIVERED, NETWORK, NOT_FOUND, REFUSED, SERVER_ERROR, TIMEOUT, TOO_LARGE,
    classify, duration_words, refused_lines, retry_after_s, uplink_words,
)


def v1(error: str) -> str:
    return json.dumps({"error": error}) + "\n"


def batch(*lines: tuple[str, int]) -> list[PendingLine]:
    return [PendingLine(i + 1, "m01", ts, line, 0.0) for i, (line, ts) in enumerate(lines)]


def test_statuses_map_to_what_the_gateway_does():
    assert classify(204, "").kind == DELIVERED
    assert classify(400, v1("partial write: points beyond retention policy dropped=5")).kind == BAD_DATA
    assert classify(422, '{"code":"unprocessable entity","message":"failure writing points to database: '
                         'partial write: points beyond retention policy dropped=1"}').kind == BAD_DATA
    assert classify(413, "").kind == TOO_LARGE
    assert classify(401, v1("authorization failed")).kind == CREDENTIALS
    assert classify(403, v1('"reader" user is not authorized to write to database "sewnet"')).kind == CREDENTIALS
    assert classify(404, v1('database not found: "nope"')).kind == NOT_FOUND
    assert classify(404, '{"code":"not found","message":"bucket \\"x\\" not found"}').kind == NOT_FOUND
    assert classify(500, v1("retention policy not found: nope")).kind == REFUSED
    assert classify(405, "Method Not Allowed").kind == REFUSED
    assert classify(503, "", "7").kind == BUSY and classify(503, "", "7").retry_after_s == 7
    assert classify(429, "", "1.5").retry_after_s == 1.5
    assert classify(502, "<html>bad gateway</html>").kind == SERVER_ERROR
    assert classify(408, "").kind == TIMEOUT and classify(0, "").kind == NETWORK
    assert classify(401, "", "30").retry_after_s is None  # only a busy server's wish counts


def test_retry_after_takes_seconds_or_a_date_and_is_capped():
    assert retry_after_s("120") == 120
    assert retry_after_s("99999") == 600
    assert retry_after_s("-3") == 0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 30) == 30
    assert retry_after_s("soon") is None and retry_after_s(None) is None and retry_after_s("nan") is None


def test_all_points_beyond_retention_are_refused_from_one_answer():
    lines = batch(*((f"sewing,machine=m01 stitches={i}i {1000 + i}", 1000 + i) for i in range(5000)))
    refused = refused_lines(lines, "partial write: points beyond retention policy dropped=5000")
    assert len(refused) == 5000
    assert {why for _, why in refused} == {"points beyond retention policy"}


def test_beyond_retention_means_the_oldest_and_a_tie_at_the_cut_off_means_unknown():
    lines = batch(("new a 300", 300), ("old a 100", 100), ("new b 200", 200), ("old b 150", 150))
    refused = refused_lines(lines, "partial write: points beyond retention policy dropped=2")
    assert sorted(p.line for p, _ in refused) == ["old a 100", "old b 150"]
    tied = batch(("x 100", 100), ("y 100", 100), ("z 300", 300))
    assert refused_lines(tied, "partial write: points beyond retention policy dropped=1") is None
    assert refused_lines(tied, "partial write: points beyond retention policy dropped=2") is not None
    assert refused_lines(tied, "partial write: points beyond retention policy dropped=9") is None


def test_unparseable_lines_are_named_even_when_they_contain_the_separator():
    odd = "sewing,machine=m02 note=\"it': s\",stitches="
    lines = batch(("sewing,machine=m02 stitches=", 1), ("sewing,machine=q stitches=3i 5", 5), (odd, 2),
                  ("bad line here x", 3))
    # 1.6.7, three bad lines among good ones: written the good one, named the bad ones.
    message = ("partial write: unable to parse 'sewing,machine=m02 stitches=': missing field value\n"
               f"unable to parse '{odd}': missing field value\n"
               "unable to parse 'bad line here x': invalid field format dropped=0")
    refused = dict((p.line, why) for p, why in refused_lines(lines, message))
    assert refused == {"sewing,machine=m02 stitches=": "unable to parse: missing field value",
                       odd: "unable to parse: missing field value",
                       "bad line here x": "unable to parse: invalid field format"}
    # A single line out of range: 1.6.7 says so without "partial write".
    one = batch(("sewing,machine=a stitches=1i 99999999999", 1))
    msg = ("unable to parse 'sewing,machine=a stitches=1i 99999999999': time outside range "
           "-9223372036854775806 - 9223372036854775806")
    assert [why for _, why in refused_lines(one, msg)] == [
        "unable to parse: time outside range -9223372036854775806 - 9223372036854775806"]


def test_field_type_conflict_finds_the_lines_of_that_type():
    lines = batch(("sewing,machine=a stitches=1.5 10", 10), ("sewing,machine=x stitches=2i 10", 10),
                  ("sewing,machine=y stitches=3 11", 11), ("other,machine=y stitches=3.5 11", 11))
    message = ('partial write: field type conflict: input field "stitches" on measurement "sewing" is type '
               'float, already exists as type integer dropped=2')
    refused = refused_lines(lines, message)
    assert sorted(p.line for p, _ in refused) == ["sewing,machine=a stitches=1.5 10",
                                                  "sewing,machine=y stitches=3 11"]
    assert all(why.startswith("field type conflict") for _, why in refused)
    # Types are per shard: a count that does not match means "which ones" is unknown.
    assert refused_lines(lines, message.replace("dropped=2", "dropped=1")) is None


def test_answers_that_do_not_say_which_lines():
    lines = batch(("a 1", 1), ("b 2", 2))
    assert refused_lines(lines, "") is None
    assert refused_lines(lines, "<html>400 Bad Request</html>") is None
    assert refused_lines(lines, "partial write: something new dropped=1") is None
    assert refused_lines(lines, "unable to parse 'not in this batch': nope") is None


def test_words_for_the_page():
    assert duration_words(5) == ("1분 미만", "under 1 min")
    assert duration_words(3 * 3600 + 5) == ("3시간", "3 h")
    assert duration_words(3 * 86400) == ("3일", "3 days")
    level, ko, en = uplink_words({"problem": NETWORK, "oldest_pending_at": 1000.0}, 1000.0 + 2 * 3600)
    assert (level, ko, en) == ("warning", "인터넷 연결 끊김: 데이터는 안전하게 보관 중 (2시간 대기)",
                               "Internet connection down: data kept safely, 2 h waiting")
    assert uplink_words({"problem": CREDENTIALS, "oldest_pending_at": None}, 0)[0] == "error"
    assert uplink_words({"last_success_at": 100.0}, 400.0)[1:] == ("정상: 마지막 전송 5분 전",
                                                                  "Working: last sent 5 min ago")


line_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(line_text, st.integers(0, 50)), min_size=1, max_size=12),
       status=st.integers(0, 999), body=st.text(max_size=400), pick=st.lists(st.integers(0, 11), max_size=4),
       dropped=st.integers(0, 20), kind=st.sampled_from(["points beyond retention policy", "x", "field type conflict:"
                                                        ' input field "stitches" on measurement "sewing" is type float']))
def test_fuzzed_answers_never_crash_and_refuse_only_lines_of_the_batch(lines, status, body, pick, dropped, kind):
    b = batch(*lines)
    named = "\n".join(f"unable to parse '{b[i].line}': bad" for i in pick if i < len(b))
    for message in (body, f"partial write: {named}\n{kind} dropped={dropped}", f"{body}{named}"):
        answer = classify(status, message)
        assert answer.kind in {DELIVERED, BAD_DATA, TOO_LARGE, CREDENTIALS, NOT_FOUND, REFUSED, BUSY, SERVER_ERROR,
                               TIMEOUT, NETWORK}
        refused = refused_lines(b, answer.message)
        if refused is None:
            continue
        ids = [p.id for p, _ in refused]
        assert len(ids) == len(set(ids)) and set(ids) <= {p.id for p in b}
        assert all(why for _, why in refused)
    # Every plainly named line is found, whatever else the batch holds.
    plain = {b[i].id for i in pick if i < len(b) and not set(b[i].line) & set("'\n")}
    if plain:
        assert plain <= {p.id for p, _ in refused_lines(b, named) or []}
