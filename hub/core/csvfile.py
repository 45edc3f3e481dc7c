"""CSV files a person edits in a spreadsheet and the hub imports: what each column holds, how a
file is read and checked, how it is written. Pure: text in, values and problems out; no database.
The registry's four files (hub.registry.csvio) and the styles catalogue (hub.styles.catalogue)
are each a `Spec` of `Column`s read and written here, so both follow one set of rules.

The format: UTF-8, a header of column names, one row per record, lists joined with ";", yes/no
as 1/0, fractions with the column's decimals, "\\n" line ends. Reading also takes what a
spreadsheet writes: a byte-order mark, CRLF line ends, columns in any order, blank rows,
surrounding spaces; fractions with more decimals are rounded to the column's. Writing turns every
value into its one canonical text, so exporting, importing that file and exporting again gives
the same bytes.

Spreadsheet safety: a cell that starts with = + - @ or ' is written with a ' in front, so a
spreadsheet shows it as text instead of running it as a formula; reading takes that ' off again.

Every problem names its line (the header is line 1; a row that spans lines inside quotes counts
from its first), its column and the reason, in Korean and English.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

#: Line breaks, other C0/C1 controls and the invisible direction overrides (text that reads one
#: way on a page and another in the data).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "'")
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?|-?\.[0-9]+")
_REAL = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


# --- problems ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (line; column, or None for the whole row or file) and
    why, in Korean and English. `file` names the file when one problem list covers several."""

    line: int
    column: str | None
    ko: str
    en: str
    file: str | None = None

    def __str__(self) -> str:
        where = (f"{self.file} " if self.file else "") + f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.en}"

    def text_ko(self) -> str:
        where = (f"{self.file} " if self.file else "") + f"{self.line}행" + (f" {self.column}" if self.column else "")
        return f"{where}: {self.ko}"


class Invalid(Exception):
    """A cell's value is not acceptable. `{v}` in the messages stands for the value as shown to a
    person (or a neutral word for personal data)."""

    def __init__(self, ko: str, en: str):
        super().__init__(en)
        self.ko, self.en = ko, en


def show(raw: str) -> str:
    """A cell's value as a problem quotes it (cut short when long)."""
    text = raw.strip()
    if len(text) > 30:
        text = text[:30] + "…"
    return f'"{text}"'


def escape_cell(text: str) -> str:
    """A cell as written: a leading ' keeps a spreadsheet from reading it as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def unescape_cell(text: str) -> str:
    """The inverse of escape_cell (a ' only comes off in front of what escape_cell escapes)."""
    if len(text) >= 2 and text[0] == "'" and text[1] in _FORMULA_START:
        return text[1:]
    return text


# --- what a cell may hold ---------------------------------------------------------------------

_EMPTY = ("비어 있습니다. 값을 넣어 주세요", "is empty; it needs a value")


class Cell:
    """Parses a cell's text into its value (raising Invalid) and formats a value back into its
    canonical text."""

    #: A number's text is never a formula (a spreadsheet reads -1 as minus one), so numbers are
    #: written as they are; text that could start a formula gets the ' in front.
    escapes = True

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def format(self, value: Any) -> str:
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Text(Cell):
    max_len: int = 200
    required: bool = True

    def parse(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            if self.required:
                raise Invalid(*_EMPTY)
            return ""
        if _CONTROL.search(text):
            if "\n" in text or "\r" in text:
                raise Invalid("줄바꿈이 들어 있습니다 (닫히지 않은 큰따옴표가 있나요?)",
                              "holds a line break (a double quote left open?)")
            raise Invalid("보이지 않는 제어 문자가 들어 있습니다", "holds an invisible control character")
        if len(text) > self.max_len:
            raise Invalid(f"{len(text)}자입니다. {self.max_len}자까지 쓸 수 있습니다",
                          f"has {len(text)} characters; at most {self.max_len} fit")
        return text


@dataclass(frozen=True)
class Pattern(Cell):
    regex: re.Pattern
    rule_ko: str
    rule_en: str
    required: bool = True
    #: An optional cell's value when empty: None where the column must stay unique (a board).
    empty: str | None = None

    def parse(self, raw: str) -> str | None:
        text = raw.strip()
        if not text:
            if self.required:
                raise Invalid(*_EMPTY)
            return self.empty
        if not self.regex.fullmatch(text):
            raise Invalid(f"{{v}}: {self.rule_ko}", f"{{v}} {self.rule_en}")
        return text


@dataclass(frozen=True)
class Choice(Cell):
    options: tuple[str, ...]

    def parse(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            raise Invalid(*_EMPTY)
        if text not in self.options:
            listed = ", ".join(self.options)
            raise Invalid(f"{{v}}: 알 수 없는 값입니다. 다음 중 하나를 쓰세요: {listed}",
                          f"{{v}} is not one of: {listed}")
        return text


@dataclass(frozen=True)
class Integer(Cell):
    low: int
    high: int
    escapes = False

    def parse(self, raw: str) -> int:
        text = raw.strip()
        if not text:
            raise Invalid(*_EMPTY)
        if not _INTEGER.fullmatch(text):
            raise Invalid(f"{{v}}: 정수가 아닙니다 (예: {self.low + 1})",
                          f"{{v}} is not a whole number (like {self.low + 1})")
        value = int(text)
        if not self.low <= value <= self.high:
            raise Invalid(f"{{v}}: {self.low:,}부터 {self.high:,}까지여야 합니다",
                          f"{{v}} is outside {self.low:,} to {self.high:,}")
        return value


@dataclass(frozen=True)
class Decimal(Cell):
    low: float
    high: float
    places: int = 2
    example: str = "0.55"
    hint_ko: str = ""
    hint_en: str = ""
    escapes = False

    def parse(self, raw: str) -> float:
        text = raw.strip()
        if not text:
            raise Invalid(*_EMPTY)
        if not _DECIMAL.fullmatch(text):
            raise Invalid(f"{{v}}: 숫자가 아닙니다 (예: {self.example})", f"{{v}} is not a number (like {self.example})")
        value = round(float(text), self.places)
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise Invalid(f"{{v}}: {self.low:g}부터 {self.high:g}까지여야 합니다{self.hint_ko}",
                          f"{{v}} is outside {self.low:g} to {self.high:g}{self.hint_en}")
        return value + 0.0  # no -0.0: it would print as "-0.00"

    def format(self, value: float) -> str:
        return f"{value:.{self.places}f}"


@dataclass(frozen=True)
class Real(Cell):
    """A measured number kept as given (no rounding; 5e-05 as written by a program is fine), an
    empty cell being None when not required."""

    low: float
    high: float
    required: bool = True
    example: str = "0.03"
    escapes = False

    def parse(self, raw: str) -> float | None:
        text = raw.strip()
        if not text:
            if self.required:
                raise Invalid(*_EMPTY)
            return None
        if not _REAL.fullmatch(text):
            raise Invalid(f"{{v}}: 숫자가 아닙니다 (예: {self.example})", f"{{v}} is not a number (like {self.example})")
        value = float(text)
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise Invalid(f"{{v}}: {self.low:g}부터 {self.high:g}까지여야 합니다",
                          f"{{v}} is outside {self.low:g} to {self.high:g}")
        return value + 0.0

    def format(self, value: float | None) -> str:
        return "" if value is None or value != value else repr(float(value))


class Date(Cell):
    """A day as YYYY-MM-DD (a real one: no 2026-02-30)."""

    def parse(self, raw: str) -> dt.date:
        text = raw.strip()
        if not text:
            raise Invalid(*_EMPTY)
        if _DATE.fullmatch(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise Invalid("{v}: 달력에 없는 날짜입니다", "{v} is not a day on the calendar") from None
        raise Invalid("{v}: 날짜는 YYYY-MM-DD로 적어 주세요 (예: 2026-07-06)",
                      "{v} is not a date as YYYY-MM-DD (like 2026-07-06)")

    def format(self, value: dt.date) -> str:
        return value.isoformat()


class Flag(Cell):
    _YES, _NO = ("1", "true", "yes", "y"), ("0", "false", "no", "n")

    def parse(self, raw: str) -> bool:
        text = raw.strip().lower()
        if text in self._YES:
            return True
        if text in self._NO:
            return False
        raise Invalid("{v}: 1(예) 또는 0(아니오)이어야 합니다", "{v} must be 1 (yes) or 0 (no)")

    def format(self, value: bool) -> str:
        return "1" if value else "0"


class Clock(Cell):
    def parse(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            raise Invalid(*_EMPTY)
        if len(text) == 4 and text[1] == ":":  # 9:00 from a spreadsheet
            text = "0" + text
        if not _CLOCK.fullmatch(text):
            raise Invalid("{v}: 시각은 HH:MM으로 적어 주세요 (예: 09:00)", "{v} is not a time as HH:MM (like 09:00)")
        return text


@dataclass(frozen=True)
class ListOf(Cell):
    """Items joined with ";", each checked by `item`, none twice, at least `min_items`."""

    item: Cell
    min_items: int = 1
    max_items: int = 50

    def parse(self, raw: str) -> tuple:
        text = raw.strip()
        if not text:
            if self.min_items:
                raise Invalid(*_EMPTY)
            return ()
        parts = [p.strip() for p in text.split(";")]
        if any(not p for p in parts):
            raise Invalid("목록에 빈 항목이 있습니다 (항목은 ;로 나눕니다)", "the list has an empty item (items are split by ;)")
        if len(parts) > self.max_items:
            raise Invalid(f"항목이 {len(parts)}개입니다. {self.max_items}개까지 쓸 수 있습니다",
                          f"lists {len(parts)} items; at most {self.max_items} fit")
        values = []
        for part in parts:
            try:
                value = self.item.parse(part)
            except Invalid as e:
                shown = show(part)
                raise Invalid(e.ko.replace("{v}", shown), e.en.replace("{v}", shown)) from None
            if value in values:
                raise Invalid(f"{show(part)}이(가) 두 번 나옵니다", f"lists {show(part)} twice")
            values.append(value)
        return tuple(values)

    def format(self, value: tuple) -> str:
        return ";".join(self.item.format(v) for v in value)


# --- a file's columns ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    cell: Cell
    #: Personal data (a phone number): a problem with it never repeats the value.
    personal: bool = False


#: A rule across a row's cells: (column or None, ko, en) per problem.
RowCheck = Callable[[Mapping[str, Any]], list[tuple[str | None, str, str]]]


@dataclass(frozen=True)
class Spec:
    kind: str
    columns: tuple[Column, ...]
    #: The columns that identify a record (one row per key in a file, an upsert by key).
    key: tuple[str, ...]
    #: Other columns no two rows may share (empty cells aside).
    unique: tuple[str, ...] = ()
    checks: tuple[RowCheck, ...] = ()
    #: None: a key on two rows is a problem. A name: rows that repeat a key are no problem but
    #: counted in that value of the first (H&M's transactions file writes a row per piece bought).
    count_repeats_as: str | None = None
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)
    _key_of: Callable[[Mapping[str, Any]], tuple] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})
        # Every row's key is taken (twice on an import): one C call, not a generator per row.
        object.__setattr__(self, "_key_of", operator.itemgetter(*self.key) if len(self.key) > 1
                           else lambda values, name=self.key[0]: (values[name],))

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    def key_of(self, values: Mapping[str, Any]) -> tuple:
        """The row's key (KeyError when a key cell is missing from `values`)."""
        return self._key_of(values)

    def problem_order(self, problem: Problem) -> tuple[int, int]:
        """Problems by line, then in the columns' order (the whole row's first)."""
        if problem.column is None:
            return problem.line, -1
        return problem.line, self.header.index(problem.column) if problem.column in self.by_name else len(self.columns)

    def canonical(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The row's cells as export writes them (before spreadsheet escaping): two records with
        the same canonical row are the same record."""
        return tuple(c.cell.format(values[c.name]) for c in self.columns)


def minutes_of_day(hhmm: str) -> int:
    """"09:30" -> 570."""
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


# --- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]


@dataclass
class ParsedFile:
    kind: str
    rows: list[Row] = field(default_factory=list)  # the good rows, in file order
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0  # rows with any content, good or bad

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems})


def decode(data: bytes | str) -> tuple[str | None, Problem | None]:
    """The file's text (UTF-8, with or without a byte-order mark), or where it stops being UTF-8."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        return None, Problem(line, None, "UTF-8 텍스트가 아닙니다. 엑셀에서는 'CSV UTF-8(쉼표로 분리)'로 저장해 주세요",
                             "is not UTF-8 text; in Excel, save as \"CSV UTF-8 (Comma delimited)\"")


def read_csv(s: Spec, data: bytes | str, progress: Callable[[int, int], None] | None = None) -> ParsedFile:
    """Every row of a file of `s` parsed and checked: the good rows, and a problem for each bad
    cell, row or header (all of them, not only the first). `progress(lines_done, lines_total)`
    is called now and then for long files."""
    parsed = ParsedFile(s.kind)
    text, problem = decode(data)
    if problem is not None:
        parsed.problems.append(problem)
        return parsed
    reader = csv.reader(io.StringIO(text, newline=""))
    header_row = next(reader, None)
    if header_row is None or not any(c.strip() for c in header_row):
        parsed.problems.append(Problem(1, None, "첫 줄에 열 이름(머리글)이 없습니다: " + ",".join(s.header),
                                       "the first line must be the header: " + ",".join(s.header)))
        return parsed
    header = [c.strip() for c in header_row]
    problems = _header_problems(s, header)
    if problems:
        parsed.problems.extend(problems)
        return parsed
    index = {name: header.index(name) for name in s.header}
    total_lines = text.count("\n") + 1
    seen_keys: dict[tuple, int] = {}
    counted: dict[tuple, Row] = {}  # with count_repeats_as: the row each key's repeats count in
    seen_unique: dict[tuple[str, Any], int] = {}
    # Per column, once: what the loop below needs (a purchases file has millions of cells).
    plan = [(column.name, column.cell.parse, index[column.name], column.personal) for column in s.columns]
    previous_end = reader.line_num
    for cells in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if progress is not None and parsed.rows_read % 2000 == 0:
            progress(previous_end, total_lines)
        if not "".join(cells).strip():
            continue  # a blank row, or one of only commas as spreadsheets leave at the end
        parsed.rows_read += 1
        if len(cells) != len(header):
            parsed.problems.append(Problem(
                line, None, f"칸이 {len(cells)}개인데 머리글은 {len(header)}개입니다 (쉼표가 든 칸은 큰따옴표로 감싸야 합니다)",
                f"has {len(cells)} cells where the header has {len(header)} "
                "(a cell with a comma in it needs double quotes around it)"))
            continue
        values, bad = {}, []
        for name, parse, at, personal in plan:
            raw = cells[at]
            if raw[:1] == "'":
                raw = unescape_cell(raw)
            try:
                values[name] = parse(raw)
            except Invalid as e:
                shown = ("값" if personal else show(raw), "the value" if personal else show(raw))
                bad.append(Problem(line, name, e.ko.replace("{v}", shown[0]), e.en.replace("{v}", shown[1])))
        for check in s.checks:
            try:
                bad.extend(Problem(line, col, ko, en) for col, ko, en in check(values))
            except KeyError:
                pass  # a cell the rule needs is bad itself, and named already
        try:
            key = s.key_of(values)
        except KeyError:
            key = None  # a key cell is bad itself, and named already
        if key is not None:
            if key not in seen_keys:
                seen_keys[key] = line
            elif s.count_repeats_as is None:
                shown_key = "/".join(map(str, key))
                bad.append(Problem(line, s.key[-1], f"{shown_key}이(가) {seen_keys[key]}행에도 있습니다",
                                   f"{shown_key} is also on line {seen_keys[key]}"))
            elif not bad and key in counted:
                counted[key].values[s.count_repeats_as] += 1
                continue
        for name in s.unique:
            value = values.get(name)
            if value in (None, ""):
                continue
            if (name, value) in seen_unique:
                bad.append(Problem(line, name, f"{show(str(value))}이(가) {seen_unique[(name, value)]}행에도 있습니다",
                                   f"{show(str(value))} is also on line {seen_unique[(name, value)]}"))
            else:
                seen_unique[(name, value)] = line
        if bad:
            parsed.problems.extend(sorted(bad, key=s.problem_order))
            continue
        row = Row(line, values)
        if s.count_repeats_as is not None:
            values[s.count_repeats_as] = 1
            counted[key] = row
        parsed.rows.append(row)
    if progress is not None:
        progress(total_lines, total_lines)
    return parsed


def _header_problems(s: Spec, header: list[str]) -> list[Problem]:
    problems = []
    doubled = sorted({h for h in header if header.count(h) > 1 and h})
    if doubled:
        problems.append(Problem(1, None, f"머리글에 같은 열이 두 번 있습니다: {', '.join(doubled)}",
                                f"the header names a column twice: {', '.join(doubled)}"))
    missing = [h for h in s.header if h not in header]
    if missing:
        problems.append(Problem(1, None, f"머리글에 이 열이 없습니다: {', '.join(missing)}",
                                f"the header lacks the column(s): {', '.join(missing)}"))
    unknown = [h for h in header if h not in s.by_name]
    if unknown:
        shown = ", ".join(show(h) for h in unknown)
        problems.append(Problem(1, None, f"머리글에 모르는 열이 있습니다: {shown} ({s.kind}의 열: {', '.join(s.header)})",
                                f"the header has columns a {s.kind} file does not have: {shown} "
                                f"(expected: {', '.join(s.header)})"))
    return problems


# --- writing ----------------------------------------------------------------------------------

def write_csv(s: Spec, records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """The records as a file of `s` (header first, canonical cells, spreadsheet-safe); returns
    the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(s.header)
    n = 0
    for values in records:
        writer.writerow([escape_cell(text) if column.cell.escapes else text
                         for column, text in zip(s.columns, s.canonical(values), strict=True)])
        n += 1
    return n
