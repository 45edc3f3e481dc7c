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

# [0-9], not \d: Python's \d and int() take digits of every script ("٣" is 3), InfluxDB does not.
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INT = re.compile(r"[+-]?[0-9]+\Z")
_UINT = re.compile(r"[0-9]+\Z")
_TIMESTAMP = re.compile(r"-?[0-9]+\Z")
# More digits than any int64/uint64 has (with a sign and leading zeros to spare): out of range
# without asking int(), which refuses past 4,300 digits with a ValueError of its own.
_MAX_DIGITS = 40
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


def shorten(text: str, limit: int = 256) -> str:
    """Client text quoted back in a reason: a name or line can be megabytes long."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class Rejected:
    line: str
    reason: str

    def describe(self) -> str:
        """InfluxDB's wording, so clients that already parse InfluxDB errors read ours too."""
        return f"unable to parse '{shorten(self.line)}': {self.reason}"


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


# An escaped pair first (it hides what it escapes), then what changes the splitter's state.
_SPLIT_STATE = re.compile(r'\\.|[ "]', re.DOTALL)
_STRING_STATE = re.compile(r'\\.|"', re.DOTALL)


def _scan_piece(piece: str, in_fields: bool, in_string: bool) -> tuple[bool, bool]:
    """The splitter's state after one newline-free piece of a body."""
    pos = 0
    while True:
        m = (_STRING_STATE if in_string else _SPLIT_STATE).search(piece, pos)
        if m is None:
            return in_fields, in_string
        ch, pos = m.group(), m.end()
        if in_string:
            in_string = ch != '"'
        elif ch == " ":
            in_fields = True
        elif ch == '"' and in_fields and m.start() > 0 and piece[m.start() - 1] == "=":
            in_string = True


def split_lines(text: str) -> list[str]:
    """Split a body into lines. A newline inside a quoted string field value belongs to the value,
    so quotes are tracked, but only after the first unescaped space (the field set), because a
    quote in a measurement or tag is an ordinary character. A backslash never escapes a newline.

    A piece between newlines without a quote cannot open a string, so it is a line as it stands:
    a body of plain lines is split at C speed, whatever its size."""
    pieces = text.split("\n")
    lines: list[str] = []
    open_line: list[str] = []  # the pieces of a line whose string value spans newlines
    in_fields = False
    for piece in pieces:
        if not open_line:
            if '"' not in piece:
                lines.append(piece)
                continue
            in_fields = False
        open_line.append(piece)
        in_fields, in_string = _scan_piece(piece, in_fields, len(open_line) > 1)
        if not in_string:
            lines.append("\n".join(open_line))
            open_line = []
    if open_line:
        lines.append("\n".join(open_line))
    elif pieces[-1] == "":
        lines.pop()  # the body's last newline ends its last line; it does not start another
    return lines


# Where a token may end: a backslash (maybe an escape) or one of the token's stop characters.
_TOKEN_END = {", ": re.compile(r"[\\, ]"), ",= ": re.compile(r"[\\,= ]")}
_STRING_END = re.compile(r'[\\"]')
_VALUE_END = re.compile(r"[, ]")


def _read_token(line: str, pos: int, stops: str) -> tuple[str, int]:
    """Read up to the first unescaped character in `stops`, unescaping those characters (InfluxDB
    escapes exactly the characters that would end the token). Jumps from one candidate end to
    the next with a regex, so a long token costs C time, not a Python step per character."""
    out: list[str] = []
    end = _TOKEN_END[stops]
    n = len(line)
    while True:
        m = end.search(line, pos)
        if m is None:
            out.append(line[pos:])
            return "".join(out), n
        at = m.start()
        out.append(line[pos:at])
        if line[at] != "\\":
            return "".join(out), at
        if at + 1 < n and line[at + 1] in stops:
            out.append(line[at + 1])
            pos = at + 2
        else:
            out.append("\\")
            pos = at + 1


def _out_of_range(kind: str, digits: str) -> _LineError:
    shown = digits if len(digits) <= 20 else digits[:20] + "..."
    return _LineError(f"unable to parse {kind} {shown}: value out of range")


def _parse_value(token: str) -> FieldValue:
    if token.endswith("i"):
        digits = token[:-1]
        if not _INT.match(digits):
            raise _LineError("invalid number")
        if len(digits) > _MAX_DIGITS or not -(2**63) <= int(digits) < 2**63:
            raise _out_of_range("integer", digits)
        return int(digits)
    if token.endswith("u"):
        digits = token[:-1]
        if not _UINT.match(digits):
            raise _LineError("invalid number")
        if len(digits) > _MAX_DIGITS or int(digits) >= 2**64:
            raise _out_of_range("unsigned", digits)
        return Unsigned(int(digits))
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
    while True:
        m = _STRING_END.search(line, pos)
        if m is None:
            raise _LineError("unbalanced quotes")
        at = m.start()
        out.append(line[pos:at])
        if line[at] == '"':
            return "".join(out), at + 1
        if at + 1 < n and line[at + 1] in '"\\':
            out.append(line[at + 1])
            pos = at + 2
        else:
            out.append("\\")
            pos = at + 1


def parse_line(line: str, precision_ns: int, now_ns: int) -> Point:
    """One line to a Point, or _LineError with InfluxDB's reason."""
    n = len(line)
    measurement, pos = _read_token(line, 0, ", ")
    if not measurement:
        raise _LineError("missing measurement")

    tags: dict[str, str] = {}
    while pos < n and line[pos] == ",":
        key, pos = _read_token(line, pos + 1, ",= ")
        if pos >= n or line[pos] != "=":
            raise _LineError("missing tag value")
        if not key:
            raise _LineError("missing tag key")
        value, pos = _read_token(line, pos + 1, ",= ")
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
        key, pos = _read_token(line, pos, ",= ")
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
            m = _VALUE_END.search(line, pos)
            end = m.start() if m else n
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
        if len(token) > _MAX_DIGITS:
            raise _LineError("time outside range")
        time_ns = int(token) * precision_ns
    else:
        # InfluxDB stamps a point without a time with the server's clock, cut to the precision.
        time_ns = now_ns - now_ns % precision_ns
    if not MIN_TIME_NS <= time_ns <= MAX_TIME_NS:
        raise _LineError("time outside range")

    return Point(measurement, tuple(sorted(tags.items())), fields, time_ns)


def physical_lines(body: bytes) -> int:
    """How many lines a body has counting every newline, those inside string values too: an upper
    bound on the lines parse() sees, found without splitting (a 10 MiB body of empty lines would
    be five million strings)."""
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def parse(text: str, precision_ns: int, now_ns: int) -> ParseResult:
    """Parse a whole body. Blank lines and `#` comments are skipped; each bad line lands in
    `rejected` with its reason and the good lines still come back. Nothing is raised, whatever
    the text; bound the work with physical_lines() first."""
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
