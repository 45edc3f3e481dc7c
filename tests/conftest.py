"""Fixtures that start real servers on free ports in temporary folders."""

from __future__ import annotations

import pytest

from tests.servers import InfluxDB1, Mosquitto, VictoriaMetrics, require_binary

CHROMIUM = "/usr/bin/chromium"
# As the machine's own checks run it: headless, and no background calls into a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


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
