"""Properties of the hub's line protocol parser, fuzzed with hypothesis: whatever the text, it
answers with points and reasons (never an exception but TooManyLines), one of them per line, and
a point it produced reads back the same when written out again."""

from __future__ import annotations

import math

from hypothesis import example, given, settings, strategies as st

from hub.telemetry import line_protocol as lp

NOW_NS = 1_763_900_100 * 10**9
PRECISIONS = st.sampled_from(sorted(lp.PRECISION_NS))
FUZZ = settings(max_examples=400, deadline=None)

# Text built from the characters line protocol gives meaning to, plus some it does not ...
STRUCTURAL = st.sampled_from(list('ab =,"\\\n\r#it.-+e0123456789uTf\t') + ["\ud800", "é", "\x00", "😀"])
CHARS = st.lists(STRUCTURAL, max_size=120).map("".join)
# ... and lines shaped like line protocol from those characters, so that many of them parse.
TOKEN = st.one_of(st.text("abm01_-", min_size=1, max_size=5), st.sampled_from(["a\\ b", "a\\,b", "a\\=b", "é"]),
                  st.lists(STRUCTURAL.filter(lambda c: c != "\n"), max_size=5).map("".join))
VALUE = st.one_of(st.sampled_from(["1i", "-3i", "7u", "1.5", "-2e3", ".5", "t", "FALSE", '"a b"', '"x\\"y"',
                                   '"multi\nline"', '""', "9223372036854775807i", "9223372036854775808i",
                                   "18446744073709551615u", "1e999", "12x", "nan", "-0"]), TOKEN)
SHAPED_LINE = st.builds(
    lambda m, tags, fields, t: ",".join([m] + [f"{k}={v}" for k, v in tags]) + " "
    + ",".join(f"{k}={v}" for k, v in fields) + ("" if t is None else f" {t}"),
    TOKEN, st.lists(st.tuples(TOKEN, TOKEN), max_size=3, unique_by=lambda kv: kv[0]),
    st.lists(st.tuples(TOKEN, VALUE), min_size=1, max_size=3, unique_by=lambda kv: kv[0]),
    st.one_of(st.none(), st.integers(-(2**64), 2**64), TOKEN))
SHAPED_BODY = st.lists(SHAPED_LINE, max_size=5).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\n\n"]).map(lambda sep: sep.join(lines)))
LINE_PROTOCOL_ISH = st.one_of(CHARS, SHAPED_BODY, st.lists(st.one_of(SHAPED_LINE, CHARS), max_size=5).map("\n".join))


def encode(point: lp.Point) -> str:
    """A point as line protocol with a nanosecond timestamp: the inverse of parse_line."""
    def esc(text: str, specials: str) -> str:
        for ch in specials:
            text = text.replace(ch, "\\" + ch)
        return text

    def value(v: lp.FieldValue) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, lp.Unsigned):
            return f"{int(v)}u"
        if isinstance(v, int):
            return f"{v}i"
        if isinstance(v, float):
            return repr(v)
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    head = ",".join([esc(point.measurement, ", ")] + [f"{esc(k, ',= ')}={esc(v, ',= ')}" for k, v in point.tags])
    fields = ",".join(f"{esc(k, ',= ')}={value(v)}" for k, v in point.fields.items())
    return f"{head} {fields} {point.time_ns}"


def same(a: lp.Point, b: lp.Point) -> bool:
    return (a.measurement, a.tags, a.time_ns) == (b.measurement, b.tags, b.time_ns) and list(a.fields) == list(
        b.fields) and all(lp.field_type(a.fields[k]) == lp.field_type(b.fields[k]) and (
            a.fields[k] == b.fields[k] or (isinstance(a.fields[k], float) and math.isnan(a.fields[k])))
        for k in a.fields)


def content_lines(text: str) -> int:
    return sum(1 for raw in lp.split_lines(text)
               if (line := raw.rstrip("\r").lstrip(" \t")) and not line.startswith("#"))


@FUZZ
@given(text=st.one_of(LINE_PROTOCOL_ISH, st.text(max_size=200)), precision=PRECISIONS,
       now_ns=st.integers(lp.MIN_TIME_NS, lp.MAX_TIME_NS))
@example(text="m v=1i 9223372036854775806", precision="h", now_ns=0)
@example(text='m v="open\n\nstill open', precision="ns", now_ns=0)
@example(text="m v=" + "9" * 5000 + "i\nm v=" + "9" * 5000 + "u\nm v=1i " + "9" * 5000, precision="s", now_ns=0)
def test_any_text_gives_one_point_or_one_reason_per_line(text, precision, now_ns):
    result = lp.parse(text, lp.PRECISION_NS[precision], now_ns)
    assert len(result.points) + len(result.rejected) == content_lines(text)
    for bad in result.rejected:
        assert bad.reason and bad.describe().startswith("unable to parse '")
        bad.describe().encode("utf-8")  # a reason is always text the log and JSON can carry
    for point in result.points:
        assert lp.MIN_TIME_NS <= point.time_ns <= lp.MAX_TIME_NS
        assert point.measurement and point.fields and "time" not in point.fields
        assert all(k and v for k, v in point.tags) and list(point.tags) == sorted(point.tags)
        for v in point.fields.values():
            if isinstance(v, float):
                assert not math.isinf(v)
            elif isinstance(v, lp.Unsigned):
                assert 0 <= v < 2**64
            elif isinstance(v, int) and not isinstance(v, bool):
                assert -(2**63) <= v < 2**63


@FUZZ
@given(text=SHAPED_BODY, precision=PRECISIONS)
def test_points_parsed_from_any_text_read_back_the_same(text, precision):
    points = lp.parse(text, lp.PRECISION_NS[precision], NOW_NS).points
    again = lp.parse("\n".join(encode(p) for p in points), 1, NOW_NS)
    assert not again.rejected, again.rejected
    assert len(again.points) == len(points)
    assert all(same(a, b) for a, b in zip(points, again.points)), (points, again.points)


# Tokens line protocol can carry: not empty, no newline, not ending in a backslash (it would
# escape the separator after it), no quote or backslash in keys (a quote after an escaped `=`
# reads as a string's start, as in InfluxDB's own line scanner).
KEY = st.text(st.characters(blacklist_characters='\n"\\', blacklist_categories=("Cs",)), min_size=1, max_size=12)
NAME = KEY.filter(lambda s: s[0] not in "# \t" and s != "time")
FIELD_VALUE = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**64 - 1).map(lp.Unsigned),
    st.floats(allow_infinity=False, allow_nan=False),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
POINT = st.builds(
    lambda m, tags, fields, t: lp.Point(m, tuple(sorted(tags.items())), fields, t),
    NAME, st.dictionaries(NAME, KEY, max_size=3), st.dictionaries(NAME, FIELD_VALUE, min_size=1, max_size=4),
    st.integers(lp.MIN_TIME_NS, lp.MAX_TIME_NS))


@FUZZ
@given(points=st.lists(POINT, min_size=1, max_size=5), crlf=st.booleans())
def test_generated_points_round_trip(points, crlf):
    body = ("\r\n" if crlf else "\n").join(encode(p) for p in points)
    result = lp.parse(body, 1, NOW_NS)
    assert not result.rejected, result.rejected
    assert len(result.points) == len(points)
    assert all(same(a, b) for a, b in zip(points, result.points))


@FUZZ
@given(text=LINE_PROTOCOL_ISH)
def test_physical_lines_bound_the_lines_parse_sees(text):
    body = text.encode("utf-8", "surrogatepass")
    assert len(lp.split_lines(text)) <= lp.physical_lines(body)
    assert lp.physical_lines(body) == (len(text.split("\n")) - (1 if text.endswith("\n") else 0) if text else 0)


def test_a_huge_body_of_short_lines_splits_fast():
    """A body of millions of tiny lines is split by str.split, not a Python step per character:
    the split that bounds the line count must itself be cheap."""
    import time

    text = "x\n" * (5 * 1024 * 1024)
    started = time.perf_counter()
    assert len(lp.split_lines(text)) == 5 * 1024 * 1024
    assert time.perf_counter() - started < 3.0
