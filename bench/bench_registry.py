"""How long the registry takes to import, re-import, export and read a whole Dongdaemun, on a real
PostgreSQL (tests/servers.py starts one in a temporary folder; Debian's `postgresql` package) and
on SQLite (the demo's store).

Per network size (1,000 and 7,000 workshops, the belt's range): the first import of each file
(workshops, machines, designers, suppliers) through hub.registry.service.import_csv, the same
files again (nothing changes), an export of every kind, and `workshops()` with all machines (what
capacity and planning read).

Run: .venv/bin/python bench/bench_registry.py [--seed N] [--sizes 1000,7000] [--sqlite]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.core import db  # noqa: E402
from hub.registry import service as registry  # noqa: E402
from simulators.network import generate_network  # noqa: E402
from tests.servers import PostgreSQL  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def run(url: str, n: int, seed: int, folder: Path) -> None:
    db.upgrade(url)
    paths = generate_network(n, seed=seed).write_csv(folder / f"net-{n}")
    database = db.Database(url)
    try:
        def import_all() -> tuple[dict, float]:
            out, total = {}, 0.0
            for kind in registry.KINDS:
                with database.session() as session:
                    report, took = timed(lambda: registry.import_csv(session, kind, paths[kind].read_bytes()))
                assert report.ok, report.problems[:3]
                out[kind] = (report, took)
                total += took
            return out, total

        first, first_total = import_all()
        again, again_total = import_all()
        with database.session() as session:
            _, export_took = timed(lambda: [registry.export_csv(session, kind) for kind in registry.KINDS])
            shops, read_took = timed(lambda: registry.workshops(session))
        machines = sum(len(w.machines) for w in shops)
        print(f"  {n:>5} workshops, {machines:,} machines: first import {first_total:.2f} s "
              f"({', '.join(f'{k} {t:.2f} s' for k, (_, t) in first.items())}); "
              f"again {again_total:.2f} s ({again['machines'][0].summary()} machines); "
              f"export all {export_took:.2f} s; workshops() with machines {read_took:.2f} s")
    finally:
        database.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sizes", default="1000,7000")
    ap.add_argument("--sqlite", action="store_true", help="also on a SQLite file")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    server = PostgreSQL(PostgreSQL.make_workdir())
    try:
        server.start()
        print("PostgreSQL (fsync off, as in the tests):")
        for n in sizes:
            run(server.url_for(server.create_database()), n, args.seed, folder)
        if args.sqlite:
            print("SQLite (WAL, synchronous NORMAL):")
            for n in sizes:
                run(f"sqlite:///{folder / f'hub-{n}.sqlite'}", n, args.seed, folder)
    finally:
        server.kill()
        shutil.rmtree(server.workdir, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
