"""The InfluxQL the embedded store answers on /query: the reads of docs/protocol.md section 7, parsed
into plain values (pure: no storage, no web). Anything else is refused with a reason, as InfluxDB
refuses what it cannot parse.

    SELECT sum("stitches") AS stitches, sum("run_ms") AS run_ms, sum("interval_ms") AS observed_ms
      FROM "sewing" WHERE <time bounds> GROUP BY [time(<duration>), ]"workshop", "machine" [fill(none)] [tz('<zone>')]
    SELECT last("stitches") FROM "sewing" WHERE <time bounds> GROUP BY "workshop", "machine" [tz('<zone>')]

Time bounds are `time` compared (>, >=, <, <=) with `now()`, `now() - <duration>`, `now() + <duration>`
or an epoch literal (`1763900000000ms`; no unit: nanoseconds), joined by AND; a lower bound is
required. Without an upper bound a plain read has none (InfluxDB's rule: a point stamped in the
future counts) and a read grouped by time ends at now(), as InfluxDB's does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.telemetry import line_protocol as lp
from hub.telemetry.port import check_zone


class ReadRefused(ValueError):
    """A statement the store will not answer; `reason` is the rejection counter's key, the message
    is InfluxDB's wording where InfluxDB has one."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


INT64_MAX = 2**63 - 1
DURATION_NS = {"ns": 1, "u": 1_000, "µ": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
               "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}

# Units are case-sensitive in InfluxQL ("1H" is not a duration) though keywords are not.
_UNIT = r"(?-i:ns|u|µ|ms|s|m|h|d|w)"
_SUMS = (r'SELECT\s+sum\("stitches"\)\s+AS\s+stitches\s*,\s*sum\("run_ms"\)\s+AS\s+run_ms\s*,\s*'
         r'sum\("interval_ms"\)\s+AS\s+observed_ms')
_LAST = r'SELECT\s+last\("stitches"\)'
_STATEMENT = re.compile(
    rf'(?P<select>{_SUMS}|{_LAST})\s+FROM\s+"sewing"\s+WHERE\s+(?P<where>.+?)\s+'
    rf'GROUP\s+BY\s+(?:time\(\s*(?P<bucket>[0-9]+)(?P<bucket_unit>{_UNIT})\s*\)\s*,\s*)?"workshop"\s*,\s*"machine"'
    r"(?P<fill>\s+fill\(\s*none\s*\))?(?:\s+tz\(\s*'(?P<tz>[^']{1,64})'\s*\))?\s*;?\s*\Z",
    re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(
    rf"\s*time\s*(?P<op>>=|<=|>|<)\s*(?:(?P<now>now\(\))(?:\s*(?P<sign>[+-])\s*(?P<d>[0-9]+)(?P<du>{_UNIT}))?"
    rf"|(?P<epoch>[0-9]+)(?P<eu>{_UNIT})?)\s*\Z",
    re.IGNORECASE)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


def duration_ns(digits: str, unit: str) -> int:
    """An InfluxQL duration in nanoseconds, refused in InfluxDB's words when it does not fit its
    int64 (`now() - 99999999999999999999w` once answered 500)."""
    if len(digits) > 19 or int(digits) > INT64_MAX:
        raise ReadRefused("bad_duration", "error parsing query: invalid duration")
    ns = int(digits) * DURATION_NS[unit]
    if ns > INT64_MAX:
        raise ReadRefused("bad_duration",
                          f"error parsing query: overflowed duration {digits}{unit}: choose a smaller duration or INF")
    return ns


@dataclass(frozen=True)
class Bound:
    op: str  # > >= < <=
    relative: bool  # to now()
    ns: int  # the offset from now(), or the epoch time

    def at(self, now_ns: int) -> int:
        return now_ns + self.ns if self.relative else self.ns


@dataclass(frozen=True)
class Read:
    kind: str  # "sums" or "last"
    bounds: tuple[Bound, ...]
    bucket_ns: int | None  # GROUP BY time(...)
    zone: ZoneInfo | None  # tz(...)

    def range_ns(self, now_ns: int) -> tuple[int, int]:
        """The closed range first <= time <= last the bounds leave, at `now_ns`."""
        first, last = lp.MIN_TIME_NS, lp.MAX_TIME_NS
        if self.bucket_ns is not None:
            last = now_ns
        for b in self.bounds:
            t = b.at(now_ns)
            if b.op == ">":
                first = max(first, t + 1)
            elif b.op == ">=":
                first = max(first, t)
            elif b.op == "<":
                last = min(last, t - 1)
            else:
                last = min(last, t)
        # Inside what InfluxDB can hold, so every answer stamps a time it could hold too.
        return max(first, lp.MIN_TIME_NS), min(last, lp.MAX_TIME_NS)

    def first_stamp(self, now_ns: int) -> int:
        """What InfluxDB stamps an aggregate without GROUP BY time() with: the range's start."""
        return self.range_ns(now_ns)[0]


def parse_read(statement: str) -> Read:
    m = _STATEMENT.match(statement.strip())
    if not m:
        raise ReadRefused("unsupported_statement",
                          "error parsing query: the embedded store serves only the capacity queries of "
                          "docs/protocol.md section 7")
    kind = "last" if m.group("select").lower().startswith("select last") else "sums"
    bucket_ns = duration_ns(m.group("bucket"), m.group("bucket_unit")) if m.group("bucket") is not None else None
    if bucket_ns is not None and (kind == "last" or not m.group("fill")):
        raise ReadRefused("unsupported_statement",
                          "error parsing query: the embedded store groups by time only the sums, with fill(none)")
    if bucket_ns == 0:
        raise ReadRefused("bad_duration", "error parsing query: group by interval must be positive")
    zone = None
    if m.group("tz") is not None:
        try:
            zone = check_zone(m.group("tz"))
        except ValueError:
            raise ReadRefused("bad_time_zone", f"error parsing query: unable to find time zone {m.group('tz')}") from None
    bounds = []
    for part in _AND.split(m.group("where")):
        c = _CONDITION.match(part)
        if not c:
            raise ReadRefused("unsupported_statement",
                              "error parsing query: the embedded store takes only time bounds joined by AND")
        if c.group("now"):
            ns = duration_ns(c.group("d"), c.group("du")) if c.group("d") is not None else 0
            bounds.append(Bound(c.group("op"), True, -ns if c.group("sign") == "-" else ns))
        else:
            bounds.append(Bound(c.group("op"), False, duration_ns(c.group("epoch"), c.group("eu") or "ns")))
    if not any(b.op in (">", ">=") for b in bounds):
        raise ReadRefused("unsupported_statement", "error parsing query: the embedded store needs a lower time bound")
    return Read(kind, tuple(bounds), bucket_ns, zone)
