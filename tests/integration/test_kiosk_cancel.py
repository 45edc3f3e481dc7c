"""A kiosk order taken back, through the kiosk's service on a real PostgreSQL holding a generated
Dongdaemun (a few workshops taking single pieces), no web server: the shopper deleting their
measurements before the garment is made cancels the planning order too (the workshop's offer,
offered or accepted, withdrawn; its SAM-minutes no longer booked), and a re-route that needs a new
planning order cancels the old one the same way. Planning runs with the registry's declared
figures (no telemetry), as the `sewnet plan order` CLI does; nothing is mocked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from hub.core import db
from hub.core.settings import load_settings
from hub.kiosk import service as kiosk_service
from hub.kiosk.catalogue import DESIGNS
from hub.kiosk.config import KioskSettings
from hub.planning import offers
from hub.planning import service as plans
from tests.integration.planning_world import seed
from tests.integration.test_kiosk_pages import BODY, SINGLE, _single_pieces

DESIGN = DESIGNS["tshirt"]


class World:
    def __init__(self, url: str, folder):
        self.db = db.Database(url)
        self.settings = load_settings(telemetry="embedded", embedded_path=folder / "telemetry.sqlite",
                                      database_url=url, planning_time_limit=5)
        self.kiosk = KioskSettings(cutoff="23:59", public_url="https://hub.example")

    def place(self, now: datetime) -> kiosk_service.Placed:
        mm = {k: v if k == "weight" else f"{float(v) * 10:g}" for k, v in BODY.items()}  # the screen's cm
        form = kiosk_service.read_body(DESIGN, mm | {"gender": "male"}, "en", set(BODY))
        assert form.body is not None and not form.errors, form.errors
        return asyncio.run(kiosk_service.place(
            self.db, None, self.settings, self.kiosk, design=DESIGN, options={}, body=form.body, lang="en",
            seen_ready=now + timedelta(days=30), base_url="http://kiosk.test", now=now))

    def row(self, code: str):
        with self.db.session() as s:
            r = s.get(kiosk_service.KioskOrder, code)
            return {"status": r.status, "planning_order_id": r.planning_order_id, "workshop_id": r.workshop_id,
                    "routes": r.routes, "body": r.body}

    def offers(self, order_id: str) -> list[dict]:
        with self.db.session() as s:
            return offers.offers_for_order(s, order_id)

    def booked(self, order_id: str) -> float:
        """SAM-minutes the order books on any workshop (what capacity subtracts)."""
        with self.db.session() as s:
            found = plans.booked(s, date(2000, 1, 1), date(2100, 1, 1))
        return sum(b.minutes for b in found if b.reference.startswith(f"{order_id} "))

    def status(self, order_id: str) -> str:
        with self.db.session() as s:
            return plans.get_order(s, order_id).status

    def answer(self, offer: dict, kind: str, now: datetime) -> None:
        a = offers.AnswerIn(str(uuid.uuid4()), offer["id"], kind, "no_capacity" if kind == "decline" else None, now)
        body, _ = offers.apply_answers(self.db, offer["workshop_id"], [a], [], now)
        assert body["answers"][0]["result"] == "applied", body


@pytest.fixture
def world(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    _single_pieces(postgresql.url)
    w = World(postgresql.url, tmp_path)
    try:
        yield w
    finally:
        w.db.close()


SAM = sum(DESIGN.sam_minutes.values())


@pytest.mark.parametrize("answered", [None, "accept"])
def test_deleting_the_measurements_cancels_the_planning_order_and_frees_the_workshop(world, answered):
    now = datetime.now(timezone.utc)
    placed = world.place(now)
    order_id = world.row(placed.code)["planning_order_id"]
    [offer] = world.offers(order_id)
    assert offer["status"] == "offered" and offer["workshop_id"] in SINGLE
    assert world.booked(order_id) == pytest.approx(SAM, abs=0.01)
    if answered:
        world.answer(offer, answered, now)

    key_ok = kiosk_service.delete_body(world.db, placed.code, "not-the-key", now)
    assert key_ok is None and world.booked(order_id) > 0  # a wrong key cancels nothing
    # The tracking key is only in the QR link; the service finds the row by its hash.
    with world.db.session() as s:
        row = s.get(kiosk_service.KioskOrder, placed.code)
        row.key_hash = kiosk_service._key_hash("the-key")
    assert kiosk_service.delete_body(world.db, placed.code, "the-key", now) == "cancelled"

    row = world.row(placed.code)
    assert row["status"] == "cancelled" and row["body"] is None
    assert world.status(order_id) == "cancelled"
    assert [o["status"] for o in world.offers(order_id)] == ["withdrawn"]
    assert world.booked(order_id) == 0
    # The workshop's gateway shows it withdrawn, and a late answer is too late.
    with world.db.session() as s:
        doc, _ = offers.workshop_document(s, offer["workshop_id"], now)
    assert [o["status"] for o in doc["offers"] if o["id"] == offer["id"]] == ["withdrawn"]
    late = offers.AnswerIn(str(uuid.uuid4()), offer["id"], "accept", None, now)
    assert offers.apply_answers(world.db, offer["workshop_id"], [late], [], now)[0]["answers"][0]["result"] == \
        "too_late"
    # Planning refuses to plan or accept it again, in words.
    with world.db.session() as s, pytest.raises(plans.Conflict, match="cancelled"):
        plans.accept(s, order_id, None, now)
    with pytest.raises(plans.Conflict, match="cancelled"):
        asyncio.run(plans.plan(world.db, None, world.settings, order_id, when=now))
    # The keeper leaves it alone.
    asyncio.run(kiosk_service.reroute_all(world.db, None, world.settings, world.kiosk, now))
    assert world.row(placed.code)["routes"] == 1


def test_a_new_route_cancels_the_old_planning_order_and_its_booking(world):
    now = datetime.now(timezone.utc)
    placed = world.place(now)
    first = world.row(placed.code)
    old_id, old_workshop = first["planning_order_id"], first["workshop_id"]
    [offer] = world.offers(old_id)
    world.answer(offer, "decline", now)
    assert world.booked(old_id) == pytest.approx(SAM, abs=0.01)  # booked until something moves it

    # Two days on, the old promise's sewing day is past: nobody can keep it, so a new route.
    later = now + timedelta(days=2)
    asyncio.run(kiosk_service.refresh(world.db, None, world.settings, world.kiosk, placed.code, later))
    moved = world.row(placed.code)
    assert moved["status"] == "open" and moved["routes"] == 2
    assert moved["planning_order_id"] == f"kiosk-{placed.code}-2" != old_id
    assert moved["workshop_id"] in SINGLE and moved["workshop_id"] != old_workshop
    # The old planning order is cancelled: nothing of it offered or booked any more.
    assert world.status(old_id) == "cancelled"
    assert world.booked(old_id) == 0
    assert not [o for o in world.offers(old_id) if o["status"] in ("offered", "accepted")]
    assert [o["status"] for o in world.offers(old_id)] == ["declined"]  # the answer stays on record
    # The new route is booked and offered at the new workshop.
    [new_offer] = world.offers(moved["planning_order_id"])
    assert new_offer["status"] == "offered" and new_offer["workshop_id"] == moved["workshop_id"]
    assert world.booked(moved["planning_order_id"]) == pytest.approx(SAM, abs=0.01)
    # Planning's offer keeper does not re-plan the cancelled old order for its decline.
    with world.db.session() as s:
        assert old_id not in offers.pending_replans(s)


def test_a_route_that_cannot_be_planned_is_cancelled_and_the_next_try_takes_the_next_number(world):
    """Capacity went between the promise and the plan (here: a sewing day already past): the
    route's planning order is cancelled, books nothing, and trying again does not collide with it."""
    now = datetime.now(timezone.utc)
    past = (now - timedelta(days=3)).date()
    promise = kiosk_service.Promise("nobody", "", "", past, now - timedelta(days=2))

    def route():
        return asyncio.run(kiosk_service._route(world.db, None, world.settings, world.kiosk, DESIGN, {}, "T3ST", 1,
                                                promise, "", now, None))

    assert route() is None
    assert world.status("kiosk-T3ST-1") == "cancelled" and world.booked("kiosk-T3ST-1") == 0
    assert route() is None  # a second try: the next number, not a Conflict on the first
    assert world.status("kiosk-T3ST-2") == "cancelled"
