"""The hub's relational store on a real PostgreSQL (and SQLite, the demo's): the migrations build
exactly the models' schema from an empty database, and the hub refuses to start on a schema it
does not know (missing, behind, ahead), saying what to run."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from typer.testing import CliRunner

from hub.app import create_app
from hub.core import db
from hub.core.settings import load_settings
from hub.migrations import target_metadata
from hub.server import BackgroundServer
from sewnet.cli import app as sewnet

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
REGISTRY_TABLES = {"registry_workshops", "registry_workshop_families", "registry_machines", "registry_designers",
                   "registry_designer_families", "registry_suppliers", "registry_supplier_families"}


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("postgresql").url
    return f"sqlite:///{tmp_path / 'new folder' / 'hub.sqlite'}"  # its folder is made by the upgrade


def test_upgrade_from_empty_builds_exactly_the_models_schema(empty_url):
    status = db.upgrade(empty_url)
    assert status.state is db.SchemaState.CURRENT and status.database_revision == db.head_revision()
    database = db.Database(empty_url)
    try:
        with database.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), target_metadata())
        assert diff == []
        assert REGISTRY_TABLES <= set(database.table_names())
        assert db.upgrade(empty_url).state is db.SchemaState.CURRENT  # again: nothing to do, no error
        database.require_current_schema()
    finally:
        database.close()


def next_revision(tmp_path: Path) -> str:
    """The migrations plus one more revision on top of today's head, as a newer hub would ship them."""
    folder = tmp_path / "migrations-next"
    shutil.copytree(ROOT / "hub" / "migrations", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0099_next.py").write_text(
        f'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "0099"\ndown_revision = "{db.head_revision()}"\n'
        "branch_labels = depends_on = None\n\n\ndef upgrade():\n"
        '    op.create_table("next_probe", sa.Column("id", sa.Integer(), primary_key=True))\n')
    return str(folder)


def test_each_schema_state_is_told_apart_and_says_what_to_run(postgresql, tmp_path):
    database = db.Database(postgresql.url)
    try:
        missing = database.status()
        assert missing.state is db.SchemaState.MISSING and "run `sewnet hub db upgrade`" in missing.message
        db.upgrade(postgresql.url)
        assert database.status().state is db.SchemaState.CURRENT
        newer = next_revision(tmp_path)
        behind = database.status(newer)  # this database, as a newer hub sees it
        assert behind.state is db.SchemaState.BEHIND and behind.database_revision == db.head_revision()
        assert "older than the 0099" in behind.message and "run `sewnet hub db upgrade`" in behind.message
        assert db.upgrade(postgresql.url, script_location=newer).database_revision == "0099"
        ahead = database.status()  # and as this hub sees it after the newer one migrated it
        assert ahead.state is db.SchemaState.UNKNOWN and "does not know" in ahead.message
        with pytest.raises(db.SchemaMismatch, match="newer SewNet hub"):
            db.upgrade(postgresql.url)  # an older hub never touches a newer schema
        assert postgresql.server.password not in ahead.message and "***" in ahead.message
    finally:
        database.close()


def hub_app(url: str, folder: Path):
    return create_app(load_settings(telemetry="embedded", embedded_path=folder / "telemetry.sqlite",
                                    api_tokens=["reader-token-1"], database_url=url))


async def refused_start(url: str, folder: Path) -> db.SchemaMismatch:
    """Run the app's start-up as uvicorn does; it must refuse."""
    app = hub_app(url, folder)
    with pytest.raises(db.SchemaMismatch) as refused:
        async with app.router.lifespan_context(app):
            pass
    return refused.value


@pytest.mark.parametrize("state", ["missing", "ahead"])
async def test_the_hub_refuses_to_start_on_a_schema_it_does_not_know(empty_url, tmp_path, caplog, monkeypatch, state):
    if state == "ahead":
        db.upgrade(empty_url, script_location=next_revision(tmp_path))
    expected = "run `sewnet hub db upgrade`" if state == "missing" else "does not know"
    with caplog.at_level(logging.ERROR, logger="sewnet.hub"):
        refused = await refused_start(empty_url, tmp_path)
    assert expected in refused.message
    assert any(expected in r.getMessage() for r in caplog.records if r.name == "sewnet.hub"), caplog.text
    monkeypatch.setenv("SEWNET_HUB_DATABASE_URL", empty_url)
    password = db.database_url(empty_url).password
    for command in (["hub", "run", "--port", "0"], ["hub", "db", "current"]):
        result = runner.invoke(sewnet, command)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert expected in lines[0] and (password is None or password not in result.output)


async def test_a_new_sqlite_file_is_missing_not_made(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    assert "has no SewNet schema yet" in (await refused_start(url, tmp_path)).message
    assert not (tmp_path / "hub.sqlite").exists()


def test_sewnet_hub_db_upgrade_then_the_hub_starts(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'var' / 'hub.sqlite'}"
    monkeypatch.setenv("SEWNET_HUB_DATABASE_URL", url)
    result = runner.invoke(sewnet, ["hub", "db", "upgrade"])
    assert result.exit_code == 0 and f"revision {db.head_revision()} (current)" in result.stdout, result.output
    assert runner.invoke(sewnet, ["hub", "db", "upgrade"]).exit_code == 0
    assert runner.invoke(sewnet, ["hub", "db", "current"]).exit_code == 0
    server = BackgroundServer(hub_app(url, tmp_path)).start()
    try:
        import httpx

        r = httpx.get(f"{server.url}/api/v1/registry", headers={"Authorization": "Bearer reader-token-1"}, timeout=10)
        assert r.status_code == 200 and r.json() == {"workshops": 0, "machines": 0, "designers": 0, "suppliers": 0}
    finally:
        server.stop()


def test_an_unreachable_database_is_one_line_without_its_password(postgresql, monkeypatch):
    url = postgresql.server.url_for(postgresql.name, password="wrong-secret-password")
    monkeypatch.setenv("SEWNET_HUB_DATABASE_URL", url)
    for command in (["hub", "db", "upgrade"], ["hub", "db", "current"], ["registry", "export", "workshops", "-"]):
        result = runner.invoke(sewnet, command)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert lines[0].startswith("error: cannot open the hub's database (postgresql+psycopg://sewnet:***@")
        assert "wrong-secret-password" not in result.output


def test_sqlite_checks_foreign_keys_like_postgresql(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    db.upgrade(url)
    database = db.Database(url)
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"), database.session() as session:
            session.execute(text("INSERT INTO registry_workshop_families (workshop_id, family, position) "
                                 "VALUES ('ws-none', 'denim', 0)"))
    finally:
        database.close()


def test_the_url_setting_takes_plain_postgresql_and_never_shows_a_password(monkeypatch):
    settings = load_settings(database_url="postgresql://sewnet:pa55word@db.example:5432/sewnet")
    assert settings.database_url.get_secret_value() == "postgresql+psycopg://sewnet:pa55word@db.example:5432/sewnet"
    assert "pa55word" not in repr(settings) and "pa55word" not in str(settings)
    assert db.show_url(settings.database_url.get_secret_value()) == "postgresql+psycopg://sewnet:***@db.example:5432/sewnet"
    monkeypatch.setenv("SEWNET_HUB_DATABASE_URL", "postgresql+asyncpg://sewnet:pa55word@db.example/sewnet")
    result = runner.invoke(sewnet, ["hub", "db", "current"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "must be PostgreSQL" in lines[0], result.output
    assert "pa55word" not in result.output
