"""Offline evaluation in time: train on what came before a day, score the week that follows.

The recommender, the time-decayed popularity baseline and ALS alone are each trained on
`market.until(split)` only; the truth is every purchase in `[split, split + 7 days)`. MAP@k is the
H&M competition's (hub.styles.metrics), over every shopper who bought in that week, including
those the models have never seen (they get each model's answer for a stranger). Recall@100 says
how much of the week the first hundred of each list would have covered.

`run_cli` is the body of `sewnet styles evaluate`.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from hub.styles.market import Market, MarketFileError, load
from hub.styles.metrics import map_at_k, recall_at_k
from hub.styles.recommender import AlsAlone, Popularity, Recommender

MODELS = ("recommender", "popularity", "als")
LABELS = {"recommender": "추천기 recommender (two-stage)", "popularity": "인기순 popularity (baseline)",
          "als": "ALS 단독 ALS alone"}
RECALL_AT = 100
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class ModelScore:
    map_at_k: float
    recall_at_100: float
    train_seconds: float
    recommend_seconds: float
    peak_memory_mb: float        # the process's resident memory at its highest while training
    added_memory_mb: float       # that peak less the resident memory when training started


@dataclass(frozen=True)
class Evaluation:
    split: date
    k: int
    train_purchases: int
    test_purchases: int
    shoppers: int                # who bought in the test week
    new_shoppers: int            # of them, with no purchase before the split
    models: dict[str, ModelScore] = field(default_factory=dict)
    recommender: Recommender | None = field(default=None, repr=False, compare=False)  # the one trained

    def ratio(self, name: str) -> float:
        """MAP@k of a model over the popularity baseline's."""
        base = self.models["popularity"].map_at_k
        return self.models[name].map_at_k / base if base > 0 else float("inf")

    @property
    def ratios(self) -> dict[str, float]:
        return {name: self.ratio(name) for name in self.models}


class EvaluationError(ValueError):
    """The market cannot be evaluated at this split (a reason in Korean and English)."""

    def __init__(self, ko: str, en: str):
        super().__init__(en)
        self.ko, self.en = ko, en


class PeakMemory:
    """Samples the process's resident set while a block runs and keeps the highest."""

    def __init__(self, every: float = 0.02):
        self.every = every
        self.peak = 0
        self.start = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(self.every)

    def __enter__(self):
        self.peak = self.start = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def added_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def default_split(market: Market) -> date:
    """The last week of the data is the test week."""
    if len(market.transactions) == 0:
        raise EvaluationError("구매 기록이 없습니다", "the transactions file holds no purchase")
    return pd.Timestamp(market.transactions["t_dat"].max()).date() - timedelta(days=6)


def evaluate(market: Market, split: date | None = None, k: int = 12, *, seed: int = 0,
             progress: Callable[[str, str, float], None] | None = None) -> Evaluation:
    """Train the three models on `market.until(split)` and score them on the week after.
    `progress(model, stage, fraction)` is told how training goes."""
    say = progress or (lambda model, stage, fraction: None)
    split = split or default_split(market)
    train = market.until(split)
    test = market.between(split, split + WEEK)
    if len(train.transactions) == 0:
        raise EvaluationError(f"{split} 이전의 구매가 없어 학습할 수 없습니다",
                              f"no purchase before {split} to train on")
    if len(test.transactions) == 0:
        raise EvaluationError(f"{split}부터 7일 동안의 구매가 없어 평가할 수 없습니다",
                              f"no purchase in the week from {split} to evaluate on")
    truth = {c: set(map(int, g)) for c, g in test.transactions.groupby("customer_id")["article_id"]}
    shoppers = sorted(truth)
    seen = set(train.transactions["customer_id"].unique())

    scores: dict[str, ModelScore] = {}
    trained: dict[str, object] = {}

    def score(name: str, fit: Callable[[], object], lists: Callable[[object], dict[str, list[int]]]) -> None:
        say(name, "training", 0.0)
        with PeakMemory() as memory:
            started = time.perf_counter()
            model = trained[name] = fit()
            seconds = time.perf_counter() - started
        say(name, "recommending", 1.0)
        started = time.perf_counter()
        recs = lists(model)
        recommending = time.perf_counter() - started
        scores[name] = ModelScore(map_at_k=map_at_k(recs, truth, k=k), recall_at_100=recall_at_k(recs, truth, k=RECALL_AT),
                                  train_seconds=seconds, recommend_seconds=recommending,
                                  peak_memory_mb=memory.peak_mb, added_memory_mb=memory.added_mb)

    score("recommender",
          lambda: Recommender.fit(train, seed=seed, progress=lambda stage, f: say("recommender", stage, f)),
          lambda m: m.recommend_many(shoppers, k=max(k, RECALL_AT)))
    score("popularity", lambda: Popularity.fit(train, day=split),
          lambda m: m.recommend(shoppers, k=max(k, RECALL_AT)))
    score("als", lambda: AlsAlone.fit(train, seed=seed), lambda m: m.recommend_many(shoppers, k=max(k, RECALL_AT)))
    return Evaluation(split=split, k=k, train_purchases=len(train.transactions), test_purchases=len(test.transactions),
                      shoppers=len(shoppers), new_shoppers=sum(1 for c in shoppers if c not in seen), models=scores,
                      recommender=trained["recommender"])


def run_cli(articles: Path, customers: Path, transactions: Path, split_date: date | str | None = None,
            k: int = 12, *, console=None) -> int:
    """`sewnet styles evaluate`: load the three H&M files, evaluate, print a table. Exit codes:
    0 done; 2 a file, the split date or k was refused (the reasons are printed)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    out = console or Console()
    if isinstance(split_date, str):
        try:
            split_date = date.fromisoformat(split_date)
        except ValueError:
            out.print(f"분할 날짜는 YYYY-MM-DD 형식이어야 합니다 / the split date must be YYYY-MM-DD, not {split_date!r}")
            return 2
    if k < 1:
        out.print(f"k는 1 이상이어야 합니다 / k must be at least 1, not {k}")
        return 2
    try:
        market = load(Path(articles), Path(customers), Path(transactions))
    except MarketFileError as e:
        out.print(f"파일을 읽을 수 없습니다 ({len(e.problems)}건) / the files were refused ({len(e.problems)} problems):")
        for p in e.problems:
            out.print(f"  {p.text_ko()}  /  {p}")
        return 2
    except OSError as e:
        out.print(f"파일을 열 수 없습니다 / cannot open a file: {e.filename or e}")
        return 2

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeElapsedColumn(), console=out, transient=True)
    tasks = {}

    def progress(model: str, stage: str, fraction: float) -> None:
        if model not in tasks:
            tasks[model] = bar.add_task(LABELS[model], total=1.0)
        bar.update(tasks[model], completed=fraction, description=f"{LABELS[model]}: {stage}")

    try:
        with bar:
            result = evaluate(market, split_date, k, progress=progress)
    except EvaluationError as e:
        out.print(f"{e.ko} / {e.en}")
        return 2

    end = result.split + WEEK - timedelta(days=1)
    table = Table(title=f"학습 ~{result.split - timedelta(days=1)}, 평가 {result.split}~{end} "
                        f"/ trained before {result.split}, scored {result.split} to {end}")
    table.add_column("모델 model")
    table.add_column(f"MAP@{k}", justify="right")
    table.add_column(f"recall@{RECALL_AT}", justify="right")
    table.add_column("인기순 대비 × popularity", justify="right")
    table.add_column("학습 초 training s", justify="right")
    table.add_column("최대 메모리 MB peak memory", justify="right")
    table.add_column("학습 중 증가 MB added by training", justify="right")
    for name in MODELS:
        m = result.models[name]
        table.add_row(LABELS[name], f"{m.map_at_k:.5f}", f"{m.recall_at_100:.4f}", f"{result.ratio(name):.2f}",
                      f"{m.train_seconds:.1f}", f"{m.peak_memory_mb:.0f}", f"{m.added_memory_mb:.0f}")
    out.print(table)
    out.print(f"구매자 {result.shoppers:,}명 (처음 산 사람 {result.new_shoppers:,}명), 학습 구매 {result.train_purchases:,}건, "
              f"평가 구매 {result.test_purchases:,}건 / {result.shoppers:,} shoppers ({result.new_shoppers:,} new), "
              f"{result.train_purchases:,} purchases to train on, {result.test_purchases:,} to score")
    return 0
