"""Fixtures that start real servers on free ports in temporary folders."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest

from tests.servers import InfluxDB1, Mosquitto, PostgreSQL, VictoriaMetrics, own_postgresql, require_binary

CHROMIUM = "/usr/bin/chromium"
# As the machine's own checks run it: headless, and no background calls into a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def pytest_addoption(parser):
    # Here, not in tests/hil/conftest.py: pytest takes options only from the conftest files it
    # loads first, and `pytest tests` must know --board as well as `pytest tests/hil`.
    from tests.hil.options import add_options

    add_options(parser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.sewnet_failed = rep.failed
    return rep


def _serve(server, request):
    server.start()
    try:
        yield server
    finally:
        server.kill()
        if getattr(request.node, "sewnet_failed", False):
            print(f"--- {server.name} log ---\n{server.log_tail()}")


@pytest.fixture(scope="session")
def hub_database_template(tmp_path_factory):
    """A SQLite hub database at the current schema, migrated once per session (copies are cheap)."""
    from hub.core.db import upgrade

    path = tmp_path_factory.mktemp("hub-db-template") / "hub.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def hub_database(hub_database_template, tmp_path_factory, monkeypatch):
    """Every test's own hub database (SQLite, current schema), named by SEWNET_HUB_DATABASE_URL, so
    any hub a test starts finds the schema it needs without each test saying so; the URL is
    returned too. Tests of the database itself pass their own `database_url` (which wins over the
    environment) or use `postgresql`."""
    path = tmp_path_factory.mktemp("hub-db") / "hub.sqlite"
    shutil.copyfile(hub_database_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("SEWNET_HUB_DATABASE_URL", url)
    return url


@pytest.fixture
def mosquitto(tmp_path, request):
    """A real Mosquitto 2.0: auth on, per-device passwords, pattern ACL, persistence on."""
    yield from _serve(Mosquitto(tmp_path / "mosquitto"), request)


@pytest.fixture
def influxdb(tmp_path, request):
    """A real InfluxDB 1.x with auth on, an admin user and the `sewnet` database."""
    yield from _serve(InfluxDB1(tmp_path / "influxdb"), request)


@pytest.fixture
def victoria(tmp_path, request):
    """A real VictoriaMetrics, which serves InfluxDB's /api/v2/write."""
    yield from _serve(VictoriaMetrics(tmp_path / "victoria"), request)


@pytest.fixture(scope="session")
def postgresql_server():
    """One real PostgreSQL for the whole session (a cluster takes seconds to make; a database,
    a fraction of one). Tests get a fresh database each through `postgresql`."""
    with own_postgresql() as server:
        yield server


@dataclass
class PostgresDatabase:
    server: PostgreSQL
    name: str

    @property
    def url(self) -> str:
        """SQLAlchemy URL (postgresql+psycopg://sewnet:...) of this test's own database."""
        return self.server.url_for(self.name)


@pytest.fixture
def postgresql(postgresql_server, request):
    """A fresh, empty database on the session's PostgreSQL, owned by the `sewnet` role, dropped
    after the test. Tests that stop, kill or restart a server use `postgresql_own` instead."""
    if not postgresql_server.running:  # an earlier test left it down: the others still need it
        postgresql_server.start()
    db = PostgresDatabase(postgresql_server, postgresql_server.create_database())
    try:
        yield db
    finally:
        if getattr(request.node, "sewnet_failed", False):
            print(f"--- {postgresql_server.name} log ---\n{postgresql_server.log_tail()}")
        if not postgresql_server.running:
            postgresql_server.start()
        postgresql_server.drop_database(db.name)


@pytest.fixture
def postgresql_own(request):
    """A PostgreSQL of the test's own, to stop, kill and restart (`url` is its `sewnet` database)."""
    server = PostgreSQL(PostgreSQL.make_workdir())
    try:
        yield from _serve(server, request)
    finally:
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (make test installs both)."""
    from playwright import sync_api

    require_binary(CHROMIUM, "chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
