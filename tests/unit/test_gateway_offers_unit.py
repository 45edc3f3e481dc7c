"""Issue 7 on the gateway, without servers: the [hub] config section, machine states from
per-minute activity, and the durable answers queue in a real SQLite store."""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from edge_gateway import machine_state as ms
from edge_gateway import offer_store
from edge_gateway.config import ConfigError, parse_config
from edge_gateway.outbox import Incoming, Outbox
from edge_gateway.service import Gateway

TZ = ZoneInfo("Asia/Seoul")
REGISTRY = {"sn-eeeeeeeeee01": "m01", "sn-eeeeeeeeee02": "m02"}


def config(tmp_path, **hub) -> dict:
    cfg = {"workshop": "ws-01", "data_dir": str(tmp_path / "gw"), "uplink": {"url": "http://127.0.0.1:9"},
           "registry": REGISTRY, "web": {"enabled": False}}
    if hub:
        cfg["hub"] = hub
    return cfg


# ---- config ---------------------------------------------------------------------------------------
def test_no_hub_section_means_no_offers(tmp_path):
    cfg = parse_config(config(tmp_path))
    assert cfg.hub is None
    assert Gateway(cfg).hub is None


def test_hub_section_defaults_and_token_from_file_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SEWNET_WORKSHOP_TOKEN", raising=False)
    token = tmp_path / "hub.token"
    token.write_text("tok-abc123\n")
    cfg = parse_config(config(tmp_path, url="https://hub.example.kr/", workshop_token_file=str(token)))
    assert cfg.hub.url == "https://hub.example.kr" and cfg.hub.poll_interval_s == 60
    assert cfg.hub.secret() == "tok-abc123" and cfg.hub_workshop == "ws-01"
    monkeypatch.setenv("SEWNET_WORKSHOP_TOKEN", "tok-env")
    assert parse_config(config(tmp_path, url="http://h")).hub.secret() == "tok-env"


@pytest.mark.parametrize("hub, words", [
    ({"url": "hub.example.kr", "workshop_token": "t"}, "hub.url: must start with http:// or https://"),
    ({"url": "http://h", "workshop_token": "t", "poll_intervall_s": 60}, "hub.poll_intervall_s: unknown key"),
    ({"url": "http://h", "workshop_token": "t", "poll_interval_s": 1}, "hub.poll_interval_s"),
    ({"workshop_token": "t"}, "hub.url: Field required"),
])
def test_bad_hub_config_is_an_error_naming_the_key(tmp_path, hub, words):
    with pytest.raises(ConfigError) as err:
        parse_config(config(tmp_path, **hub))
    assert words in str(err.value)


def test_a_missing_or_unusable_token_stops_the_gateway_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("SEWNET_WORKSHOP_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="hub.workshop_token: missing"):
        Gateway(parse_config(config(tmp_path, url="http://h")))
    assert not (tmp_path / "gw").exists()  # nothing was created: the error came first
    with pytest.raises(ConfigError, match="hub.workshop_token: has spaces"):
        Gateway(parse_config(config(tmp_path, url="http://h", workshop_token="tok en")))
    with pytest.raises(ConfigError, match="hub.workshop_token_file: cannot read"):
        Gateway(parse_config(config(tmp_path, url="http://h", workshop_token_file=str(tmp_path / "nope"))))
    with pytest.raises(ConfigError, match="either the value or its"):
        Gateway(parse_config(config(tmp_path, url="http://h", workshop_token="a",
                                    workshop_token_file=str(tmp_path / "nope"))))


def test_the_token_is_never_in_the_config_repr(tmp_path):
    token = tmp_path / "t"
    token.write_text("very-secret-token")
    cfg = parse_config(config(tmp_path, url="http://h", workshop_token_file=str(token)))
    assert "very-secret-token" not in repr(cfg)


# ---- machine states ------------------------------------------------------------------------------
NOW = datetime(2026, 11, 26, 10, 42, 30, tzinfo=TZ).timestamp()
M = int(NOW) // 60  # the current minute


def state(minutes, last_seen=NOW - 5, board="online"):
    return ms.state_of(minutes, last_seen=last_seen, board_state=board, now=NOW, tz=TZ)


def test_sewing_idle_stopped_off_by_the_thresholds():
    assert state([(M, 300, 20_000)]).state == "sewing"
    assert state([(M - 2, 300, 20_000)]).state == "sewing"  # within 2 minutes
    assert state([(M - 4, 300, 20_000), (M, 0, 0)]).state == "idle"
    # A bump of the handwheel is not sewing: too few stitches / too little motor time.
    assert state([(M - 30, 300, 20_000), (M, 10, 500)]).state == "stopped"
    assert state([(M, 500, 1_000)]).state == "stopped"
    s = state([(M - 30, 300, 20_000), (M - 1, 0, 0)])
    stopped_at = datetime.fromtimestamp((M - 29) * 60, TZ).strftime("%H:%M")
    assert (s.state, s.ko, s.en) == ("stopped", f"정지 ({stopped_at}부터)", f"stopped since {stopped_at}")
    assert state([(M, 300, 20_000)], last_seen=NOW - 200).state == "off"  # no summary for over 3 min
    assert state([(M, 300, 20_000)], board="offline").state == "off"  # its last will
    assert state([], last_seen=None, board=None).state == "unknown"


def test_hours_today_add_stitches_per_local_hour():
    ten = datetime(2026, 11, 26, 10, 0, tzinfo=TZ).timestamp() // 60
    yesterday = datetime(2026, 11, 25, 15, 0, tzinfo=TZ).timestamp() // 60
    bars = ms.hours_today([(int(ten), 100, 0), (int(ten) + 5, 50, 0), (int(ten) - 60, 7, 0), (int(yesterday), 999, 0)],
                          NOW, TZ)
    assert bars == [(8, 0), (9, 7), (10, 150)]


# ---- the durable answers queue -----------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    with Outbox(tmp_path / "gw.sqlite", "ws-01", REGISTRY) as s:
        yield s


def test_an_answer_is_stored_once_kept_across_reopen_and_leaves_only_with_a_result(tmp_path, store):
    a1, new = offer_store.queue_answer(store, "of-1", "accept")
    a2, again = offer_store.queue_answer(store, "of-1", "decline", "no_capacity")  # a double tap
    assert new and not again and a1 == a2
    with pytest.raises(ValueError):
        offer_store.queue_answer(store, "of-2", "decline")  # a decline needs a reason
    store.close()
    with Outbox(tmp_path / "gw.sqlite", "ws-01", REGISTRY) as reopened:
        items = offer_store.pending(reopened)
        assert [(i.kind, i.body["answer"], i.body["answer_id"]) for i in items] == [("answer", "accept", a1)]
        assert offer_store.settle(reopened, {"someone-else": ("applied", "")}) == 0
        assert offer_store.pending(reopened)  # no result for it: still waiting
        assert offer_store.settle(reopened, {a1: ("applied", "")}) == 1
        assert offer_store.pending(reopened) == []
        assert offer_store.queue_answer(reopened, "of-1", "accept") == (a1, False)  # taken: not again
        view = offer_store.by_offer(reopened)["of-1"]["answer"]
        assert view["result"] == "applied" and not view["waiting"]


def test_a_refused_answer_may_be_given_again(store):
    a1, _ = offer_store.queue_answer(store, "of-1", "accept")
    offer_store.settle(store, {a1: ("refused", "이미 다르게 답함")})
    a2, new = offer_store.queue_answer(store, "of-1", "decline", "price_too_low")
    assert new and a2 != a1


def test_counts_and_machine_lists_replace_their_unsent_predecessors(store):
    offer_store.queue_count(store, "of-1", 100)
    last = offer_store.queue_count(store, "of-1", 140)
    assert [(i.kind, i.body["pieces"], i.item_id) for i in offer_store.pending(store)] == [("count", 140, last)]
    assert offer_store.assign_default(store, ["m01", "m02"], "of-1") == ["m01", "m02"]
    assert offer_store.assign_default(store, ["m01", "m02"], "of-1") == []  # placed already
    assert offer_store.assign(store, "m02", "of-2")
    assert not offer_store.assign(store, "m02", "of-2")
    lists = {i.offer_id: i.body["machines"] for i in offer_store.pending(store) if i.kind == "assign"}
    assert lists == {"of-1": ["m01"], "of-2": ["m02"]}  # whole lists, both offers
    body = offer_store.body_of(offer_store.pending(store))
    assert json.dumps(body) and len(body["reports"]) == 3 and body["answers"] == []


def test_activity_per_minute_comes_from_stored_summaries(store):
    now = int(time.time())
    msgs = [Incoming("sewnet/v1/sn-eeeeeeeeee01/summary", json.dumps({
        "v": 1, "device": "sn-eeeeeeeeee01", "boot": 1, "seq": seq, "uptime_ms": 10_000 * seq, "interval_ms": 10_000,
        "stitches": 200, "run_ms": 6_000, "stops": 0, "peak_spm": 3000, "total": 200 * seq,
        "time": now - 60 + 10 * seq}).encode(), now) for seq in range(1, 4)]
    store.ingest(msgs)
    rows = store.activity(now - 600)
    assert sum(r[2] for r in rows) == 600 and sum(r[3] for r in rows) == 18_000
    assert {r[0] for r in rows} == {"m01"}
