"""What the planning tests share: a hub database holding a generated Dongdaemun (through the
registry's own CSV import), a hub serving it over real HTTP, and orders written as a coordinator
would write them."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import httpx

from hub.app import create_app
from hub.core import db
from hub.core.settings import load_settings
from hub.registry import service as registry
from hub.server import BackgroundServer
from simulators.network import generate_network

TOKEN = "planning-reader-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NET = generate_network(200, seed=11)
SEOUL_OFFSET = timedelta(hours=9)


def seed(url: str, folder: Path) -> None:
    """The schema, and the generated network imported as its CSV files."""
    db.upgrade(url)
    paths = NET.write_csv(folder)
    database = db.Database(url)
    try:
        for kind in registry.KINDS:
            with database.session() as session:
                assert registry.import_csv(session, kind, paths[kind].read_bytes()).ok
    finally:
        database.close()


def today() -> date:
    return (datetime.now(timezone.utc) + SEOUL_OFFSET).date()


def tee_order(**changes) -> dict:
    """20,000 knit T-shirts due in 10 days, from a cutting room in Changsin-dong."""
    body = {"style": "반팔 라운드 티셔츠 / crew-neck tee", "family": "knit_tops", "quantity": 20000,
            "due": (today() + timedelta(days=10)).isoformat(), "sam": 6.0,
            "sam_split": {"overlock": 60, "coverstitch": 30, "lockstitch": 10}, "bundle_size": 50, "min_lot": 500,
            "max_workshops": 25, "price_per_piece_krw": 2500, "panels": {"lat": 37.5760, "lon": 127.0150}}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@contextlib.contextmanager
def serving(url: str, folder: Path) -> Iterator[httpx.Client]:
    """A hub on a free port over `url`, and a client that sends the token."""
    settings = load_settings(telemetry="embedded", embedded_path=folder / "telemetry.sqlite", api_tokens=[TOKEN],
                             database_url=url, planning_time_limit=5)
    with BackgroundServer(create_app(settings)) as hub:
        with httpx.Client(base_url=hub.url, headers=AUTH, timeout=120) as client:
            yield client
