"""The kiosk per order: pattern + all exports (p50/p95), and the kiosk API (the kiosk app's part).

    PYTHONPATH=. .venv/bin/python bench/bench_kiosk.py [--bodies 200] [--seed 8] [--api-rate 200]
        [--api-seconds 15]

Pattern part: for each body (Size Korea 7th adults from ../shared/data/body, read by
tests/body_data.py and never copied in; a design and options drawn at random per order), one
order's work as the kiosk does it: draft, check, fit map, DXF, SVG, PDF on A4 tiles and on one
plotter sheet, cutting ticket. Wall time per order and per step, p50 and p95. Target (issue 8):
under 1 s.

API part: bench/bench_kiosk_api.py in its own process (it starts PostgreSQL and a hub under
uvicorn, so its figures are not disturbed by this process's drafting): kiosk API p50/p95/p99 per
call at --api-rate requests/s, open loop. Target (issue 8): p99 under 50 ms at 200 requests/s.
Figures, not a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.kiosk.fit import fit_map  # noqa: E402
from hub.kiosk.measurements import FIELDS, Body  # noqa: E402
from hub.kiosk.patterns import DESIGNS, PatternError, check, cutting_ticket, draft, to_dxf, to_pdf, to_svg  # noqa: E402
from tests.body_data import DATA, have_size_korea, size_korea_adults  # noqa: E402


def korean_bodies(n: int, rng: random.Random) -> list[Body]:
    if not have_size_korea():
        raise SystemExit(f"Size Korea's file is not in {DATA}")
    people = [Body(gender=p.gender, **{f: p.values[f] for f in FIELDS}) for p in size_korea_adults()]
    return rng.sample(people, min(n, len(people)))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def pattern_bench(n: int, seed: int) -> None:
    rng = random.Random(seed)
    bodies = korean_bodies(n, rng)
    steps = {k: [] for k in ("draft", "check", "fit", "dxf", "svg", "pdf_a4", "pdf_plotter", "ticket")}
    totals, refused, failed = [], 0, 0
    for body in bodies:
        design = rng.choice(list(DESIGNS))
        options = {k: rng.choice(v) for k, v in DESIGNS[design].options.items()}
        t0 = time.perf_counter()
        try:
            t = time.perf_counter()
            pattern = draft(design, body, options)
        except PatternError:
            refused += 1
            continue
        steps["draft"].append(time.perf_counter() - t)
        for name, fn in (("check", lambda: check(pattern, body)), ("fit", lambda: fit_map(pattern, body)),
                         ("dxf", lambda: to_dxf(pattern)), ("svg", lambda: to_svg(pattern, "#3b6ea5")),
                         ("pdf_a4", lambda: to_pdf(pattern, "a4")), ("pdf_plotter", lambda: to_pdf(pattern, "plotter")),
                         ("ticket", lambda: cutting_ticket(pattern))):
            t = time.perf_counter()
            out = fn()
            steps[name].append(time.perf_counter() - t)
            if name == "check" and out:
                failed += 1
        totals.append(time.perf_counter() - t0)
    print(f"pattern + all exports per order, {len(totals)} Size Korea bodies (seed {seed}); "
          f"refused {refused}, failing checks {failed}")
    print(f"  {'step':<12}{'p50 ms':>9}{'p95 ms':>9}")
    for name, values in steps.items():
        print(f"  {name:<12}{1000 * pct(values, 50):>9.1f}{1000 * pct(values, 95):>9.1f}")
    print(f"  {'order':<12}{1000 * pct(totals, 50):>9.1f}{1000 * pct(totals, 95):>9.1f}   "
          f"(mean {1000 * statistics.mean(totals):.1f}; target < 1000 ms) "
          f"{'OK' if pct(totals, 95) < 1.0 else 'OVER TARGET'}")


def api_bench(rate: float, seconds: float) -> None:
    """Kiosk API p99 at `rate` requests/s: bench/bench_kiosk_api.py, which prints its own table."""
    print(flush=True)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_kiosk_api.py"), "--rate", f"{rate:g}",
                           "--seconds", f"{seconds:g}"], cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"the kiosk API bench failed (exit {done.returncode})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bodies", type=int, default=200)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--api-rate", type=float, default=200)
    ap.add_argument("--api-seconds", type=float, default=15)
    args = ap.parse_args()
    pattern_bench(args.bodies, args.seed)
    api_bench(args.api_rate, args.api_seconds)


if __name__ == "__main__":
    main()
