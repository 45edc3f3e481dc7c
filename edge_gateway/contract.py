"""Validation of incoming MQTT messages and the line-protocol encoder (docs/protocol.md, 4 and 6).

This runs once per message on the gateway's hot path (thousands of messages a second on a
Raspberry Pi), so it is written as plain checks on the parsed JSON instead of a pydantic model:
the rules are few and fixed by the contract, and plain checks are several times faster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping

#: The contract version boards send now; the gateway accepts every version in CONTRACT_VERSIONS
#: (docs/protocol.md: v2 adds the boot nonce and the uptime at publish time; v1 boards go on).
CONTRACT_VERSION = 2
CONTRACT_VERSIONS = (1, 2)
MAX_PAYLOAD_BYTES = 512
#: How much of a rejected payload the store keeps for inspection.
KEEP_REJECTED_BYTES = 4096

# The order is the order of the checks: the first failing check names the reason.
REASONS = (
    "oversized",
    "bad_topic",
    "malformed_json",
    "unsupported_version",
    "schema",
    "device_mismatch",
    "unknown_device",
    # The two below are decided by the store, after the checks above (docs/protocol.md 4 and 5).
    "implausible_time",
    "store_error",
)
#: Reasons only the store gives (validate() never returns them).
STORE_REASONS = ("implausible_time", "store_error")

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,31}")
# fullmatch, not `$`: `$` would let "…/summary\n" through.
TOPIC = re.compile(r"sewnet/v1/([a-z0-9][a-z0-9_-]{1,31})/(summary|status)")


def ack_topic(device: str) -> str:
    """Where the gateway tells a board which of its summaries are decided (docs/protocol.md 1):
    inside the board's own subtree, so the broker's pattern ACL lets the board read it."""
    return f"sewnet/v1/{device}/ack"

INT31 = 2**31 - 1
# SQLite keeps integers as signed 64-bit; a larger total could not be stored at all.
INT63 = 2**63 - 1
#: A board's synced clock is plausible from 2020-09-13 ...
EARLIEST_TIME = 1_600_000_000
#: ... to 2106-02-07 (the largest unsigned 32-bit time a board can hold), well inside InfluxDB's
#: range (which ends in 2262) and inside what Python's datetime and the hub can handle.
LATEST_TIME = 2**32 - 1
#: Uptime of a board: up to 2^53 ms (285,000 years; the largest integer every JSON reader keeps
#: exact). Whether an uptime fits the clock and the boot's other summaries is for the time rules
#: (edge_gateway/timekeeping.py), which know the gateway clock.
MAX_UPTIME_MS = 2**53

MEASUREMENT = "sewing"


@dataclass(slots=True, frozen=True)
class Summary:
    device: str
    boot: int
    seq: int
    uptime_ms: int
    interval_ms: int
    stitches: int
    run_ms: int
    stops: int
    peak_spm: int
    total: int
    time: int | None  # only when the board's clock is synced
    #: v2: random per boot, so a board whose flash was erased (boot counter back at 1) does not
    #: repeat an identity; 0 for v1 summaries.
    nonce: int = 0
    #: v2: the board's uptime when it published this copy (>= uptime_ms; later for a summary that
    #: waited in the board's queue); None for v1.
    sent_ms: int | None = None


@dataclass(slots=True, frozen=True)
class Status:
    device: str
    state: str  # "online" | "offline"
    boot: int
    fw: str
    counter: str
    interval_ms: int
    uptime_ms: int | None
    queued: int | None
    dropped: int | None
    nonce: int = 0


@dataclass(slots=True, frozen=True)
class Rejected:
    reason: str  # one of REASONS
    detail: str  # for the operator: which key, which value


class _SchemaError(Exception):
    pass


def _int(obj: dict, key: str, lo: int, hi: int) -> int:
    try:
        value = obj[key]
    except KeyError:
        raise _SchemaError(f"{key}: missing") from None
    # `type(...) is int` and not isinstance: JSON true/false arrive as bool, a subclass of int,
    # and the contract says booleans are not integers.
    if type(value) is not int:
        raise _SchemaError(f"{key}: expected an integer, got {type(value).__name__}")
    if value < lo or value > hi:
        raise _SchemaError(f"{key}: {value} outside {lo}..{hi}")
    return value


def _str(obj: dict, key: str, allowed: tuple[str, ...] | None = None, max_len: int = 64) -> str:
    try:
        value = obj[key]
    except KeyError:
        raise _SchemaError(f"{key}: missing") from None
    if type(value) is not str:
        raise _SchemaError(f"{key}: expected a string, got {type(value).__name__}")
    if allowed is not None and value not in allowed:
        raise _SchemaError(f"{key}: {value[:40]!r} not one of {', '.join(allowed)}")
    if len(value) > max_len:
        raise _SchemaError(f"{key}: longer than {max_len} characters")
    _text(key, value)
    return value


def _text(key: str, value: str) -> None:
    """Refuse text the store (SQLite keeps UTF-8) or the operator page cannot hold.

    JSON may carry a lone surrogate as an escape ("\\ud800"): json.loads turns it into a Python
    str that no UTF-8 encoder accepts, so storing it would fail for the whole batch.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise _SchemaError(
            f"{key}: not text (character {exc.start + 1} is \\u{ord(bad):04x}, half of a UTF-16 pair,"
            " which UTF-8 cannot carry)"
        ) from None
    if not value.isprintable():
        at = next(i for i, ch in enumerate(value) if not ch.isprintable())
        raise _SchemaError(f"{key}: control character \\u{ord(value[at]):04x} at character {at + 1}")


def _summary(obj: dict, version: int) -> Summary:
    # Extra keys are ignored so a later firmware may add fields without being rejected.
    interval_ms = _int(obj, "interval_ms", 1_000, 3_600_000)
    # 12,000 stitches/min is 0.2 per millisecond; integer form avoids float rounding at the limit.
    stitches = _int(obj, "stitches", 0, interval_ms // 5)
    t = None
    if "time" in obj:
        t = _int(obj, "time", EARLIEST_TIME, LATEST_TIME)
    uptime_ms = _int(obj, "uptime_ms", 0, MAX_UPTIME_MS)
    nonce, sent_ms = 0, None
    if version >= 2:
        nonce = _int(obj, "nonce", 1, INT31)
        # A copy is published at or after the end of its interval.
        sent_ms = _int(obj, "sent_ms", uptime_ms, MAX_UPTIME_MS)
    return Summary(
        device=_str(obj, "device"),
        boot=_int(obj, "boot", 1, INT31),
        seq=_int(obj, "seq", 1, INT31),
        uptime_ms=uptime_ms,
        interval_ms=interval_ms,
        stitches=stitches,
        run_ms=_int(obj, "run_ms", 0, interval_ms),
        stops=_int(obj, "stops", 0, 10_000),
        peak_spm=_int(obj, "peak_spm", 0, 30_000),
        total=_int(obj, "total", stitches, INT63),
        time=t,
        nonce=nonce,
        sent_ms=sent_ms,
    )


def _status(obj: dict, version: int) -> Status:
    state = _str(obj, "state", ("online", "offline"))
    online = state == "online"
    # The last will ("offline") carries no uptime/queue figures; the online message must.
    return Status(
        device=_str(obj, "device"),
        state=state,
        boot=_int(obj, "boot", 1, INT31),
        fw=_str(obj, "fw", max_len=32),
        counter=_str(obj, "counter", ("pcnt", "irq")),
        interval_ms=_int(obj, "interval_ms", 1_000, 3_600_000),
        uptime_ms=_int(obj, "uptime_ms", 0, MAX_UPTIME_MS) if online else None,
        queued=_int(obj, "queued", 0, INT31) if online else None,
        dropped=_int(obj, "dropped", 0, INT31) if online else None,
        nonce=_int(obj, "nonce", 1, INT31) if version >= 2 else 0,
    )


def validate(
    topic: str, payload: bytes, registry: Mapping[str, str], size: int | None = None
) -> Summary | Status | Rejected:
    """Check one message per docs/protocol.md section 4.

    `registry` maps device id -> machine id. Returns the validated Summary or Status, or a
    Rejected with the first failing reason and a short human detail. `size` is the payload's
    length on the wire when the caller kept only its start (an oversize payload is cut on arrival).
    """
    size = len(payload) if size is None else size
    if size > MAX_PAYLOAD_BYTES:
        return Rejected("oversized", f"{size} bytes > {MAX_PAYLOAD_BYTES}")
    m = TOPIC.fullmatch(topic)
    if m is None:
        return Rejected("bad_topic", f"topic {topic[:120]!r} outside sewnet/v1/{{device}}/summary|status")
    topic_device, kind = m.group(1), m.group(2)
    try:
        # Decode explicitly: json.loads(bytes) would also accept UTF-16/32, which the contract
        # does not.
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return Rejected("malformed_json", str(exc)[:200])
    if type(obj) is not dict:
        return Rejected("malformed_json", f"JSON {type(obj).__name__}, not an object")
    v = obj.get("v")
    if type(v) is not int or v not in CONTRACT_VERSIONS:
        return Rejected("unsupported_version", f"v={v!r:.40}")
    try:
        result = _summary(obj, v) if kind == "summary" else _status(obj, v)
    except _SchemaError as exc:
        return Rejected("schema", str(exc))
    if result.device != topic_device:
        return Rejected("device_mismatch", f"device {result.device[:40]!r} on topic of {topic_device!r}")
    if topic_device not in registry:
        return Rejected("unknown_device", f"{topic_device} is not in the gateway's registry")
    return result


def encode_line(workshop: str, machine: str, s: Summary, timestamp: int) -> str:
    """One line of InfluxDB line protocol per summary (docs/protocol.md section 6).

    Tag values come from the gateway's own config (validated there to need no escaping), so this
    is plain formatting. Tag keys and field keys are in sorted order.
    """
    return (
        f"{MEASUREMENT},machine={machine},workshop={workshop} "
        f"interval_ms={s.interval_ms}i,peak_spm={s.peak_spm}i,run_ms={s.run_ms}i,"
        f"stitches={s.stitches}i,stops={s.stops}i {timestamp}"
    )


# Tag values are written unescaped by encode_line, so config must keep them to this alphabet.
TAG_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
