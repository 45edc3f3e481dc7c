"""LTE bytes per workshop-hour for the gateway's offer checks while nothing changes, and the offer
round trip (the hub has a new offer -> the gateway's page shows it) at the default poll.

The gateway's real hub link (edge_gateway/hub_link.py) checks the offers at the default
`poll_interval_s` (60 s): an hour is 60 checks. The first fetches the document (200); the other
59 are conditional (If-None-Match) and answered 304. Bytes are counted on the socket by a TCP
proxy in front of the hub (every byte of the HTTP requests and responses; TCP/IP and TLS not
included, as in bench_uplink_bytes.py), and the link's own count is printed beside them.

The round trip is measured for real at the default poll: a gateway (its hub link and its operator
page, in process) runs; at a random moment an offer appears on the hub; the time until the page,
read by a browser-like client every 0.2 s, shows it. `--samples` of them (each takes up to a
minute).

Hub: --hub double (tests/hub_offers_double.py, the contract stand-in, default until the real
hub's offers API is merged).

Run: .venv/bin/python bench/bench_offer_bytes.py [--samples 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.bench_uplink_bytes import CountingProxy  # noqa: E402
from edge_gateway.config import HubConfig  # noqa: E402
from edge_gateway.hub_link import HubLink  # noqa: E402
from edge_gateway.outbox import Outbox  # noqa: E402
from edge_gateway.web import create_app  # noqa: E402
from hub.server import BackgroundServer  # noqa: E402
from tests.hub_offers_double import OffersHubDouble, offer  # noqa: E402

WORKSHOP = "ws-changsin-01"
TOKEN = "wst-" + "x" * 43  # as long as a token_urlsafe(32)
REGISTRY = {f"sn-3c71bf0a12{i:02x}": f"m{i:02d}" for i in range(1, 7)}
PASSWORD = "bench-password"


async def idle_hour(tmp: Path) -> None:
    hub = OffersHubDouble(WORKSHOP, TOKEN)
    for i in range(3):
        hub.offers[f"of-{i}"] = offer(f"of-{i}", pieces=600 + 100 * i)
    server = BackgroundServer(hub.app).start()
    host, port = server.url.removeprefix("http://").split(":")
    proxy = CountingProxy(host, int(port))
    proxy_port = await proxy.start()
    cfg = HubConfig(url=f"http://127.0.0.1:{proxy_port}", workshop_token=TOKEN)
    checks = int(3600 / cfg.poll_interval_s)
    with Outbox(tmp / "idle.sqlite", WORKSHOP, REGISTRY) as store:
        link = HubLink(cfg, store, workshop=WORKSHOP)
        assert await link.check()
        first_up, first_down = proxy.up, proxy.down
        for _ in range(checks - 1):
            assert await link.check()
        await link._http().aclose()
    await asyncio.sleep(0.2)  # the proxy's pumps finish counting
    h = link.health
    idle = (proxy.up - first_up) + (proxy.down - first_down)
    print(f"offer checks at the default poll ({cfg.poll_interval_s:.0f} s), nothing changes, 3 offers listed:")
    print(f"  first check (200, document): {first_up:,} B up + {first_down:,} B down")
    print(f"  each later check (304):      {(proxy.up - first_up) / (checks - 1):,.0f} B up +"
          f" {(proxy.down - first_down) / (checks - 1):,.0f} B down")
    print(f"  per workshop-hour ({checks} checks, 1 x 200 + {checks - 1} x 304): {proxy.up + proxy.down:,} B on the"
          f" socket ({idle:,} B of them the 304s); the link's own count: {h.bytes_up + h.bytes_down:,} B;"
          f" {h.not_modified} answered 304")
    print(f"  (TCP/IP and TLS not counted; a new connection per check: the hub closes idle ones after 5 s)")
    await proxy.close()
    server.stop()


async def round_trips(tmp: Path, samples: int) -> None:
    hub = OffersHubDouble(WORKSHOP, TOKEN)
    server = BackgroundServer(hub.app).start()
    cfg = HubConfig(url=server.url, workshop_token=TOKEN)  # the default poll
    times = []
    with Outbox(tmp / "rt.sqlite", WORKSHOP, REGISTRY) as store:
        link = HubLink(cfg, store, workshop=WORKSHOP)
        page = BackgroundServer(create_app(store, workshop=WORKSHOP, operator_password=PASSWORD, hub=link)).start()
        task = asyncio.create_task(link.run())
        try:
            async with httpx.AsyncClient(base_url=page.url) as client:
                await client.post("/login", data={"password": PASSWORD})
                await asyncio.sleep(1)
                for n in range(samples):
                    await asyncio.sleep(random.uniform(0, cfg.poll_interval_s))
                    offer_id = f"of-rt-{n}"
                    with hub.lock:
                        hub.offers[offer_id] = offer(offer_id)
                    t0 = time.monotonic()
                    while f'id="offer-{offer_id}"' not in (await client.get("/")).text:
                        await asyncio.sleep(0.2)
                    times.append(time.monotonic() - t0)
                    print(f"  round trip {n + 1}: {times[-1]:.1f} s", flush=True)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            page.stop()
    server.stop()
    print(f"offer round trip (hub has it -> page shows it) at the default poll ({cfg.poll_interval_s:.0f} s):"
          f" median {statistics.median(times):.1f} s, max {max(times):.1f} s over {len(times)} samples"
          f" (expected: uniform 0-{cfg.poll_interval_s:.0f} s, mean {cfg.poll_interval_s / 2:.0f} s, plus the fetch)")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=3, help="round trips to measure (each up to a minute)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        await idle_hour(Path(d))
        if args.samples:
            await round_trips(Path(d), args.samples)


if __name__ == "__main__":
    asyncio.run(main())
