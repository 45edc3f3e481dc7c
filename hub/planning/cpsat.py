"""The solver core the planner's problems share: one CP-SAT solve with a hint and limits, and a
large-neighbourhood search (LNS) around an incumbent.

A problem brings four plain functions (see :class:`LnsProblem`) and no framework:

- ``build(incumbent, relaxed) -> Built``: a CP-SAT model, minimising the problem's cost, of the
  whole problem (``relaxed=None``) or of one neighbourhood: only the decisions ``relaxed`` frees
  may change, the rest keep the incumbent's values; hinted with the incumbent;
- ``neighbourhoods(rng, incumbent, size, count)``: up to ``count`` neighbourhoods of about
  ``size`` free decisions each (the problem decides what a neighbourhood is: some workshops,
  some bundles, an exchange chain);
- ``merge(incumbent, relaxed, solution)``: the incumbent with the freed decisions taken from a
  neighbourhood's solution;
- ``value(solution) -> int | None``: the cost of a full solution, None when it breaks a rule
  (the whole-problem model's objective must be this cost).

:func:`optimise` runs the recipe: a whole-problem solve hinted with the caller's start (it
proves small problems optimal and gives a bound), then LNS until proof, budget or wall clock.
:func:`solve_built` runs one model. Every objective here is minimised; a problem that maximises
negates its profits.

Determinism. CP-SAT repeats itself for a given model, seed and parameters only when the wall
clock does not cut its search, and with several workers only under ``interleave_search`` (its
own deterministic loop, which its parameter comment calls experimental). So:

- with ``Limits.work`` set, every CP-SAT call is limited by CP-SAT's deterministic time
  (``max_deterministic_time``: counted operations, scaled to about seconds), the whole-problem
  solve interleaves its workers, LNS sub-solves run one worker each, a round's results are
  merged in a fixed order whatever thread ends first, and the LNS stops when the deterministic
  time summed over all calls reaches the budget. Same input, seed and workers give the same
  answer on this build of OR-Tools, unless the wall-clock cap (``time_limit_s``) fires first:
  the outcome says which limit stopped it (``stopped_by``, ``reproducible``). Nothing is
  promised across OR-Tools versions or CPUs.
- without ``work`` the wall clock decides how far the search gets: a run that ends with a proof
  (optimal, infeasible) repeats its value; any other run may return a different answer under a
  different machine load. LNS sub-solves are still capped by deterministic time, so only the
  number of rounds varies.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Generic, Optional, Protocol, TypeVar

from ortools.sat.python import cp_model

log = logging.getLogger(__name__)

S = TypeVar("S")  # a full solution of the problem
N = TypeVar("N")  # a neighbourhood: which decisions are free (the problem decides its shape)

STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.UNKNOWN: "unknown",
    cp_model.MODEL_INVALID: "invalid",
}


@dataclass(frozen=True)
class Limits:
    """How long and how a solve may run.

    time_limit_s: wall-clock cap on the whole solve (start, CP-SAT, LNS).
    workers: CP-SAT workers for the whole-problem solve; LNS neighbourhoods solved side by side.
    seed: CP-SAT's random seed and the LNS's choice of neighbourhoods.
    work: a deterministic budget in CP-SAT deterministic-time units (about seconds on a
      reference machine); set it for answers that repeat exactly (see the module's docstring).
    full_share: the share of the budget the whole-problem solve gets before the LNS starts.
    """

    time_limit_s: float = 10.0
    workers: int = 2
    seed: int = 0
    work: Optional[float] = None
    full_share: float = 0.1

    def __post_init__(self) -> None:
        if not (self.time_limit_s > 0 and math.isfinite(self.time_limit_s)):
            raise ValueError("time_limit_s must be a positive number of seconds")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.work is not None and not (self.work > 0 and math.isfinite(self.work)):
            raise ValueError("work must be a positive budget")
        if not 0 < self.full_share <= 1:
            raise ValueError("full_share must be in (0, 1]")


@dataclass
class Built(Generic[S]):
    """A CP-SAT model (objective set and minimised, hint added) and how to read its solution."""

    model: cp_model.CpModel
    read: Callable[[list[int]], S]  # values of all the model's variables, by index -> a solution
    parameters: dict = field(default_factory=dict)  # extra CP-SAT parameters for this model


@dataclass
class Solved(Generic[S]):
    status: str  # optimal | feasible | infeasible | unknown | invalid
    solution: Optional[S]
    value: Optional[int]
    bound: Optional[int]
    seconds: float
    work: float  # CP-SAT deterministic time used


class _Heard(cp_model.CpSolverSolutionCallback):
    def __init__(self, on_value: Optional[Callable[[int], None]],
                 on_solution: Optional[Callable[[int, list[int]], None]]) -> None:
        super().__init__()
        self.on_value = on_value
        self.on_solution = on_solution

    def on_solution_callback(self) -> None:
        value = round(self.objective_value)
        if self.on_value is not None:
            self.on_value(value)
        if self.on_solution is not None:
            self.on_solution(value, list(self.response_proto.solution))


def solve_built(built: Built[S], *, seconds: float, workers: int = 1, seed: int = 0,
                work: Optional[float] = None, on_value: Optional[Callable[[int], None]] = None,
                on_solution: Optional[Callable[[int, S], None]] = None,
                on_bound: Optional[Callable[[int], None]] = None,
                solver: Optional[cp_model.CpSolver] = None) -> Solved[S]:
    """One CP-SAT solve under a wall-clock cap (and a deterministic one when ``work`` is given).

    on_value(value) hears the objective of each solution as CP-SAT finds it; on_solution(value,
    solution) the solution too; on_bound(bound) each better bound. ``solver`` lets a caller
    keep the solver to stop it from another thread (``stop_search``)."""
    solver = solver if solver is not None else cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = max(0.001, seconds)
    prm.num_workers = workers
    prm.random_seed = seed
    if work is not None:
        prm.max_deterministic_time = max(0.001, work)
        if workers > 1:
            prm.interleave_search = True
    for k, v in built.parameters.items():
        setattr(prm, k, v)
    if on_bound is not None:
        solver.best_bound_callback = lambda b: on_bound(math.ceil(b - 1e-6))
    heard = None
    if on_value is not None or on_solution is not None:
        heard = _Heard(on_value, None if on_solution is None else (lambda v, vals: on_solution(v, built.read(vals))))
    t = time.perf_counter()
    status = solver.solve(built.model, heard)
    seconds_used = time.perf_counter() - t
    name = STATUS.get(status, "unknown")
    if name in ("optimal", "feasible"):
        solution = built.read(list(solver.response_proto.solution))
        value = round(solver.objective_value)
        bound = math.ceil(solver.best_objective_bound - 1e-6)
    else:
        solution, value, bound = None, None, None
    return Solved(name, solution, value, bound, seconds_used, solver.deterministic_time)


class LnsProblem(Protocol[S, N]):
    """What :func:`optimise` needs from a problem (see the module's docstring)."""

    def build(self, incumbent: Optional[S], relaxed: Optional[N]) -> Built[S]:
        """The whole problem (relaxed=None) or only ``relaxed`` free and the rest fixed to
        ``incumbent``; hinted with ``incumbent`` when given; its solution reads as a full one."""
        ...

    def neighbourhoods(self, rng: random.Random, incumbent: S, size: int, count: int) -> list[N]:
        """Up to ``count`` neighbourhoods of about ``size`` free decisions; [] when there are none."""
        ...

    def merge(self, incumbent: S, relaxed: N, solution: S) -> S:
        """``incumbent`` with the decisions ``relaxed`` frees taken from ``solution``."""
        ...

    def value(self, solution: S) -> Optional[int]:
        """The cost of a full solution; None when it breaks a rule."""
        ...


@dataclass
class Outcome(Generic[S]):
    """What a solve found: the best solution, its value, the best proven bound, why it stopped."""

    status: str  # optimal | feasible | infeasible | unknown
    solution: Optional[S]
    value: Optional[int]
    bound: Optional[int]
    seconds: float
    work: float  # CP-SAT deterministic time, summed over all calls
    stopped_by: str  # proof | work | time | neighbourhoods
    rounds: int = 0  # LNS rounds
    improvements: int = 0  # LNS rounds that improved the incumbent
    history: list[tuple[float, int]] = field(default_factory=list)  # (seconds, value) per improvement

    @property
    def reproducible(self) -> bool:
        """True when no wall clock decided the answer (see the module's docstring)."""
        return self.stopped_by in ("proof", "work", "neighbourhoods")


class _Budget:
    def __init__(self, limits: Limits, started: float) -> None:
        self.limits = limits
        self.deadline = started + limits.time_limit_s
        self.work_used = 0.0

    def seconds_left(self) -> float:
        return self.deadline - time.perf_counter()

    def work_left(self) -> Optional[float]:
        return None if self.limits.work is None else self.limits.work - self.work_used

    def spent(self) -> Optional[str]:
        if self.limits.work is not None and self.work_used >= self.limits.work:
            return "work"
        if self.seconds_left() <= 0:
            return "time"
        return None


def _max(a: Optional[int], b: Optional[int]) -> Optional[int]:
    return b if a is None else a if b is None else max(a, b)


def optimise(problem: LnsProblem[S, N], limits: Limits, *, start: Optional[S] = None,
             bound: Optional[int] = None, side_by_side: bool = False, start_size: int = 20,
             max_size: Optional[int] = None, sub_work: float = 0.1,
             on_improve: Optional[Callable[[float, int], None]] = None,
             started: Optional[float] = None) -> Outcome[S]:
    """CP-SAT on the whole problem hinted with ``start``, and LNS around the best solution, until
    the solution is proven optimal, the budget is spent or the wall clock runs out.

    One after the other by default: the whole problem gets ``limits.full_share`` of the budget,
    then the LNS gets the rest with ``workers`` neighbourhoods side by side. With
    ``side_by_side`` (and ``workers`` >= 2, and no ``work`` budget: it cannot be reproducible)
    the whole-problem solve runs for the whole budget on one worker while the LNS uses the
    others; they trade solutions and bounds as they go, so a small problem gets both the LNS's
    quick improvements and CP-SAT's proof.

    bound: a lower bound the caller already knows (a relaxation); kept when CP-SAT's is weaker.
    start_size: free decisions per neighbourhood at first (then adapted);
    max_size: the most free decisions a neighbourhood may have (None: no cap);
    sub_work: deterministic-time cap of one neighbourhood's solve;
    on_improve(seconds, value): hears every better value;
    started: perf_counter() when the caller started (its own preparation counts against the limit).
    """
    started = time.perf_counter() if started is None else started
    budget = _Budget(limits, started)
    shared = _Shared(bound)
    lock = threading.Lock()

    def improved(value: int) -> None:
        with lock:
            if shared.history and value >= shared.history[-1][1]:
                return
            seconds = time.perf_counter() - started
            shared.history.append((seconds, value))
        if on_improve is not None:
            on_improve(seconds, value)

    def outcome(status: str, solution, value, bound, stopped_by: str, lns=None) -> Outcome[S]:
        return Outcome(status, solution, value, bound, time.perf_counter() - started, budget.work_used, stopped_by,
                       rounds=lns.rounds if lns else 0, improvements=lns.improvements if lns else 0,
                       history=shared.history)

    best = start
    best_value = problem.value(start) if start is not None else None
    if best_value is None:
        best = None
    else:
        improved(best_value)
    together = side_by_side and limits.workers >= 2 and limits.work is None
    if together:
        return _side_by_side(problem, limits, budget, shared, best, best_value, improved, outcome,
                             start_size=start_size, max_size=max_size, sub_work=sub_work)
    full = solve_built(problem.build(best, None), seconds=budget.seconds_left() * limits.full_share,
                       workers=limits.workers, seed=limits.seed,
                       work=None if limits.work is None else limits.work * limits.full_share, on_value=improved)
    budget.work_used += full.work
    bound = _max(shared.bound, full.bound)
    if full.status == "infeasible":
        return outcome("infeasible", None, None, None, "proof")
    if full.solution is not None and (best_value is None or full.value < best_value):
        best, best_value = full.solution, full.value
    if best is None and not budget.spent():
        # Neither the start nor the first solve found a solution; LNS needs one to stand on, so
        # the whole problem gets what is left.
        again = solve_built(problem.build(None, None), seconds=budget.seconds_left(), workers=limits.workers,
                            seed=limits.seed, work=budget.work_left(), on_value=improved)
        budget.work_used += again.work
        if again.status == "infeasible":
            return outcome("infeasible", None, None, None, "proof")
        best, best_value, bound = again.solution, again.value, _max(bound, again.bound)
    if best is None:
        return outcome("unknown", None, None, None, budget.spent() or "time")
    if full.status == "optimal" or (bound is not None and best_value <= bound):
        return outcome("optimal", best, best_value, best_value, "proof")
    shared.bound = bound
    lns = _lns(problem, best, best_value, budget, shared, lanes=limits.workers, start_size=start_size,
               max_size=max_size, sub_work=sub_work, on_improve=improved)
    if shared.bound is not None and lns.value <= shared.bound:
        return outcome("optimal", lns.solution, lns.value, lns.value, "proof", lns)
    return outcome("feasible", lns.solution, lns.value, shared.bound, lns.stopped_by, lns)


@dataclass
class _Shared(Generic[S]):
    """What the whole-problem solve and the LNS tell each other when they run side by side."""

    bound: Optional[int]
    history: list[tuple[float, int]] = field(default_factory=list)
    offered: Optional[tuple[int, S]] = None  # the whole-problem solve's latest solution
    closed: bool = False  # the whole-problem solve has ended (proof or limit)


def _side_by_side(problem, limits: Limits, budget: _Budget, shared: _Shared, best, best_value, improved, outcome,
                  **lns_options) -> Outcome:
    solver = cp_model.CpSolver()
    lock = threading.Lock()

    def offered(value: int, solution) -> None:
        with lock:
            shared.offered = (value, solution)
        improved(value)

    def bounded(b: int) -> None:
        with lock:
            shared.bound = _max(shared.bound, b)

    ended: dict = {}

    def whole() -> None:
        try:
            ended["full"] = solve_built(problem.build(best, None), seconds=budget.seconds_left(),
                                        workers=limits.workers - 1, seed=limits.seed, on_solution=offered,
                                        on_bound=bounded, solver=solver)
        finally:
            shared.closed = True

    thread = threading.Thread(target=whole, name="cp-sat whole problem", daemon=True)
    thread.start()
    lns = None
    try:
        while best is None and not shared.closed and not budget.spent():
            time.sleep(0.01)  # LNS needs a solution to stand on: wait for CP-SAT's first
            with lock:
                if shared.offered is not None:
                    best_value, best = shared.offered
        if best is not None and not shared.closed:
            lns = _lns(problem, best, best_value, budget, shared, lanes=limits.workers - 1, lock=lock, on_improve=improved,
                       **lns_options)
    finally:
        if lns is None or lns.stopped_by != "neighbourhoods":
            solver.stop_search()  # otherwise the LNS had nothing to free: let CP-SAT finish its proof
        thread.join()
    full: Solved = ended.get("full")
    if full is not None:
        budget.work_used += full.work
        shared.bound = _max(shared.bound, full.bound)
        if full.status == "infeasible":
            return outcome("infeasible", None, None, None, "proof")
    candidates = [(v, s) for v, s in ([(lns.value, lns.solution)] if lns else []) + [(best_value, best)]
                  + ([(full.value, full.solution)] if full is not None and full.solution is not None else [])
                  if s is not None]
    if not candidates:
        return outcome("unknown", None, None, None, budget.spent() or "time")
    value, solution = min(candidates, key=lambda c: c[0])
    if (full is not None and full.status == "optimal" and value <= full.value) or (
            shared.bound is not None and value <= shared.bound):
        return outcome("optimal", solution, value, value, "proof", lns)
    return outcome("feasible", solution, value, shared.bound, lns.stopped_by if lns else (budget.spent() or "time"), lns)


@dataclass
class _LnsResult(Generic[S]):
    solution: S
    value: int
    stopped_by: str
    rounds: int
    improvements: int


def _lns(problem: LnsProblem[S, N], incumbent: S, value: int, budget: _Budget, shared: _Shared, *, lanes: int,
         start_size: int, max_size: Optional[int], sub_work: float, on_improve: Callable[[int], None],
         lock: Optional[threading.Lock] = None) -> _LnsResult[S]:
    """Free a few decisions at a time, re-solve them (exactly, or as well as ``sub_work``
    allows), keep every improvement; ``lanes`` neighbourhoods per round, side by side. The size
    adapts: it grows while the sub-solves close their neighbourhood (optimal, or infeasible
    when the model demands an improvement) without finding anything (too easy), and shrinks
    when they run out of time (too hard). With a whole-problem solve running beside it
    (``lock`` given), each round also takes that solve's better solutions and stops when that
    solve has ended."""
    limits = budget.limits
    rng = random.Random(limits.seed)
    size = float(start_size)
    rounds = improvements = 0
    stopped_by = "time"
    with ThreadPoolExecutor(max_workers=lanes) as pool:
        while True:
            if lock is not None:
                with lock:
                    offered, closed = shared.offered, shared.closed
                if offered is not None and offered[0] < value:
                    value, incumbent = offered
                if closed:  # by its proof, or by the same wall clock
                    stopped_by = budget.spent() or "proof"
                    break
            spent = budget.spent()
            if spent:
                stopped_by = spent
                break
            if shared.bound is not None and value <= shared.bound:
                stopped_by = "proof"
                break
            groups = problem.neighbourhoods(rng, incumbent, int(size), lanes)
            if not groups:
                stopped_by = "neighbourhoods"
                break
            models = [problem.build(incumbent, g) for g in groups]
            left = budget.work_left()
            work_each = sub_work if left is None else max(0.001, min(sub_work, left / len(models)))
            seconds_each = max(0.01, budget.seconds_left())
            seeds = [rng.randrange(2**31) for _ in models]
            results = list(pool.map(lambda b_s: solve_built(b_s[0], seconds=seconds_each, workers=1, seed=b_s[1],
                                                            work=work_each), zip(models, seeds)))
            rounds += 1
            budget.work_used += sum(r.work for r in results)
            gained = False
            for g, r in zip(groups, results):  # in order, whichever thread ended first
                if r.solution is None:
                    continue
                # Each neighbourhood was solved against the same incumbent; its solution is taken
                # on top of those already taken only if the whole still keeps every rule and
                # costs less (neighbourhoods may overlap).
                merged = problem.merge(incumbent, g, r.solution)
                candidate = problem.value(merged)
                if candidate is not None and candidate < value:
                    incumbent, value = merged, candidate
                    gained = True
                    on_improve(value)
            improvements += gained
            log.debug("lns round %d size %d: %s -> %d", rounds, int(size),
                      " ".join(f"{r.status[:3]}/{r.seconds:.2f}s" for r in results), value)
            closed = [r.status in ("optimal", "infeasible") for r in results]
            if all(closed) and not gained:
                size = size * 1.15 + 1
            elif not all(closed):
                size = max(4.0, size / 1.15)
            if max_size is not None:
                size = min(size, float(max_size))
    return _LnsResult(incumbent, value, stopped_by, rounds, improvements)
