"""The kiosk API's latency at a fixed rate: a hub (uvicorn in its own process, as in production)
over PostgreSQL (started as the tests start it) holding 200 generated workshops, one kiosk order
placed; then an async client sends --rate requests a second for --seconds, open loop (each request
leaves at its scheduled time whether or not earlier ones have answered, and its latency counts
from that time, so queueing shows), mixing the kiosk API's calls: the designs, a measurement
check, an order's status by its tracking key, and the kiosk's first page.

Run: .venv/bin/python bench/bench_kiosk_api.py [--rate 200] [--seconds 20]
Target (issue 8): p99 under 50 ms at 200 requests/s."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.core import db  # noqa: E402
from hub.registry import service as registry  # noqa: E402
from simulators.network import generate_network  # noqa: E402
from tests.servers import PostgreSQL, free_port  # noqa: E402

BODY = {"gender": "male", "height": 1733, "chest": 977, "waist": 839, "hip": 961, "shoulder": 413, "arm": 593,
        "neck": 387, "weight": 68.9}


def seed(url: str, folder: Path) -> None:
    """200 workshops; the knit ones with every machine a T-shirt needs take single pieces."""
    db.upgrade(url)
    net = generate_network(200, seed=11)
    paths = net.write_csv(folder)
    need = {"overlock", "coverstitch", "lockstitch"}
    single = {w.id for w in net.workshops if "knit_tops" in w.families
              and need <= {m.type for m in net.machines if m.workshop_id == w.id}}
    rows = list(csv.DictReader(io.StringIO(paths["workshops"].read_text(encoding="utf-8-sig"))))
    for r in rows:
        if r["id"] in single:
            r["min_order_pieces"] = "1"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    paths["workshops"].write_text(out.getvalue(), encoding="utf-8")
    database = db.Database(url)
    try:
        for kind in registry.KINDS:
            with database.session() as s:
                assert registry.import_csv(s, kind, paths[kind].read_bytes()).ok
    finally:
        database.close()


def place_order(base: str) -> tuple[str, str]:
    form = {"lang": "en", "design": "tshirt", "colour": "navy", "sleeve": "short", "neckline": "crew",
            "pocket": "none", "gender": "male", "seen_ready": "2100-01-01T00:00:00+09:00",
            **{k: f"{v / 10:g}" for k, v in BODY.items() if k not in ("gender", "weight", "neck")}}
    r = httpx.post(f"{base}/kiosk/order", data=form, timeout=120)
    r.raise_for_status()
    link = re.search(r'id="track-link" href="([^"]+)"', r.text).group(1).replace("&amp;", "&")
    m = re.search(r"/kiosk/t/(\d+)\?k=([^&]+)", link)
    return m.group(1), m.group(2)


async def run(base: str, rate: float, seconds: float, code: str, key: str) -> dict[str, list[float]]:
    calls = [("designs", "GET", "/kiosk/api/designs", None), ("check", "POST", "/kiosk/api/check", BODY),
             ("order", "GET", f"/kiosk/api/orders/{code}?k={key}", None), ("page", "GET", "/kiosk?lang=en", None)]
    lat: dict[str, list[float]] = {name: [] for name, *_ in calls}
    errors = 0
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        for name, method, path, body in calls:  # warm: connections, templates, the database pool
            for _ in range(20):
                await client.request(method, path, json=body)

        async def one(at: float, i: int) -> None:
            nonlocal errors
            name, method, path, body = calls[i % len(calls)]
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            try:
                r = await client.request(method, path, json=body)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                lat[name].append((time.perf_counter() - at) * 1000)
            else:
                errors += 1

        start = time.perf_counter() + 0.2
        n = int(rate * seconds)
        await asyncio.gather(*(one(start + i / rate, i) for i in range(n)))
    lat["_errors"] = [errors]
    return lat


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-kiosk-"))
    pg = PostgreSQL(PostgreSQL.make_workdir())
    hub = None
    try:
        pg.start()
        url = pg.url_for(pg.create_database())
        seed(url, folder / "net")
        port = free_port()
        env = {**os.environ, "SEWNET_HUB_DATABASE_URL": url, "SEWNET_HUB_TELEMETRY": "embedded",
               "SEWNET_HUB_EMBEDDED_PATH": str(folder / "telemetry.sqlite"),
               "SEWNET_HUB_API_TOKENS": "bench-kiosk-token-1", "SEWNET_KIOSK_CUTOFF": "23:59",
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        hub = subprocess.Popen([sys.executable, "-m", "uvicorn", "hub.app:create_app", "--factory", "--host",
                                "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                               env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or hub.poll() is not None:
                raise SystemExit("the hub did not start")
            time.sleep(0.2)
        code, key = place_order(base)
        lat = asyncio.run(run(base, args.rate, args.seconds, code, key))
        errors = lat.pop("_errors")[0]
        every = [v for vs in lat.values() for v in vs]
        print(f"kiosk API at {args.rate:.0f} requests/s for {args.seconds:.0f} s, open loop, one uvicorn worker, "
              f"PostgreSQL; {len(every):,} answered, {errors} failed")
        print(f"{'call':10} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        for name, vs in [*lat.items(), ("all", every)]:
            print(f"{name:10} {len(vs):6d} {pct(vs, 50):8.1f} {pct(vs, 95):8.1f} {pct(vs, 99):8.1f}")
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(20)
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
