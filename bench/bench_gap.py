"""The planner's solver core on the published generalized assignment problems (GAP).

Every problem in ../shared/data/gap/ is solved through the command line, as a user would:
one subprocess `python -m sewnet.cli plan gap FILE --sense S --time-limit T --json` per file and
sense. Each answer is checked here independently (every job on one agent, no agent over its
capacity, the value recomputed from the file) and compared with the published optimum or best
known value in optima.tsv (the solver never sees that table).

Targets (issue 6) on this machine:
- gap1-gap12, both senses: the optimum, found in under 1 s each (time limit 1 s);
- gapa-gapd: within 1 % in 10 s each;
- Yagiura's type D and E instances up to 400 jobs: within 2 % in 20 s each.
Yagiura's larger instances (900 and 1,600 jobs) have no target; they run with a 60 s limit and
their gap is reported.

    .venv/bin/python bench/bench_gap.py            # everything (about 25 minutes)
    .venv/bin/python bench/bench_gap.py --quick    # a short subset (about 2 minutes)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.planning.gap_files import read_gap_file  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data" / "gap").resolve()
ORLIB_SMALL = [f"orlib/gap{k}.txt" for k in range(1, 13)]
ORLIB_LARGE = [f"orlib/gap{c}.txt" for c in "abcd"]


@dataclass
class Run:
    group: str  # which target it counts against
    file: str
    sense: str
    time_limit: float
    only: tuple[str, ...] = ()  # the problems of the file to solve (--quick); empty: all


def plan(quick: bool, large_limit: float) -> list[Run]:
    yagiura = sorted(p.name for p in (DATA / "yagiura2004").glob("*.txt"))
    upto400 = [f for f in yagiura if int(_jobs(f)) <= 400]
    larger = [f for f in yagiura if int(_jobs(f)) > 400]
    if quick:
        return ([Run("gap1-12", f, s, 1.0) for f in ("orlib/gap1.txt", "orlib/gap12.txt") for s in ("max", "min")]
                + [Run("gapa-d", "orlib/gapa.txt", "min", 10.0, ("a20200",)),
                   Run("gapa-d", "orlib/gapd.txt", "min", 10.0, ("d10100", "d20100"))]
                + [Run("yagiura<=400", f"yagiura2004/{f}", "min", 20.0) for f in ("d20400.txt", "e40400.txt")])
    return ([Run("gap1-12", f, s, 1.0) for f in ORLIB_SMALL for s in ("max", "min")]
            + [Run("gapa-d", f, "min", 10.0) for f in ORLIB_LARGE]
            + [Run("yagiura<=400", f"yagiura2004/{f}", "min", 20.0) for f in upto400]
            + [Run("yagiura>400", f"yagiura2004/{f}", "min", large_limit) for f in larger])


def _jobs(file_name: str) -> str:
    # d201600 -> 1600: type letter, agents (2 digits, or 1 for 5), jobs; read the file to be sure
    return str(read_gap_file(DATA / "yagiura2004" / file_name)[0].jobs)


def references() -> dict[tuple[str, str], dict]:
    with open(DATA / "optima.tsv", newline="") as f:
        return {(r["instance"], r["sense"]): r for r in csv.DictReader(f, delimiter="\t")}


def check(problem, assignment: list[int], sense: str) -> int:
    """The value of an answer recomputed from the file; raises if it breaks a rule."""
    if assignment is None or len(assignment) != problem.jobs:
        raise AssertionError(f"{problem.name}: no complete assignment")
    load = [0] * problem.agents
    value = 0
    for j, i in enumerate(assignment):
        load[i] += problem.weight[i][j]
        value += problem.cost[i][j]
    over = [i for i in range(problem.agents) if load[i] > problem.capacity[i]]
    if over:
        raise AssertionError(f"{problem.name}: agents {over} over capacity")
    return value


def gap_percent(value: int, ref: int, sense: str) -> float:
    """How much worse than the reference, in % (0 = as good; negative = better than published)."""
    return 100.0 * ((value - ref) if sense == "min" else (ref - value)) / abs(ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short subset")
    ap.add_argument("--large-limit", type=float, default=60.0, help="seconds per Yagiura instance over 400 jobs")
    ap.add_argument("--skip-large", action="store_true", help="leave out Yagiura's instances over 400 jobs")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    runs = [r for r in plan(args.quick, args.large_limit) if not (args.skip_large and r.group == "yagiura>400")]
    refs = references()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(other work shares it); workers {args.workers}; command: python -m sewnet.cli plan gap FILE --json")
    print(f"{'problem':<10} {'sense':<5} {'value':>8} {'reference':>14} {'gap %':>7} {'best at':>8} "
          f"{'seconds':>8} {'status':<9} target")
    rows = []
    started = time.perf_counter()
    for run in runs:
        path = DATA / run.file
        cmd = [sys.executable, "-m", "sewnet.cli", "plan", "gap", str(path), "--sense", run.sense,
               "--time-limit", str(run.time_limit), "--workers", str(args.workers), "--json"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t = time.perf_counter()
        for name in run.only:
            cmd += ["--problem", name]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
        answers = json.loads(out.stdout)["problems"]
        wall = time.perf_counter() - t
        problems = {p.name: p for p in read_gap_file(path)}
        for a in answers:
            p = problems[a["name"]]
            ref = refs[(a["name"], run.sense)]
            value = check(p, a["assignment"], run.sense) if a["assignment"] is not None else None
            if value is not None and value != a["value"]:
                raise AssertionError(f"{a['name']}: the CLI says {a['value']}, the assignment costs {value}")
            g = None if value is None else gap_percent(value, int(ref["value"]), run.sense)
            best_at = a["best_at"] if a["best_at"] is not None else a["seconds"]
            if run.group == "gap1-12":
                ok = g is not None and g <= 0 and best_at < 1.0
            elif run.group == "gapa-d":
                ok = g is not None and g <= 1.0 and a["seconds"] <= 10.5
            elif run.group == "yagiura<=400":
                ok = g is not None and g <= 2.0 and a["seconds"] <= 20.5
            else:
                ok = None
            rows.append((run, a, g, ok, best_at))
            refs_txt = f"{ref['value']} {'opt' if ref['status'] == 'optimal' else 'best'}"
            print(f"{a['name']:<10} {run.sense:<5} {str(a['value']):>8} {refs_txt:>14} "
                  f"{'-' if g is None else f'{g:.3f}':>7} {best_at:8.2f} {a['seconds']:8.2f} {a['status']:<9} "
                  f"{'' if ok is None else ('ok' if ok else 'MISS')}", flush=True)
        print(f"  ({run.file} {run.sense}: {len(answers)} problems, {wall:.1f} s with the process start)", flush=True)
    print()
    print(f"summary ({time.perf_counter() - started:.0f} s in all; load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
    for group, target in (("gap1-12", "the optimum in under 1 s"), ("gapa-d", "within 1 % in 10 s"),
                          ("yagiura<=400", "within 2 % in 20 s"), ("yagiura>400", f"no target ({args.large_limit:.0f} s)")):
        mine = [r for r in rows if r[0].group == group]
        if not mine:
            continue
        gaps = [r[2] for r in mine if r[2] is not None]
        met = sum(1 for r in mine if r[3])
        proven = sum(1 for r in mine if r[1]["status"] == "optimal")
        worst = max(mine, key=lambda r: (r[2] if r[2] is not None else 1e9))
        line = (f"  {group:<13} {target:<24} {len(mine)} problems, worst gap {max(gaps):.3f} % "
                f"({worst[1]['name']} {worst[0].sense}), mean gap {sum(gaps) / len(gaps):.3f} %, "
                f"slowest best-at {max(r[4] for r in mine):.2f} s, proven optimal {proven}")
        if group != "yagiura>400":
            line += f"; target met {met}/{len(mine)}"
        print(line)
        for r in mine:
            if r[3] is False:
                print(f"    miss: {r[1]['name']} {r[0].sense}: value {r[1]['value']}, gap "
                      f"{'-' if r[2] is None else f'{r[2]:.3f} %'}, best at {r[4]:.2f} s, {r[1]['seconds']:.2f} s")


if __name__ == "__main__":
    main()
