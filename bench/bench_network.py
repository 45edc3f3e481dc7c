"""How long generating a Dongdaemun takes, and what it looks like (simulators/network.py).

Prints wall time for 1,000 and 7,000 workshops (the belt's range), the CSV size, and the
distributions of the larger network: machines and people per workshop, machine types, main
product families, dongs, efficiency, opening hours, contact channels, designers and suppliers.

Run: .venv/bin/python bench/bench_network.py [--seed N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.network import generate_network, load_dongs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t = time.perf_counter()
    load_dongs()
    print(f"dong boundaries loaded in {time.perf_counter() - t:.3f} s")
    for n in (1000, 7000):
        t = time.perf_counter()
        net = generate_network(n, seed=args.seed)
        took = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            paths = net.write_csv(d)
            csv_took = time.perf_counter() - t
            size = sum(p.stat().st_size for p in paths.values())
        print(f"{n:>5} workshops: generated in {took:.2f} s ({len(net.machines):,} machines, "
              f"{len(net.designers):,} designers, {len(net.suppliers):,} suppliers); "
              f"CSV {size / 1e6:.1f} MB written in {csv_took:.2f} s")
    print(json.dumps(net.summary(), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
