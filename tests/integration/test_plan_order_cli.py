"""`sewnet plan order FILE.json` on a real PostgreSQL holding a generated Dongdaemun: the example
order in docs/ planned as a table and as JSON, saved only when asked, an order that cannot be met
explained (exit 3), bad input in one line (exit 2), a database without the schema (exit 1)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.core import db
from hub.planning import service
from hub.planning.intake import read_order
from sewnet.cli import app as sewnet
from tests.integration.planning_world import seed, today

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "order-20000-shirts.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_the_example_order_is_a_valid_order(example):
    due = date.fromisoformat(example["due"])
    order, problems = read_order(example, due - timedelta(days=10))
    assert problems == [] and order.quantity == 20000 and order.family == "knit_tops"
    assert order.sam_total == pytest.approx(6.0) and order.panels == (37.576, 127.015)


@pytest.fixture
def url(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    return postgresql.url


def due_soon(example: dict, folder: Path, **changes) -> Path:
    """The example with its due date 10 days from today (the file's own date passes one day)."""
    path = folder / "order.json"
    path.write_text(json.dumps({**example, "due": (today() + timedelta(days=10)).isoformat(), **changes}),
                    encoding="utf-8")
    return path


def orders_in(url: str) -> int:
    database = db.Database(url)
    try:
        with database.session() as session:
            return service.count_orders(session)
    finally:
        database.close()


def test_a_plan_as_a_table_and_as_json_and_nothing_saved_unless_asked(url, example, tmp_path):
    path = due_soon(example, tmp_path)
    table = runner.invoke(sewnet, ["plan", "order", str(path), "--database", url])
    assert table.exit_code == 0, table.output
    for words in ("작업장 Workshop", "수량 Pieces", "봉제일 Days", "비용 Cost", "이유 Reason", "20,000 pieces over",
                  "objective", "bound", "gap", "nothing saved"):
        assert words in table.stdout, words

    as_json = runner.invoke(sewnet, ["plan", "order", str(path), "--json", "--database", url])
    assert as_json.exit_code == 0, as_json.output
    plan = json.loads(as_json.stdout)
    assert plan["feasible"] and plan["pieces"] == 20000 and plan["order"] == "ss27-tee-0001"
    assert sum(a["pieces"] for a in plan["assignments"]) == 20000 and len(plan["assignments"]) <= 25
    assert all(a["pieces"] % 50 == 0 and a["pieces"] >= 500 and a["reasons"] for a in plan["assignments"])
    assert plan["gap"] is not None and plan["objective"] >= plan["bound"] and plan["saved"] is False
    assert all(a["workshop"] in table.stdout for a in plan["assignments"])
    assert orders_in(url) == 0

    saved = runner.invoke(sewnet, ["plan", "order", str(path), "--json", "--save", "--database", url])
    assert saved.exit_code == 0 and json.loads(saved.stdout)["version"] == 1
    assert orders_in(url) == 1
    database = db.Database(url)
    try:
        with database.session() as session:
            stored = service.plan_view(session, "ss27-tee-0001")
    finally:
        database.close()
    assert stored["pieces"] == 20000 and stored["current"] and stored["status"] == plan["status"]
    again = runner.invoke(sewnet, ["plan", "order", str(path), "--save", "--database", url])
    assert again.exit_code == 2 and again.stderr.count("\n") == 1
    assert "exists already" in again.stderr and orders_in(url) == 1


def test_an_order_that_cannot_be_met_says_why_and_what_would_work(url, example, tmp_path):
    path = due_soon(example, tmp_path, quantity=400000)
    answer = runner.invoke(sewnet, ["plan", "order", str(path), "--database", url])
    assert answer.exit_code == 3, answer.output
    assert "the order cannot be met as it is" in answer.stdout and "what would work" in answer.stdout
    assert "the order needs 400,000" in answer.stdout
    as_json = json.loads(runner.invoke(sewnet, ["plan", "order", str(path), "--json", "--database", url]).stdout)
    assert not as_json["feasible"] and as_json["reasons"] and as_json["alternatives"]
    assert {a["kind"] for a in as_json["alternatives"]} & {"later_due", "smaller_quantity"}


def test_bad_input_is_one_line_and_exit_2(url, example, tmp_path):
    cases = {
        "missing": (tmp_path / "nowhere.json", "cannot read"),
        "not json": (tmp_path / "broken.json", "is not a JSON file"),
        "bad order": (due_soon(example, tmp_path, quantity=20010, family="knit_top", colour="red"),
                      "has 2 problems: family: not a product family"),
    }
    (tmp_path / "broken.json").write_text("{\"style\": ", encoding="utf-8")
    for name, (path, words) in cases.items():
        answer = runner.invoke(sewnet, ["plan", "order", str(path), "--database", url])
        lines = answer.stderr.strip().splitlines()
        assert answer.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (name, answer.output)
        assert words in lines[0], (name, lines[0])
        assert "Traceback" not in answer.output
    bad_url = runner.invoke(sewnet, ["plan", "order", str(due_soon(example, tmp_path)), "--database", "mysql://x/y"])
    assert bad_url.exit_code == 2 and "database" in bad_url.stderr


def test_a_database_without_the_schema_is_refused_with_what_to_run(postgresql, example, tmp_path):
    answer = runner.invoke(sewnet, ["plan", "order", str(due_soon(example, tmp_path)), "--database", postgresql.url])
    lines = answer.stderr.strip().splitlines()
    assert answer.exit_code == 1 and len(lines) == 1 and "run `sewnet hub db upgrade`" in lines[0]
    assert postgresql.server.password not in answer.output
