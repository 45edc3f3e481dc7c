"""The model My Style Lab serves, over the hub's own SQLite database (the test's, at the current
schema): with a catalogue and no purchases yet it shows the newest products and says so; a
failed training keeps popularity serving and says why; a training replaces the model, and the
warm tone merges its two seasons' runs with at most two colours of a style."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from hub.core import db
from hub.styles import engine, service
from tests.integration.planning_world import seed
from tests.integration.styles_world import files


@pytest.fixture
def store(hub_database, tmp_path):
    seed(hub_database, tmp_path / "network")
    database = db.Database(hub_database)
    try:
        yield database, files(tmp_path / "market")
    finally:
        database.close()


def imported(database, *kinds, paths):
    for kind in kinds:
        with database.session() as session:
            assert service.import_csv(session, kind, paths[kind].read_bytes()).ok


def test_with_no_purchases_the_newest_products_show_and_say_so(store):
    database, paths = store
    imported(database, "products", paths=paths)
    styles = service.Styles(database)
    styles.load()
    assert styles.status.state == "empty" and styles.status.model == "none"
    answer = styles.for_session([], [], "winter", service.Budget(None, 50_000), 12)
    assert answer.model == "none" and answer.notes == ("model_new",) and len(answer.picks) == 12
    assert all("winter" in p.item.reading.suits and p.item.retail_krw <= 50_000 for p in answer.picks)
    assert not any(r.code == "popular_week" for p in answer.picks for r in p.reasons)
    dates = [p.item.fresh_date for p in answer.picks]
    assert dates == sorted(dates, reverse=True)
    assert not styles.train()  # nothing to learn from: no training, nothing broken
    assert len(styles.quiz(16)) == 16


def test_a_failed_training_keeps_popularity_serving_and_says_why(store, monkeypatch):
    database, paths = store
    imported(database, *service.KINDS, paths=paths)
    styles = service.Styles(database)
    styles.load()
    assert styles.status.model == "popularity"

    def broken(*args, **kwargs):
        raise MemoryError("no room for the ranker")

    monkeypatch.setattr(engine.Recommender, "fit", broken)
    assert not styles.train()
    assert styles.status.state == "failed" and "no room for the ranker" in styles.status.error
    answer = styles.for_shopper("anyone", 12)
    assert answer.model == "popularity" and answer.notes == ("model_failed",) and len(answer.picks) == 12
    assert all(p.reasons[0].code == "popular_week" for p in answer.picks)
    monkeypatch.undo()
    assert styles.train() and styles.status.state == "ready" and styles.status.error is None
    warm = styles.for_session([], [], "warm", service.Budget(), 12)
    assert warm.model == "recommender" and len(warm.picks) == 12
    assert all({"spring", "autumn"} & set(p.item.reading.suits) for p in warm.picks)
    assert max(Counter(p.item.product_code for p in warm.picks).values()) <= 2
    scores = [p.score for p in warm.picks]
    assert scores == sorted(scores, reverse=True)


def test_in_budget_reads_the_same_from_popularity_and_from_the_recommender(store):
    """The seam the two producers of reasons meet at: for one budget, the popularity fallback and
    the trained recommender give "in_budget" the same arguments (price, floor, ceiling when there
    is one), so its words name the budget whichever served."""
    database, paths = store
    imported(database, *service.KINDS, paths=paths)
    styles = service.Styles(database)
    styles.load()
    budgets = {(20_000, 40_000): {"low": 20_000, "high": 40_000}, (30_000, None): {"low": 30_000},
               (None, 25_000): {"low": 0, "high": 25_000}}

    def reasons_of(answer):
        return [(p.item.retail_krw, r.args) for p in answer.picks for r in p.reasons if r.code == "in_budget"]

    seen = {}
    for model in ("popularity", "recommender"):
        if model == "recommender":
            assert styles.train()
        for (low, high), bounds in budgets.items():
            answer = styles.for_session([], [], None, service.Budget(low, high), 12)
            assert answer.model == model and answer.picks
            found = reasons_of(answer)
            assert len(found) == len(answer.picks), (model, low, high)
            assert all(args == {"price_krw": price, **bounds} for price, args in found), (model, found[:3])
            seen[model, low, high] = service.answer_json(answer, styles.catalogue, datetime.now(timezone.utc))
    for (low, high) in budgets:
        words = {r["en"] for m in ("popularity", "recommender") for item in seen[m, low, high]["items"]
                 for r in item["reasons"] if r["code"] == "in_budget"}
        assert words and all(w.startswith("Within your budget (") for w in words), words
