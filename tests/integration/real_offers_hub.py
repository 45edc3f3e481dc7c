"""The real hub for the gateway's offer tests and bench (issue 7): PostgreSQL holding a generated
Dongdaemun, the hub app under uvicorn on a port that stays the same across cuts, offers made by
accepting real plans, and workshop tokens from the hub's own `issue_workshop_token`.

`cut()` stops the hub's server (the port closes: connections are refused, as when the uplink is
down); `restore()` serves a fresh hub app over the same database on the same port. Every request
the hub receives is recorded on its way in (`requests`), so a test can tell how often an answer
was *sent*, beside the hub's own record of how often it was *applied*.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import select

from hub.app import create_app
from hub.planning import offers
from hub.planning.offer_tables import OfferAnswer, OfferReport
from hub.server import BackgroundServer
from tests.integration.planning_world import AUTH, seed, tee_order
from tests.integration.test_offers_api import World


@dataclass
class Received:
    method: str
    path: str
    body: bytes


@dataclass
class Recorder:
    """An ASGI wrapper that notes each HTTP request (method, path, body) and passes it on unchanged."""

    app: object
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen = Received(scope["method"], scope["path"], b"")
        with self.lock:
            self.requests.append(seen)

        async def tapped():
            message = await receive()
            if message["type"] == "http.request":
                seen.body += message.get("body", b"")
            return message

        return await self.app(scope, tapped, send)


class RealHub:
    def __init__(self, database_url: str, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        seed(database_url, folder / "network")
        self.world = World(database_url, folder)
        self.recorder = Recorder(None)
        self.server = self._serve(port=0)
        self.url = self.server.url
        self.port = int(self.url.rsplit(":", 1)[1])
        self.coordinator = httpx.Client(base_url=self.url, headers=AUTH, timeout=60)

    def _serve(self, port: int) -> BackgroundServer:
        self.recorder.app = create_app(self.world.settings)
        return BackgroundServer(self.recorder, port=port).start()  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the coordinator's side
    def order(self, order_id: str, quantity: int = 400, max_workshops: int = 1, **changes) -> dict[str, int]:
        """A tee order placed, planned and accepted through the hub's API: pieces per workshop.
        Small orders (one workshop at most) go to the cheapest workshop with room, so a few of
        them land on the same workshop (the generated network is fixed by its seed)."""
        pieces = self.plan(order_id, quantity, max_workshops, **changes)
        self.accept(order_id)
        return pieces

    def plan(self, order_id: str, quantity: int = 400, max_workshops: int = 1, **changes) -> dict[str, int]:
        """The order placed and planned (not yet accepted): pieces per workshop."""
        body = tee_order(id=order_id, quantity=quantity, min_lot=min(500, quantity), max_workshops=max_workshops,
                         **changes)
        r = self.coordinator.post("/api/v1/orders", json=body)
        assert r.status_code == 201, r.text
        plan = self.coordinator.post(f"/api/v1/orders/{order_id}/plan").json()
        assert plan["feasible"], plan
        return {a["workshop"]: a["pieces"] for a in plan["assignments"]}

    def accept(self, order_id: str) -> None:
        """The coordinator accepts the order's plan: its offers exist from the answer on."""
        r = self.coordinator.post(f"/api/v1/orders/{order_id}/accept")
        assert r.status_code == 200, r.text

    def token(self, workshop: str) -> str:
        with self.world.db.session() as session:
            return offers.issue_workshop_token(session, workshop)

    def order_status(self, order_id: str) -> dict:
        return self.coordinator.get(f"/api/v1/orders/{order_id}").json()

    # ------------------------------------------------------------------ what the hub holds
    def document(self, workshop: str, token: str) -> dict:
        """The workshop's offers as the hub serves them (through its own API and token)."""
        r = httpx.get(f"{self.url}/api/v1/workshops/{workshop}/offers",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def offer(self, workshop: str, token: str, offer_id: str) -> dict:
        return next(o for o in self.document(workshop, token)["offers"] if o["id"] == offer_id)

    def answers_applied(self) -> list[tuple[str, str, str]]:
        """(answer_id, offer_id, result) of every answer on the hub's record."""
        with self.world.db.session() as session:
            return sorted(tuple(r) for r in session.execute(
                select(OfferAnswer.answer_id, OfferAnswer.offer_id, OfferAnswer.result)).all())

    def reports(self) -> list[OfferReport]:
        with self.world.db.session() as session:
            rows = list(session.scalars(select(OfferReport).order_by(OfferReport.received_at)))
            session.expunge_all()
            return rows

    def answer_bodies(self, workshop: str) -> list[dict]:
        """Every answers body the hub received from the workshop's gateway, in order."""
        path = f"/api/v1/workshops/{workshop}/answers"
        with self.recorder.lock:
            return [json.loads(r.body) for r in self.recorder.requests if r.method == "POST" and r.path == path]

    # ------------------------------------------------------------------ the uplink
    def cut(self) -> None:
        self.server.stop()

    def restore(self) -> None:
        self.server = self._serve(port=self.port)

    def close(self) -> None:
        self.coordinator.close()
        self.server.stop()
        self.world.db.close()


class BrokenMiddlebox:
    """What sits between a gateway and the hub when the LTE path is broken: answers the offers
    request 200 with the real hub's document altered (one status not in the contract). The hub
    itself cannot be made to send such a document, so this small server stands in for the path,
    not for the hub (the one place these tests do not talk to the real hub)."""

    def __init__(self, body: bytes):
        box = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", '"broken"')
                self.send_header("Content-Length", str(len(box.body)))
                self.end_headers()
                self.wfile.write(box.body)

            def log_message(self, *args):
                pass

        self.body = body
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
