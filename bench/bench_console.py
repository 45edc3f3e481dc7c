"""How long the coordinator's console takes to answer over a whole Dongdaemun: a hub (uvicorn on a
free port, the embedded telemetry store) over a registry of 1,000 generated workshops (or
--workshops N) in PostgreSQL (started as the tests start it; --sqlite for the demo's store), with
14 days of daily summaries for every machine and one 20,000-piece order planned and accepted, so
the pages show booked work.

Per page, logged in with the page's session like a browser: the first request (cold: capacity's
cache of past days empty) and the median of --repeat more, server to client (the whole HTML).

Run: .venv/bin/python bench/bench_console.py [--workshops 1000] [--repeat 5] [--sqlite]
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.app import create_app  # noqa: E402
from hub.core import db  # noqa: E402
from hub.core.settings import load_settings  # noqa: E402
from hub.registry import service as registry  # noqa: E402
from hub.server import BackgroundServer  # noqa: E402
from simulators.network import generate_network  # noqa: E402
from tests.servers import PostgreSQL  # noqa: E402

TOKEN = "bench-console-token"
WRITE = "bench-console-writer"


def seed(url: str, n: int, folder: Path):
    db.upgrade(url)
    net = generate_network(n, seed=7)
    paths = net.write_csv(folder / "net")
    database = db.Database(url)
    try:
        for kind in registry.KINDS:
            with database.session() as session:
                assert registry.import_csv(session, kind, paths[kind].read_bytes()).ok
    finally:
        database.close()
    return net


def summaries(net, now: datetime) -> list[str]:
    """One hour-long summary a day per machine for the last 14 days (the contract's longest
    interval), most machines busy: enough for capacity to calibrate on and the history to show."""
    rng = random.Random(3)
    lines = []
    for m in net.machines:
        if rng.random() < 0.1:
            continue
        for back in range(14):
            t = int((now - timedelta(days=back, hours=rng.randint(1, 6))).timestamp())
            run = rng.randint(15, 50) * 60_000
            lines.append(f"sewing,machine={m.machine_id},workshop={m.workshop_id} interval_ms=3600000i,"
                         f"run_ms={run}i,stitches={run // 25}i {t}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workshops", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sqlite", action="store_true", help="the demo's SQLite instead of PostgreSQL")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-console-"))
    server = None
    try:
        if args.sqlite:
            url = f"sqlite:///{folder / 'hub.sqlite'}"
        else:
            server = PostgreSQL(PostgreSQL.make_workdir())
            server.start()
            url = server.url_for(server.create_database())
        t = time.perf_counter()
        net = seed(url, args.workshops, folder)
        print(f"{args.workshops:,} workshops, {len(net.machines):,} machines in "
              f"{'SQLite' if args.sqlite else 'PostgreSQL'} ({time.perf_counter() - t:.1f} s to set up)")
        settings = load_settings(telemetry="embedded", embedded_path=folder / "telemetry.sqlite", api_tokens=[TOKEN],
                                 embedded_write_token=WRITE, database_url=url, planning_time_limit=10)
        with BackgroundServer(create_app(settings)) as hub:
            lines = summaries(net, datetime.now(timezone.utc))
            for i in range(0, len(lines), 10_000):
                r = httpx.post(f"{hub.url}/api/v2/write", params={"org": "sewnet", "bucket": "sewnet", "precision": "s"}, timeout=60,
                               content=gzip.compress("\n".join(lines[i:i + 10_000]).encode()),
                               headers={"Authorization": f"Token {WRITE}", "Content-Encoding": "gzip"})
                assert r.status_code == 204, r.text
            api = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
            order = {"id": "bench-tee", "style": "tee", "family": "knit_tops", "quantity": 20000,
                     "due": (datetime.now(timezone.utc) + timedelta(days=12)).date().isoformat(), "sam": 6.0,
                     "sam_split": {"overlock": 60, "coverstitch": 30, "lockstitch": 10}, "bundle_size": 50,
                     "min_lot": 500, "max_workshops": 25, "price_per_piece_krw": 2500}
            assert api.post("/api/v1/orders", json=order).status_code == 201
            plan = api.post("/api/v1/orders/bench-tee/plan").json()
            assert api.post("/api/v1/orders/bench-tee/accept").status_code == 200
            busy = plan["assignments"][0]["workshop"]
            page = httpx.Client(base_url=hub.url, timeout=120)
            assert page.post("/login", data={"token": TOKEN}).status_code == 303
            paths = ["/network", "/network?page=20", "/network?family=knit_tops",
                     "/network?min_free=20000", "/network?family=knit_tops&min_free=20000",
                     f"/network/{busy}", "/orders", "/orders/bench-tee", "/orders/bench-tee/plan.csv",
                     f"/orders/bench-tee/dispatch/{busy}.pdf"]
            print(f"{'page':48} {'first':>8} {'median':>8} {'bytes':>9}")
            for path in paths:
                times = []
                size = 0
                for _ in range(args.repeat + 1):
                    t = time.perf_counter()
                    r = page.get(path)
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200, (path, r.status_code)
                    size = len(r.content)
                print(f"{path:48} {times[0] * 1000:7.0f}ms {statistics.median(times[1:]) * 1000:7.0f}ms "
                      f"{size:>9,}")
    finally:
        if server is not None:
            server.kill()
            shutil.rmtree(server.workdir, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
