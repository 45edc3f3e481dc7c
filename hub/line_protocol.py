"""InfluxDB line protocol, parsed the way InfluxDB 1.x/2.x read it.

    measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]

Measurement names escape `,` and space; tag keys, tag values and field keys escape `,`, `=` and
space; string field values are double-quoted and escape `"` and `\\`, and may hold newlines;
`12i` is an integer, `12u` an unsigned integer, `1`, `1.5`, `-2e3` are floats, `t`/`true`/... are
booleans. A bad line is rejected with a reason in InfluxDB's words ("missing fields", "invalid
number", ...) and the other lines still count, as InfluxDB does with a partial write.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

# InfluxDB keeps two nanoseconds off each end of int64 for its own sentinels.
MIN_TIME_NS = -9223372036854775806
MAX_TIME_NS = 9223372036854775806

# Nanoseconds per unit, as the v1 `precision` parameter spells units; v2 takes ns, us, ms, s.
PRECISION_NS = {"ns": 1, "n": 1, "us": 1_000, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                "m": 60_000_000_000, "h": 3_600_000_000_000}
V2_PRECISIONS = ("ns", "us", "ms", "s")

_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_INT = re.compile(r"[+-]?\d+\Z")
_UINT = re.compile(r"\d+\Z")
_TIMESTAMP = re.compile(r"-?\d+\Z")
_TRUE = frozenset(("t", "T", "true", "True", "TRUE"))
_FALSE = frozenset(("f", "F", "false", "False", "FALSE"))


class Unsigned(int):
    """An unsigned integer field (`12u`): kept apart from `12i` because InfluxDB types them apart."""


FieldValue = int | float | str | bool


def field_type(value: FieldValue) -> str:
    """InfluxDB's name for a field value's type; a field keeps one type per measurement."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Unsigned):
        return "unsigned"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


@dataclass(frozen=True)
class Point:
    measurement: str
    tags: tuple[tuple[str, str], ...]  # sorted by key: the series identity does not depend on order
    fields: dict[str, FieldValue]
    time_ns: int

    @property
    def series_key(self) -> str:
        """Measurement and sorted tags, escaped as in line protocol: one string per series."""
        parts = [_escape(self.measurement, ", ")]
        parts += [f"{_escape(k, ',= ')}={_escape(v, ',= ')}" for k, v in self.tags]
        return ",".join(parts)


@dataclass(frozen=True)
class Rejected:
    line: str
    reason: str

    def describe(self) -> str:
        """InfluxDB's wording, so clients that already parse InfluxDB errors read ours too."""
        shown = self.line if len(self.line) <= 256 else self.line[:253] + "..."
        return f"unable to parse '{shown}': {self.reason}"


@dataclass
class ParseResult:
    points: list[Point] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class _LineError(ValueError):
    pass


def _escape(text: str, specials: str) -> str:
    for ch in specials:
        text = text.replace(ch, "\\" + ch)
    return text


def split_lines(text: str) -> list[str]:
    """Split a body into lines. A newline inside a quoted string field value belongs to the value,
    so quotes are tracked, but only after the first unescaped space (the field set), because a
    quote in a measurement or tag is an ordinary character."""
    lines: list[str] = []
    start = 0
    i = 0
    n = len(text)
    in_fields = False
    in_string = False
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] != "\n":
            i += 2
            continue
        if in_string:
            if ch == '"':
                in_string = False
        elif ch == "\n":
            lines.append(text[start:i])
            start = i + 1
            in_fields = False
        elif ch == " ":
            in_fields = True
        elif ch == '"' and in_fields and i > 0 and text[i - 1] == "=":
            in_string = True
        i += 1
    if start < n:
        lines.append(text[start:])
    return lines


def _read_token(line: str, pos: int, stops: str, escapable: str) -> tuple[str, int]:
    """Read up to the first unescaped character in `stops`; unescape `escapable`."""
    out: list[str] = []
    n = len(line)
    while pos < n:
        ch = line[pos]
        if ch == "\\" and pos + 1 < n and line[pos + 1] in escapable:
            out.append(line[pos + 1])
            pos += 2
            continue
        if ch in stops:
            break
        out.append(ch)
        pos += 1
    return "".join(out), pos


def _parse_value(token: str) -> FieldValue:
    if token.endswith("i"):
        digits = token[:-1]
        if not _INT.match(digits):
            raise _LineError("invalid number")
        value = int(digits)
        if not -(2**63) <= value < 2**63:
            raise _LineError(f"unable to parse integer {digits}: value out of range")
        return value
    if token.endswith("u"):
        digits = token[:-1]
        if not _UINT.match(digits):
            raise _LineError("invalid number")
        value = int(digits)
        if value >= 2**64:
            raise _LineError(f"unable to parse unsigned {digits}: value out of range")
        return Unsigned(value)
    if token in _TRUE:
        return True
    if token in _FALSE:
        return False
    if _FLOAT.match(token):
        value = float(token)
        if math.isinf(value):
            raise _LineError("invalid number")
        return value
    if token[:1].isdigit() or token[:1] in "+-.":
        raise _LineError("invalid number")
    raise _LineError("invalid boolean")


def _parse_string(line: str, pos: int) -> tuple[str, int]:
    """`pos` is just past the opening quote; returns the value and the position past the close."""
    out: list[str] = []
    n = len(line)
    while pos < n:
        ch = line[pos]
        if ch == "\\" and pos + 1 < n and line[pos + 1] in '"\\':
            out.append(line[pos + 1])
            pos += 2
            continue
        if ch == '"':
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise _LineError("unbalanced quotes")


def parse_line(line: str, precision_ns: int, now_ns: int) -> Point:
    """One line to a Point, or _LineError with InfluxDB's reason."""
    n = len(line)
    measurement, pos = _read_token(line, 0, ", ", ", ")
    if not measurement:
        raise _LineError("missing measurement")

    tags: dict[str, str] = {}
    while pos < n and line[pos] == ",":
        key, pos = _read_token(line, pos + 1, ",= ", ",= ")
        if pos >= n or line[pos] != "=":
            raise _LineError("missing tag value")
        if not key:
            raise _LineError("missing tag key")
        value, pos = _read_token(line, pos + 1, ",= ", ",= ")
        if pos < n and line[pos] == "=":
            raise _LineError("invalid tag format")
        if not value:
            raise _LineError("missing tag value")
        if key in tags:
            raise _LineError("duplicate tags")
        if key == "time":
            raise _LineError('invalid tag key "time"')
        tags[key] = value

    while pos < n and line[pos] == " ":
        pos += 1
    if pos >= n:
        raise _LineError("missing fields")

    fields: dict[str, FieldValue] = {}
    while True:
        key, pos = _read_token(line, pos, ",= ", ",= ")
        if pos >= n or line[pos] != "=":
            raise _LineError("invalid field format" if key else "missing fields")
        if not key:
            raise _LineError("missing field key")
        pos += 1
        if pos >= n or line[pos] in ", ":
            raise _LineError("missing field value")
        if line[pos] == '"':
            value, pos = _parse_string(line, pos + 1)
            if pos < n and line[pos] not in ", ":
                raise _LineError("invalid field format")
        else:
            end = pos
            while end < n and line[end] not in ", ":
                end += 1
            value = _parse_value(line[pos:end])
            pos = end
        if key in fields:
            raise _LineError("duplicate field key")
        if key == "time":
            raise _LineError('invalid field name "time"')
        fields[key] = value
        if pos < n and line[pos] == ",":
            pos += 1
            continue
        break

    while pos < n and line[pos] == " ":
        pos += 1
    if pos < n:
        token = line[pos:].rstrip(" ")
        if not _TIMESTAMP.match(token):
            raise _LineError("bad timestamp")
        time_ns = int(token) * precision_ns
    else:
        # InfluxDB stamps a point without a time with the server's clock, cut to the precision.
        time_ns = now_ns - now_ns % precision_ns
    if not MIN_TIME_NS <= time_ns <= MAX_TIME_NS:
        raise _LineError("time outside range")

    return Point(measurement, tuple(sorted(tags.items())), fields, time_ns)


def parse(text: str, precision_ns: int, now_ns: int) -> ParseResult:
    """Parse a whole body. Blank lines and `#` comments are skipped; each bad line lands in
    `rejected` with its reason and the good lines still come back."""
    result = ParseResult()
    for raw in split_lines(text):
        line = raw.rstrip("\r").lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        try:
            # A body decoded with surrogateescape carries undecodable bytes as surrogates.
            line.encode("utf-8")
        except UnicodeEncodeError:
            result.rejected.append(Rejected(line.encode("utf-8", "replace").decode(), "invalid UTF-8"))
            continue
        try:
            result.points.append(parse_line(line, precision_ns, now_ns))
        except _LineError as e:
            result.rejected.append(Rejected(line, str(e)))
    return result
