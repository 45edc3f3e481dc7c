"""What the contract lets a `sewing` point hold (docs/protocol.md sections 2 and 6), for the hub.

The gateway validates every summary before it becomes a line, so a value outside these ranges
comes from a broken or hostile writer. The embedded store refuses such a point at write time, and
capacity never sums a value it could not have been sent: two points of `stitches=2^63-1` once
overflowed SQLite's sum and took capacity down for every workshop.

The ranges repeat edge_gateway/contract.py's checks on purpose, so the hub does not depend on the
gateway's package; tests/unit/test_hub_store.py holds them to the gateway's validator.
"""

from __future__ import annotations

from hub.telemetry.line_protocol import Point, field_type

MEASUREMENT = "sewing"

MAX_INTERVAL_MS = 3_600_000
#: A sewing machine stitches at most 12,000 times a minute: 0.2 stitches per millisecond.
MAX_STITCHES_PER_MS = 0.2

#: field: (lowest, highest) the contract allows, whatever the interval.
SEWING_FIELDS: dict[str, tuple[int, int]] = {
    "interval_ms": (1_000, MAX_INTERVAL_MS),
    "stitches": (0, int(MAX_INTERVAL_MS * MAX_STITCHES_PER_MS)),
    "run_ms": (0, MAX_INTERVAL_MS),
    "stops": (0, 10_000),
    "peak_spm": (0, 30_000),
}


def max_stitches(interval_ms: int) -> int:
    return interval_ms // 5  # interval_ms * 0.2, in integers as the gateway checks it


def contract_problem(point: Point) -> str | None:
    """Why a point cannot have come from a summary the contract allows, or None. Only `sewing`
    points are checked, and only the contract's fields: other measurements are not the hub's."""
    if point.measurement != MEASUREMENT:
        return None
    for name, (low, high) in SEWING_FIELDS.items():
        if name not in point.fields:
            continue
        value = point.fields[name]
        if field_type(value) != "integer":
            return f'field "{name}" must be an integer (like {low}i), not {field_type(value)}'
        if not low <= value <= high:
            return f'field "{name}"={value} is outside the range {low}..{high} that the contract allows'
    interval = point.fields.get("interval_ms")
    if interval is not None:
        if point.fields.get("stitches", 0) > max_stitches(interval):
            return (f'field "stitches"={point.fields["stitches"]} is more than interval_ms={interval} allows '
                    f"at 12,000 stitches a minute (at most {max_stitches(interval)})")
        if point.fields.get("run_ms", 0) > interval:
            return f'field "run_ms"={point.fields["run_ms"]} is longer than interval_ms={interval}'
    return None


def sums_plausible(stitches: int, run_ms: int, observed_ms: int) -> bool:
    """Whether one machine's sums over a window could come from summaries the contract allows:
    each summary keeps stitches <= interval_ms / 5 and run_ms <= interval_ms, so the sums do too.
    A sum that wrapped around (InfluxQL sums int64 without an overflow check) fails this."""
    return 0 <= run_ms <= observed_ms and 0 <= stitches <= max_stitches(observed_ms)
