"""Orders and plans in a real PostgreSQL, below the API: any plan the engine makes (hypothesis over
orders on a generated Dongdaemun) reads back from the store exactly as the engine gave it, and
accepting it books exactly its minutes per workshop, machine type and day, which AcceptedWork
(the CommitmentSource capacity reads) hands out, and which the order's own planning leaves out."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core import db
from hub.core.settings import load_settings
from hub.planning import service
from hub.planning.intake import read_order
from tests.integration.planning_world import seed, tee_order, today

WHERE = ("version", "current", "accepted", "created_at", "accepted_at")  # where a stored plan stands


@pytest.fixture
def database(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    database = db.Database(postgresql.url)
    yield database
    database.close()


@pytest.fixture
def hub_settings(postgresql):
    return load_settings(database_url=postgresql.url, planning_time_limit=2)


@pytest.fixture
def found(database, hub_settings):
    """Today's candidates for knit tops (declared figures: no telemetry here)."""
    order, _ = read_order(tee_order(id="probe"), today())
    now = datetime.now(timezone.utc)
    return asyncio.run(service.candidates(database, None, hub_settings, order, now))


orders = st.builds(
    lambda n, bundle, lot, k, days, split: tee_order(quantity=n * bundle, bundle_size=bundle, min_lot=lot * bundle,
                                                     max_workshops=k, due=(today() + timedelta(days=days)).isoformat(),
                                                     sam_split=split),
    n=st.integers(1, 800), bundle=st.sampled_from([10, 20, 50]), lot=st.integers(0, 10), k=st.integers(1, 30),
    days=st.integers(2, 16),
    split=st.sampled_from([{"overlock": 60, "coverstitch": 30, "lockstitch": 10}, {"overlock": 1},
                           {"lockstitch": 50, "overlock": 50}]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=orders)
def test_any_plan_reads_back_as_the_engine_gave_it_and_books_its_minutes(database, hub_settings, found, body):
    from hub.planning.allocation import plan_order

    now = datetime.now(timezone.utc)
    order, problems = read_order({k: v for k, v in body.items() if k != "id"}, today())
    if problems:  # e.g. a lot larger than the order: the API refuses these, nothing to store
        return
    result = plan_order(order, found.items, today=today(), limits=service.limits_for(hub_settings))
    with database.session() as session:
        service.create_order(session, order, now)
        version = service.save_plan(session, order.id, result, now)
    with database.session() as session:
        stored = service.plan_view(session, order.id, version)
    fresh = service.unsaved_view(result)
    assert {k: v for k, v in stored.items() if k not in WHERE} == {k: v for k, v in fresh.items() if k not in WHERE}
    assert stored["version"] == 1 and stored["current"] and not stored["accepted"]

    if not result.feasible:
        with database.session() as session, pytest.raises(service.Conflict):
            service.accept(session, order.id, now=now)
        return
    with database.session() as session:
        service.accept(session, order.id, now=now)
    want: dict[tuple, float] = defaultdict(float)
    for a in result.assignments:
        for d in a.schedule:
            for machine_type, minutes in d.minutes.items():
                if minutes > 0:
                    want[(a.workshop, machine_type, d.day)] += minutes
    first, last = today(), today() + timedelta(days=20)
    work = service.AcceptedWork(database).commitments(first, last, [a.workshop for a in result.assignments])
    mine = [c for c in work if c.reference == f"{order.id} v1"]
    assert {(c.workshop, c.machine_type, c.day): c.minutes for c in mine} == pytest.approx(dict(want))
    assert sum(want.values()) == pytest.approx(
        sum(a.pieces - a.started for a in result.assignments) * order.sam_total, rel=1e-9)
    with database.session() as session:
        others = service.booked(session, first, last, except_order=order.id)
    assert not [c for c in others if c.reference.startswith(f"{order.id} ")]
