"""Orders through the hub's API on a real PostgreSQL (uvicorn on a free port, a generated Dongdaemun
in the registry): create, read and list with and without the token; bad orders answered field by
field in plain words; plan, accept, and capacity's committed minutes show the plan (through the
CommitmentSource the hub wires); a re-plan after a decline keeps started pieces, moves less than
planning from scratch, and replaces what the accepted plan booked."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import datetime, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core import db
from hub.core.settings import load_settings
from hub.planning import service
from hub.planning.allocation import plan_order
from tests.integration.planning_world import AUTH, seed, serving, tee_order, today


@pytest.fixture
def hub(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    with serving(postgresql.url, tmp_path) as client:
        yield client


def test_orders_round_trip_and_every_route_needs_the_token(hub):
    made = hub.post("/api/v1/orders", json=tee_order(id="ss27-tee-0001"))
    assert made.status_code == 201, made.text
    order = made.json()
    assert order["status"] == "draft" and order["current_version"] is None
    assert order["sam_minutes"] == pytest.approx({"overlock": 3.6, "coverstitch": 1.8, "lockstitch": 0.6})
    assert (order["quantity"], order["bundle_size"], order["panels"]) == (20000, 50, {"lat": 37.576, "lon": 127.015})
    second = hub.post("/api/v1/orders", json=tee_order(quantity=1000, sam=None, sam_split=None,
                                                       sam_minutes={"overlock": 4.0, "coverstitch": 2.0}))
    assert second.status_code == 201 and second.json()["id"].startswith("ord-")

    read = hub.get("/api/v1/orders/ss27-tee-0001").json()
    assert {k: v for k, v in read.items() if k != "plans"} == order and read["plans"] == []
    listing = hub.get("/api/v1/orders").json()
    assert listing["total"] == 2 and [o["id"] for o in listing["items"]] == [second.json()["id"], "ss27-tee-0001"]
    assert hub.get("/api/v1/orders", params={"status": "accepted"}).json()["total"] == 0
    assert hub.post("/api/v1/orders", json=tee_order(id="ss27-tee-0001")).status_code == 409
    assert hub.get("/api/v1/orders/nope").status_code == 404
    assert hub.get("/api/v1/orders/ss27-tee-0001/plan").status_code == 404  # not planned yet

    anonymous = httpx.Client(base_url=str(hub.base_url), timeout=30)
    wrong = {"Authorization": "Bearer not-the-token"}
    for method, path, body in [("POST", "/api/v1/orders", tee_order()), ("GET", "/api/v1/orders", None),
                               ("GET", "/api/v1/orders/ss27-tee-0001", None),
                               ("POST", "/api/v1/orders/ss27-tee-0001/plan", None),
                               ("GET", "/api/v1/orders/ss27-tee-0001/plan", None),
                               ("POST", "/api/v1/orders/ss27-tee-0001/replan", {"declined": ["x"]}),
                               ("POST", "/api/v1/orders/ss27-tee-0001/accept", None),
                               ("GET", "/openapi.json", None)]:
        assert anonymous.request(method, path, json=body).status_code == 401, path
    assert anonymous.request("GET", "/api/v1/orders", headers=wrong).status_code == 401
    for path in ("/api/v1/orders", "/api/v1/orders/ss27-tee-0001/replan"):  # not even JSON: still the token first
        assert anonymous.post(path, content=b"{nope", headers={"Content-Type": "application/json"}).status_code == 401
    assert hub.get("/api/v1/orders").json()["total"] == 2  # nothing was made without the token
    paths = hub.get("/openapi.json").json()["paths"]
    assert {"/api/v1/orders", "/api/v1/orders/{order_id}/plan", "/api/v1/orders/{order_id}/replan",
            "/api/v1/orders/{order_id}/accept"} <= set(paths)


def test_a_bad_order_is_answered_next_to_each_field_in_plain_words(hub):
    bad = tee_order(family="knit_top", quantity="lots", due="10th of December", colour="red",
                    sam_split={"overlok": 70, "coverstitch": 30})
    answer = hub.post("/api/v1/orders", json=bad)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_order"
    problems = {p["field"]: p for p in body["problems"]}
    assert set(problems) == {"family", "quantity", "due", "colour", "sam_split"}
    assert "knit_tops" in problems["family"]["en"] and "overlok" in problems["sam_split"]["en"]
    assert problems["quantity"]["en"] == "must be a whole number, like 20000"
    assert problems["due"]["en"] == "must be a date written like 2026-12-10"
    assert all(p["ko"] and p["en"] and "Input should" not in p["en"] for p in body["problems"])
    # The engine's own rules, the same way: whole bundles, a sewing day before the due date.
    bundles = hub.post("/api/v1/orders", json=tee_order(quantity=20010))
    assert bundles.status_code == 422 and [p["field"] for p in bundles.json()["problems"]] == ["quantity"]
    assert "20,000 or 20,050" in bundles.json()["problems"][0]["en"]
    too_late = hub.post("/api/v1/orders", json=tee_order(due=today().isoformat()))
    assert too_late.status_code == 422 and [p["field"] for p in too_late.json()["problems"]] == ["due"]
    assert "no sewing day is left" in too_late.json()["problems"][0]["en"]
    assert hub.post("/api/v1/orders", content=b"{not json", headers={"Content-Type": "application/json"}
                    ).status_code == 422
    assert hub.get("/api/v1/orders").json()["total"] == 0  # nothing stored
    counts = hub.get("/api/v1/rejections").json()["counts"]
    assert counts["orders:invalid_order"] == 4


def committed(client: httpx.Client, workshops: list[str]) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(committed, spare) per (workshop, machine type, day) from capacity's own API."""
    report = client.get("/api/v1/capacity/sam", params={"workshop": ",".join(workshops), "explain": "false",
                                                        "limit": 1000}).json()
    assert report["commitments_connected"] is True
    return {(w["workshop"], t["machine_type"], d["date"]): (d["committed"], d["spare"])
            for w in report["workshops"] for t in w["machine_types"] for d in t["days"]}


def booked_by(plan: dict) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = defaultdict(float)
    for a in plan["assignments"]:
        for day in a["schedule"]:
            for machine_type, minutes in day["minutes"].items():
                out[(a["workshop"], machine_type, day["day"])] += minutes
    return out


def test_plan_then_accept_books_the_minutes_capacity_subtracts(hub):
    hub.post("/api/v1/orders", json=tee_order(id="tee-1"))
    answer = hub.post("/api/v1/orders/tee-1/plan")
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    assert plan["feasible"] and plan["version"] == 1 and plan["current"] and not plan["accepted"]
    assert plan["pieces"] == 20000 and sum(a["pieces"] for a in plan["assignments"]) == 20000
    assert all(a["pieces"] % 50 == 0 and a["pieces"] >= 500 for a in plan["assignments"])
    assert len(plan["assignments"]) <= 25 and plan["capacity"]["candidates"] > len(plan["assignments"])
    for key in ("objective", "bound", "gap", "status", "reasons", "left_out", "alternatives", "funnel", "cost"):
        assert key in plan
    assert hub.get("/api/v1/orders/tee-1").json()["status"] == "planned"
    assert hub.get("/api/v1/orders/tee-1/plan").json() == {k: v for k, v in plan.items() if k != "capacity"}

    chosen = [a["workshop"] for a in plan["assignments"]]
    before = committed(hub, chosen)
    assert all(c == 0 for c, _ in before.values())
    accepted = hub.post("/api/v1/orders/tee-1/accept", json={"version": 1})
    assert accepted.status_code == 200 and accepted.json()["accepted"], accepted.text
    assert hub.get("/api/v1/orders/tee-1").json()["status"] == "accepted"

    after = committed(hub, chosen)
    want = booked_by(plan)
    assert sum(want.values()) == pytest.approx(20000 * 6.0, rel=1e-6)  # every piece's minutes, nothing more
    assert want and all(after[k][0] == pytest.approx(m, abs=0.06) for k, m in want.items())
    assert all(c == 0 for k, (c, _) in after.items() if k not in want)
    first_day = today().isoformat()
    for k, m in want.items():
        if k[2] != first_day:  # today's capacity shrinks as the day goes by; later days hold still
            assert after[k][1] == pytest.approx(before[k][1] - m, abs=0.11)
    # Accepting again changes nothing; a plan that is not current cannot be accepted.
    assert hub.post("/api/v1/orders/tee-1/accept").status_code == 200
    # The booked minutes must not move; today's spare may (it shrinks as the day goes by).
    assert {k: c for k, (c, _) in committed(hub, chosen).items()} == {k: c for k, (c, _) in after.items()}
    assert hub.post("/api/v1/orders/tee-1/accept", json={"version": 7}).status_code == 404


def test_a_replan_after_a_decline_keeps_started_pieces_and_moves_less_than_planning_afresh(hub, postgresql):
    hub.post("/api/v1/orders", json=tee_order(id="tee-2"))
    first = hub.post("/api/v1/orders/tee-2/plan").json()
    assert hub.post("/api/v1/orders/tee-2/accept").status_code == 200
    pieces = {a["workshop"]: a["pieces"] for a in first["assignments"]}
    declined, busy = first["assignments"][0]["workshop"], first["assignments"][1]["workshop"]
    started = {declined: 300, busy: 400}

    refused = hub.post("/api/v1/orders/tee-2/replan", json={"declined": ["ws-nowhere-9999"]})
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"] == "declined"
    too_many = hub.post("/api/v1/orders/tee-2/replan", json={"started": {busy: pieces[busy] + 50}})
    assert too_many.status_code == 422 and too_many.json()["problems"][0]["field"] == "started"
    empty = hub.post("/api/v1/orders/tee-2/replan", json={})
    assert empty.status_code == 422 and empty.json()["error"] == "invalid_change"

    answer = hub.post("/api/v1/orders/tee-2/replan", json={"declined": [declined], "started": started,
                                                           "note": "the owner is ill"})
    assert answer.status_code == 200, answer.text
    again = answer.json()
    assert (again["version"], again["based_on"], again["feasible"]) == (2, 1, True)
    assert again["change"] == {"declined": [declined], "reduced": {}, "started": started, "note": "the owner is ill"}
    now = {a["workshop"]: a for a in again["assignments"]}
    assert sum(a["pieces"] for a in now.values()) == 20000
    assert now[declined]["pieces"] == 300 and now[declined]["started"] == 300  # keeps only what it started
    assert now[busy]["pieces"] >= 400 and now[busy]["started"] == 400
    moved = sum(max(0, n - (now[w]["pieces"] if w in now else 0)) for w, n in pieces.items())
    assert again["moved_pieces"] == moved >= pieces[declined] - 300

    # Planning afresh over the same workshops, without the one that declined, moves more.
    database = db.Database(postgresql.url)
    try:
        with database.session() as session:
            order = service.get_order(session, "tee-2").order
        settings = load_settings(telemetry="embedded", database_url=postgresql.url)
        found = asyncio.run(service.candidates(database, None, settings, order, datetime.now(timezone.utc),
                                               except_order="tee-2"))
    finally:
        database.close()
    afresh = plan_order(order, [c for c in found.items if c.id != declined], today=today())
    assert afresh.feasible
    fresh = afresh.pieces_by_workshop()
    moved_afresh = sum(max(0, n - fresh.get(w, 0)) for w, n in pieces.items())
    assert again["moved_pieces"] < moved_afresh, (again["moved_pieces"], moved_afresh)

    # The accepted plan still books version 1 until version 2 is accepted; then only version 2.
    assert hub.get("/api/v1/orders/tee-2").json()["status"] == "replanned"
    assert hub.post("/api/v1/orders/tee-2/accept", json={"version": 1}).status_code == 409
    assert hub.post("/api/v1/orders/tee-2/accept", json={"version": 2}).status_code == 200
    workshops = sorted(set(pieces) | set(now))
    after = committed(hub, workshops)
    want = booked_by(again)
    assert all(after[k][0] == pytest.approx(want.get(k, 0.0), abs=0.06) for k in after)
    assert all(c == 0 for (w, _, _), (c, _) in after.items() if w == declined)  # started pieces are not re-booked
    versions = hub.get("/api/v1/orders/tee-2/plans").json()
    assert [(v["version"], v["based_on"], v["accepted_at"] is not None) for v in versions] == [
        (1, None, True), (2, 1, True)]


# --- fuzz: anything a client might send as an order -----------------------------------------
orders_ish = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=70), st.integers()),
        "style": st.one_of(st.text(max_size=220), st.none()),
        "family": st.sampled_from(["knit_tops", "denim", "knit_top", "", "KNIT_TOPS"]),
        "quantity": st.one_of(st.integers(-5, 30_000_000), st.floats(allow_nan=True), st.text(max_size=5)),
        "due": st.one_of(st.dates().map(str), st.text(max_size=12), st.integers()),
        "sam": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1, 1000)),
        "sam_split": st.dictionaries(st.sampled_from(["overlock", "lockstitch", "overlok"]),
                                     st.floats(-1, 700, allow_nan=False), max_size=3),
        "sam_minutes": st.one_of(st.dictionaries(st.text(max_size=12), st.floats(allow_nan=False), max_size=3),
                                 st.lists(st.integers(), max_size=2)),
        "bundle_size": st.integers(-2, 20_000),
        "min_lot": st.integers(-2, 30_000_000),
        "max_workshops": st.integers(-1, 2000),
        "price_per_piece_krw": st.one_of(st.floats(allow_nan=True), st.none()),
        "panels": st.one_of(st.fixed_dictionaries({"lat": st.floats(-100, 100), "lon": st.floats(-200, 200)}),
                            st.lists(st.floats(), max_size=3)),
        "transport_days": st.integers(-1, 20),
        "extra": st.integers(),
    })


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("orders-fuzz")
    url = f"sqlite:///{folder / 'hub.sqlite'}"
    seed(url, folder / "network")
    with serving(url, folder) as client:
        yield client


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=orders_ish)
def test_fuzz_orders_never_break_the_api(fuzz_hub, body):
    # Python's encoder writes NaN and Infinity as a client's might; the hub must refuse them politely.
    answer = fuzz_hub.post("/api/v1/orders", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert answer.status_code in (201, 409, 422), answer.text
    if answer.status_code == 422:
        problems = answer.json()["problems"]
        assert problems and all(p["field"] and p["ko"] and p["en"] for p in problems)
        assert all("Input should" not in p["en"] and "Traceback" not in p["en"] for p in problems)
    elif answer.status_code == 201:
        made = answer.json()
        assert made["quantity"] % made["bundle_size"] == 0 and made["status"] == "draft"
        assert fuzz_hub.get(f"/api/v1/orders/{made['id']}").status_code == 200


def test_the_plan_page_needs_a_login_and_shows_the_chosen_workshops(hub):
    hub.post("/api/v1/orders", json=tee_order(id="tee-3"))
    plan = hub.post("/api/v1/orders/tee-3/plan").json()
    browser = httpx.Client(base_url=str(hub.base_url), timeout=30)
    for path in ("/orders", "/orders/tee-3"):
        assert browser.get(path).status_code == 303 and browser.get(path).headers["location"] == "/login"
    assert browser.post("/login", data={"token": AUTH["Authorization"].split()[1]}).status_code == 303
    listing = browser.get("/orders")
    assert listing.status_code == 200 and 'href="/orders/tee-3"' in listing.text
    page = browser.get("/orders/tee-3")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    assert "주문 계획" in page.text and "Order plan" in page.text and "20,000벌" in page.text
    for a in plan["assignments"]:
        assert f'data-workshop="{a["workshop"]}"' in page.text and f'{a["pieces"]:,}' in page.text
    assert f'{plan["cost"]["total"]:,.0f}원' in page.text
    assert browser.get("/orders/nope").status_code == 404
    front = browser.get("/")
    assert 'href="/orders"' in front.text  # the hub's page leads to the orders


def test_an_order_that_cannot_be_met_is_explained_and_cannot_be_accepted(hub):
    hub.post("/api/v1/orders", json=tee_order(id="tee-big", quantity=400000))
    answer = hub.post("/api/v1/orders/tee-big/plan")
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    assert not plan["feasible"] and plan["assignments"] == [] and plan["pieces"] == 0
    assert plan["reasons"] and all(r["ko"] and r["en"] for r in plan["reasons"])
    assert any("the order needs 400,000" in r["en"] for r in plan["reasons"])
    smaller = [a for a in plan["alternatives"] if a["kind"] == "smaller_quantity"]
    assert smaller and 0 < smaller[0]["value"] < 400000
    assert hub.get("/api/v1/orders/tee-big").json()["status"] == "infeasible"
    refused = hub.post("/api/v1/orders/tee-big/accept")
    assert refused.status_code == 409 and refused.json()["en"].startswith("this plan cannot meet the order")
    assert hub.post("/api/v1/orders/tee-big/replan", json={"declined": ["x"]}).status_code == 409
    # The alternative it offers is one that works.
    hub.post("/api/v1/orders", json=tee_order(id="tee-fits", quantity=smaller[0]["value"]))
    assert hub.post("/api/v1/orders/tee-fits/plan").json()["feasible"]


@pytest.fixture(scope="module")
def fuzz_plan(fuzz_hub) -> dict:
    """An accepted plan on the fuzz hub, to re-plan."""
    assert fuzz_hub.post("/api/v1/orders", json=tee_order(id="fuzz-tee")).status_code == 201
    assert fuzz_hub.post("/api/v1/orders/fuzz-tee/plan").json()["feasible"]
    return fuzz_hub.post("/api/v1/orders/fuzz-tee/accept").json()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_replan_changes_never_break_it_and_started_pieces_stay(fuzz_hub, fuzz_plan, data):
    given_to = {a["workshop"]: a["pieces"] for a in fuzz_plan["assignments"]}
    # Mostly changes that fit the plan (so most re-plan), now and then anything at all.
    ours = st.sampled_from(sorted(given_to))
    fitting = st.fixed_dictionaries(
        {"declined": st.lists(ours, max_size=2),
         "started": st.dictionaries(ours, st.integers(0, 500), min_size=1, max_size=3)},
        optional={"reduced": st.dictionaries(ours, st.floats(0, 1), max_size=2), "note": st.text(max_size=100)})
    anything = st.fixed_dictionaries({}, optional={
        "declined": st.lists(st.one_of(ours, st.text(max_size=20)), max_size=3),
        "reduced": st.dictionaries(st.one_of(ours, st.text(max_size=5)),
                                   st.one_of(st.floats(-1, 2), st.text(max_size=3)), max_size=3),
        "started": st.dictionaries(st.one_of(ours, st.text(max_size=5)), st.integers(-10, 6000), max_size=3),
        "note": st.text(max_size=600),
        "extra": st.just(1)})
    body = data.draw(st.one_of(fitting, fitting, anything))
    answer = fuzz_hub.post("/api/v1/orders/fuzz-tee/replan", json=body)
    assert answer.status_code in (200, 409, 422), answer.text
    if answer.status_code == 422:
        problems = answer.json()["problems"]
        assert problems and all(p["field"] and p["ko"] and p["en"] for p in problems)
    elif answer.status_code == 200:
        plan = answer.json()
        assert plan["based_on"] == fuzz_plan["version"]
        now = {a["workshop"]: a for a in plan["assignments"]}
        started = body.get("started", {})
        for w, n in started.items():
            assert n == 0 or (now[w]["pieces"] >= n and now[w]["started"] >= n), (w, n, now.get(w))
        if plan["feasible"]:
            assert sum(a["pieces"] for a in now.values()) == 20000
            for w in body.get("declined", []):
                whole = -(-started.get(w, 0) // 50) * 50  # a started bundle stays whole
                assert (now[w]["pieces"] if w in now else 0) == whole, (w, now.get(w))


def test_a_cancelled_order_frees_its_minutes_withdraws_its_offers_and_is_refused_plan_and_accept(hub, postgresql):
    hub.post("/api/v1/orders", json=tee_order(id="tee-x", quantity=2000, min_lot=0))
    plan = hub.post("/api/v1/orders/tee-x/plan").json()
    assert plan["feasible"] and hub.post("/api/v1/orders/tee-x/accept").status_code == 200
    chosen = [a["workshop"] for a in plan["assignments"]]
    assert sum(c for c, _ in committed(hub, chosen).values()) == pytest.approx(2000 * 6.0, abs=0.5)
    offered = hub.get("/api/v1/orders/tee-x/offers").json()["offers"]
    assert offered and {o["status"] for o in offered} == {"offered"}

    database = db.Database(postgresql.url)
    try:
        with database.session() as session:
            done = service.cancel_order(session, "tee-x", datetime.now(timezone.utc))
        with database.session() as session:
            again = service.cancel_order(session, "tee-x")  # twice: nothing more happens
    finally:
        database.close()
    assert sorted(done.withdrawn) == sorted(o["id"] for o in offered) and not done.already
    assert done.released_minutes == pytest.approx(2000 * 6.0, abs=0.5)
    assert again.already and again.withdrawn == [] and again.released_minutes == 0

    assert hub.get("/api/v1/orders/tee-x").json()["status"] == "cancelled"
    assert [o["id"] for o in hub.get("/api/v1/orders", params={"status": "cancelled"}).json()["items"]] == ["tee-x"]
    assert {o["status"] for o in hub.get("/api/v1/orders/tee-x/offers").json()["offers"]} == {"withdrawn"}
    assert all(c == 0 for c, _ in committed(hub, chosen).values())  # capacity has the minutes back
    for path, body in (("plan", None), ("accept", None), ("accept", {"version": 1}),
                       ("replan", {"declined": [chosen[0]]})):
        refused = hub.post(f"/api/v1/orders/tee-x/{path}", json=body)
        assert refused.status_code == 409, (path, refused.text)
        assert "cancelled" in refused.json()["en"] and refused.json()["ko"], path
    assert [v["version"] for v in hub.get("/api/v1/orders/tee-x/plans").json()] == [1]  # kept, nothing added
