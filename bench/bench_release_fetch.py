"""Bytes and time of the gateway's release checks against the REAL hub (PostgreSQL, the hub app
under uvicorn, a workshop token from `issue_workshop_token`, a release of the shipped firmware
published by `hub.release.service`).

- An idle check (nothing new: If-None-Match, a 304), one a day's worth at the default
  `release_check_s` (1 h), counted on the socket by a TCP proxy in front of the hub (every byte of
  the HTTP requests and responses; TCP/IP and TLS not included, as in bench_uplink_bytes.py) and
  by the gateway's own count.
- Fetching a release: the index, the manifest and signature, every file (gzip'd), checked and
  kept by the gateway's real code (edge_gateway/release_link.py and ota.py), `--fetches` times,
  each into a fresh gateway store: bytes on the socket and wall time on this machine, then again
  through the proxy holding each chunk for half of `--rtt-ms` each way and pacing the hub's bytes
  at `--down-kbit` (a modelled LTE link; the model is the proxy's, the rest is measured).

Run: .venv/bin/python bench/bench_release_fetch.py [--fetches 5] [--rtt-ms 60] [--down-kbit 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._wire import CountingProxy  # noqa: E402
from edge_gateway.config import HubConfig  # noqa: E402
from edge_gateway.hub_link import HubLink  # noqa: E402
from edge_gateway.ota import Ota, load_release_key  # noqa: E402
from edge_gateway.outbox import Outbox  # noqa: E402
from edge_gateway.release_link import ReleaseLink  # noqa: E402
from hub.app import create_app  # noqa: E402
from hub.core.db import Database, upgrade  # noqa: E402
from hub.core.settings import load_settings  # noqa: E402
from hub.release import load_private_key, service  # noqa: E402
from hub.server import BackgroundServer  # noqa: E402
from tests.ota_world import make_release, new_key, workshop_token  # noqa: E402
from tests.servers import own_postgresql  # noqa: E402

WORKSHOP = "ws-bench-01"


def gateway(tmp: Path, name: str, url: str, token: str, pub: Path) -> tuple[Ota, ReleaseLink, HubLink, Outbox]:
    folder = tmp / name
    folder.mkdir()
    ota = Ota(folder / "ota.sqlite", load_release_key(pub), devices=lambda: [])
    outbox = Outbox(folder / "gw.sqlite", WORKSHOP, {})
    releases = ReleaseLink(ota, url, check_every_s=3600)
    link = HubLink(HubConfig(url=url, workshop_token=token), outbox, workshop=WORKSHOP, releases=releases)
    return ota, releases, link, outbox


async def fetches(tmp: Path, proxy: CountingProxy, port: int, token: str, pub: Path, n: int, label: str) -> None:
    times, wire, up, own = [], [], [], []
    for i in range(n):
        ota, releases, link, outbox = gateway(tmp, f"fetch-{port}-{i}", f"http://127.0.0.1:{port}", token, pub)
        proxy.reset()
        t0 = time.monotonic()
        assert await releases.check(link._http(), link._auth())
        times.append(time.monotonic() - t0)
        assert releases.health.fetched == 1, releases.health
        await link.aclose()
        await asyncio.sleep(0.3)  # the proxy's pumps finish counting
        wire.append(proxy.up + proxy.down)
        up.append(proxy.up)
        own.append(releases.health.bytes_up + releases.health.bytes_down)
        files = releases.health.last_fetch["files"]
        (kept,) = ota.releases()
        ota.close()
        outbox.close()
    print(f"fetch a release ({files} files, {kept['bytes']:,} bytes of firmware) {label}: "
          f"{statistics.median(wire):,.0f} B on the socket (of them up {statistics.median(up):,.0f}; the link's own "
          f"count {statistics.median(own):,.0f} B), {files + 3} requests on one connection; time median "
          f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}) over {n}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fetches", type=int, default=5)
    ap.add_argument("--rtt-ms", type=float, default=60.0)
    ap.add_argument("--down-kbit", type=float, default=5000.0)
    args = ap.parse_args()
    hub = None
    with own_postgresql() as server, tempfile.TemporaryDirectory() as d:
        try:
            tmp = Path(d)
            url = server.url_for(server.create_database())
            await asyncio.to_thread(upgrade, url)
            token = await asyncio.to_thread(workshop_token, url, WORKSHOP)
            key, _ = new_key(tmp)
            pub = Path(str(key) + ".pub")
            release = make_release(tmp, key, "9.9.9")
            db = Database(url)
            with db.session() as session:
                service.publish_folder(session, release, load_private_key(key).public_key())
            db.close()
            hub = BackgroundServer(create_app(load_settings(database_url=url, embedded_path=tmp / "tel.sqlite"))).start()
            host, port = hub.url.removeprefix("http://").split(":")

            # Idle: a day of checks at the default interval, nothing new.
            proxy = CountingProxy(host, int(port))
            pport = await proxy.start()
            ota, releases, link, outbox = gateway(tmp, "idle", f"http://127.0.0.1:{pport}", token, pub)
            assert await releases.check(link._http(), link._auth())   # the fetch
            await asyncio.sleep(0.3)
            proxy.reset()
            h = releases.health
            up, down = h.bytes_up, h.bytes_down
            checks = int(86400 / HubConfig(url="http://x").release_check_s)
            for _ in range(checks):
                assert await releases.check(link._http(), link._auth())
            await asyncio.sleep(0.3)
            assert h.not_modified == checks
            print(f"idle release check (304, nothing new), {checks} a day at release_check_s = 3600: "
                  f"{(proxy.up + proxy.down) / checks:,.0f} B each on the socket (up {proxy.up / checks:,.0f} + down "
                  f"{proxy.down / checks:,.0f}); the link's own count {(h.bytes_up - up + h.bytes_down - down) / checks:,.0f}"
                  f" B; {proxy.up + proxy.down:,} B a day (TCP/IP and TLS not counted)")
            await link.aclose()
            ota.close()
            outbox.close()
            await proxy.close()

            proxy = CountingProxy(host, int(port))
            pport = await proxy.start()
            await fetches(tmp, proxy, pport, token, pub, args.fetches, "on this machine")
            await proxy.close()
            slow = CountingProxy(host, int(port), rtt_s=args.rtt_ms / 1000, down_bps=args.down_kbit * 1000)
            sport = await slow.start()
            await fetches(tmp, slow, sport, token, pub, max(1, args.fetches // 2),
                          f"through a {args.rtt_ms:.0f} ms, {args.down_kbit / 1000:.0f} Mbit/s link")
            await slow.close()
        finally:
            if hub is not None:
                hub.stop()


if __name__ == "__main__":
    asyncio.run(main())
