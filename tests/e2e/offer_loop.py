"""The world of tests/e2e/test_offer_loop.py: a real hub over a real PostgreSQL and a real
InfluxDB, and two workshops each with a real Mosquitto, a real gateway process (with its [hub]
section and its workshop token) and three virtual boards (not yet sewing).

The registry holds a small generated Dongdaemun and the two workshops whose gateways run here,
made the planner's first choice for a knit order the way the demo makes its own workshops so
(`sewnet.demo.own_workshops`: the market's cheapest, every day a workday, the machines a tee
needs); the order's quantity is read off the hub's spare capacity so that it needs both
(`sewnet.demo.order_for_two`). Nothing edits a plan.

The hub runs in this process under uvicorn (as tests/e2e/test_spine.py runs it) on a port that
stays the same across `cut()` / `restore()`: stopping its server closes the port, so the gateways'
requests are refused as when the uplink is down. Every request is recorded on its way in, so a
test can tell how often an answer was sent beside how often the hub applied it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from hub.app import create_app
from hub.core import db
from hub.core.settings import load_settings
from hub.planning import offers
from hub.planning.offer_tables import OfferAnswer, OfferReport
from hub.server import BackgroundServer
from sewnet.demo import import_network, own_workshops
from simulators.network import Network, generate_network
from tests.e2e.harness import Workshop, add_boards
from tests.integration.real_offers_hub import Recorder
from tests.servers import InfluxDB1, Mosquitto, restartable_port
from tests.waiting import wait_for

TOKEN = "coordinator-e2e-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OWNERS = ("ws-loop-a1", "ws-loop-b2")
BOARDS_PER_WORKSHOP = 3
#: The virtual machines sew for seconds, not hours: a "piece" here is this many stitches per
#: SAM-minute (production: 300), so a few seconds of sewing make a few dozen pieces.
STITCHES_PER_SAM_MINUTE = 10


class LoopHub:
    def __init__(self, database_url: str, influx: InfluxDB1, folder: Path):
        self.database_url = database_url
        self.settings = load_settings(
            telemetry="influxdb", influx_url=influx.url, influx_database=influx.database,
            influx_username=influx.username, influx_password=influx.password, api_tokens=[TOKEN],
            database_url=database_url, planning_time_limit=5, stitches_per_sam_minute=STITCHES_PER_SAM_MINUTE,
            session_secret=secrets.token_urlsafe(24))
        self.db = db.Database(database_url)
        self.recorder = Recorder(None)
        self.port = restartable_port()
        self.server: BackgroundServer | None = None
        self.restore()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = httpx.Client(base_url=self.url, headers=AUTH, timeout=60)

    def restore(self) -> None:
        """A fresh hub app over the same database, on the same port."""
        self.recorder.app = create_app(self.settings)
        self.server = BackgroundServer(self.recorder, port=self.port).start()  # type: ignore[arg-type]

    def cut(self) -> None:
        self.server.stop()

    def close(self) -> None:
        self.api.close()
        if self.server is not None:
            self.server.stop()
        self.db.close()

    def token(self, workshop: str) -> str:
        with self.db.session() as session:
            return offers.issue_workshop_token(session, workshop)

    def offers_of(self, order_id: str) -> dict[str, dict]:
        """The order's offers as the coordinator's API shows them, by workshop (the newest each)."""
        r = self.api.get(f"/api/v1/orders/{order_id}/offers")
        assert r.status_code == 200, r.text
        return {o["workshop_id"]: o for o in r.json()["offers"]}

    def answers(self) -> list[tuple[str, str, str, str | None]]:
        """(offer_id, answer, result, reason) of every answer on the hub's record."""
        with self.db.session() as session:
            return sorted(tuple(r) for r in session.execute(
                select(OfferAnswer.offer_id, OfferAnswer.answer, OfferAnswer.result, OfferAnswer.reason)).all())

    def reports(self, workshop: str, kind: str) -> list[OfferReport]:
        with self.db.session() as session:
            rows = list(session.scalars(select(OfferReport).where(
                OfferReport.workshop_id == workshop, OfferReport.kind == kind, OfferReport.result == "applied")
                .order_by(OfferReport.received_at)))
            session.expunge_all()
            return rows

    def answers_sent(self, workshop: str) -> list[dict]:
        """Every answer in every answers body the hub received from the workshop's gateway."""
        path = f"/api/v1/workshops/{workshop}/answers"
        with self.recorder.lock:
            bodies = [json.loads(r.body) for r in self.recorder.requests if r.method == "POST" and r.path == path]
        return [a for b in bodies for a in b.get("answers", [])]


@dataclass
class Loop:
    hub: LoopHub
    influx: InfluxDB1
    shops: dict[str, Workshop]


def seed_registry(database_url: str, folder: Path) -> None:
    """The schema, a generated Dongdaemun of 30 workshops and the two owners' workshops (their
    machines m01-m03 with the boards their gateways know)."""
    db.upgrade(database_url)
    around = generate_network(30, seed=71)
    shops = {w: {f"sn-{w[-2:]}{i + 1:010x}": f"m{i + 1:02d}" for i in range(BOARDS_PER_WORKSHOP)} for w in OWNERS}
    own = own_workshops(shops, seed=72, names=("정성 봉제", "Jeongseong Sewing"))
    import_network(database_url, Network(around.seed, tuple(own) + around.workshops, around.designers,
                                         around.suppliers), folder)


def start_loop(postgresql_url: str, influx: InfluxDB1, root: Path) -> Loop:
    seed_registry(postgresql_url, root / "registry")
    hub = LoopHub(postgresql_url, influx, root / "hub")
    shops: dict[str, Workshop] = {}
    try:
        for name in OWNERS:
            broker = Mosquitto(root / name / "mosquitto")
            broker.start()
            ws = Workshop(name=name, root=root / name, broker=broker, influx=influx)
            shops[name] = ws
            add_boards(ws, BOARDS_PER_WORKSHOP)
            ws.write_gateway_config(flush_interval_s=1.0, overrides={"hub": {
                "url": hub.url, "workshop_token": hub.token(name), "poll_interval_s": 5, "backoff_max_s": 1}})
            ws.start_gateway()
        for ws in shops.values():
            ws.wait_gateway_listening()
    except BaseException:
        stop_loop(Loop(hub, influx, shops))
        raise
    return Loop(hub, influx, shops)


def stop_loop(loop: Loop) -> None:
    for ws in loop.shops.values():
        for b in ws.boards:
            b.stop()
        ws.stop_gateway()
        ws.broker.kill()
    loop.hub.close()


# ---------------------------------------------------------------------------------- in the browser
def log_in_console(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#token", TOKEN)
    page.click("#login-button")
    expect(page).to_have_url(f"{url}/")


def log_in_gateway(page: Page, ws: Workshop) -> str:
    url = f"http://127.0.0.1:{ws.web_port}"
    page.goto(f"{url}/")
    expect(page).to_have_url(f"{url}/login")
    page.locator("#password").press_sequentially(ws.operator_password)
    page.click("#login-button")
    expect(page).to_have_url(f"{url}/")
    return url


def reload_until(page: Page, url: str, locator: str, text: str | None = None, timeout: float = 30,
                 attribute: tuple[str, str] | None = None) -> None:
    """Reload `url` until `locator` shows `text` (or has `attribute`): the pages are server-rendered
    and refresh themselves only every 30 s."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        try:
            target = page.locator(locator)
            if attribute is not None:
                expect(target).to_have_attribute(*attribute, timeout=500)
            elif text is not None:
                expect(target).to_contain_text(text, timeout=500)
            else:
                expect(target).to_be_visible(timeout=500)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def wait_hub(predicate, what: str, timeout: float = 30):
    return wait_for(predicate, timeout=timeout, what=what, interval=0.2)


def wait_past_the_last_stitch(influx: InfluxDB1) -> None:
    """Until the clock is two seconds past the newest summary with stitches in InfluxDB: the
    gateway stamps a count to the second, so a count made in the same second as the last stitches
    would leave them after it (the owner counts once the machines have stopped)."""
    body = influx.query('SELECT last("stitches") FROM "sewing" WHERE "stitches" > 0')
    last = max(v[0] for s in body["results"][0]["series"] for v in s["values"])  # epoch seconds, floored
    wait_for(lambda: time.time() >= last + 2, timeout=10, what="the clock past the last stitches", interval=0.1)
