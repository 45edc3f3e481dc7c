"""The kiosk per order: pattern + all exports (p50/p95), and the kiosk API (the kiosk app's part).

    PYTHONPATH=. .venv/bin/python bench/bench_kiosk.py [--bodies 200] [--seed 8]

Pattern part: for each body (Size Korea 7th direct measurements from ../shared/data/body, read
here and never copied in; a design and options drawn at random per order), one order's work as
the kiosk does it: draft, check, fit map, DXF, SVG, PDF on A4 tiles and on one plotter sheet,
cutting ticket. Wall time per order and per step, p50 and p95. Target (issue 8): under 1 s.

API part (kiosk API p99 at 200 requests/s): added by the kiosk app's helper in `api_bench()`.
Figures, not a test.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from hub.kiosk.fit import fit_map
from hub.kiosk.patterns import DESIGNS, PatternError, check, cutting_ticket, draft, to_dxf, to_pdf, to_svg

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "body"
if not DATA.exists():
    DATA = Path("/work/shared/data/body")
COLUMNS = {"height": "003_키", "chest": "039_가슴둘레", "waist": "042_허리둘레", "hip": "045_엉덩이둘레",
           "shoulder": "089_어깨너비", "arm": "064_팔길이", "neck": "037_목둘레"}


@dataclass(frozen=True)
class Body:
    gender: str
    height: float
    chest: float
    waist: float
    hip: float
    shoulder: float
    arm: float
    neck: float


def korean_bodies(n: int, rng: random.Random) -> list[Body]:
    rows = []
    with open(DATA / "sizekorea_7th_2015_direct_measurements_mm.csv", encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            try:
                v = {k: float(r[c]) for k, c in COLUMNS.items()}
            except (KeyError, ValueError):
                continue
            rows.append(Body("male" if r["02_성별"].strip() == "남" else "female", **v))
    return rng.sample(rows, min(n, len(rows)))


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


def api_bench() -> None:
    """Kiosk API p99 at 200 requests/s: the kiosk app's helper fills this in."""
    print("kiosk API: not measured here yet (the kiosk app's part)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bodies", type=int, default=200)
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args()
    pattern_bench(args.bodies, args.seed)
    api_bench()


if __name__ == "__main__":
    main()
