"""The gateway's hub link over real HTTP against the REAL hub (issue 7; PostgreSQL, the planner,
workshop tokens from the hub's `issue_workshop_token`, offers made by accepting real plans):
conditional offer checks, the durable answers across an uplink cut (the hub's server stopped and
started again on its port) and a SIGKILL of the gateway, the token refused, and a document that
is not the contract's (the one part served by a broken middlebox: the hub cannot send one)."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass

import httpx
import pytest

from edge_gateway import offer_store
from edge_gateway.config import HubConfig
from edge_gateway.hub_link import DOCUMENT_MAX_BYTES, HubLink
from edge_gateway.outbox import Outbox
from tests.integration.real_offers_hub import BrokenMiddlebox, RealHub
from tests.integration.test_gateway_ingest import gateway_config, start_gateway, store_rows, toml
from tests.servers import free_port
from tests.waiting import async_wait_for, wait_for

REGISTRY = {"sn-ffffffffff01": "m01", "sn-ffffffffff02": "m02"}
FIRST_ORDER = "tee-gw-1"


@dataclass
class Offered:
    """The real hub with one accepted order offered to one workshop, and that workshop's token."""

    hub: RealHub
    workshop: str
    token: str
    offer_id: str

    @property
    def url(self) -> str:
        return self.hub.url

    def offer(self, offer_id: str | None = None) -> dict:
        """The offer as the hub holds it now."""
        return self.hub.offer(self.workshop, self.token, offer_id or self.offer_id)

    def another_order(self, order_id: str, **changes) -> str:
        """A second accepted order that the same workshop is offered: its new offer's id."""
        pieces = self.hub.order(order_id, quantity=300, **changes)
        assert self.workshop in pieces, f"the planner sent {order_id} to {pieces}, not to {self.workshop}"
        ids = [o["id"] for o in self.hub.document(self.workshop, self.token)["offers"] if o["order_id"] == order_id]
        assert len(ids) == 1, ids
        return ids[0]


@pytest.fixture
def offers_hub(postgresql, tmp_path):
    hub = RealHub(postgresql.url, tmp_path / "hub")
    try:
        (workshop,) = hub.order(FIRST_ORDER)
        token = hub.token(workshop)
        (first,) = hub.document(workshop, token)["offers"]
        yield Offered(hub, workshop, token, first["id"])
    finally:
        hub.close()


@pytest.fixture
def store(tmp_path, offers_hub):
    with Outbox(tmp_path / "gw.sqlite", offers_hub.workshop, REGISTRY) as s:
        yield s


def link(store, offers_hub: Offered, url: str | None = None, token: str | None = None, **kw) -> HubLink:
    cfg = HubConfig(url=url or offers_hub.url, workshop_token=token or offers_hub.token,
                    poll_interval_s=kw.pop("poll", 60), backoff_max_s=1, refused_backoff_max_s=1, timeout_s=5)
    return HubLink(cfg, store, workshop=offers_hub.workshop)


async def test_an_unchanged_offer_list_is_a_304_and_its_bytes_are_counted(store, offers_hub):
    hub = link(store, offers_hub)
    try:
        assert await hub.check()
        etag, doc, _ = offer_store.load_document(store)
        assert [o["id"] for o in doc["offers"]] == [offers_hub.offer_id] and etag == doc["revision"]
        assert doc["offers"][0] == offers_hub.offer()  # the hub's offer, as the hub holds it
        first_down = hub.health.bytes_down
        assert await hub.check() and await hub.check()
        h = hub.health
        assert (h.checks, h.changes, h.not_modified) == (3, 1, 2)
        per_304 = (h.bytes_down - first_down) / 2
        # Status line + the hub's ETag, Cache-Control, Vary and uvicorn's date and server; no body.
        assert per_304 < 200, per_304
        assert h.bytes_up / 3 < 250, h.bytes_up  # request line, Host, Authorization, If-None-Match, Accept-Encoding
        second = offers_hub.another_order("tee-gw-2")  # the coordinator accepts another plan for the workshop
        assert await hub.check()
        assert [o["id"] for o in offer_store.load_document(store)[1]["offers"]] == [offers_hub.offer_id, second]
        assert (h.checks, h.changes, h.not_modified) == (4, 2, 2)
        assert hub.status()["level"] == "ok"
    finally:
        await hub._http().aclose()


async def test_the_last_document_stays_when_the_link_is_down_or_the_path_sends_rubbish(store, offers_hub):
    hub = link(store, offers_hub)
    assert await hub.check()
    offers_hub.hub.cut()
    assert not await hub.check()
    words = hub.status()
    assert words["level"] == "warning" and words["ko"].startswith("인터넷 연결 끊김")
    assert "받은 일감을 보여 줍니다" in words["ko"]
    assert offer_store.load_document(store)[1]["offers"][0]["id"] == offers_hub.offer_id
    offers_hub.hub.restore()
    assert await hub.check()  # the link is back: the words clear
    assert hub.status()["level"] == "ok" and hub.alerts() == []
    # The real hub's document with a status the contract does not have, as a broken path might hand it over.
    doc = offers_hub.hub.document(offers_hub.workshop, offers_hub.token)
    doc["offers"][0]["status"] = "maybe"
    box = BrokenMiddlebox(json.dumps(doc, ensure_ascii=False).encode())
    try:
        broken = link(store, offers_hub, url=box.url)
        assert not await broken.check()
        assert broken.health.problem == "bad_document" and broken.health.bad_documents == 1
        assert offer_store.load_document(store)[1]["offers"][0]["status"] == "offered"
        assert [a.key for a in broken.alerts()] == ["hub_offers"]
        # A document past the bound is read no further and said as too large, not as unreadable.
        box.body = b'{"workshop": "' + b"x" * DOCUMENT_MAX_BYTES + b'"}'
        assert not await broken.check()
        assert broken.health.bad_documents == 2 and broken.health.last_error == f"more than {DOCUMENT_MAX_BYTES:,} bytes"
        assert broken.health.bytes_down < DOCUMENT_MAX_BYTES + 256 * 1024
        await broken.aclose()
    finally:
        box.close()


async def test_a_refused_token_is_said_in_words_and_answers_stay_stored(store, offers_hub):
    hub = link(store, offers_hub, token="wrong-token")
    assert not await hub.check()
    answer_id, _ = offer_store.queue_answer(store, offers_hub.offer_id, "accept")
    assert not await hub.send(offer_store.pending(store))
    assert hub.health.send_problem == "token"
    assert "토큰을 거부함" in hub.status()["ko"]
    assert [i.item_id for i in offer_store.pending(store)] == [answer_id]
    assert {a.key for a in hub.alerts()} == {"hub_offers", "hub_answers"}
    assert offers_hub.hub.answers_applied() == [] and offers_hub.offer()["status"] == "offered"


async def test_a_token_fixed_in_its_file_is_used_within_seconds_not_after_the_refused_backoff(
        store, offers_hub, tmp_path):
    """The hub refuses the token; the installer writes the right one into the token file. The link
    must not sit out its refused backoff (here 900 s): it reads the file again while it waits."""
    token_file = tmp_path / "hub.token"
    token_file.write_text("wrong-token-0000\n")
    cfg = HubConfig(url=offers_hub.url, workshop_token_file=token_file, poll_interval_s=60, backoff_max_s=1,
                    refused_backoff_max_s=900, timeout_s=5)
    hub = HubLink(cfg, store, workshop=offers_hub.workshop)
    answer_id, _ = offer_store.queue_answer(store, offers_hub.offer_id, "accept")
    task = asyncio.create_task(hub.run())
    try:
        hub.wake()
        await async_wait_for(lambda: hub.health.send_problem == "token" and hub.health.problem == "token",
                             timeout=10, what="the wrong token refused")
        token_file.write_text(offers_hub.token + "\n")
        await async_wait_for(lambda: offer_store.waiting_stats(store)[0] == 0, timeout=10,
                             what="the answer sent with the fixed token")
        await async_wait_for(lambda: hub.health.problem is None, timeout=10, what="offers fetched again")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert offers_hub.hub.answers_applied() == [(answer_id, offers_hub.offer_id, "applied")]


async def test_answers_wait_through_an_uplink_cut_and_arrive_once(store, offers_hub):
    """The owner accepts and counts while the hub is cut; when it is back each item is sent once
    and applied once, and an accept re-plans nothing."""
    real, offer_id = offers_hub.hub, offers_hub.offer_id
    plans_before = len(real.order_status(FIRST_ORDER)["plans"])
    hub = link(store, offers_hub, poll=5)
    assert await hub.check()
    real.cut()  # the uplink is cut
    task = asyncio.create_task(hub.run())
    try:
        answer_id, _ = offer_store.queue_answer(store, offer_id, "accept")
        count_id = offer_store.queue_count(store, offer_id, 0)
        hub.wake()
        await async_wait_for(lambda: hub.health.send_problem == "network", timeout=10, what="the cut noticed")
        assert "인터넷이 돌아오면 전달됩니다" in hub.status()["send_ko"]
        assert offer_store.waiting_stats(store)[0] == 2
        real.restore()  # the link is back
        await async_wait_for(lambda: offer_store.waiting_stats(store)[0] == 0, timeout=15, what="answers delivered")
        await async_wait_for(lambda: offer_store.load_document(store)[1]["offers"][0]["status"] == "accepted",
                             timeout=15, what="the hub's new word fetched")
        # The one accepted offer: every machine goes on it, and the hub is told.
        # (placed right after the document is saved: waited for, not raced)
        await async_wait_for(lambda: offer_store.assignments(store) == {"m01": offer_id, "m02": offer_id},
                             timeout=10, what="the default assignment")
        await async_wait_for(lambda: any(r.kind == "assign" for r in real.reports()), timeout=15,
                             what="the machine list reached the hub")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    sent = [a["answer_id"] for body in real.answer_bodies(offers_hub.workshop) for a in body["answers"]]
    assert sent.count(answer_id) == 1
    assert real.answers_applied() == [(answer_id, offer_id, "applied")]
    assert offers_hub.offer()["status"] == "accepted"
    reports = {(r.kind, r.report_id): r for r in real.reports()}
    assert reports[("count", count_id)].result == "applied" and reports[("count", count_id)].pieces == 0
    (assigned,) = [r for r in reports.values() if r.kind == "assign"]
    assert assigned.result == "applied" and sorted(assigned.machines) == ["m01", "m02"]
    # An accept re-plans nothing: the order keeps its one plan, accepted.
    order = real.order_status(FIRST_ORDER)
    assert order["status"] == "accepted" and len(order["plans"]) == plans_before


def test_an_answer_survives_a_sigkill_of_the_gateway_and_arrives_once(tmp_path, mosquitto, offers_hub):
    """The owner taps accept on the page of a gateway process while the hub is out of reach; the
    process is SIGKILLed; it restarts with the hub back: the answer arrives, once."""
    real, offer_id = offers_hub.hub, offers_hub.offer_id
    web_port, password = free_port(), "sew-sew-1234"
    cfg = gateway_config(tmp_path, mosquitto, host="127.0.0.1", port=web_port, operator_password=password)
    cfg["workshop"] = offers_hub.workshop
    cfg["hub"] = {"url": offers_hub.url, "workshop_token": offers_hub.token, "poll_interval_s": 5, "backoff_max_s": 1}
    path = tmp_path / "gateway.toml"
    path.write_text(toml(cfg))
    store = tmp_path / "gw" / "gateway.sqlite"
    page = f"http://127.0.0.1:{web_port}"
    gw = start_gateway(path, tmp_path / "gateway.log")
    try:
        client = httpx.Client(base_url=page, timeout=5)
        wait_for(lambda: _ok(client, "/login"), timeout=20, what="the gateway's page")
        wait_for(lambda: _doc(store), timeout=20, what="offers fetched")
        real.cut()  # the uplink is cut
        assert client.post("/login", data={"password": password}).status_code in (200, 303)
        r = client.post(f"/offers/{offer_id}/accept", follow_redirects=False)
        assert r.status_code == 303
        # Stored before the page answered:
        assert store_rows(store, "SELECT kind, offer_id FROM hub_outbox") == [("answer", offer_id)]
        home = client.get("/")
        assert "보내는 중 — 인터넷이 돌아오면 전달됩니다" in home.text
        gw.send_signal(signal.SIGKILL)
        gw.wait(10)
        real.restore()
        gw = start_gateway(path, tmp_path / "gateway.log")
        wait_for(lambda: store.exists() and not store_rows(store, "SELECT 1 FROM hub_outbox WHERE kind='answer'"),
                 timeout=30, what="the answer delivered after the restart")
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait(20)
    answers = [a for body in real.answer_bodies(offers_hub.workshop) for a in body["answers"]]
    assert len(answers) == 1, answers  # sent once (the killed process never reached the hub)
    assert real.answers_applied() == [(answers[0]["answer_id"], offer_id, "applied")]
    assert offers_hub.offer()["status"] == "accepted"
    assert store_rows(store, "SELECT result FROM hub_results WHERE kind='answer'") == [("applied",)]


def _ok(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.HTTPError:
        return False


def _doc(store) -> bool:
    try:
        return bool(store.exists() and store_rows(store, "SELECT 1 FROM hub_offers"))
    except Exception:
        return False
