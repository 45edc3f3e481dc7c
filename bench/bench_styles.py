"""My Style Lab's figures on the shopper simulator (issue 9 §5): 50,000 shoppers, 20,000 products,
1,000,000 purchases over 16 weeks. Trains on all weeks but the last and scores the last week:
MAP@12 and recall@100 for the two-stage recommender, the time-decayed popularity baseline and
ALS alone, their ratio to popularity, training time and memory (the process's peak resident set
while a model trains, and how much training added to it; "lists s" is the time to make every
shopper's list of 100); then the recommender's own time per call in this process (a known
shopper, a kiosk session after a quiz), the part of an API request's budget the model takes.

Run: .venv/bin/python bench/bench_styles.py [--shoppers 50000 --products 20000 --purchases 1000000 --weeks 16]
Targets (issue 9): MAP@12 at least 1.5 x popularity; training under 5 minutes on this machine.
Sections are functions taking the market and the evaluation, so more (the API's latency at a fixed
rate) can be appended to SECTIONS."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.styles.evaluate import MODELS, Evaluation, evaluate  # noqa: E402
from hub.styles.recommender import Preferences  # noqa: E402
from simulators.shoppers import MarketSpec, SimulatedMarket, simulate  # noqa: E402

TARGET_RATIO = 1.5
TARGET_TRAIN_S = 300.0


def build(args) -> SimulatedMarket:
    spec = MarketSpec(shoppers=args.shoppers, products=args.products, purchases=args.purchases,
                      weeks=args.weeks, seed=args.seed)
    started = time.perf_counter()
    sim = simulate(spec)
    tx = sim.market.transactions
    print(f"simulated market: {len(sim.market.customers):,} shoppers, {len(sim.market.articles):,} products, "
          f"{len(tx):,} purchases from {tx['t_dat'].min():%Y-%m-%d} to {tx['t_dat'].max():%Y-%m-%d} "
          f"({time.perf_counter() - started:.1f} s)")
    return sim


def offline(sim: SimulatedMarket, args) -> Evaluation:
    last = {}

    def progress(model, stage, fraction):
        if last.get(model) != stage:
            last[model] = stage
            print(f"  {model}: {stage}", flush=True)

    ev = evaluate(sim.market, k=12, seed=args.seed, progress=progress)
    print(f"\ntrained before {ev.split}, scored the week from {ev.split}: {ev.shoppers:,} shoppers bought "
          f"({ev.new_shoppers:,} with no earlier purchase), {ev.train_purchases:,} purchases to train on, "
          f"{ev.test_purchases:,} to score")
    print(f"{'model':<14}{'MAP@12':>10}{'recall@100':>12}{'x popularity':>14}{'train s':>10}{'lists s':>10}"
          f"{'peak MB':>10}{'added MB':>10}")
    for name in MODELS:
        m = ev.models[name]
        print(f"{name:<14}{m.map_at_k:>10.5f}{m.recall_at_100:>12.4f}{ev.ratio(name):>14.2f}"
              f"{m.train_seconds:>10.1f}{m.recommend_seconds:>10.1f}{m.peak_memory_mb:>10.0f}"
              f"{m.added_memory_mb:>10.0f}")
    rec = ev.models["recommender"]
    print(f"target MAP@12 >= {TARGET_RATIO} x popularity: {ev.ratio('recommender'):.2f} "
          f"({'met' if ev.ratio('recommender') >= TARGET_RATIO else 'MISSED'}); "
          f"target training < {TARGET_TRAIN_S:.0f} s: {rec.train_seconds:.1f} s "
          f"({'met' if rec.train_seconds < TARGET_TRAIN_S else 'MISSED'})")
    return ev


def _percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, max {max(samples) * 1000:.2f} ms"


def model_latency(sim: SimulatedMarket, ev: Evaluation, args, calls: int = 2000) -> None:
    """recommend() for known shoppers (first call each: nothing cached) and for_session() after a
    16-card quiz, timed in this process."""
    model = ev.recommender
    rng = random.Random(args.seed)
    tx = sim.market.until(ev.split).transactions
    shoppers = rng.sample(sorted(tx["customer_id"].unique()), min(calls, tx["customer_id"].nunique()))
    known = []
    for c in shoppers:
        started = time.perf_counter()
        model.recommend(c, 12)
        known.append(time.perf_counter() - started)
    cards = model.quiz_cards(16, seed=args.seed)
    seasons = (None, "spring", "summer", "autumn", "winter")
    session = []
    for n in range(calls):
        liked = tuple(rng.sample(cards, 4))
        prefs = Preferences(liked=liked, skipped=tuple(c for c in cards if c not in liked)[:8],
                            season=seasons[n % len(seasons)], budget_krw=(10_000, 60_000) if n % 2 else None)
        started = time.perf_counter()
        model.for_session(prefs, 12)
        session.append(time.perf_counter() - started)
    print(f"\nrecommend(), known shopper, in process: {_percentiles(known)}")
    print(f"for_session(), quiz + colour + budget, in process: {_percentiles(session)}")


SECTIONS = [model_latency]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shoppers", type=int, default=50_000)
    ap.add_argument("--products", type=int, default=20_000)
    ap.add_argument("--purchases", type=int, default=1_000_000)
    ap.add_argument("--weeks", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sim = build(args)
    ev = offline(sim, args)
    for section in SECTIONS:
        section(sim, ev, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
