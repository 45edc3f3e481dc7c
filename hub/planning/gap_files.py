"""Reading generalized assignment problems (GAP) from the two public file forms.

Both forms are one stream of whitespace-separated integers (line breaks mean nothing):
OR-Library's files start with the number of problems P and hold P blocks; Yagiura's files hold
one block and no P. A block is ``m n``, then the cost (or profit) matrix c (m rows of n), the
resource matrix a (m rows of n) and the capacities b (m values).

A bad file is answered with where and what: "gap1.txt, line 7, column 12: 'x' is not a whole
number; expected cost c[2][4] of problem 1 of 5". Positions are worked out only when something
is wrong, so a good 1,600-job file reads fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# The published sets go up to 80 x 1,600; the caps keep a typo such as an extra digit in `m n`
# from asking for gigabytes before the file runs out.
MAX_AGENTS = 10_000
MAX_JOBS = 1_000_000
MAX_CELLS = 50_000_000
MAX_PROBLEMS = 100_000


class GapFileError(ValueError):
    """A GAP file that cannot be read; the message says where (line, column) and what was expected."""


@dataclass(frozen=True)
class GapProblem:
    """One GAP instance: every job to exactly one agent, no agent over its capacity.

    cost[i][j]: cost (minimise) or profit (maximise) of job j on agent i;
    weight[i][j]: capacity job j uses on agent i; capacity[i]: agent i's capacity.
    """

    name: str
    cost: tuple[tuple[int, ...], ...]
    weight: tuple[tuple[int, ...], ...]
    capacity: tuple[int, ...]

    @property
    def agents(self) -> int:
        return len(self.capacity)

    @property
    def jobs(self) -> int:
        return len(self.cost[0])

    def __post_init__(self) -> None:
        m = len(self.capacity)
        if m == 0 or len(self.cost) != m or len(self.weight) != m:
            raise ValueError(f"{self.name}: cost, weight and capacity need one row per agent")
        n = len(self.cost[0])
        if n == 0 or any(len(r) != n for r in self.cost) or any(len(r) != n for r in self.weight):
            raise ValueError(f"{self.name}: every cost and weight row needs one value per job")
        if any(min(r) < 0 for r in self.weight) or min(self.capacity) < 0:
            raise ValueError(f"{self.name}: weights and capacities cannot be negative")


_TOKEN = re.compile(r"\S+")


class _Stream:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.tokens = text.split()
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.tokens) - self.pos

    def where(self, index: int) -> str:
        """'file, line L, column C' of token ``index`` (or the end of the file)."""
        count = 0
        last_line = 0
        for line_no, line in enumerate(self.text.splitlines(), start=1):
            found = _TOKEN.findall(line)
            if found:
                last_line = line_no
            if count + len(found) > index:
                col = [m.start() + 1 for m in _TOKEN.finditer(line)][index - count]
                return f"{self.source}, line {line_no}, column {col}"
            count += len(found)
        return f"{self.source}, end of file (after line {last_line})"

    def integers(self, count: int, what: Callable[[int], str], minimum: int | None = None,
                 maximum: int | None = None) -> list[int]:
        """The next ``count`` integers; ``what(k)`` names the k-th for an error message."""
        start = self.pos
        if self.left < count:
            k = self.left
            raise GapFileError(f"{self.where(len(self.tokens))}: the file ends, but {what(k)} was expected")
        chunk = self.tokens[start:start + count]
        try:
            values = list(map(int, chunk))
        except ValueError:
            k = next(i for i, t in enumerate(chunk) if not _is_int(t))
            raise GapFileError(f"{self.where(start + k)}: {chunk[k][:30]!r} is not a whole number; "
                               f"expected {what(k)}") from None
        if minimum is not None and values and min(values) < minimum:
            k = next(i for i, v in enumerate(values) if v < minimum)
            raise GapFileError(f"{self.where(start + k)}: {values[k]} is too small for {what(k)} "
                               f"(at least {minimum})")
        if maximum is not None and values and max(values) > maximum:
            k = next(i for i, v in enumerate(values) if v > maximum)
            raise GapFileError(f"{self.where(start + k)}: {values[k]} is too large for {what(k)} "
                               f"(at most {maximum:,})")
        self.pos += count
        return values

    def integer(self, what: str, minimum: int | None = None, maximum: int | None = None) -> int:
        return self.integers(1, lambda _: what, minimum, maximum)[0]


def _is_int(token: str) -> bool:
    try:
        int(token)
        return True
    except ValueError:
        return False


def _read_block(s: _Stream, name: str, label: str) -> GapProblem:
    m = s.integer(f"the number of agents m of {label}", 1, MAX_AGENTS)
    n = s.integer(f"the number of jobs n of {label}", 1, MAX_JOBS)
    if m * n > MAX_CELLS:
        raise GapFileError(f"{s.where(s.pos - 2)}: {label} has {m:,} agents x {n:,} jobs, more than the "
                           f"{MAX_CELLS:,} cells this reader accepts")
    need = 2 * m * n + m
    if s.left < need:
        # Said up front: a short file is the commonest fault (a truncated copy), and the count
        # tells whether a row or the capacity line is missing.
        raise GapFileError(f"{s.where(len(s.tokens))}: {label} ({m} agents x {n} jobs) needs {need:,} numbers "
                           f"after `m n` (costs, weights, capacities) but the file has only {s.left:,}")
    c = s.integers(m * n, lambda k: f"cost c[{k // n + 1}][{k % n + 1}] of {label}")
    a = s.integers(m * n, lambda k: f"weight a[{k // n + 1}][{k % n + 1}] of {label}", minimum=0)
    b = s.integers(m, lambda k: f"capacity b[{k + 1}] of {label}", minimum=0)
    return GapProblem(name=name,
                      cost=tuple(tuple(c[i * n:(i + 1) * n]) for i in range(m)),
                      weight=tuple(tuple(a[i * n:(i + 1) * n]) for i in range(m)),
                      capacity=tuple(b))


def problem_name(stem: str, index: int, count: int, m: int, n: int) -> str:
    """The names the published tables use: OR-Library gap1..gap12 -> c515-3 (type c, 5 agents,
    15 jobs, problem 3); gapa..gapd -> a05100 (type, agents in two digits, jobs); any other
    file -> its stem (with -k when it holds several problems)."""
    if re.fullmatch(r"gap\d+", stem):
        return f"c{m}{n}-{index}"
    if re.fullmatch(r"gap[a-z]", stem):
        return f"{stem[3]}{m:02d}{n}"
    return stem if count == 1 else f"{stem}-{index}"


def parse_gap(text: str, source: str = "GAP file", stem: str = "problem") -> list[GapProblem]:
    """Every problem in a GAP file's text, in file order; GapFileError says where it goes wrong.

    The form is told from the numbers: a Yagiura file holds exactly 2 + 2mn + m numbers for its
    first two numbers m and n; anything else is read as OR-Library's multi-problem form. (An
    OR-Library file whose count of numbers happened to fit that rule too would be misread; the
    published files do not.)
    """
    s = _Stream(text, source)
    if not s.tokens:
        raise GapFileError(f"{source}: the file is empty; expected a GAP problem (m n, then costs, weights "
                           "and capacities), or OR-Library's count of problems first")
    yagiura_note = ""
    if len(s.tokens) >= 2 and _is_int(s.tokens[0]) and _is_int(s.tokens[1]):
        m, n = int(s.tokens[0]), int(s.tokens[1])
        if 1 <= m <= MAX_AGENTS and 1 <= n <= MAX_JOBS:
            single = 2 + 2 * m * n + m
            if len(s.tokens) == single:
                return [_read_block(s, stem, "the problem")]
            yagiura_note = (f" (Read as Yagiura's one-problem form instead, `{m} {n}` would need {single:,} "
                            f"numbers in all; the file has {len(s.tokens):,}.)")
    try:
        return _read_problems(s, stem)
    except GapFileError as e:
        raise GapFileError(f"{e}{yagiura_note}") from None


def _read_problems(s: _Stream, stem: str) -> list[GapProblem]:
    count = s.integer("the number of problems in the file (OR-Library form) or the number of agents "
                      "(Yagiura form)", 1, MAX_PROBLEMS)
    problems = []
    for k in range(1, count + 1):
        p = _read_block(s, "", f"problem {k} of {count}")
        problems.append(GapProblem(problem_name(stem, k, count, p.agents, p.jobs), p.cost, p.weight, p.capacity))
    if s.left:
        more = "1 more number follows" if s.left == 1 else f"{s.left:,} more numbers follow"
        raise GapFileError(f"{s.where(s.pos)}: {more} the last of the file's {count} problem(s); expected the "
                           "end of the file (is the count of problems right?)")
    return problems


def read_gap_file(path: str | Path) -> list[GapProblem]:
    """Every problem in a GAP file on disk (either form)."""
    p = Path(path)
    data = p.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise GapFileError(f"{p.name}, line {line}: byte {e.start} is not plain text; a GAP file holds only "
                           "numbers and spaces") from None
    return parse_gap(text, source=p.name, stem=p.stem)
