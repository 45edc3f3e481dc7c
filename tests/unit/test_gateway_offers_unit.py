"""Issue 7 on the gateway, without servers: the [hub] config section, machine states from
per-minute activity, and the durable answers queue in a real SQLite store."""

from __future__ import annotations

import json
import sqlite3
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


def offer(id_: str, order: str, status: str = "accepted", pieces: int = 1000, **more) -> dict:
    """One offer as the hub's document lists it (docs/offer-contract.md)."""
    return {"id": id_, "order_id": order, "plan_version": 1, "style": f"티셔츠 {order}", "family": "knit_tops",
            "pieces": pieces, "bundles": pieces // 20, "bundle_size": 20, "days": [{"day": "2026-11-27", "pieces": pieces}],
            "sam_minutes": {"lockstitch": 3.6}, "price_per_piece_krw": 2500, "due": "2026-12-05",
            "respond_by": "2026-11-27T04:00:00+00:00", "status": status, "answered_at": None,
            "decline_reason": None, "changed": None, "adds_to": None,
            "progress": {"counted": 0, "estimated": 0, "stitches_per_piece": None}, **more}


def document(*offers: dict) -> dict:
    return {"workshop": "ws-01", "revision": "r1", "server_time": "2026-11-26T04:00:00+00:00", "offers": list(offers)}


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


def test_a_store_write_that_fails_halfway_leaves_nothing_behind(store):
    """Outbox.locked(write=True) is one transaction: a queued item and its bookkeeping go together
    or not at all."""
    def half(db):
        db.execute("INSERT INTO hub_outbox(item_id, kind, offer_id, body, made_at) VALUES ('x','count','of-1','{}',0)")
        raise RuntimeError("power cut, say")

    with pytest.raises(RuntimeError):
        store.locked(half, write=True)
    assert offer_store.pending(store) == []
    offer_store.queue_count(store, "of-1", 5)  # the store still takes the next write
    assert [i.body["pieces"] for i in offer_store.pending(store)] == [5]


def test_a_refused_answer_may_be_given_again(store):
    a1, _ = offer_store.queue_answer(store, "of-1", "accept")
    offer_store.settle(store, {a1: ("refused", "이미 다르게 답함")})
    a2, new = offer_store.queue_answer(store, "of-1", "decline", "price_too_low")
    assert new and a2 != a1


def test_counts_and_machine_lists_replace_their_unsent_predecessors(store):
    offer_store.queue_count(store, "of-1", 100)
    last = offer_store.queue_count(store, "of-1", 140)
    assert [(i.kind, i.body["pieces"], i.item_id) for i in offer_store.pending(store)] == [("count", 140, last)]
    doc = document(offer("of-1", "ord-1"), offer("of-2", "ord-2"))
    assert offer_store.assign_default(store, ["m01", "m02"], "ord-1", doc) == ["m01", "m02"]
    assert offer_store.assign_default(store, ["m01", "m02"], "ord-1", doc) == []  # placed already
    assert offer_store.assign(store, "m02", "ord-2", doc)
    assert not offer_store.assign(store, "m02", "ord-2", doc)
    lists = {i.offer_id: i.body["machines"] for i in offer_store.pending(store) if i.kind == "assign"}
    assert lists == {"of-1": ["m01"], "of-2": ["m02"]}  # whole lists, both orders
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


# ---- machines work on orders (an accepted extra is the same order) ---------------------------------
EXTRA = document(offer("of-a", "ord-1", pieces=1000), offer("of-b", "ord-1", pieces=300, adds_to="of-a"),
                 offer("of-c", "ord-2", status="offered"))


def test_one_open_order_with_an_accepted_extra_is_still_the_one_open_order():
    assert offer_store.open_orders(EXTRA) == ["ord-1"]
    assert offer_store.report_offer(EXTRA, "ord-1") == "of-a"  # the list goes on the offer the extra adds to
    # Listed the other way round, the same offer carries the order's list.
    assert offer_store.report_offer(document(*reversed(EXTRA["offers"])), "ord-1") == "of-a"
    finished = document(offer("of-a", "ord-1", progress={"counted": 1000}), offer("of-d", "ord-3"))
    assert offer_store.open_orders(finished) == ["ord-3"]


async def test_the_default_puts_every_machine_on_the_one_open_order_and_sends_one_whole_list(store):
    from edge_gateway.config import HubConfig
    from edge_gateway.hub_link import HubLink

    link = HubLink(HubConfig(url="http://127.0.0.1:9", workshop_token="t"), store, workshop="ws-01")
    await link._default_assignment(EXTRA)
    assert offer_store.assignments(store) == {"m01": "of-a", "m02": "of-a"}
    (item,) = offer_store.pending(store)
    assert (item.kind, item.offer_id, item.body["machines"]) == ("assign", "of-a", ["m01", "m02"])
    # Two open orders: no default (the owner picks).
    offer_store.settle(store, {item.item_id: ("applied", "")})
    two = document(offer("of-a", "ord-1"), offer("of-e", "ord-2"))
    with Outbox(store.path.with_name("other.sqlite"), "ws-01", REGISTRY) as other:
        await HubLink(HubConfig(url="http://127.0.0.1:9", workshop_token="t"), other,
                      workshop="ws-01")._default_assignment(two)
        assert offer_store.assignments(other) == {}


def test_moving_a_machine_between_orders_sends_each_orders_whole_list_on_one_offer(store):
    doc = document(*EXTRA["offers"], offer("of-f", "ord-4"))
    offer_store.assign_default(store, ["m01", "m02"], "ord-1", doc)
    offer_store.settle(store, {i.item_id: ("applied", "") for i in offer_store.pending(store)})
    assert not offer_store.assign(store, "m02", "ord-1", doc)  # already on that order: nothing to send
    assert offer_store.assign(store, "m02", "ord-4", doc)
    lists = {i.offer_id: i.body["machines"] for i in offer_store.pending(store)}
    assert lists == {"of-a": ["m01"], "of-f": ["m02"]}
    assert offer_store.machine_orders(store, doc) == {"m01": "ord-1", "m02": "ord-4"}
    with pytest.raises(ValueError):
        offer_store.assign(store, "m01", "ord-2", doc)  # offered, not accepted: no machines on it
    assert offer_store.assign(store, "m02", None, doc)
    lists = {i.offer_id: i.body["machines"] for i in offer_store.pending(store)}
    assert lists == {"of-a": ["m01"], "of-f": []}  # the unsent list of ord-4 replaced by the empty one


# ---- the page says what changed, in words ------------------------------------------------------------
PASSWORD = "비밀번호1234"


@pytest.fixture
def page(store):
    from fastapi.testclient import TestClient

    from edge_gateway.config import HubConfig
    from edge_gateway.hub_link import HubLink
    from edge_gateway.web import create_app

    link = HubLink(HubConfig(url="http://127.0.0.1:9", workshop_token="t"), store, workshop="ws-01")
    with TestClient(create_app(store, workshop="ws-01", operator_password=PASSWORD, hub=link)) as client:
        assert client.post("/login", data={"password": PASSWORD}).status_code == 200
        yield client


def show(store, doc: dict) -> None:
    offer_store.save_document(store, doc["revision"], json.dumps(doc))


def test_a_changed_offer_and_an_extra_offer_are_said_in_words(store, page):
    changed = offer("of-a", "ord-1", pieces=1000, changed={"from_pieces": 1200, "at": "2026-11-28T01:00:00+00:00"})
    show(store, document(changed, offer("of-b", "ord-1", status="offered", pieces=300, adds_to="of-a")))
    text = page.get("/").text
    assert "수량 변경: 1,200벌 → 1,000벌 (11-28 10:00)" in text and "quantity changed" in text
    assert "추가 주문: 이미 수락한 1,000벌에 300벌 더" in text
    assert "300 more on top of the 1,000 you accepted" in text
    # The extra has its own accept and decline; the accepted one has none.
    assert 'action="/offers/of-b/accept"' in text and 'href="/offers/of-b/decline"' in text
    assert 'action="/offers/of-a/accept"' not in text
    decline = page.get("/offers/of-b/decline").text
    assert "이미 수락한 1,000벌은 그대로입니다" in decline
    # Other days, same pieces: said as a change of days, not of quantity.
    show(store, document(offer("of-a", "ord-1", changed={"from_pieces": 1000, "at": None})))
    text = page.get("/").text
    assert "날짜 변경" in text and "수량 변경" not in text


def test_machines_and_the_assign_page_name_orders_in_words_never_ids(store, page):
    show(store, EXTRA)
    offer_store.assign_default(store, ["m01", "m02"], "ord-1", EXTRA)
    text = page.get("/").text
    assert 'data-order="ord-1"' in text and "티셔츠 ord-1 · 납기 12-05" in text
    assert ">of-a<" not in text and "of-a</span>" not in text  # no offer id as the machine's work
    form = page.get("/machines/m02/assign").text
    assert form.count('name="order"') == 2  # the one order (1,000 + 300 accepted) and "none"
    assert "1,300벌" in form
    r = page.post("/machines/m02/assign", data={"order": "none"}, follow_redirects=False)
    assert r.status_code == 303
    assert offer_store.machine_orders(store, EXTRA) == {"m01": "ord-1", "m02": None}
    assert page.post("/machines/m02/assign", data={"order": "ord-2"}).status_code == 422  # not accepted


def test_the_hubs_refusals_reach_the_page_in_korean_without_ids(store, page):
    show(store, document(offer("of-a", "ord-1", status="offered"), offer("of-b", "ord-2")))
    answer_id, _ = offer_store.queue_answer(store, "of-a", "accept")
    count_id = offer_store.queue_count(store, "of-b", 2000)
    offer_store.settle(store, {answer_id: ("refused", "이 작업장에 of-a 제안이 없습니다 / no offer of-a for this workshop"),
                               count_id: ("refused", "센 수량 2,000벌이 맡은 1,000벌보다 많습니다 / 2,000 pieces counted"
                                                     " is more than the 1,000 offered")})
    text = page.get("/").text
    assert "허브가 받지 않음: 이 작업장에 제안이 없습니다" in text and "no offer for this workshop" in text
    assert "입력한 개수를 허브가 받지 않음: 센 수량 2,000벌이 맡은 1,000벌보다 많습니다" in text
    assert "of-a 제안" not in text


def test_an_answer_the_store_cannot_keep_is_said_in_words_not_a_server_error(store, page, monkeypatch):
    show(store, document(offer("of-a", "ord-1", status="offered")))

    def full(*_a, **_k):  # a full SD card, stood in for: this machine's disk cannot be filled safely
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(offer_store, "queue_answer", full)
    r = page.post("/offers/of-a/accept", follow_redirects=False)
    assert r.status_code == 503
    assert "저장하지 못했습니다" in r.text and "Not saved" in r.text
    assert "database or disk is full" not in r.text and "OperationalError" not in r.text
    monkeypatch.undo()
    assert page.post("/offers/of-a/accept", follow_redirects=False).status_code == 303  # the next tap is kept
    assert [i.offer_id for i in offer_store.pending(store)] == ["of-a"]
