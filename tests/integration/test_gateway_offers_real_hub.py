"""Two gateways' hub links against the REAL hub (branch i7-hub merged: PostgreSQL, the planner,
workshop tokens): a coordinator's accepted plan becomes offers, both gateways fetch theirs (then
304s), the hub is cut while one owner accepts and the other declines, and when the hub is back
each answer arrives and is applied once; the decline makes the hub re-plan."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from edge_gateway import offer_store
from edge_gateway.config import HubConfig
from edge_gateway.hub_link import HubLink
from edge_gateway.outbox import Outbox
from hub.app import create_app
from hub.core import db
from hub.planning.offer_tables import OfferAnswer
from hub.server import BackgroundServer
from tests.integration.planning_world import AUTH, seed
from tests.integration.test_offers_api import World
from tests.waiting import async_wait_for

REGISTRY = {"sn-abababab0001": "m01", "sn-abababab0002": "m02"}


async def test_two_gateways_answer_through_a_cut_hub_and_each_answer_is_applied_once(postgresql, tmp_path):
    await asyncio.to_thread(seed, postgresql.url, tmp_path / "network")
    world = World(postgresql.url, tmp_path)
    server = BackgroundServer(create_app(world.settings)).start()
    port = int(server.url.rsplit(":", 1)[1])
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as coordinator:
            plan = await asyncio.to_thread(world.order, coordinator, "tee-gw")
        a, b = plan["assignments"][0]["workshop"], plan["assignments"][1]["workshop"]
        links, stores = {}, {}
        for ws in (a, b):
            token = world.token(ws)["Authorization"].removeprefix("Bearer ")
            stores[ws] = Outbox(tmp_path / f"{ws}.sqlite", ws, REGISTRY)
            cfg = HubConfig(url=server.url, workshop_token=token, poll_interval_s=5, backoff_max_s=1)
            links[ws] = HubLink(cfg, stores[ws], workshop=ws)
            assert await links[ws].check() and await links[ws].check()
            assert links[ws].health.not_modified == 1  # nothing changed: a 304
        offer_a = offer_store.load_document(stores[a])[1]["offers"][0]
        offer_b = offer_store.load_document(stores[b])[1]["offers"][0]
        assert offer_a["status"] == offer_b["status"] == "offered" and offer_a["order_id"] == "tee-gw"

        server.stop()  # the uplink is cut while the owners answer
        tasks = [asyncio.create_task(link.run()) for link in links.values()]
        try:
            accept_id, _ = offer_store.queue_answer(stores[a], offer_a["id"], "accept")
            decline_id, _ = offer_store.queue_answer(stores[b], offer_b["id"], "decline", "no_capacity")
            for link in links.values():
                link.wake()
            await async_wait_for(lambda: all(link.health.send_problem == "network" for link in links.values()),
                                 timeout=15, what="both gateways notice the cut")
            server = BackgroundServer(create_app(world.settings), port=port).start()  # the link is back
            for ws in (a, b):
                await async_wait_for(lambda ws=ws: offer_store.waiting_stats(stores[ws])[0] == 0, timeout=30,
                                     what=f"{ws}'s answer delivered")
            await async_wait_for(lambda: offer_store.load_document(stores[a])[1]["offers"][0]["status"] == "accepted",
                                 timeout=30, what="gateway a shows the hub's accepted")
            await async_wait_for(lambda: offer_store.load_document(stores[b])[1]["offers"][0]["status"] == "declined",
                                 timeout=30, what="gateway b shows the hub's declined")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # Applied once each, on the hub's own record.
        database = db.Database(postgresql.url)
        try:
            with database.session() as session:
                rows = session.execute(select(OfferAnswer.answer_id, OfferAnswer.result)).all()
        finally:
            database.close()
        assert sorted(rows) == sorted([(accept_id, "applied"), (decline_id, "applied")])
        # Gateway a: the one accepted offer, so every machine works on it; the hub took the list.
        # It follows the hub's next changed document, which can be a 5 s poll after the answer went up.
        await async_wait_for(lambda: offer_store.assignments(stores[a]) == {"m01": offer_a["id"], "m02": offer_a["id"]},
                             timeout=30, what="gateway a's default assignment")
        # The decline makes the hub re-plan the order (in the background) as a proposal.
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as coordinator:
            await async_wait_for(lambda: coordinator.get("/api/v1/orders/tee-gw").json()["status"] == "replanned",
                                 timeout=60, what="the order re-planned after the decline")
        for s in stores.values():
            s.close()
    finally:
        server.stop()
        world.db.close()


def test_sewnet_hub_run_sends_no_server_header_on_the_gateways_checks(tmp_path):
    """`sewnet hub run` as a process: a gateway's offer check (here a 401, answered by the same
    server as the idle 304s) carries no `server: uvicorn` header, 17 B less on every check."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.servers import free_port
    from tests.waiting import wait_for

    root = Path(__file__).resolve().parents[2]
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    env = dict(os.environ, PYTHONPATH=str(root), SEWNET_HUB_DATABASE_URL=url)
    subprocess.run([sys.executable, "-m", "hub", "db", "upgrade"], cwd=root, env=env, check=True,
                   capture_output=True, timeout=120)
    port = free_port()
    log = (tmp_path / "hub.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "hub", "run", "--port", str(port), "--log-level", "warning"],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)

    def check() -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v1/workshops/ws-001/offers",
                             headers={"Authorization": "Bearer not-a-token"}, timeout=2)
        except httpx.HTTPError:
            return None

    try:
        r = wait_for(check, timeout=60, what="sewnet hub run answering")
        assert r.status_code == 401
        assert "server" not in r.headers, r.headers
        assert "date" in r.headers  # HTTP/1.1 wants it from a server with a clock: kept
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
