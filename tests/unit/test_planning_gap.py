"""The planner's solver core on the generalized assignment problem (GAP): reading both file
forms (and refusing bad ones with where and why), solving to the published optimum, repeating
itself, and never returning an assignment that breaks a rule (checked against brute force).

The published files are read from ../shared/data/gap (benchmark data, never copied into the
project); only these tests and bench/bench_gap.py look at optima.tsv, to compare.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hub.planning.cpsat import Limits
from hub.planning.gap import GapInstance, solve_gap
from hub.planning.gap_files import GapFileError, GapProblem, parse_gap, read_gap_file
from sewnet.cli import app

DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gap").resolve()
needs_data = pytest.mark.skipif(not (DATA / "optima.tsv").exists(), reason=f"GAP benchmark data not at {DATA}")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def optima() -> dict[tuple[str, str], int]:
    with open(DATA / "optima.tsv", newline="") as f:
        return {(r["instance"], r["sense"]): int(r["value"]) for r in csv.DictReader(f, delimiter="\t")}


def as_yagiura(p: GapProblem) -> str:
    return "\n".join([f"{p.agents} {p.jobs}", *(" ".join(map(str, r)) for r in p.cost),
                      *(" ".join(map(str, r)) for r in p.weight), " ".join(map(str, p.capacity))]) + "\n"


def as_orlib(problems: list[GapProblem]) -> str:
    return f"{len(problems)}\n" + "".join(as_yagiura(p) for p in problems)


def feasible_value(p: GapProblem, assignment, sense: str) -> int:
    """The value of an assignment recomputed from the problem; fails if it breaks a rule."""
    assert assignment is not None and len(assignment) == p.jobs
    load = [0] * p.agents
    for j, i in enumerate(assignment):
        assert 0 <= i < p.agents
        load[i] += p.weight[i][j]
    assert all(load[i] <= p.capacity[i] for i in range(p.agents)), (load, p.capacity)
    return sum(p.cost[i][j] for j, i in enumerate(assignment))


# -- reading -----------------------------------------------------------------------------------
@needs_data
def test_reads_an_orlib_file_with_its_published_names_and_numbers():
    text = (DATA / "orlib" / "gap1.txt").read_text()
    problems = read_gap_file(DATA / "orlib" / "gap1.txt")
    assert [p.name for p in problems] == [f"c515-{k}" for k in range(1, 6)]
    numbers = [int(t) for t in text.split()]
    assert numbers[0] == 5 and numbers[1:3] == [5, 15]
    first = problems[0]
    assert (first.agents, first.jobs) == (5, 15)
    assert list(first.cost[0]) == numbers[3:18]  # c row 1 right after `5 15`
    assert list(first.weight[4]) == numbers[3 + 75 + 60:3 + 75 + 75]  # a row 5
    assert list(first.capacity) == numbers[3 + 150:3 + 155]
    second = problems[1]
    assert list(second.cost[0][:3]) == numbers[160:163]  # after problem 2's `m n`


@needs_data
def test_reads_a_yagiura_file_and_the_gapa_names():
    (p,) = read_gap_file(DATA / "yagiura2004" / "e05100.txt")
    numbers = [int(t) for t in (DATA / "yagiura2004" / "e05100.txt").read_text().split()]
    assert (p.name, p.agents, p.jobs) == ("e05100", 5, 100)
    assert list(p.capacity) == numbers[-5:]
    assert [q.name for q in read_gap_file(DATA / "orlib" / "gapa.txt")] == [
        "a05100", "a05200", "a10100", "a10200", "a20100", "a20200"]


@pytest.mark.parametrize("text, where, what", [
    ("", "f.txt", "the file is empty"),
    ("1\n2 2\n1 2\n3 x\n1 1 1 1\n5 5\n", "line 4, column 3", "'x' is not a whole number; expected cost c[2][2] of problem 1"),
    ("1\n2 2\n1 2\n3 4\n1 1 1 -1\n5 5\n", "line 5, column 7", "-1 is too small for weight a[2][2]"),
    ("1\n2 2\n1 2\n3 4\n1 1 1 1\n5 -5\n", "line 6, column 3", "capacity b[2]"),
    ("2\n1 1\n5\n1\n3\n", "end of file", "the number of agents m of problem 2 of 2 was expected"),
    ("1\n2 3\n1 2 3\n4 5 6\n", "end of file", "needs 14 numbers after `m n`"),
    ("1\n1 1\n5\n1\n3 7\n", "line 5, column 3", "1 more number follows the last of the file's 1 problem"),
    ("1\n0 3\n", "line 2, column 1", "0 is too small for the number of agents m"),
    ("3.5 2\n", "line 1, column 1", "'3.5' is not a whole number"),
    ("1\n9000 9000\n", "line 2", "9,000 agents x 9,000 jobs, more than the 50,000,000 cells"),
    ("1\n99999 3\n", "line 2, column 1", "99999 is too large for the number of agents m of problem 1 of 1 (at most 10,000)"),
])
def test_bad_files_are_refused_with_where_and_what(text, where, what):
    with pytest.raises(GapFileError) as e:
        parse_gap(text, source="f.txt")
    assert where in str(e.value) and what in str(e.value), str(e.value)


def test_a_file_that_is_not_text_is_refused_with_its_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"1\n1 1\n\xff\n1\n3\n")
    with pytest.raises(GapFileError, match=r"bad.txt, line 3: byte 6 is not plain text"):
        read_gap_file(f)


problems = st.integers(1, 3).flatmap(lambda m: st.integers(1, 5).flatmap(lambda n: st.builds(
    lambda c, a, b: GapProblem("p", tuple(map(tuple, c)), tuple(map(tuple, a)), tuple(b)),
    st.lists(st.lists(st.integers(-9, 9), min_size=n, max_size=n), min_size=m, max_size=m),
    st.lists(st.lists(st.integers(0, 9), min_size=n, max_size=n), min_size=m, max_size=m),
    st.lists(st.integers(0, 15), min_size=m, max_size=m))))


@FUZZ
@given(st.lists(problems, min_size=1, max_size=3))
def test_both_forms_read_back_what_was_written(ps):
    back = parse_gap(as_orlib(ps), stem="x")
    assert [(q.cost, q.weight, q.capacity) for q in back] == [(p.cost, p.weight, p.capacity) for p in ps]
    (single,) = parse_gap(as_yagiura(ps[0]), stem="y")
    assert (single.name, single.cost, single.weight, single.capacity) == ("y", ps[0].cost, ps[0].weight,
                                                                          ps[0].capacity)


@FUZZ
@given(st.text(alphabet=st.sampled_from("0123456789 -\nx."), max_size=60))
def test_any_text_either_reads_or_is_refused_with_a_gap_file_error(text):
    try:
        parse_gap(text, source="f.txt")
    except GapFileError as e:
        assert str(e).startswith("f.txt")


# -- solving -----------------------------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("sense", ["max", "min"])
def test_gap1_solves_to_the_published_optimum(sense):
    best = optima()
    for p in read_gap_file(DATA / "orlib" / "gap1.txt"):
        r = solve_gap(p, sense, Limits(time_limit_s=5))
        assert (r.status, r.value) == ("optimal", best[(p.name, sense)]), p.name
        assert feasible_value(p, r.assignment, sense) == r.value
        assert r.bound == r.value and r.reproducible


@needs_data
def test_the_same_input_gives_the_same_answer_under_a_work_budget():
    """A problem the whole-problem solve does not close, so the LNS runs and decides the answer."""
    p = next(q for q in read_gap_file(DATA / "orlib" / "gapd.txt") if q.name == "d10100")
    limits = Limits(time_limit_s=60, work=0.4, seed=3)
    first, second = solve_gap(p, "min", limits), solve_gap(p, "min", limits)
    assert first.rounds > 0 and first.stopped_by == "work" and first.reproducible
    assert (first.value, first.assignment) == (second.value, second.assignment)
    assert feasible_value(p, first.assignment, "min") == first.value <= first.start_value
    assert first.bound is not None and first.bound <= first.value


def brute_force(p: GapProblem, sense: str):
    best = None
    for assignment in itertools.product(range(p.agents), repeat=p.jobs):
        load = [0] * p.agents
        for j, i in enumerate(assignment):
            load[i] += p.weight[i][j]
        if any(load[i] > p.capacity[i] for i in range(p.agents)):
            continue
        v = sum(p.cost[i][j] for j, i in enumerate(assignment))
        if best is None or (v < best if sense == "min" else v > best):
            best = v
    return best


@FUZZ
@given(problems, st.sampled_from(["min", "max"]))
def test_every_answer_keeps_the_rules_and_matches_brute_force(p, sense):
    r = solve_gap(p, sense, Limits(time_limit_s=5))
    best = brute_force(p, sense)
    if best is None:
        assert (r.status, r.value, r.assignment) == ("infeasible", None, None)
    else:
        assert (r.status, r.value) == ("optimal", best)
        assert feasible_value(p, r.assignment, sense) == best


def test_the_start_and_the_lagrangian_bound_are_sound():
    """The hint keeps the rules and the bound is below every solution (checked by brute force)."""
    p = GapProblem("t", ((5, 1, 4, 7), (2, 6, 3, 1), (4, 4, 4, 4)), ((3, 2, 4, 1), (2, 3, 1, 4), (2, 2, 2, 2)),
                   (4, 5, 3))
    inst = GapInstance(p, "min")
    start, bound = inst.start()
    assert inst.value(start) is not None
    assert bound <= brute_force(p, "min") <= inst.value(start)


# -- the command line --------------------------------------------------------------------------
runner = CliRunner()


@needs_data
def test_plan_gap_prints_one_line_per_problem():
    out = runner.invoke(app, ["plan", "gap", str(DATA / "orlib" / "gap1.txt"), "--sense", "max", "--time-limit", "2"])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    best = optima()
    assert len(lines) == 5
    for k, line in enumerate(lines, start=1):
        name, value, seconds, unit, status = line.split()[:5]
        assert (name, int(value), unit, status) == (f"c515-{k}", best[(name, "max")], "s", "optimal")


@needs_data
def test_plan_gap_json_and_one_problem():
    out = runner.invoke(app, ["plan", "gap", str(DATA / "orlib" / "gap1.txt"), "--problem", "c515-3", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    (answer,) = doc["problems"]
    assert (answer["name"], answer["status"], answer["value"]) == ("c515-3", "optimal", optima()[("c515-3", "min")])
    p = read_gap_file(DATA / "orlib" / "gap1.txt")[2]
    assert feasible_value(p, answer["assignment"], "min") == answer["value"]


def test_plan_gap_refuses_a_bad_file_in_one_line(tmp_path):
    f = tmp_path / "broken.txt"
    f.write_text("1\n2 2\n1 2\n3 x\n1 1 1 1\n5 5\n")
    out = runner.invoke(app, ["plan", "gap", str(f)])
    assert out.exit_code == 2
    assert "broken.txt, line 4, column 3: 'x' is not a whole number" in out.output
    assert "Traceback" not in out.output
    out = runner.invoke(app, ["plan", "gap", str(f.with_name("missing.txt"))])
    assert out.exit_code == 2


@needs_data
def test_plan_gap_names_the_problems_a_file_holds_when_asked_for_another():
    out = runner.invoke(app, ["plan", "gap", str(DATA / "orlib" / "gap1.txt"), "--problem", "c999-1"])
    assert out.exit_code == 2
    assert "no problem named c999-1" in out.output and "c515-1" in out.output
