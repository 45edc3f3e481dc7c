"""LTE bytes per workshop-hour for the gateway's offer checks while nothing changes, and the offer
round trip (the coordinator accepts a plan on the hub -> the gateway's page shows its offer) at
the default poll, against the REAL hub (PostgreSQL with a generated Dongdaemun, the hub app under
uvicorn, offers made by accepting real plans, the workshop token from `issue_workshop_token`).

The gateway's real hub link (edge_gateway/hub_link.py) checks the offers at the default
`poll_interval_s` (60 s): an hour is 60 checks. The first fetches the document (200); the other
59 are conditional (If-None-Match) and answered 304. Bytes are counted on the socket by a TCP
proxy in front of the hub (every byte of the HTTP requests and responses; TCP/IP and TLS not
included, as in bench_uplink_bytes.py), and the link's own count is printed beside them. The
checks of the hour are made back to back (the hub's answer does not depend on the clock while
nothing changes). One 304 is broken down by header, to show what the server adds.

The round trip is measured for real at the default poll: a gateway (its hub link and its operator
page, in process) runs; at a random moment the coordinator accepts a planned order for the
workshop; the time until the page, read by a browser-like client every 0.2 s, shows the new offer.
`--samples` of them (each takes up to a minute).

Run: .venv/bin/python bench/bench_offer_bytes.py [--samples 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import AsyncIterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench._wire import CountingProxy  # noqa: E402
from edge_gateway import offer_store  # noqa: E402
from edge_gateway.config import HubConfig  # noqa: E402
from edge_gateway.hub_link import HubLink  # noqa: E402
from edge_gateway.outbox import Outbox  # noqa: E402
from edge_gateway.web import create_app  # noqa: E402
from hub.server import BackgroundServer  # noqa: E402
from tests.integration.real_offers_hub import RealHub  # noqa: E402
from tests.servers import own_postgresql  # noqa: E402

REGISTRY = {f"sn-3c71bf0a12{i:02x}": f"m{i:02d}" for i in range(1, 7)}
PASSWORD = "bench-password"
#: Small orders (two bundles of 50): the cheapest workshop keeps room for all of the bench's.
ORDER_PIECES = 100


def offered_workshop(hub: RealHub, orders: int) -> tuple[str, str]:
    """`orders` small tee orders accepted, all landing on one workshop: it and its token."""
    (workshop,) = hub.order("bench-tee-0", quantity=ORDER_PIECES)
    for n in range(1, orders):
        pieces = hub.order(f"bench-tee-{n}", quantity=ORDER_PIECES)
        assert workshop in pieces, f"the planner sent bench-tee-{n} to {pieces}, not to {workshop}"
    return workshop, hub.token(workshop)


def one_304(url: str, workshop: str, token: str, etag: str) -> None:
    """One conditional check by hand, its response headers and their bytes."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", f"/api/v1/workshops/{workshop}/offers",
                 headers={"Authorization": f"Bearer {token}", "If-None-Match": f'"{etag}"',
                          "Accept-Encoding": "gzip"})
    r = conn.getresponse()
    r.read()
    conn.close()
    sizes = {name.lower(): len(name) + 2 + len(value) + 2 for name, value in r.getheaders()}
    status_line = len(f"HTTP/1.1 {r.status} {r.reason}\r\n")
    print(f"  one 304 by header: status line {status_line} B, "
          + ", ".join(f"{k} {v} B" for k, v in sizes.items()) + ", blank line 2 B")
    extra = sum(v for k, v in sizes.items() if k in ("date", "server"))
    print(f"  of which a gateway does not need: date + server = {extra} B (added by uvicorn, not the offers route)")


async def idle_hour(hub: RealHub, workshop: str, token: str, tmp: Path, reuse_check: bool = True) -> int:
    """Prints the hour's figures; returns its bytes on the socket."""
    host, port = hub.url.removeprefix("http://").split(":")
    proxy = CountingProxy(host, int(port))
    proxy_port = await proxy.start()
    cfg = HubConfig(url=f"http://127.0.0.1:{proxy_port}", workshop_token=token)
    checks = int(3600 / cfg.poll_interval_s)
    with Outbox(tmp / "idle.sqlite", workshop, REGISTRY) as store:
        link = HubLink(cfg, store, workshop=workshop)
        assert await link.check()
        first_up, first_down = proxy.up, proxy.down
        for _ in range(checks - 1):
            assert await link.check()
        connections = proxy.connections
        link_bytes = link.health.bytes_up + link.health.bytes_down
        # The hour's checks ran back to back; one more after a real poll interval shows whether
        # the connection outlives the gap (the hub's keep_alive_s) or each check pays a handshake.
        up, down = proxy.up, proxy.down
        if reuse_check:
            await asyncio.sleep(cfg.poll_interval_s)
            assert await link.check()
        reused = proxy.connections == connections
        await link.aclose()
        etag, doc, _ = offer_store.load_document(store)
    await asyncio.sleep(0.2)  # the proxy's pumps finish counting
    h = link.health
    late_checks = 1 if reuse_check else 0
    assert h.not_modified == checks - 1 + late_checks, (h.not_modified, checks)  # the hour's 59 (and the late one)
    late = (proxy.up - up) + (proxy.down - down)
    proxy.up, proxy.down = up, down  # the hour is the 60 checks above
    idle = (proxy.up - first_up) + (proxy.down - first_down)
    print(f"offer checks at the default poll ({cfg.poll_interval_s:.0f} s), nothing changes, "
          f"{len(doc['offers'])} offers listed (real hub):")
    print(f"  first check (200, document): {first_up:,} B up + {first_down:,} B down")
    print(f"  each later check (304):      {(proxy.up - first_up) / (checks - 1):,.0f} B up +"
          f" {(proxy.down - first_down) / (checks - 1):,.0f} B down")
    print(f"  per workshop-hour ({checks} checks, 1 x 200 + {checks - 1} x 304): {proxy.up + proxy.down:,} B on the"
          f" socket ({idle:,} B of them the 304s); the link's own count: {link_bytes:,} B;"
          f" {h.not_modified - late_checks} answered 304")
    if reuse_check:
        print(f"  (TCP/IP and TLS not counted) a check {cfg.poll_interval_s:.0f} s after the last one: {late} B, "
              + ("on the same connection (the hub keeps idle ones open longer than the poll: no new handshake)"
                 if reused else "on a NEW connection (the hub closed the idle one: each check pays a TCP and TLS "
                                "handshake, several hundred bytes to a few KB over LTE)"))
    one_304(hub.url, workshop, token, etag)
    await proxy.close()
    return proxy.up + proxy.down


@contextlib.asynccontextmanager
async def offered_hub() -> AsyncIterator[tuple[RealHub, str, str, Path]]:
    """A real hub of its own (PostgreSQL, a generated Dongdaemun) with three small orders offered
    to one workshop: the hub, that workshop, its token and a folder for the gateway's files."""
    with own_postgresql() as server, tempfile.TemporaryDirectory() as d:
        hub = await asyncio.to_thread(RealHub, server.url_for(server.create_database()), Path(d) / "hub")
        try:
            workshop, token = await asyncio.to_thread(offered_workshop, hub, 3)
            yield hub, workshop, token, Path(d)
        finally:
            hub.close()


async def offer_checks_hour() -> int:
    """One workshop-hour of idle offer checks against a real hub of its own (for bench_uplink_bytes)."""
    async with offered_hub() as (hub, workshop, token, tmp):
        return await idle_hour(hub, workshop, token, tmp, reuse_check=False)


async def round_trips(hub: RealHub, workshop: str, token: str, tmp: Path, samples: int) -> None:
    cfg = HubConfig(url=hub.url, workshop_token=token)  # the default poll
    times = []
    with Outbox(tmp / "rt.sqlite", workshop, REGISTRY) as store:
        link = HubLink(cfg, store, workshop=workshop)
        page = BackgroundServer(create_app(store, workshop=workshop, operator_password=PASSWORD, hub=link)).start()
        task = asyncio.create_task(link.run())
        try:
            async with httpx.AsyncClient(base_url=page.url) as client:
                await client.post("/login", data={"password": PASSWORD})
                await asyncio.sleep(1)
                for n in range(samples):
                    order_id = f"bench-rt-{n}"
                    pieces = await asyncio.to_thread(hub.plan, order_id, ORDER_PIECES)
                    assert workshop in pieces, f"the planner sent {order_id} to {pieces}, not to {workshop}"
                    await asyncio.sleep(random.uniform(0, cfg.poll_interval_s))
                    t0 = time.monotonic()
                    await asyncio.to_thread(hub.accept, order_id)
                    doc = await asyncio.to_thread(hub.document, workshop, token)
                    (offer_id,) = [o["id"] for o in doc["offers"] if o["order_id"] == order_id]
                    while f'id="offer-{offer_id}"' not in (await client.get("/")).text:
                        await asyncio.sleep(0.2)
                    times.append(time.monotonic() - t0)
                    print(f"  round trip {n + 1}: {times[-1]:.1f} s", flush=True)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            page.stop()
    print(f"offer round trip (plan accepted on the hub -> the gateway's page shows the offer) at the default poll"
          f" ({cfg.poll_interval_s:.0f} s), real hub: min {min(times):.1f} s, median {statistics.median(times):.1f} s,"
          f" max {max(times):.1f} s over {len(times)} samples"
          f" (expected: uniform 0-{cfg.poll_interval_s:.0f} s, mean {cfg.poll_interval_s / 2:.0f} s, plus the fetch)")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=5, help="round trips to measure (each up to a minute)")
    args = ap.parse_args()
    async with offered_hub() as (hub, workshop, token, tmp):
        await idle_hour(hub, workshop, token, tmp)
        if args.samples:
            await round_trips(hub, workshop, token, tmp, args.samples)


if __name__ == "__main__":
    asyncio.run(main())
