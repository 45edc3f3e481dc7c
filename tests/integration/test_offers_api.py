"""Work offers through the hub on a real PostgreSQL (uvicorn on a free port, a generated Dongdaemun in
the registry), as /work/issue7-contract.md has them: an accepted plan becomes offers; a workshop
token reads only its own workshop's; conditional GETs cost a 304 and no body; answers and reports
apply once under repeats and concurrent copies; a decline or an expiry re-plans the order without
that workshop as a proposal; the signed phone link; progress from stitches written through the
hub's own embedded store; bad bodies answered 422 with reasons and counted."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub import registry
from hub.app import create_app
from hub.cli import app as hub_cli
from hub.core import db
from hub.core.settings import load_settings
from hub.planning import offers, progress
from hub.planning.offer_tables import OfferAnswer
from hub.server import BackgroundServer
from tests.integration.planning_world import AUTH, TOKEN, seed, tee_order

WRITE_TOKEN = "offers-writer-token"


class World:
    def __init__(self, url: str, folder: Path, **overrides):
        self.url, self.folder = url, folder
        self.settings = load_settings(telemetry="embedded", embedded_path=folder / "telemetry.sqlite",
                                      api_tokens=[TOKEN], embedded_write_token=WRITE_TOKEN, database_url=url,
                                      planning_time_limit=5, offer_expiry_check_s=3600,
                                      login_failures_allowed=50, **overrides)
        self.db = db.Database(url)

    def order(self, hub: httpx.Client, order_id: str, **changes) -> dict:
        """An order of 3,000 tees over at most 4 workshops, planned and accepted: its plan."""
        body = tee_order(id=order_id, quantity=3000, min_lot=500, max_workshops=4, **changes)
        assert hub.post("/api/v1/orders", json=body).status_code == 201
        plan = hub.post("/api/v1/orders/" + order_id + "/plan").json()
        assert plan["feasible"] and len(plan["assignments"]) >= 2
        assert hub.post(f"/api/v1/orders/{order_id}/accept").status_code == 200
        return plan

    def token(self, workshop: str) -> dict:
        with self.db.session() as session:
            return {"Authorization": f"Bearer {offers.issue_workshop_token(session, workshop)}"}


@pytest.fixture
def world(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    w = World(postgresql.url, tmp_path)
    with BackgroundServer(create_app(w.settings)) as server:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as hub:
            w.hub = hub
            w.base = server.url
            yield w
    w.db.close()


def gateway(world: World, headers: dict) -> httpx.Client:
    return httpx.Client(base_url=world.base, headers=headers, timeout=60)


def answer(offer_id: str, kind: str = "accept", reason: str | None = None, answer_id: str | None = None) -> dict:
    return {"answer_id": answer_id or str(uuid.uuid4()), "offer_id": offer_id, "answer": kind, "reason": reason,
            "answered_at": datetime.now(timezone.utc).isoformat()}


def wait_for(check, what: str, deadline_s: float = 30.0):
    end = time.monotonic() + deadline_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        time.sleep(0.1)


def test_a_workshop_token_reads_its_own_offers_only_and_idle_checks_cost_a_304(world):
    plan = world.order(world.hub, "tee-a")
    a, b = plan["assignments"][0]["workshop"], plan["assignments"][1]["workshop"]
    token_a, token_b = world.token(a), world.token(b)
    with gateway(world, token_a) as gw:
        first = gw.get(f"/api/v1/workshops/{a}/offers")
        assert first.status_code == 200, first.text
        doc = first.json()
        assert doc["workshop"] == a and len(doc["offers"]) == 1
        offer = doc["offers"][0]
        assert offer["order_id"] == "tee-a" and offer["status"] == "offered" and offer["plan_version"] == 1
        assert offer["pieces"] == plan["assignments"][0]["pieces"] and offer["bundle_size"] == 50
        assert sum(d["pieces"] for d in offer["days"]) == offer["pieces"]
        assert offer["progress"] == {"counted": 0, "estimated": 0, "stitches_per_piece": None}
        assert set(offer) >= {"id", "style", "family", "bundles", "sam_minutes", "price_per_piece_krw", "due",
                              "respond_by", "answered_at", "decline_reason"}
        respond_by = datetime.fromisoformat(offer["respond_by"])
        assert timedelta(hours=23) < respond_by - datetime.now(timezone.utc) <= timedelta(hours=24)
        etag = first.headers["etag"]
        assert etag == f'"{doc["revision"]}"'
        raw = first.content.decode()
        assert ", " not in raw.replace(" / ", "") and '": ' not in raw  # compact
        # Nothing changed: 304 with no body.
        again = gw.get(f"/api/v1/workshops/{a}/offers", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        # gzip when asked, and the same document.
        zipped = gw.get(f"/api/v1/workshops/{a}/offers", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and zipped.json()["offers"] == doc["offers"]
        # Another workshop's offers: 401, even with a valid token (its own).
        assert gw.get(f"/api/v1/workshops/{b}/offers").status_code == 401
        assert gw.post(f"/api/v1/workshops/{b}/answers", json={"answers": []}).status_code == 401
        # An answer changes the document: the old ETag no longer matches.
        assert gw.post(f"/api/v1/workshops/{a}/answers",
                       json={"answers": [answer(offer["id"])]}).json()["answers"][0]["result"] == "applied"
        changed = gw.get(f"/api/v1/workshops/{a}/offers", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.json()["offers"][0]["status"] == "accepted"
        assert changed.headers["etag"] != etag
    with gateway(world, token_b) as gw:
        assert [o["id"] for o in gw.get(f"/api/v1/workshops/{b}/offers").json()["offers"]] != [offer["id"]]
    with gateway(world, {}) as anonymous:
        assert anonymous.get(f"/api/v1/workshops/{a}/offers").status_code == 401
        wrong = anonymous.get(f"/api/v1/workshops/{a}/offers", headers={"Authorization": "Bearer swk_guess"})
        assert wrong.status_code == 401
        # The coordinator's API token is not a workshop token.
        assert anonymous.get(f"/api/v1/workshops/{a}/offers", headers=AUTH).status_code == 401
    counts = world.hub.get("/api/v1/rejections").json()["counts"]
    assert counts["offers:bad_token"] == 4 and counts["offers:no_token"] == 1
    # A revoked token opens nothing.
    with world.db.session() as session:
        assert offers.revoke_workshop_tokens(session, a) == 1
    with gateway(world, token_a) as gw:
        assert gw.get(f"/api/v1/workshops/{a}/offers").status_code == 401


def test_wrong_workshop_tokens_are_rate_limited_per_address(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    w = World(postgresql.url, tmp_path)
    w.settings = load_settings(database_url=postgresql.url, api_tokens=[TOKEN], login_failures_allowed=3,
                               embedded_path=tmp_path / "t.sqlite")
    with w.db.session() as session:
        workshop = registry.workshops(session, limit=1)[0].id
    right = w.token(workshop)
    with BackgroundServer(create_app(w.settings)) as server, httpx.Client(base_url=server.url) as client:
        path = f"/api/v1/workshops/{workshop}/offers"
        assert client.get(path, headers=right).status_code == 200
        for _ in range(3):
            assert client.get(path, headers={"Authorization": "Bearer swk_wrong"}).status_code == 401
        locked = client.get(path, headers=right)
        assert locked.status_code == 429 and "Retry-After" in locked.headers
        # Its own door: the coordinator's API token still works from the same address.
        assert client.get("/api/v1/orders", headers=AUTH).status_code == 200
    w.db.close()


def test_answers_and_reports_apply_once_under_repeats_and_concurrent_copies(world):
    plan = world.order(world.hub, "tee-b")
    a, b = plan["assignments"][0]["workshop"], plan["assignments"][1]["workshop"]
    with world.db.session() as session:
        mine = offers.offers_for_workshop(session, a)[0]["id"]
        theirs = offers.offers_for_workshop(session, b)[0]["id"]
    path = f"/api/v1/workshops/{a}/answers"
    with gateway(world, world.token(a)) as gw:
        the_answer = answer(mine)
        # The same answer posted by 8 uploads at once: applied exactly once, the others duplicates.
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: gw.post(path, json={"answers": [the_answer]}), range(8)))
        assert all(r.status_code == 200 for r in results)
        got = sorted(r.json()["answers"][0]["result"] for r in results)
        assert got == ["applied"] + ["duplicate"] * 7, got
        with world.db.session() as session:
            assert session.query(OfferAnswer).filter_by(answer_id=the_answer["answer_id"]).count() == 1
        # Repeats later: duplicate, nothing changes.
        assert gw.post(path, json={"answers": [the_answer]}).json()["answers"][0]["result"] == "duplicate"
        results = gw.post(path, json={"answers": [
            answer(mine, "decline", "price_too_low"),       # answered the other way already
            answer("of-nope"),                              # no such offer
            answer(theirs),                                 # another workshop's
            answer(mine),                                   # the owner tapped twice: nothing new
        ]}).json()["answers"]
        assert [r["result"] for r in results] == ["refused", "refused", "refused", "duplicate"]
        assert all(" / " in r["reason"] for r in results)
        assert "other way" in results[0]["reason"] and "no offer of-nope" in results[1]["reason"]
        # Reports: a count and an assignment, once each.
        at = datetime.now(timezone.utc).isoformat()
        count = {"report_id": str(uuid.uuid4()), "kind": "count", "offer_id": mine, "pieces": 40, "at": at}
        assign = {"report_id": str(uuid.uuid4()), "kind": "assign", "offer_id": mine, "machines": ["m01"], "at": at}
        first = gw.post(path, json={"reports": [count, assign]}).json()["reports"]
        assert [r["result"] for r in first] == ["applied", "applied"]
        again = gw.post(path, json={"reports": [count, assign]}).json()["reports"]
        assert [r["result"] for r in again] == ["duplicate", "duplicate"]
        too_many = dict(count, report_id=str(uuid.uuid4()), pieces=10 ** 6)
        assert gw.post(path, json={"reports": [too_many]}).json()["reports"][0]["result"] == "refused"
        doc = gw.get(f"/api/v1/workshops/{a}/offers").json()
        assert doc["offers"][0]["progress"]["counted"] == 40
    # The other workshop declines without a reason: refused, the offer still open.
    with gateway(world, world.token(b)) as gw:
        r = gw.post(f"/api/v1/workshops/{b}/answers", json={"answers": [answer(theirs, "decline")]}).json()
        assert r["answers"][0]["result"] == "refused" and "reason" in r["answers"][0]["reason"]
    listing = world.hub.get("/api/v1/orders/tee-b/offers").json()["offers"]
    status = {o["workshop_id"]: o["status"] for o in listing}
    assert status[a] == "accepted" and status[b] == "offered"
    assert {o["workshop_id"] for o in listing} == {x["workshop"] for x in plan["assignments"]}
    progress_a = next(o for o in listing if o["workshop_id"] == a)["progress"]
    assert progress_a["counted"] == 40 and progress_a["machines"] == ["m01"]


def test_bad_bodies_get_422_with_reasons_and_are_counted(world):
    plan = world.order(world.hub, "tee-c")
    a = plan["assignments"][0]["workshop"]
    path = f"/api/v1/workshops/{a}/answers"
    with gateway(world, world.token(a)) as gw:
        bad = gw.post(path, json={"answers": [{"answer_id": "x y", "offer_id": "of-1", "answer": "maybe",
                                               "answered_at": "yesterday", "colour": "red"}],
                                  "reports": [{"report_id": "r1", "kind": "count", "offer_id": "of-1",
                                               "at": "2026-11-26T04:00:00"}]})
        assert bad.status_code == 422
        body = bad.json()
        assert body["error"] == "invalid_body" and body["ko"] and body["en"]
        fields = {p["field"]: p for p in body["problems"]}
        assert {"answers[0].answer_id", "answers[0].answer", "answers[0].answered_at", "answers[0].colour",
                "reports[0].at"} <= set(fields)
        assert "one of" in fields["answers[0].answer"]["en"] and "zone" in fields["reports[0].at"]["en"]
        assert all("Input should" not in p["en"] for p in body["problems"])
        no_pieces = gw.post(path, json={"reports": [{"report_id": "r1", "kind": "count", "offer_id": "of-1",
                                                     "at": "2026-11-26T04:00:00+00:00"}]})
        assert no_pieces.status_code == 422 and "pieces" in no_pieces.json()["problems"][0]["en"]
        bad_reason = gw.post(path, json={"answers": [answer("of-1", "decline", "too_hot")]})
        assert bad_reason.status_code == 422 and bad_reason.json()["problems"][0]["field"] == "answers[0].reason"
        not_json = gw.post(path, content=b"{nope", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 422 and not_json.json()["problems"][0]["en"] == "is not JSON"
        assert gw.post(path, json=[1, 2]).status_code == 422
        huge = gw.post(path, content=b" " * (65 * 1024), headers={"Content-Type": "application/json"})
        assert huge.status_code == 413 and "64 KiB" in huge.json()["en"]
        zipped = gw.post(path, content=gzip.compress(json.dumps({"answers": []}).encode()),
                         headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        assert zipped.status_code == 200 and zipped.json() == {"answers": [], "reports": []}
    counts = world.hub.get("/api/v1/rejections").json()["counts"]
    assert counts["offers:invalid_body"] == 5 and counts["offers:too_large"] == 1


def test_a_decline_replans_the_order_without_that_workshop_as_a_proposal(world):
    plan = world.order(world.hub, "tee-d")
    declined = plan["assignments"][0]["workshop"]
    kept = plan["assignments"][1]["workshop"]
    with world.db.session() as session:
        offer_ids = {o["workshop_id"]: o["id"] for o in offers.offers_for_order(session, "tee-d")}
    with gateway(world, world.token(kept)) as gw:
        assert gw.post(f"/api/v1/workshops/{kept}/answers", json={"answers": [answer(offer_ids[kept])]}
                       ).json()["answers"][0]["result"] == "applied"
    with gateway(world, world.token(declined)) as gw:
        r = gw.post(f"/api/v1/workshops/{declined}/answers",
                    json={"answers": [answer(offer_ids[declined], "decline", "machines_busy")]})
        assert r.json()["answers"][0]["result"] == "applied"
    order = wait_for(lambda: (o := world.hub.get("/api/v1/orders/tee-d").json())["status"] == "replanned" and o,
                     "the order re-planned after the decline")
    assert order["accepted_version"] == 1 and order["current_version"] == 2  # a proposal, not accepted
    proposal = world.hub.get("/api/v1/orders/tee-d/plan").json()
    assert proposal["feasible"] and proposal["based_on"] == 1 and proposal["change"]["declined"] == [declined]
    pieces = {a["workshop"]: a["pieces"] for a in proposal["assignments"]}
    assert pieces.get(declined, 0) == 0 and sum(pieces.values()) == 3000
    listing = {o["workshop_id"]: o for o in world.hub.get("/api/v1/orders/tee-d/offers").json()["offers"]}
    assert listing[declined]["status"] == "declined" and listing[declined]["decline_reason"] == "machines_busy"
    assert listing[declined]["decline_reason_en"] == "machines busy with other work"
    # Once the coordinator accepts the proposal: offers follow it; an unchanged share keeps its offer.
    assert world.hub.post("/api/v1/orders/tee-d/accept", json={"version": 2}).status_code == 200
    after = world.hub.get("/api/v1/orders/tee-d/offers").json()["offers"]
    live = {o["workshop_id"]: o for o in after if o["status"] in ("offered", "accepted")}
    assert set(live) == {w for w, n in pieces.items() if n > 0}
    for w, o in live.items():
        assert o["pieces"] == pieces[w] and o["plan_version"] == 2
        if w in offer_ids and plan_pieces(plan, w) == pieces[w]:
            assert o["id"] == offer_ids[w]  # kept, with its answer
    assert live[kept]["status"] == "accepted" or live[kept]["id"] != offer_ids[kept]


def plan_pieces(plan: dict, workshop: str) -> int:
    return next((a["pieces"] for a in plan["assignments"] if a["workshop"] == workshop), 0)


def test_offers_expire_and_the_order_is_replanned_and_late_answers_are_too_late(world):
    plan = world.order(world.hub, "tee-e")
    first, second = plan["assignments"][0]["workshop"], plan["assignments"][1]["workshop"]
    with world.db.session() as session:
        ids = {o["workshop_id"]: o["id"] for o in offers.offers_for_order(session, "tee-e")}
    with gateway(world, world.token(second)) as gw:  # one workshop answers in time
        gw.post(f"/api/v1/workshops/{second}/answers", json={"answers": [answer(ids[second])]})
    # Before the deadline nothing expires.
    done = asyncio.run(offers.expire_offers(world.db, None, world.settings, datetime.now(timezone.utc)))
    assert done == {"expired": [], "replanned": {}}
    later = datetime.now(timezone.utc) + timedelta(hours=25)
    done = asyncio.run(offers.expire_offers(world.db, None, world.settings, later))
    assert set(done["expired"]) == {ids[w] for w in ids if w != second}
    assert done["replanned"] == {"tee-e": 2}
    proposal = world.hub.get("/api/v1/orders/tee-e/plan").json()
    assert set(proposal["change"]["declined"]) == set(ids) - {second}
    assert {a["workshop"] for a in proposal["assignments"] if a["pieces"]}.isdisjoint(set(ids) - {second})
    assert world.hub.get("/api/v1/orders/tee-e").json()["status"] == "replanned"
    # Checking again re-plans nothing more.
    assert asyncio.run(offers.expire_offers(world.db, None, world.settings, later)) == {"expired": [], "replanned": {}}
    with gateway(world, world.token(first)) as gw:
        late = gw.post(f"/api/v1/workshops/{first}/answers", json={"answers": [answer(ids[first])]}).json()
        assert late["answers"][0]["result"] == "too_late" and "expired" in late["answers"][0]["reason"]


def test_the_signed_link_shows_one_offer_and_takes_the_answer(world):
    plan = world.order(world.hub, "tee-f")
    with world.db.session() as session:
        listing = offers.offers_for_order(session, "tee-f")
    mine, other = listing[0], listing[1]
    link = offers.offer_link(world.settings, mine["id"], hours=2)
    with httpx.Client(base_url=world.base, timeout=30) as phone:  # no token, no cookie
        page = phone.get(link)
        assert page.status_code == 200
        assert "수락" in page.text and "Accept" in page.text and "거절" in page.text
        assert f"{mine['pieces']:,}" in page.text and mine["workshop_name_ko"] in page.text
        assert other["id"] not in page.text and other["workshop_name_ko"] not in page.text
        tampered = phone.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
        assert tampered.status_code == 403 and "not valid" in tampered.text and "올바르지" in tampered.text
        other_offer = phone.get(link.replace(mine["id"], other["id"]))
        assert other_offer.status_code == 403 and other["workshop_name_ko"] not in other_offer.text
        expired = phone.get(offers.offer_link(world.settings, mine["id"], hours=-1))
        assert expired.status_code == 410 and "expired" in expired.text and "기한" in expired.text
        exp, sig = (part.split("=", 1)[1] for part in link.split("?", 1)[1].split("&"))
        no_reason = phone.post(f"/offer/{mine['id']}", data={"exp": exp, "sig": sig, "answer": "decline"})
        assert no_reason.status_code == 422 and "reason" in no_reason.text
        forged = phone.post(f"/offer/{mine['id']}", data={"exp": exp, "sig": "x" + sig[1:], "answer": "accept"})
        assert forged.status_code == 403
        took = phone.post(f"/offer/{mine['id']}", data={"exp": exp, "sig": sig, "answer": "accept"})
        assert took.status_code == 200 and "applied" in took.text and "수락함" in took.text
    status = {o["id"]: o["status"] for o in world.hub.get("/api/v1/orders/tee-f/offers").json()["offers"]}
    assert status[mine["id"]] == "accepted" and status[other["id"]] == "offered"


def write_stitches(client: httpx.Client, workshop: str, machine: str, points: list[tuple[datetime, int]]) -> None:
    lines = "\n".join(f"sewing,machine={machine},workshop={workshop} interval_ms=60000i,peak_spm=3000i,"
                      f"run_ms=50000i,stitches={n}i,stops=0i {int(t.timestamp())}" for t, n in points)
    r = client.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"}, content=lines.encode(),
                    headers={"Authorization": f"Token {WRITE_TOKEN}"})
    assert r.status_code == 204, r.text


def test_progress_is_estimated_from_the_assigned_machines_stitches_and_calibrated_by_counts(world):
    plan = world.order(world.hub, "tee-g")
    w = plan["assignments"][0]["workshop"]
    with world.db.session() as session:
        offer = offers.offers_for_workshop(session, w)[0]
    now = datetime.now(timezone.utc)
    assigned = now - timedelta(minutes=30)
    with httpx.Client(base_url=world.base, timeout=30) as store:
        # Before the assignment (not counted), on the assigned machines after it, on a machine not assigned.
        write_stitches(store, w, "m01", [(assigned - timedelta(minutes=5), 5000), (assigned + timedelta(minutes=1), 3000),
                                         (assigned + timedelta(minutes=10), 6000)])
        write_stitches(store, w, "m02", [(assigned + timedelta(minutes=2), 9000)])
        write_stitches(store, w, "m03", [(assigned + timedelta(minutes=3), 7777)])
    path = f"/api/v1/workshops/{w}/answers"
    with gateway(world, world.token(w)) as gw:
        assert gw.post(path, json={"answers": [answer(offer["id"])]}).json()["answers"][0]["result"] == "applied"
        r = gw.post(path, json={"reports": [{"report_id": str(uuid.uuid4()), "kind": "assign", "offer_id": offer["id"],
                                             "machines": ["m01", "m02"], "at": assigned.isoformat()}]})
        assert r.json()["reports"][0]["result"] == "applied"
        doc = gw.get(f"/api/v1/workshops/{w}/offers").json()["offers"][0]["progress"]
    # Before any count: the style's SAM (6.0 min) × 300 stitches a SAM-minute = 1,800 stitches a piece.
    assert doc == {"counted": 0, "estimated": 10, "stitches_per_piece": 1800.0}  # 18,000 stitches
    found = world.hub.get("/api/v1/orders/tee-g/progress").json()
    mine = found["offers"][offer["id"]]
    assert (mine["stitches"], mine["estimated"], mine["calibrated"]) == (18000, 10, False)
    assert mine["machines"] == ["m01", "m02"]
    # The owner counts 12 pieces at a moment when the machines had sewn 12,000 stitches: 1,000 a piece.
    with gateway(world, world.token(w)) as gw:
        r = gw.post(path, json={"reports": [{"report_id": str(uuid.uuid4()), "kind": "count", "offer_id": offer["id"],
                                             "pieces": 12, "at": (assigned + timedelta(minutes=5)).isoformat()}]})
        assert r.json()["reports"][0]["result"] == "applied"
    found = asyncio.run(progress.order_progress(world.db, _store_telemetry(world), world.settings, "tee-g"))
    mine = found["offers"][offer["id"]]
    assert (mine["counted"], mine["stitches_per_piece"], mine["estimated"], mine["calibrated"]) == (12, 1000.0, 18, True)
    assert found["counted"] == 12 and found["done"] >= 18
    # Behind: nothing counted against a plan whose days have passed.
    past = datetime.now(timezone.utc) + timedelta(days=30)
    late = asyncio.run(progress.order_progress(world.db, None, world.settings, "tee-g", now=past))
    assert late["behind"] and w in late["behind_workshops"] and late["offers"][offer["id"]]["behind"]
    listing = world.hub.get("/api/v1/orders/tee-g/offers").json()
    assert listing["behind"] is False and next(o for o in listing["offers"] if o["id"] == offer["id"]
                                               )["progress"]["counted"] == 12


def _store_telemetry(world: World):
    from hub.telemetry.embedded import EmbeddedTelemetry
    from hub.telemetry.storage import EmbeddedStore

    return EmbeddedTelemetry(EmbeddedStore(world.folder / "telemetry.sqlite", world.settings.embedded_retention))


def test_the_workshop_token_command_issues_lists_and_revokes(world, tmp_path):
    plan = world.order(world.hub, "tee-h")
    w = plan["assignments"][0]["workshop"]
    runner = CliRunner()
    file = tmp_path / "gateway.token"
    issued = runner.invoke(hub_cli, ["workshop-token", "issue", w, "--database", world.url, "--file", str(file)])
    assert issued.exit_code == 0, issued.output
    assert file.stat().st_mode & 0o777 == 0o600
    token = file.read_text().strip()
    assert token not in issued.output
    with gateway(world, {"Authorization": f"Bearer {token}"}) as gw:
        assert gw.get(f"/api/v1/workshops/{w}/offers").status_code == 200
    listed = runner.invoke(hub_cli, ["workshop-token", "list", w, "--database", world.url])
    assert listed.exit_code == 0 and offers.token_hash(token)[:12] in listed.output and "active" in listed.output
    assert token not in listed.output
    unknown = runner.invoke(hub_cli, ["workshop-token", "issue", "ws-nowhere-9999", "--database", world.url])
    assert unknown.exit_code == 2 and "no workshop ws-nowhere-9999" in unknown.output
    revoked = runner.invoke(hub_cli, ["workshop-token", "revoke", w, "--database", world.url])
    assert revoked.exit_code == 0 and "revoked 1 token" in revoked.output
    with gateway(world, {"Authorization": f"Bearer {token}"}) as gw:
        assert gw.get(f"/api/v1/workshops/{w}/offers").status_code == 401
