"""What the My Style Lab integration tests share: a hub database holding the generated Dongdaemun's
registry (tests.integration.planning_world) and a small simulated fashion market on its shops
(simulators/shoppers.py, with its known truth), imported through the styles import (the `market`
fixture); a hub serving it, and waits (with deadlines) for its catalogue and its recommender."""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from hub.app import create_app
from hub.core import db
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from hub.styles import service as styles
from hub.styles.config import StylesSettings
from simulators.shoppers import MarketSpec, simulate
from tests.integration.planning_world import NET, TOKEN, seed

AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: The registry's shops that may sell in the catalogue.
SHOPS = sorted(d.id for d in NET.designers if d.kind in styles.SHOP_KINDS)
SPEC = MarketSpec(shoppers=1000, products=400, purchases=15_000, weeks=6, seed=7)


@functools.lru_cache(maxsize=1)
def simulated():
    """The simulated market (seeded: the same every time), made once per test session."""
    return simulate(SPEC, registry_shops=SHOPS)


def files(folder: Path) -> dict[str, Path]:
    """The simulated market as H&M's three files: products (the catalogue), shoppers, purchases."""
    return dict(zip(("products", "shoppers", "purchases"), simulated().write(folder)))


def seed_market(url: str, folder: Path) -> dict[str, Path]:
    """The registry, then the simulated market imported kind by kind; returns the files."""
    seed(url, folder / "network")
    paths = files(folder / "market")
    database = db.Database(url)
    try:
        for kind in styles.KINDS:
            with database.session() as session:
                report = styles.import_csv(session, kind, paths[kind].read_bytes())
                assert report.ok, report.problems[:5]
    finally:
        database.close()
    return paths


@contextlib.contextmanager
def serving(url: str, folder: Path, **styles_settings) -> Iterator[BackgroundServer]:
    settings = load_settings(telemetry="embedded", embedded_path=folder / "telemetry.sqlite", api_tokens=[TOKEN],
                             database_url=url)
    with BackgroundServer(create_app(settings, styles_settings=StylesSettings(**styles_settings))) as hub:
        yield hub


@pytest.fixture
def market(postgresql, tmp_path):
    """A PostgreSQL holding the registry and the simulated market; its URL."""
    seed_market(postgresql.url, tmp_path)
    return postgresql.url


def model_status(base: str) -> dict:
    return httpx.get(f"{base}/api/v1/styles/model", headers=AUTH, timeout=10).json()


def wait_loaded(base: str, deadline_s: float = 60.0) -> None:
    """Until the hub at `base` has read the catalogue (popularity or better serves)."""
    end = time.monotonic() + deadline_s
    while model_status(base)["state"] == "loading":
        assert time.monotonic() < end, "the catalogue was never read"
        time.sleep(0.1)


def wait_ready(base: str, deadline_s: float = 180.0) -> dict:
    """Until the recommender serves; its status. A failed training fails at once."""
    end = time.monotonic() + deadline_s
    while True:
        status = model_status(base)
        if status["state"] == "ready" and status["model"] == "recommender":
            return status
        assert status["state"] != "failed", status
        assert time.monotonic() < end, f"the recommender was not ready in {deadline_s:.0f} s: {status}"
        time.sleep(0.25)
