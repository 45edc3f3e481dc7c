"""The hub's embedded store: line protocol parsing, overwrite semantics, the write API over real
HTTP (gzip, auth, limits, reasons) and capacity aggregation from what it holds."""

from __future__ import annotations

import base64
import gzip
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from hub.app import create_app
from hub.capacity.service import current_capacity
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from hub.telemetry import line_protocol as lp
from hub.telemetry.embedded import EmbeddedTelemetry
from hub.telemetry.influxql import (
    activity_buckets_query,
    activity_query,
    activity_since_query,
    influxql_duration,
    last_seen_query,
)
from hub.telemetry.storage import EmbeddedStore

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "summaries.json").read_text())
S = 1_000_000_000
NOW_S = 1_763_900_100  # a fixed clock a little after the vectors' timestamps


def parse_one(line: str, precision: str = "s", now_ns: int = NOW_S * S) -> lp.Point:
    result = lp.parse(line, lp.PRECISION_NS[precision], now_ns)
    assert not result.rejected, result.rejected
    assert len(result.points) == 1
    return result.points[0]


def reason_for(line: str) -> str:
    result = lp.parse(line, S, NOW_S * S)
    assert not result.points, f"{line!r} should have been rejected"
    assert len(result.rejected) == 1
    return result.rejected[0].reason


# ----------------------------------------------------------------------------- the parser
def test_contract_lines_parse_to_the_summary_they_came_from():
    for vector in VECTORS["valid"]:
        point = parse_one(vector["line"])
        payload = vector["payload"]
        assert point.measurement == "sewing"
        assert dict(point.tags) == {"machine": VECTORS["registry"]["devices"][payload["device"]],
                                    "workshop": VECTORS["registry"]["workshop"]}
        for name in ("stitches", "run_ms", "stops", "peak_spm", "interval_ms"):
            assert point.fields[name] == payload[name] and lp.field_type(point.fields[name]) == "integer"
        assert point.time_ns == int(vector["line"].rsplit(" ", 1)[1]) * S


def test_escapes_in_measurement_tags_and_field_keys():
    point = parse_one(r'sew\ ing\,x,work\ shop=ws\,changsin\=01,a=b\ c f\=k\,e\ y=1i 5')
    assert point.measurement == "sew ing,x"
    assert dict(point.tags) == {"work shop": "ws,changsin=01", "a": "b c"}
    assert point.fields == {"f=k,e y": 1}
    # The series key escapes again, so it round-trips and two different tag sets never collide.
    assert point.series_key == r"sew\ ing\,x,a=b\ c,work\ shop=ws\,changsin\=01"
    assert parse_one(point.series_key + " f=1i 5").series_key == point.series_key


def test_string_fields_keep_spaces_commas_equals_quotes_and_newlines():
    body = 'm,t=1 note="a b, c=d \\"q\\" back\\\\slash\nsecond line",n=2i 7\nm,t=2 n=3i 8\n'
    result = lp.parse(body, S, NOW_S * S)
    assert not result.rejected
    assert [p.fields for p in result.points] == [
        {"note": 'a b, c=d "q" back\\slash\nsecond line', "n": 2}, {"n": 3}]


@pytest.mark.parametrize("text,value,kind", [
    ("1i", 1, "integer"), ("-42i", -42, "integer"), ("9223372036854775807i", 2**63 - 1, "integer"),
    ("7u", 7, "unsigned"), ("1", 1.0, "float"), ("-1.5", -1.5, "float"), ("1e3", 1000.0, "float"),
    (".5", 0.5, "float"), ("2.", 2.0, "float"), ("t", True, "boolean"), ("TRUE", True, "boolean"),
    ("False", False, "boolean"), ("f", False, "boolean"), ('""', "", "string"),
])
def test_field_value_types(text, value, kind):
    got = parse_one(f"m v={text} 1").fields["v"]
    assert got == value and lp.field_type(got) == kind


@pytest.mark.parametrize("line,reason", [
    ("sewing", "missing fields"),
    ("sewing,machine=m03", "missing fields"),
    ("sewing,machine=m03 ", "missing fields"),
    ("sewing stitches", "invalid field format"),
    ("sewing stitches=", "missing field value"),
    ("sewing =1i", "missing field key"),
    (",machine=m03 stitches=1i", "missing measurement"),
    ("sewing,machine stitches=1i", "missing tag value"),
    ("sewing,machine= stitches=1i", "missing tag value"),
    ("sewing,=m03 stitches=1i", "missing tag key"),
    ("sewing,machine=m=03 stitches=1i", "invalid tag format"),
    ("sewing,machine=m03,machine=m07 stitches=1i", "duplicate tags"),
    ("sewing stitches=1i,stitches=2i", "duplicate field key"),
    ("sewing stitches=12x", "invalid number"),
    ("sewing stitches=1.2.3", "invalid number"),
    ("sewing stitches=-1u", "invalid number"),
    ("sewing stitches=1e999", "invalid number"),
    ("sewing stitches=yes", "invalid boolean"),
    ('sewing note="never closed', "unbalanced quotes"),
    ('sewing note="x"y', "invalid field format"),
    ("sewing stitches=1i 17639abc", "bad timestamp"),
    ("sewing stitches=1i 1 2", "bad timestamp"),
    ("sewing stitches=9223372036854775808i", "unable to parse integer 9223372036854775808: value out of range"),
    ("sewing stitches=1i 9223372036854775807", "time outside range"),  # seconds * 1e9 overflows
    ("sewing time=1i", 'invalid field name "time"'),
    # Only ASCII digits are digits in line protocol (Python's \\d and int() take any script's).
    ("sewing stitches=\u0663i 1", "invalid number"),
    ("sewing stitches=\u0663.5 1", "invalid number"),
    ("sewing stitches=1i \u0663", "bad timestamp"),
    # Numbers too long for Python's int() (4,300 digits) are out of range, not a crash, and the
    # reason does not repeat all their digits.
    ("sewing stitches=" + "1" * 5000 + "i", "unable to parse integer 11111111111111111111...: value out of range"),
    ("sewing stitches=" + "1" * 5000 + "u", "unable to parse unsigned 11111111111111111111...: value out of range"),
    ("sewing stitches=1i " + "1" * 5000, "time outside range"),
])
def test_bad_lines_are_rejected_with_influxdbs_reason(line, reason):
    assert reason_for(line) == reason


def test_bad_lines_do_not_take_good_ones_down_and_comments_blanks_crlf_are_fine():
    body = ("# a comment\r\n\r\n"
            "sewing,machine=m03,workshop=ws stitches=1i 10\r\n"
            "   \n"
            "sewing,machine=m03,workshop=ws stitches=oops 20\n"
            "  sewing,machine=m03,workshop=ws stitches=3i 30")
    result = lp.parse(body, S, NOW_S * S)
    assert [p.fields["stitches"] for p in result.points] == [1, 3]
    assert [r.describe() for r in result.rejected] == [
        "unable to parse 'sewing,machine=m03,workshop=ws stitches=oops 20': invalid boolean"]


def test_invalid_utf8_is_a_reason_not_a_crash():
    text = b"sewing,workshop=\xff\xfe stitches=1i 1\nsewing,workshop=ok stitches=2i 2\n".decode(
        "utf-8", "surrogateescape")
    result = lp.parse(text, S, NOW_S * S)
    assert [p.fields for p in result.points] == [{"stitches": 2}]
    assert [r.reason for r in result.rejected] == ["invalid UTF-8"]


@pytest.mark.parametrize("precision,ns", [("s", S), ("ms", 10**6), ("us", 10**3), ("ns", 1), ("h", 3600 * S)])
def test_precision_and_missing_timestamp(precision, ns):
    assert parse_one("m v=1i 12", precision).time_ns == 12 * ns
    # Without a timestamp the point takes the receiving clock, cut to the precision.
    now_ns = NOW_S * S + 123_456_789
    assert parse_one("m v=1i", precision, now_ns).time_ns == now_ns - now_ns % ns


def test_tag_order_does_not_change_the_series():
    a = parse_one("sewing,workshop=ws,machine=m03 stitches=1i 1")
    b = parse_one("sewing,machine=m03,workshop=ws stitches=1i 1")
    assert a.series_key == b.series_key == "sewing,machine=m03,workshop=ws"


# ----------------------------------------------------------------------------- the store
@pytest.fixture
def store(tmp_path):
    s = EmbeddedStore(tmp_path / "telemetry.sqlite", clock=lambda: NOW_S)
    yield s
    s.close()


def points(text: str) -> list[lp.Point]:
    result = lp.parse(text, S, NOW_S * S)
    assert not result.rejected
    return result.points


def test_rewriting_a_point_overwrites_it_last_write_wins(store):
    line = VECTORS["valid"][0]["line"]
    for _ in range(3):  # a gateway retrying the same batch
        assert store.write(points(line)).written == 1
    assert store.point_count() == 1
    changed = line.replace("stitches=812i", "stitches=900i")
    store.write(points(changed))
    key = "sewing,machine=m03,workshop=ws-changsin-01"
    assert store.fields_at(key, 1763900000 * S)["stitches"] == 900
    # As in InfluxDB, a rewrite with fewer fields merges over the stored ones.
    store.write(points("sewing,machine=m03,workshop=ws-changsin-01 stops=9i 1763900000"))
    assert store.fields_at(key, 1763900000 * S) == {
        "interval_ms": 10000, "peak_spm": 6240, "run_ms": 7400, "stitches": 900, "stops": 9}
    assert store.point_count() == 1


def test_a_field_keeps_its_type_and_a_conflict_drops_only_that_point(store):
    # A field outside the contract: the contract's own fields must be integers anyway.
    store.write(points(f"sewing,machine=m03,workshop=ws motor_temp=1i {NOW_S - 3}"))
    outcome = store.write(points(f"sewing,machine=m03,workshop=ws motor_temp=2.5 {NOW_S - 2}\n"
                                 f"sewing,machine=m03,workshop=ws motor_temp=3i {NOW_S - 1}"))
    assert outcome.written == 1
    assert outcome.conflicts == ['field type conflict: input field "motor_temp" on measurement "sewing" '
                                 'is type float, already exists as type integer']
    assert store.point_count() == 2


def test_the_store_survives_a_reopen(tmp_path):
    path = tmp_path / "t.sqlite"
    first = EmbeddedStore(path, clock=lambda: NOW_S)
    first.write(points(f"sewing,machine=m03,workshop=ws motor_temp=1i {NOW_S - 1}"))
    first.close()
    again = EmbeddedStore(path, clock=lambda: NOW_S)
    try:
        assert again.point_count() == 1
        # The field's type came back from disk too.
        assert again.write(points(f"sewing,machine=m03,workshop=ws motor_temp=1.0 {NOW_S}")).conflicts
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        again.close()


def test_points_past_the_retention_are_pruned(store):
    old = NOW_S - 36 * 86400  # the default retention is 35 days
    store.write(points(f"sewing,machine=m03,workshop=ws stitches=1i {old}\n"
                       f"sewing,machine=m03,workshop=ws stitches=2i {NOW_S - 60}"))
    assert store.point_count() == 1
    assert store.fields_at("sewing,machine=m03,workshop=ws", (NOW_S - 60) * S) == {"stitches": 2}


async def test_capacity_from_the_embedded_store(store):
    steps = VECTORS["sequence"]["steps"]  # one board: 6 summaries, one stitch each, 7.4 s of 10 s running
    lines = [s["line"] for s in steps]
    last = max(int(line.rsplit(" ", 1)[1]) for line in lines)
    other = [  # a second workshop: one machine now, one 20 min ago, one two days ago, one 31 days ago
        f"sewing,machine=m01,workshop=ws-sinseol-02 interval_ms=10000i,run_ms=9000i,stitches=1000i {last}",
        f"sewing,machine=m02,workshop=ws-sinseol-02 interval_ms=10000i,run_ms=1000i,stitches=50i {last - 1200}",
        f"sewing,machine=m05,workshop=ws-sinseol-02 interval_ms=10000i,run_ms=1000i,stitches=70i {last - 2 * 86400}",
        f"sewing,machine=m06,workshop=ws-sinseol-02 interval_ms=10000i,run_ms=1000i,stitches=90i {last - 31 * 86400}",
        f"sewing,machine=m01,workshop=ws-sinseol-02 interval_ms=10000i,run_ms=0i,stitches=5i {last - 3600}",  # just outside
        f"other,machine=m01,workshop=ws-sinseol-02 stitches=77i {last}",  # another measurement: ignored
    ]
    store.write(points("\n".join(lines + other)))
    telemetry = EmbeddedTelemetry(store)
    settings = load_settings(api_tokens=[], embedded_path=store.path)
    report = await current_capacity(telemetry, settings, datetime.fromtimestamp(NOW_S, timezone.utc))

    by_ws = {w.workshop: w for w in report.workshops}
    assert list(by_ws) == ["ws-changsin-01", "ws-sinseol-02"]
    changsin = by_ws["ws-changsin-01"]
    assert (changsin.machines_known, changsin.machines_online, changsin.stitches_last_hour) == (1, 1, len(steps))
    assert changsin.running_ratio == 0.74
    assert changsin.last_seen == datetime.fromtimestamp(last, timezone.utc).isoformat().replace("+00:00", "Z")

    sinseol = by_ws["ws-sinseol-02"]
    assert sinseol.machines_known == 3  # m06 is older than the 30 days
    assert sinseol.machines_online == 1  # m02 (20 min) and m05 (2 days) are offline
    assert sinseol.stitches_last_hour == 1050
    assert sinseol.running_ratio == round(10000 / 20000, 4)
    assert {m.machine: (m.online, m.stitches_last_hour, m.running_ratio) for m in sinseol.machines} == {
        "m01": (True, 1000, 0.9), "m02": (False, 50, 0.1), "m05": (False, 0, None)}


def test_influxql_text_is_the_contracts():
    assert influxql_duration(timedelta(hours=1)) == "1h"
    assert influxql_duration(timedelta(days=30)) == "30d"
    assert influxql_duration(timedelta(minutes=90)) == "90m"
    assert influxql_duration(timedelta(milliseconds=1500)) == "1500ms"
    assert activity_query(timedelta(hours=1)) == (
        'SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms '
        'FROM "sewing" WHERE time > now() - 1h AND time <= now() GROUP BY "workshop", "machine"')
    assert last_seen_query(timedelta(days=30)) == (
        'SELECT last("stitches") FROM "sewing" WHERE time > now() - 30d AND time <= now() '
        'GROUP BY "workshop", "machine"')
    since = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)  # Seoul's midnight of the 26th
    assert activity_since_query(since + timedelta(microseconds=1999)) == (
        'SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms '
        'FROM "sewing" WHERE time >= 1795618800001ms AND time <= now() GROUP BY "workshop", "machine"')
    assert activity_buckets_query(since, None, timedelta(days=1), "Asia/Seoul") == (
        'SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms '
        'FROM "sewing" WHERE time >= 1795618800000ms AND time <= now() '
        """GROUP BY time(1d), "workshop", "machine" fill(none) tz('Asia/Seoul')""")
    assert activity_buckets_query(since, since + timedelta(minutes=15), timedelta(minutes=1)) == (
        'SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms '
        'FROM "sewing" WHERE time >= 1795618800000ms AND time < 1795619700000ms AND time <= now() '
        """GROUP BY time(1m), "workshop", "machine" fill(none) tz('UTC')""")
    # A zone's name goes into the statement's text: only a name the system knows gets there.
    for zone in ("Asia/Seoul') ; DROP DATABASE sewnet ; ('", "Nowhere/Atlantis", "../etc/passwd", ""):
        with pytest.raises(ValueError):
            activity_buckets_query(since, None, timedelta(days=1), zone)
    with pytest.raises(ValueError):
        activity_since_query(datetime(2026, 11, 26))  # a naive time means nothing to a store


# ----------------------------------------------------------------------------- the write API, over HTTP
WRITE_TOKEN = "write-token-for-tests"
READ_TOKEN = "read-token-for-tests"


@pytest.fixture
def hub(tmp_path):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[READ_TOKEN],
                             embedded_max_body_bytes=64 * 1024)
    with BackgroundServer(create_app(settings)) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client


def v2(client: httpx.Client, body: bytes, gzip_it: bool = True, token: str | None = WRITE_TOKEN,
       **params) -> httpx.Response:
    headers = {"Authorization": f"Token {token}"} if token else {}
    if gzip_it:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post("/api/v2/write", params={"org": "sewnet", "bucket": "sewnet", "precision": "s", **params},
                       content=body, headers=headers)


def rejections(client: httpx.Client) -> dict:
    r = client.get("/api/v1/rejections", headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert r.status_code == 200
    return r.json()["counts"]


def stitches_now(client: httpx.Client) -> int:
    r = client.get("/api/v1/capacity", headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert r.status_code == 200, r.text
    return sum(w["stitches_last_hour"] for w in r.json()["workshops"])


def recent_line(stitches: int, ago_s: int = 10) -> str:
    t = int(datetime.now(timezone.utc).timestamp()) - ago_s
    return f"sewing,machine=m03,workshop=ws-changsin-01 interval_ms=10000i,run_ms=5000i,stitches={stitches}i {t}"


def test_gzip_write_then_retry_is_idempotent(hub):
    body = (recent_line(100, 20) + "\n" + recent_line(200, 10) + "\n").encode()
    for _ in range(3):
        r = v2(hub, body)
        assert r.status_code == 204, r.text
    assert stitches_now(hub) == 300
    assert v2(hub, body, gzip_it=False).status_code == 204  # plain bodies are fine too
    assert stitches_now(hub) == 300


def test_partial_write_keeps_good_lines_and_names_the_bad_one(hub):
    body = (recent_line(100) + "\nsewing,machine=m03 stitches\n").encode()
    r = v2(hub, body)
    assert r.status_code == 400
    assert r.json() == {"code": "invalid", "message":
                        "partial write: unable to parse 'sewing,machine=m03 stitches': invalid field format dropped=0"}
    assert stitches_now(hub) == 100
    r = v2(hub, b"nothing good here\n")
    assert r.status_code == 400 and r.json()["message"] == "unable to parse 'nothing good here': invalid field format"
    assert rejections(hub)["write:line_protocol"] == 2


def test_write_auth_v2_and_v1(hub):
    line = recent_line(7).encode()
    assert v2(hub, line, token=None).status_code == 401
    assert v2(hub, line, token="wrong-token").status_code == 401
    assert v2(hub, line, token=READ_TOKEN).status_code == 401  # reading is not writing
    v1 = {"db": "sewnet", "precision": "s"}
    assert hub.post("/write", params=v1, content=line).status_code == 401
    r = hub.post("/write", params={**v1, "u": "gateway", "p": "nope"}, content=line)
    assert r.status_code == 401 and r.json() == {"error": "authorization failed"}
    assert hub.post("/write", params={**v1, "u": "gateway", "p": WRITE_TOKEN}, content=line).status_code == 204
    basic = base64.b64encode(f"gateway:{WRITE_TOKEN}".encode()).decode()
    r = hub.post("/write", params=v1, content=line, headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 204
    assert stitches_now(hub) == 7
    assert rejections(hub)["write:unauthorized"] == 5


def test_write_refuses_with_reasons(hub):
    line = recent_line(1).encode()
    r = v2(hub, line, bucket="other")
    assert r.status_code == 404 and r.json()["message"] == 'bucket "other" not found'
    r = v2(hub, line, precision="h")  # v1 knows hours; v2 does not
    assert r.status_code == 400 and "invalid precision" in r.json()["message"]
    r = hub.post("/write", params={"u": "g", "p": WRITE_TOKEN}, content=line)
    assert r.status_code == 400 and r.json() == {"error": "database is required"}
    r = hub.post("/api/v2/write", params={"bucket": "sewnet"}, content=b"\x1f\x8b\x08garbage",
                 headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in r.json()["message"]
    r = hub.post("/api/v2/write", params={"bucket": "sewnet"}, content=line,
                 headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "br"})
    assert r.status_code == 415
    assert stitches_now(hub) == 0
    counts = rejections(hub)
    for reason in ("unknown_database", "bad_precision", "no_database", "bad_gzip", "content_encoding"):
        assert counts[f"write:{reason}"] == 1, counts


def test_oversized_bodies_and_gzip_bombs_get_413(hub):
    big = (recent_line(1) + "\n") * 2000  # ~180 KB, over the 64 KiB limit of this hub
    r = v2(hub, big.encode(), gzip_it=False)
    assert r.status_code == 413
    # Compressed it is tiny; decompressed it is still too big.
    r = v2(hub, big.encode(), gzip_it=True)
    assert r.status_code == 413 and "decompressed" in r.json()["message"]
    # Without a Content-Length the stream is counted as it comes.
    r = hub.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"},
                 content=iter([big[:40000].encode(), big[40000:].encode()]),
                 headers={"Authorization": f"Token {WRITE_TOKEN}"})
    assert r.status_code == 413
    assert rejections(hub)["write:oversized"] == 3
    # The hub carries on.
    assert v2(hub, recent_line(5).encode()).status_code == 204
    assert stitches_now(hub) == 5


# ----------------------------------------------------------------------------- settings and sessions
def test_settings_from_toml_with_env_on_top(tmp_path, monkeypatch):
    from hub.core.settings import load_settings as load

    token_file = tmp_path / "tokens"
    token_file.write_text("# one token per line\nfile-token-123456\n\nshort\n")
    config = tmp_path / "hub.toml"
    config.write_text('telemetry = "influxdb"\ninflux_url = "http://influx.example:8086"\n'
                      f'online_window = 600\napi_token_file = "{token_file}"\n')
    monkeypatch.setenv("SEWNET_HUB_API_TOKENS", "env-token-1234, env-token-5678")
    monkeypatch.setenv("SEWNET_HUB_INFLUX_URL", "http://from-env:8086")
    s = load(config)
    assert (s.telemetry, s.influx_url, s.online_window) == ("influxdb", "http://from-env:8086", timedelta(minutes=10))
    assert s.all_api_tokens() == ["env-token-1234", "env-token-5678", "file-token-123456"]
    assert "env-token" not in repr(s)  # secrets stay out of logs
    monkeypatch.setenv("SEWNET_HUB_API_TOKENS", "short")
    with pytest.raises(ValueError, match="at least 8 characters"):
        load(config)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.toml")


def test_session_cookie_is_signed_expires_and_ends_with_its_token():
    from hub.core.auth import read_session, sign_session, token_id

    key, tid = b"k" * 32, token_id("reader-token-1")
    cookie = sign_session(key, tid, max_age_s=60, now=1000)
    assert read_session(key, cookie, {tid}, now=1030) == tid
    assert read_session(key, cookie, {tid}, now=1061) is None  # expired
    assert read_session(b"x" * 32, cookie, {tid}, now=1030) is None  # another key
    assert read_session(key, cookie, {token_id("another-token")}, now=1030) is None  # token removed
    payload, sig = cookie.split(".")
    forged = base64.urlsafe_b64encode(b'{"t":"%s","e":99999999}' % tid.encode()).rstrip(b"=").decode()
    assert read_session(key, f"{forged}.{sig}", {tid}, now=1030) is None
    assert read_session(key, "garbage", {tid}) is None and read_session(key, None, {tid}) is None


# ----------------------------------------------------------------------------- the write path, hardened
def test_every_member_of_a_multi_member_gzip_body_is_stored(hub):
    # `cat a.gz b.gz` is one valid gzip stream to InfluxDB (Go's reader reads every member).
    first, second = recent_line(100, 20).encode(), recent_line(200, 10).encode()
    body = gzip.compress(first + b"\n") + gzip.compress(second + b"\n") + gzip.compress(b"")
    r = hub.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"}, content=body,
                 headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "gzip"})
    assert r.status_code == 204, r.text
    assert stitches_now(hub) == 300
    # The decompressed limit (64 KiB here) holds across members, not per member.
    half = ((recent_line(1) + "\n") * 400).encode()  # ~37 KB each, ~74 KB together
    r = hub.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"},
                 content=gzip.compress(half) + gzip.compress(half),
                 headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["message"]
    # A member cut short, or garbage after a whole member, is still bad gzip.
    for body in (gzip.compress(first) + gzip.compress(second)[:-6], gzip.compress(first) + b"trailing junk"):
        r = hub.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"}, content=body,
                     headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "gzip"})
        assert r.status_code == 400 and "gzip" in r.json()["message"], r.text
    assert stitches_now(hub) == 300


def test_more_lines_than_a_request_may_carry_are_refused_whole(tmp_path):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[READ_TOKEN], embedded_max_lines=100)
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert v2(client, "\n".join(recent_line(1, ago) for ago in range(1, 101)).encode()).status_code == 204
        r = v2(client, "\n".join(recent_line(1, ago) for ago in range(200, 301)).encode())
        assert r.status_code == 413
        assert r.json()["message"] == ("the body has 101 lines, more than the 100 lines a request may carry: "
                                       "send fewer lines per request")
        assert stitches_now(client) == 100  # nothing of the refused body was stored
        assert rejections(client)["write:too_many_lines"] == 1


def test_sewing_values_the_contract_does_not_allow_are_refused_and_the_rest_kept(hub):
    t = int(datetime.now(timezone.utc).timestamp()) - 30
    bad = [
        f"sewing,machine=m05,workshop=ws-changsin-01 stitches=9223372036854775807i {t}",
        f"sewing,machine=m05,workshop=ws-changsin-01 interval_ms=10000i,stitches=2001i {t + 1}",
        f"sewing,machine=m05,workshop=ws-changsin-01 interval_ms=10000i,run_ms=10001i {t + 2}",
        f"sewing,machine=m05,workshop=ws-changsin-01 interval_ms=999i {t + 3}",
        f"sewing,machine=m05,workshop=ws-changsin-01 stops=-1i {t + 4}",
        f"sewing,machine=m05,workshop=ws-changsin-01 peak_spm=1.5 {t + 5}",
        f"sewing,machine=m05,workshop=ws-changsin-01 stitches=5u {t + 6}",
    ]
    r = v2(hub, "\n".join([recent_line(7)] + bad).encode())
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("partial write: ") and message.endswith(f"dropped={len(bad)}")
    assert ('field "stitches"=9223372036854775807 is outside the range 0..720000 that the contract allows'
            in message)
    assert 'field "stitches"=2001 is more than interval_ms=10000 allows' in message
    assert 'field "peak_spm" must be an integer (like 0i), not float' in message
    assert stitches_now(hub) == 7
    assert rejections(hub)["write:out_of_contract"] == len(bad)
    # Other measurements are not the contract's: anything InfluxDB takes, the store takes.
    assert v2(hub, f"loom,machine=m05 stitches=18446744073709551615u,temp=-1.5 {t}".encode()).status_code == 204


def test_an_overflowing_sum_in_the_store_costs_only_its_own_points(tmp_path):
    """A store written before writes were checked may hold any value: SQLite's sum() raised
    "integer overflow" on two points of 2^63-1 and capacity was 503 for everyone for an hour."""
    path = tmp_path / "hub.sqlite"
    store = EmbeddedStore(path)
    now = int(datetime.now(timezone.utc).timestamp())
    store.write(points_at(now, [f"sewing,machine=m01,workshop=ws interval_ms=10000i,run_ms=5000i,stitches=40i {now - 20}",
                                f"sewing,machine=m02,workshop=ws interval_ms=10000i,run_ms=5000i,stitches=60i {now - 20}"]))
    store.close()
    with sqlite3.connect(path) as raw:  # the old, unchecked write path, by hand
        sid = raw.execute("SELECT id FROM series WHERE key = 'sewing,machine=m02,workshop=ws'").fetchone()[0]
        for ago in (10, 5):
            raw.execute("INSERT INTO point(series_id, time_ns, fields) VALUES (?, ?, ?)",
                        (sid, (now - ago) * S, '{"interval_ms":10000,"run_ms":5000,"stitches":9223372036854775807}'))
    settings = load_settings(telemetry="embedded", embedded_path=path, embedded_write_token=WRITE_TOKEN,
                             api_tokens=[READ_TOKEN])
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        r = client.get("/api/v1/capacity", headers={"Authorization": f"Bearer {READ_TOKEN}"})
        assert r.status_code == 200, r.text
        machines = {m["machine"]: m for m in r.json()["workshops"][0]["machines"]}
        assert machines["m01"]["stitches_last_hour"] == 40
        # m02's two impossible values count as missing; its good point and the rest still count.
        assert (machines["m02"]["stitches_last_hour"], machines["m02"]["observed_ms"]) == (60, 30000)
        assert machines["m02"]["online"]
        # /query sums the same way (the InfluxQL adapter reading the embedded store).
        q = client.get("/query", params={"db": "sewnet", "u": "hub", "p": READ_TOKEN, "q": activity_query(
            timedelta(hours=1))}).json()
        sums = {s["tags"]["machine"]: s["values"][0][1] for s in q["results"][0]["series"]}
        assert sums == {"m01": 40, "m02": 60}


def points_at(now: int, lines: list[str]) -> list[lp.Point]:
    result = lp.parse("\n".join(lines), S, now * S)
    assert not result.rejected
    return result.points


@pytest.mark.parametrize("duration,message", [
    ("99999999999999999999w", "error parsing query: invalid duration"),
    ("9999999999w", "error parsing query: overflowed duration 9999999999w: choose a smaller duration or INF"),
    ("9223372036854775808ns", "error parsing query: invalid duration"),
])
def test_query_durations_out_of_range_are_400_with_influxdbs_reason(hub, duration, message):
    q = f'SELECT last("stitches") FROM "sewing" WHERE time > now() - {duration} GROUP BY "workshop", "machine"'
    r = hub.get("/query", params={"db": "sewnet", "q": q, "u": "hub", "p": READ_TOKEN})
    assert r.status_code == 400 and r.json() == {"error": message}
    assert rejections(hub)["query:bad_duration"] == 1


def test_query_edge_durations_and_units_answer(hub):
    assert v2(hub, recent_line(3).encode()).status_code == 204
    for duration, found in (("15250w", True), ("9223372036854775807ns", True), ("0s", False), ("1d", True)):
        q = f'SELECT last("stitches") FROM "sewing" WHERE time > now() - {duration} GROUP BY "workshop", "machine"'
        r = hub.get("/query", params={"db": "sewnet", "q": q, "u": "hub", "p": READ_TOKEN})
        assert r.status_code == 200, (duration, r.text)
        assert ("series" in r.json()["results"][0]) == found, duration
    # Units are case-sensitive in InfluxQL: "1H" is not a duration (it once raised a KeyError).
    q = 'SELECT last("stitches") FROM "sewing" WHERE time > now() - 1H GROUP BY "workshop", "machine"'
    r = hub.get("/query", params={"db": "sewnet", "q": q, "u": "hub", "p": READ_TOKEN})
    assert r.status_code == 400


def test_the_hubs_contract_ranges_are_the_gateways():
    """hub/telemetry/schema.py repeats the gateway's ranges; a summary the gateway accepts must be a point
    the hub accepts, and the other way round, at and around every bound."""
    from hypothesis import given, settings as hyp_settings, strategies as st

    from edge_gateway.contract import Summary, encode_line, validate
    from hub.telemetry.schema import contract_problem

    near = lambda *bounds: st.one_of(*[st.integers(b - 2, b + 2) for b in bounds])  # noqa: E731

    @hyp_settings(max_examples=300, deadline=None)
    @given(interval_ms=near(1_000, 10_000, 3_600_000), stitches=near(0, 200, 2_000, 720_000),
           run_ms=near(0, 1_000, 10_000, 3_600_000), stops=near(0, 10_000), peak_spm=near(0, 30_000))
    def check(interval_ms, stitches, run_ms, stops, peak_spm):
        payload = {"v": 1, "device": "sn-3c71bf0a12f4", "boot": 1, "seq": 1, "uptime_ms": 60_000,
                   "interval_ms": interval_ms, "stitches": stitches, "run_ms": run_ms, "stops": stops,
                   "peak_spm": peak_spm, "total": max(stitches, 0)}
        got = validate("sewnet/v1/sn-3c71bf0a12f4/summary", json.dumps(payload).encode(),
                       {"sn-3c71bf0a12f4": "m03"})
        fields = dict(interval_ms=interval_ms, stitches=stitches, run_ms=run_ms, stops=stops, peak_spm=peak_spm)
        line = encode_line("ws", "m03", Summary("d", 1, 1, 0, total=0, time=None, **fields), NOW_S)
        problem = contract_problem(parse_one(line))
        assert isinstance(got, Summary) == (problem is None), (got, problem)

    check()


def test_rejections_are_all_counted_but_logged_a_few_a_minute(caplog):
    from hub.core.rejections import LOG_PER_MINUTE, Rejections

    clock = [1000.0]
    r = Rejections(clock=lambda: clock[0])
    caplog.set_level("INFO", logger="sewnet.hub.rejections")
    for _ in range(LOG_PER_MINUTE + 50):
        r.add("write", "line_protocol", "unable to parse 'x': missing fields")
    r.add("write", "oversized", "another reason logs on its own")
    assert r.snapshot()["counts"] == {"write:line_protocol": LOG_PER_MINUTE + 50, "write:oversized": 1}
    assert len(caplog.records) == LOG_PER_MINUTE + 1
    clock[0] += 60  # a minute later the reason logs again, saying what it left out
    r.add("write", "line_protocol", "unable to parse 'y': missing fields", count=3)
    assert caplog.records[-1].getMessage().endswith("; 50 more of these were not logged")


def test_reasons_quote_long_names_and_lines_shortened(hub):
    long_machine, long_measurement = "m" * 20_000, "loom" * 2_000
    body = "\n".join([
        f"sewing,machine={long_machine},workshop=ws stitches=9223372036854775807i 1763900000",  # out of contract
        f"{long_measurement} v=1i 1763900000",
        f"{long_measurement} v=1.5 1763900001",  # a field type conflict
        f"{long_measurement} " + "v" * 20_000,  # not line protocol
    ]).encode()
    r = v2(hub, body)
    assert r.status_code == 400
    message = r.json()["message"]
    assert len(message) < 2_000, len(message)
    assert f"point sewing,machine={'m' * 200}" in message and "..." in message
    assert 'field type conflict: input field "v" on measurement "loomloom' in message


async def test_days_in_a_zone_that_changes_its_offset_are_refused_not_guessed(tmp_path):
    """The embedded store buckets by a fixed UTC offset (Seoul's +09:00); across a daylight saving
    switch InfluxDB has rules of its own, so the store says it cannot rather than answer differently."""
    switch = datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)  # New York leaves summer time
    store = EmbeddedStore(tmp_path / "dst.sqlite", clock=lambda: switch.timestamp() + 86400)
    try:
        store.write(points(f"sewing,machine=m01,workshop=ws interval_ms=10000i,run_ms=1i,stitches=1i "
                           f"{int(switch.timestamp())}"))
        telemetry = EmbeddedTelemetry(store)
        with pytest.raises(ValueError, match="changes its UTC offset"):
            await telemetry.activity_buckets(switch - timedelta(days=2), None, timedelta(days=1), "America/New_York")
        days = await telemetry.activity_buckets(switch - timedelta(days=2), None, timedelta(days=1), "Asia/Seoul")
        assert [(b.start, b.stitches) for b in days] == [(datetime(2026, 10, 31, 15, tzinfo=timezone.utc), 1)]
    finally:
        store.close()
