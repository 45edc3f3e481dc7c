"""The styles catalogue, shoppers and purchases on a real PostgreSQL, imported with the registry's
rules through the service, the command line and the API: every bad row named (line, column,
reason in Korean and English) and nothing written; a dry run writes nothing; the same file again
changes nothing; export and import again give the same bytes; a product's shop must be one of
the registry's wholesale stalls or designer brands, and a purchase's article must be in the
catalogue; identical purchase rows are pieces of one basket."""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hub.core import db
from hub.styles import service as styles
from tests.integration.planning_world import NET, seed
from tests.integration.styles_world import AUTH, files, serving

ROOT = Path(__file__).resolve().parents[2]
ONLINE = next(d.id for d in NET.designers if d.kind == "online_store")


def rows_of(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def text_of(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


@pytest.fixture
def store(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    database = db.Database(postgresql.url)
    try:
        yield database, files(tmp_path / "market")
    finally:
        database.close()


def imported(database, kind: str, data, **kw):
    with database.session() as session:
        return styles.import_csv(session, kind, data, **kw)


def counts(database) -> dict:
    with database.session() as session:
        return styles.counts(session)


def test_a_catalogue_with_bad_rows_imports_nothing_and_names_each_row(store):
    database, paths = store
    header, rows = rows_of(paths["products"])
    rows[1]["retail_krw"] = "삼만원"                  # line 3: not a number
    rows[4]["shop_id"] = ONLINE                      # line 6: an online store has no stall
    rows[6]["shop_id"] = "no-such-shop"              # line 8: not in the registry
    rows[8]["lab_l"] = "140.0"                       # line 10: outside CIELAB's L*
    report = imported(database, "products", text_of(header, rows))
    assert not report.ok and not report.written
    found = {(p.line, p.column) for p in report.problems}
    assert {(3, "retail_krw"), (6, "shop_id"), (8, "shop_id"), (10, "lab_l")} <= found, report.problems
    by_line = {p.line: p for p in report.problems}
    assert "online_store" in by_line[6].en and "도매" in by_line[6].ko and "stall" in by_line[6].en
    assert "designers file first" in by_line[8].en and "등록부" in by_line[8].ko
    assert all(p.ko and p.en for p in report.problems)
    assert counts(database)["products"] == 0  # nothing half-loaded


def test_import_then_again_changes_nothing_and_export_round_trips(store):
    database, paths = store
    data = paths["products"].read_bytes()
    dry = imported(database, "products", data, dry_run=True)
    assert dry.ok and dry.added == dry.rows > 0 and not dry.written and counts(database)["products"] == 0
    first = imported(database, "products", data)
    assert first.ok and first.added == first.rows and counts(database)["products"] == first.rows
    again = imported(database, "products", data)
    assert (again.added, again.changed, again.unchanged) == (0, 0, first.rows)
    with database.session() as session:
        exported = styles.export_csv(session, "products")
    assert imported(database, "products", exported).unchanged == first.rows
    with database.session() as session:
        assert styles.export_csv(session, "products") == exported
    # A changed price is one change, and a later bad file leaves it as it is.
    header, rows = rows_of(paths["products"])
    rows[0]["retail_krw"] = str(int(rows[0]["retail_krw"]) + 1000)
    assert imported(database, "products", text_of(header, rows)).changed == 1
    rows[1]["season"] = "winter"  # not all / ss / fw
    bad = imported(database, "products", text_of(header, rows))
    assert not bad.ok and [(p.line, p.column) for p in bad.problems] == [(3, "season")]


def test_purchases_need_their_articles_and_identical_rows_are_pieces(store):
    database, paths = store
    assert imported(database, "products", paths["products"].read_bytes()).ok
    shoppers = imported(database, "shoppers", paths["shoppers"].read_bytes())
    assert shoppers.ok and shoppers.added > 0
    header, rows = rows_of(paths["purchases"])
    sample = rows[:200] + [dict(rows[0])]  # the first row again: a basket of two pieces
    report = imported(database, "purchases", text_of(header, sample))
    assert report.ok and report.rows == 201 and report.added == len({tuple(r.values()) for r in sample})
    assert counts(database)["pieces"] == 201
    assert imported(database, "purchases", text_of(header, sample)).unchanged == report.added
    with database.session() as session:
        exported = styles.export_csv(session, "purchases")
    assert sorted(exported.splitlines()[1:]) == sorted(text_of(header, sample).splitlines()[1:])
    unknown = dict(rows[0], article_id="999999999")
    bad = imported(database, "purchases", text_of(header, [unknown] + rows[200:260]))
    assert not bad.ok and [(p.line, p.column) for p in bad.problems] == [(2, "article_id")]
    assert "products file first" in bad.problems[0].en and counts(database)["pieces"] == 201


def test_a_shoppers_age_is_never_repeated_in_a_problem(store, caplog):
    caplog.set_level(logging.DEBUG)
    database, paths = store
    header, rows = rows_of(paths["shoppers"])
    rows[2]["age"] = "187.5"
    report = imported(database, "shoppers", text_of(header, rows))
    assert not report.ok and [(p.line, p.column) for p in report.problems] == [(4, "age")]
    assert "187.5" not in report.problems[0].en + report.problems[0].ko and "187.5" not in caplog.text


def test_the_command_line_lists_every_bad_row_and_imports_a_good_file(store, tmp_path):
    database, paths = store
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEWNET_HUB_DATABASE_URL=database.engine.url.render_as_string(
        hide_password=False))
    header, rows = rows_of(paths["products"])
    rows[3]["min_order"] = "0"
    rows[5]["fresh_date"] = "2026-02-30"
    bad = tmp_path / "bad.csv"
    bad.write_text(text_of(header, rows), encoding="utf-8")

    def sewnet(*args):
        return subprocess.run([sys.executable, "-m", "sewnet.cli", "styles", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120)

    run = sewnet("import", "products", str(bad))
    assert run.returncode == 2, run.stderr
    assert "line 5, min_order" in run.stderr and "line 7, fresh_date" in run.stderr and "5행" in run.stderr
    assert "nothing was imported" in run.stderr and counts(database)["products"] == 0
    run = sewnet("import", "products", str(paths["products"]), "--dry-run")
    assert run.returncode == 0 and "dry run" in run.stdout and counts(database)["products"] == 0
    run = sewnet("import", "products", str(paths["products"]))
    assert run.returncode == 0 and "added" in run.stdout and counts(database)["products"] == len(rows)
    out = tmp_path / "export.csv"
    run = sewnet("export", "products", str(out))
    assert run.returncode == 0 and out.read_text(encoding="utf-8").count("\n") == len(rows) + 1
    assert sewnet("import", "socks", str(out)).returncode == 2


def test_the_api_imports_with_the_token_and_refuses_bad_rows_in_words(store, tmp_path, postgresql):
    database, paths = store
    header, rows = rows_of(paths["products"])
    with serving(postgresql.url, tmp_path, train_on_start=False) as hub:
        url = f"{hub.url}/api/v1/styles/products.csv"
        good = paths["products"].read_bytes()
        assert httpx.post(url, files={"file": ("p.csv", good)}, timeout=30).status_code == 401
        assert httpx.get(url, timeout=30).status_code == 401
        rows[0]["name_ko"] = ""
        r = httpx.post(url, files={"file": ("p.csv", text_of(header, rows).encode())}, headers=AUTH, timeout=60)
        assert r.status_code == 422 and r.json()["error"] == "bad_rows"
        assert r.json()["problems"][0] == {"line": 2, "column": "name_ko", "ko": r.json()["problems"][0]["ko"],
                                           "en": "is empty; it needs a value"}
        assert counts(database)["products"] == 0
        r = httpx.post(url + "?dry_run=true", files={"file": ("p.csv", good)}, headers=AUTH, timeout=60)
        assert r.status_code == 200 and r.json()["written"] is False and counts(database)["products"] == 0
        r = httpx.post(url, files={"file": ("p.csv", good)}, headers=AUTH, timeout=60)
        assert r.status_code == 200 and r.json()["added"] == len(rows)
        r = httpx.get(url, headers=AUTH, timeout=60)
        assert r.status_code == 200 and r.text.count("\n") == len(rows) + 1
        rejected = httpx.get(f"{hub.url}/api/v1/rejections", headers=AUTH, timeout=10).json()["counts"]
        assert rejected.get("styles:bad_rows") == 1


def test_a_purchases_export_imports_again_even_with_a_shopper_id_a_spreadsheet_would_run(store):
    """H&M's ids may start with "-"; the export writes such a cell as '-… so a spreadsheet does not
    take it for a formula, and the purchases import (the registry's reading, repeats counted as
    pieces) takes the ' off again: export -> import changes nothing."""
    database, paths = store
    assert imported(database, "products", paths["products"].read_bytes()).ok
    header, rows = rows_of(paths["purchases"])
    sample = [dict(r, customer_id="-" + r["customer_id"][:40]) for r in rows[:50]] + [dict(rows[0])] * 2
    report = imported(database, "purchases", text_of(header, sample))
    assert report.ok and report.added == len({tuple(r.values()) for r in sample}), report.problems[:3]
    with database.session() as session:
        exported = styles.export_csv(session, "purchases")
    assert ",'-" in exported
    again = imported(database, "purchases", exported)
    assert again.ok and again.unchanged == report.added and again.added == again.changed == 0, again.problems[:3]
    assert counts(database)["pieces"] == len(sample)
