"""`sewnet plan ...`: the planner from the command line.

    sewnet plan gap FILE [--sense min|max] [--time-limit S] [--json]
        every problem in a GAP file (OR-Library's multi-problem form or Yagiura's single one),
        solved with the allocation engine's solver core; one line per problem.

    sewnet plan order FILE.json [--json] [--database URL] [--save]
        a bulk order planned over the hub database's registry (hub.planning.cli_order).
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from hub.planning.cli_order import order

app = typer.Typer(no_args_is_help=True, help="Planning: split work across workshops with the CP-SAT solver core.")
app.command("order")(order)


@app.callback()
def main() -> None:
    """Planning: split work across workshops with the CP-SAT solver core."""


class SenseOption(str, Enum):
    min = "min"
    max = "max"


@app.command("gap")
def gap(
    file: Annotated[Path, typer.Argument(help="GAP file: OR-Library (count of problems first) or Yagiura "
                                              "(one problem)", exists=True, dir_okay=False, readable=True)],
    sense: Annotated[SenseOption, typer.Option(help="min: costs; max: profits")] = SenseOption.min,
    time_limit: Annotated[float, typer.Option(min=0.01, help="wall-clock seconds per problem")] = 10.0,
    workers: Annotated[int, typer.Option(min=1, max=64, help="CP-SAT workers (and LNS neighbourhoods side by "
                                                             "side)")] = 2,
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 0,
    work: Annotated[Optional[float], typer.Option(min=0.001, help="deterministic budget per problem in CP-SAT "
                                                                 "work units (about seconds); set it for answers "
                                                                 "that repeat exactly")] = None,
    problem: Annotated[Optional[list[str]], typer.Option(help="solve only this problem of the file (by name, "
                                                             "e.g. c515-3; repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout, for machines")] = False,
) -> None:
    """Solve every problem in a GAP file; print name, value, seconds and status per problem."""
    from hub.planning.cpsat import Limits
    from hub.planning.gap import solve_gap
    from hub.planning.gap_files import GapFileError, read_gap_file

    try:
        problems = read_gap_file(file)
    except GapFileError as e:
        typer.echo(f"cannot read the GAP file: {e}", err=True)
        raise typer.Exit(2)
    if problem:
        unknown = sorted(set(problem) - {p.name for p in problems})
        if unknown:
            typer.echo(f"{file.name} has no problem named {', '.join(unknown)}; it holds "
                       f"{', '.join(p.name for p in problems)}", err=True)
            raise typer.Exit(2)
        problems = [p for p in problems if p.name in problem]
    limits = Limits(time_limit_s=time_limit, workers=workers, seed=seed, work=work)
    results = []
    with _progress(len(problems)) as progress:
        for p in problems:
            progress.start(p.name, p.agents, p.jobs)
            r = solve_gap(p, sense.value, limits, on_improve=progress.improved)
            progress.done()
            results.append((p, r))
            if not as_json:
                bound = "" if r.bound is None or r.status == "optimal" else f"  bound {r.bound}"
                value = "-" if r.value is None else str(r.value)
                typer.echo(f"{r.name:<12} {value:>10} {r.seconds:8.2f} s  {r.status}{bound}")
    if as_json:
        doc = {"file": str(file), "sense": sense.value, "time_limit_s": time_limit, "workers": workers, "seed": seed,
               "work": work, "problems": [
                   {"name": r.name, "agents": p.agents, "jobs": p.jobs, "value": r.value, "bound": r.bound,
                    "seconds": round(r.seconds, 3),
                    "best_at": None if r.best_at is None else round(r.best_at, 3), "status": r.status, "stopped_by": r.stopped_by,
                    "reproducible": r.reproducible, "start_value": r.start_value, "lns_rounds": r.rounds,
                    "assignment": None if r.assignment is None else list(r.assignment)}
                   for p, r in results]}
        typer.echo(json.dumps(doc))


class _progress:
    """A progress bar on stderr while problems are solved, only when a person watches a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = None

    def __enter__(self) -> "_progress":
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=self.total)
        return self

    def start(self, name: str, agents: int, jobs: int) -> None:
        self.name = f"{name} ({agents} x {jobs})"
        if self.bar is not None:
            self.bar.update(self.task, description=self.name)

    def improved(self, seconds: float, value: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=f"{self.name} best {value} at {seconds:.1f} s")

    def done(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
