"""`sewnet styles evaluate` as a person runs it: the three H&M files of a simulated market give
MAP@12 and recall@100 for the recommender and the popularity baseline and their ratio; a bad file
is refused with its line and reason, exit 2; an unknown kind for import is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simulators.shoppers import MarketSpec, simulate

ROOT = Path(__file__).resolve().parents[2]


def sewnet(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "sewnet.cli", "styles", *args], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=600)


def test_evaluate_prints_both_models_and_refuses_a_bad_file(tmp_path):
    a, c, t = simulate(MarketSpec(shoppers=800, products=300, purchases=10_000, weeks=6, seed=3)).write(tmp_path)
    run = sewnet("evaluate", "--articles", str(a), "--customers", str(c), "--transactions", str(t), tmp=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "MAP@12" in run.stdout and "recall@100" in run.stdout and "×" in run.stdout
    lines = t.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[0], "2026-13-01", 1)
    t.write_text("\n".join(lines) + "\n")
    run = sewnet("evaluate", "--articles", str(a), "--customers", str(c), "--transactions", str(t),
                 "--split-date", "2026-08-03", tmp=tmp_path)
    assert run.returncode == 2 and "transactions_train.csv line 4, t_dat" in run.stdout and "4행" in run.stdout, run.stdout
    assert sewnet("import", "socks", str(a), tmp=tmp_path).returncode == 2
