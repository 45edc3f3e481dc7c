"""The generalized assignment problem (GAP) on the shared solver core.

Jobs stand for bundles of an order, agents for workshops: each job goes to exactly one agent and
no agent exceeds its capacity, at the least cost (or the most profit). The published GAP sets
(OR-Library, Yagiura) check the core that order allocation stands on.

The recipe (the core is :mod:`hub.planning.cpsat`):

1. Lagrangian prices: relax the capacities with a price per agent (subgradient steps). This
   gives a lower bound (the LP bound in the limit) and prices that make cost comparable across
   agents of different tightness.
2. A start: Martello and Toth's regret greedy under the priced costs (and under capacity share
   alone), each polished by shift and swap moves; the best is the hint.
3. CP-SAT on the whole problem, hinted; small problems are proven optimal here.
4. LNS: a few dozen jobs linked as in an ejection chain (a job, the agents it would rather go to
   at those prices, the jobs on those agents, ...) are freed, each among its few best agents or
   where it is, and re-solved by CP-SAT under a short deterministic limit; two such
   neighbourhoods are solved side by side and every improvement is kept.

On type D (costs falling as weights rise, tight capacities) CP-SAT alone finds few improvements:
its proofs on tight knapsacks are slow even for a hundred variables. The chain neighbourhoods
are what closes most of the gap there.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Literal, Optional

import numpy as np
from ortools.sat.python import cp_model

from hub.planning.cpsat import Built, Limits, optimise
from hub.planning.gap_files import GapProblem

Sense = Literal["min", "max"]

# Up to this many agent-job pairs, CP-SAT works on the whole problem for the whole budget (on
# one worker) while the LNS runs beside it: small problems get CP-SAT's proof and the LNS's
# quick improvements. Beyond, CP-SAT gets a short first look and the LNS all the workers (on
# type D the whole-problem search finds little that the LNS does not find sooner).
SIDE_BY_SIDE_PAIRS = 1_000
# Agents each freed job may move to in an LNS neighbourhood, best priced first (its own agent
# is always allowed too). Three measured best on gapd against two and four.
CANDIDATES = 3


@dataclass(frozen=True)
class GapResult:
    """One problem's answer, in the problem's own sense (a profit when maximising)."""

    name: str
    sense: Sense
    status: str  # optimal | feasible | infeasible | unknown
    value: Optional[int]
    bound: Optional[int]  # the best value possible as far as proven (None when unknown)
    seconds: float
    assignment: Optional[tuple[int, ...]]  # agent (0-based) of each job
    stopped_by: str  # proof | work | time | neighbourhoods
    reproducible: bool  # the wall clock did not decide the answer
    start_value: Optional[int]  # the hint's value (greedy + local search)
    best_at: Optional[float] = None  # seconds into the solve when the final value was first found
    rounds: int = 0  # LNS rounds
    improvements: int = 0  # LNS rounds that improved the solution


@dataclass(frozen=True)
class Neighbourhood:
    """Jobs free to move, each among its own agents; every other job stays where it is."""

    jobs: tuple[int, ...]
    allowed: tuple[tuple[int, ...], ...]  # per free job, the agents it may go to (its own included)


class GapInstance:
    """A GAP as arrays, always minimising (a profit is kept as a negative cost); implements the
    core's ``LnsProblem`` (build, neighbourhoods, merge, value)."""

    def __init__(self, problem: GapProblem, sense: Sense = "min") -> None:
        if sense not in ("min", "max"):
            raise ValueError("sense must be 'min' or 'max'")
        self.problem = problem
        self.sense = sense
        self.cost = (1 if sense == "min" else -1) * np.asarray(problem.cost, dtype=np.int64)
        self.weight = np.asarray(problem.weight, dtype=np.int64)
        self.capacity = np.asarray(problem.capacity, dtype=np.int64)
        self.m, self.n = self.cost.shape
        self.fits = self.weight <= self.capacity[:, None]  # pairs that can ever be used
        self.placeable = bool(self.fits.any(axis=0).all())  # every job fits some agent
        # Per job, agents from best to worst; replaced by the priced order once start() has prices.
        self.by_price = np.argsort(np.where(self.fits, self.cost, np.iinfo(np.int64).max), axis=0, kind="stable")
        self._cost_list = self.cost.tolist()
        self._weight_list = self.weight.tolist()

    def external(self, value: int) -> int:
        """A value in the problem's own sense (profit when maximising)."""
        return value if self.sense == "min" else -value

    # -- solutions -----------------------------------------------------------------------------
    def loads(self, assign: np.ndarray) -> np.ndarray:
        return np.bincount(assign, weights=self.weight[assign, np.arange(self.n)],
                           minlength=self.m).astype(np.int64)

    def value(self, assign: Optional[np.ndarray]) -> Optional[int]:
        """The cost of a full assignment; None if a job has no agent or an agent is over capacity."""
        if assign is None or assign.shape != (self.n,) or assign.min() < 0 or assign.max() >= self.m:
            return None
        if np.any(self.loads(assign) > self.capacity):
            return None
        return int(self.cost[assign, np.arange(self.n)].sum())

    # -- a start -------------------------------------------------------------------------------
    def regret_greedy(self, measure: np.ndarray) -> Optional[np.ndarray]:
        """Martello and Toth's regret rule: place next the job that loses most if it does not get
        its best agent under ``measure`` (inf: never); None when a job is left with no room."""
        m, n = self.m, self.n
        f = measure.astype(np.float64)
        room = self.capacity.copy()
        assign = np.full(n, -1, dtype=np.int64)
        left = np.ones(n, dtype=bool)

        def top2(cols: np.ndarray):
            F = np.where(self.weight[:, cols] <= room[:, None], f[:, cols], np.inf)
            if m == 1:
                zeros = np.zeros(len(cols), np.int64)
                return F[0], np.full(len(cols), np.inf), zeros, zeros
            order = np.argsort(F, axis=0, kind="stable")[:2]
            at = np.arange(len(cols))
            return F[order[0], at], F[order[1], at], order[0], order[1]

        best_f, second_f, best_a, second_a = top2(np.arange(n))
        for _ in range(n):
            cols = np.flatnonzero(left)
            if np.any(np.isinf(best_f[cols])):
                return None
            regret = second_f[cols] - best_f[cols]  # inf for a job with one agent left: it goes first
            j = int(cols[np.argmax(regret)])
            i = int(best_a[j])
            assign[j] = i
            room[i] -= self.weight[i, j]
            left[j] = False
            # Only agent i lost room: a job's best two change only if i was one and no longer fits.
            stale = left & ((best_a == i) | (second_a == i)) & (self.weight[i] > room[i])
            if stale.any():
                idx = np.flatnonzero(stale)
                best_f[idx], second_f[idx], best_a[idx], second_a[idx] = top2(idx)
        return assign

    def local_search(self, assign: np.ndarray) -> np.ndarray:
        """Shift (a job to another agent) and swap (two jobs between their agents) moves, the best
        move per job, pass after pass until none pays. The number of passes is capped by size
        (not by a clock) so the same input always gives the same start."""
        assign = assign.copy()
        c, a, cap = self.cost, self.weight, self.capacity
        load = self.loads(assign)
        cols = np.arange(self.n)
        for _ in range(max(2, min(50, 4_000_000 // (self.n * self.n)))):
            moved = False
            for j in range(self.n):
                i = assign[j]
                gain = c[i, j] - c[:, j]
                ok = (a[:, j] <= cap - load) & (gain > 0)
                ok[i] = False
                if ok.any():
                    h = int(np.argmax(np.where(ok, gain, -1)))
                    load[i] -= a[i, j]
                    load[h] += a[h, j]
                    assign[j] = h
                    moved = True
            for j in range(self.n):
                i = assign[j]
                h = assign  # the agent of each other job k
                gain = (c[i, j] + c[h, cols]) - (c[h, j] + c[i, cols])
                ok = ((h != i) & (gain > 0)
                      & (load[i] - a[i, j] + a[i, cols] <= cap[i])
                      & (load[h] - a[h, cols] + a[h, j] <= cap[h]))
                if ok.any():
                    k = int(np.argmax(np.where(ok, gain, -1)))
                    hk = int(h[k])
                    load[i] += a[i, k] - a[i, j]
                    load[hk] += a[hk, j] - a[hk, k]
                    assign[j], assign[k] = hk, i
                    moved = True
            if not moved:
                break
        return assign

    def lagrangian(self, upper: float, iterations: int = 600) -> tuple[list[np.ndarray], float]:
        """Price the capacities (u >= 0 per agent, subgradient steps): each job then takes its
        cheapest agent at c + u * a. Returns the last few improving price vectors (best last) and
        the best lower bound (the LP bound in the limit). Needs every job to fit some agent."""
        c = self.cost.astype(np.float64)
        a = self.weight.astype(np.float64)
        b = self.capacity.astype(np.float64)
        never = np.where(self.fits, 0.0, np.inf)
        cols = np.arange(self.n)
        u = np.zeros(self.m)
        best, kept = -np.inf, [u.copy()]
        step, stall = 2.0, 0
        for _ in range(iterations):
            r = c + u[:, None] * a + never
            choice = np.argmin(r, axis=0)
            lower = float(r[choice, cols].sum() - u @ b)
            if lower > best + 1e-9:
                best, stall = lower, 0
                kept.append(u.copy())
            else:
                stall += 1
                if stall >= 20:
                    step, stall = step / 2, 0
                    if step < 1e-4:
                        break
            g = np.bincount(choice, weights=a[choice, cols], minlength=self.m) - b
            norm = float(g @ g)
            if norm == 0:  # every capacity exactly met by the relaxed choice: nothing to price
                break
            u = np.maximum(0.0, u + step * max(upper - lower, 1e-9) / norm * g)
        return kept[-4:], best

    def start(self) -> tuple[Optional[np.ndarray], Optional[int]]:
        """A first solution (or None) and a lower bound (or None): the regret greedy under
        capacity share alone (it finds room where prices may not) and under Lagrangian-priced
        costs, each polished by local search; the bound is the Lagrangian one."""
        if not self.placeable:
            return None, None
        share = self.weight / np.maximum(self.capacity, 1)[:, None]
        found = []
        plain = self.regret_greedy(np.where(self.fits, share, np.inf))
        if plain is not None:
            found.append(self.local_search(plain))
        upper = self.value(found[0]) if found else float(np.abs(self.cost).max(axis=0).sum())
        prices, lower = self.lagrangian(upper)
        priced = self.cost + prices[-1][:, None] * self.weight
        self.by_price = np.argsort(np.where(self.fits, priced, np.inf), axis=0, kind="stable")
        for u in reversed(prices):
            g = self.regret_greedy(np.where(self.fits, self.cost + u[:, None] * self.weight, np.inf))
            if g is not None:
                found.append(self.local_search(g))
        best, best_value = None, None
        for g in found:
            v = self.value(g)
            if v is not None and (best_value is None or v < best_value):
                best, best_value = g, v
        # Float sums: step back a hair before rounding up, so the bound can only be too weak.
        bound = None if not np.isfinite(lower) else int(np.ceil(lower - 1e-6 * max(1.0, abs(lower))))
        return best, bound

    # -- the core's LnsProblem -----------------------------------------------------------------
    def build(self, incumbent: Optional[np.ndarray], relaxed: Optional[Neighbourhood]) -> Built[np.ndarray]:
        """x[i, j] = 1 if job j goes to agent i, for the free jobs and their allowed agents; the
        other jobs stay as in ``incumbent`` and take their room from the capacities."""
        model = cp_model.CpModel()
        if relaxed is None:
            everyone = tuple(range(self.m))
            jobs, allowed = range(self.n), [everyone] * self.n
            room = self.capacity.tolist()
        else:
            jobs, allowed = relaxed.jobs, relaxed.allowed
            fixed = incumbent.copy()
            fixed[list(jobs)] = -1
            keep = np.flatnonzero(fixed >= 0)
            room = (self.capacity - np.bincount(fixed[keep], weights=self.weight[fixed[keep], keep],
                                                minlength=self.m).astype(np.int64)).tolist()
        hint = incumbent.tolist() if incumbent is not None else None
        cost, weight = self._cost_list, self._weight_list
        pair_agent: list[int] = []
        pair_job: list[int] = []
        per_agent: dict[int, tuple[list, list]] = {}
        terms, coefs = [], []
        for j, agents in zip(jobs, allowed):
            lits = []
            for i in agents:
                w = weight[i][j]
                if w > room[i]:
                    continue
                x = model.new_bool_var("")
                lits.append(x)
                pair_agent.append(i)
                pair_job.append(j)
                xs, ws = per_agent.setdefault(i, ([], []))
                xs.append(x)
                ws.append(w)
                terms.append(x)
                coefs.append(cost[i][j])
                if hint is not None:
                    model.add_hint(x, hint[j] == i)
            if lits:
                model.add_exactly_one(lits)
            else:
                model.add_bool_or([])  # the job fits nowhere: the model is infeasible and says so
        for i, (xs, ws) in per_agent.items():
            model.add(cp_model.LinearExpr.weighted_sum(xs, ws) <= room[i])
        model.minimize(cp_model.LinearExpr.weighted_sum(terms, coefs))
        pa = np.asarray(pair_agent, dtype=np.int64)
        pj = np.asarray(pair_job, dtype=np.int64)
        base = incumbent if relaxed is not None else None

        def read(values) -> np.ndarray:
            # the pair literals are the model's first variables, in creation order
            chosen = np.asarray(values[: len(pa)], dtype=np.int64) == 1
            out = base.copy() if base is not None else np.full(self.n, -1, dtype=np.int64)
            out[pj[chosen]] = pa[chosen]
            return out

        return Built(model, read)

    def neighbourhoods(self, rng: random.Random, incumbent: np.ndarray, size: int, count: int) -> list[Neighbourhood]:
        """``count`` sets of ``size`` jobs linked as in an ejection chain: a random job, the
        agents it would rather go to (at Lagrangian prices), the jobs on those agents, the agents
        those would rather go to, and so on; each free job may go to its few best agents or stay.
        They may overlap: the core keeps an improvement only if it still holds with the others."""
        if self.m < 2:
            return []
        size = min(size, self.n)
        best = self.by_price[:CANDIDATES]
        on_agent = [np.flatnonzero(incumbent == i).tolist() for i in range(self.m)]
        groups = []
        for _ in range(count):
            free: dict[int, None] = {}  # insertion-ordered, so the choice is reproducible
            seen: set[int] = set()
            queue: list[int] = []
            while len(free) < size:
                if not queue:
                    j = rng.randrange(self.n)
                    if j not in free:
                        free[j] = None
                        queue.extend(int(i) for i in best[:, j] if i != incumbent[j])
                    continue
                h = queue.pop(rng.randrange(len(queue)))
                if h in seen:
                    continue
                seen.add(h)
                jobs = [j for j in on_agent[h] if j not in free]
                rng.shuffle(jobs)
                for j in jobs[: size - len(free)]:
                    free[j] = None
                    queue.extend(int(i) for i in best[:, j] if i != h and int(i) not in seen)
            jobs = sorted(free)
            allowed = tuple(tuple(sorted({int(i) for i in best[:, j] if self.fits[i, j]} | {int(incumbent[j])}))
                            for j in jobs)
            groups.append(Neighbourhood(tuple(jobs), allowed))
        return groups

    def merge(self, incumbent: np.ndarray, relaxed: Neighbourhood, solution: np.ndarray) -> np.ndarray:
        out = incumbent.copy()
        jobs = np.asarray(relaxed.jobs, dtype=np.int64)
        out[jobs] = solution[jobs]
        return out


def solve_gap(problem: GapProblem, sense: Sense = "min", limits: Limits = Limits(),
              on_improve: Optional[Callable[[float, int], None]] = None) -> GapResult:
    """Solve one GAP with the shared core; ``on_improve(seconds, value)`` hears each better value."""
    started = time.perf_counter()
    inst = GapInstance(problem, sense)
    if not inst.placeable:
        # a job that fits no agent even when the agent is empty: infeasible without any search
        return GapResult(problem.name, sense, "infeasible", None, None, time.perf_counter() - started, None,
                         "proof", True, None)
    start, lower = inst.start()
    start_value = inst.value(start) if start is not None else None

    def heard(seconds: float, value: int) -> None:
        if on_improve is not None:
            on_improve(seconds, inst.external(value))

    out = optimise(inst, limits, start=start, bound=lower, side_by_side=inst.m * inst.n <= SIDE_BY_SIDE_PAIRS,
                   started=started, on_improve=heard, max_size=inst.n)
    ext = inst.external
    return GapResult(
        name=problem.name, sense=sense, status=out.status,
        value=None if out.value is None else ext(out.value),
        bound=None if out.bound is None else ext(out.bound),
        seconds=out.seconds,
        assignment=None if out.solution is None else tuple(int(i) for i in out.solution),
        stopped_by=out.stopped_by, reproducible=out.reproducible,
        start_value=None if start_value is None else ext(start_value),
        best_at=out.history[-1][0] if out.history else None,
        rounds=out.rounds, improvements=out.improvements,
    )
