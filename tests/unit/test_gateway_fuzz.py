"""Fuzzing the MQTT boundary: whatever a board (or anyone with broker access) publishes, validate()
never raises and Outbox.ingest() decides every message of the batch, keeping each rejection with
its reason. Bounded so the suite pays seconds, not minutes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_gateway import timekeeping as tk
from edge_gateway.contract import EARLIEST_TIME, REASONS, STORE_REASONS, Rejected, Status, Summary, validate
from edge_gateway.outbox import Incoming
from tests.unit.boards import REGISTRY, T0, Kernel, open_store

DEVICES = [*REGISTRY, "sn-00000000dead"]  # the last one has no machine in the registry
SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udc80x", "a\ud83d"])
TEXT = st.one_of(st.text(max_size=40), SURROGATES, st.text(min_size=600, max_size=900),
                 st.sampled_from(["", "\x00", "\n", "online", "offline", "pcnt", "irq", "0.1.0"]))
EXTREME_INTS = st.one_of(
    st.integers(-2**70, 2**70),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**32 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**400]),
)
SCALARS = st.one_of(st.none(), st.booleans(), EXTREME_INTS, TEXT,
                    st.floats(allow_nan=True, allow_infinity=True))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


@st.composite
def topics(draw):
    device = draw(st.sampled_from(DEVICES))
    if draw(st.integers(0, 9)) < 7:  # mostly well-addressed, so the store's rules get exercised
        return f"sewnet/v1/{device}/{draw(st.sampled_from(['summary', 'summary', 'status']))}"
    return draw(st.one_of(st.builds(lambda t: f"sewnet/v1/{t}/summary", TEXT), st.text(max_size=60), SURROGATES))


@st.composite
def summary_like(draw, device: str):
    """A summary that is valid, or one or two keys away from it, or with extra keys."""
    seq = draw(st.integers(1, 40))
    body = {"v": 1, "device": device, "boot": draw(st.integers(1, 3)), "seq": seq,
            "uptime_ms": draw(st.one_of(st.just(10_000 * seq), st.integers(0, 2**53))),
            "interval_ms": 10_000, "stitches": draw(st.integers(0, 2000)), "run_ms": 5_000, "stops": 1,
            "peak_spm": 6_000, "total": 10**6}
    if draw(st.booleans()):
        body["time"] = draw(st.one_of(st.just(T0 + 10 * seq), st.integers(EARLIEST_TIME, 2**32 - 1)))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        key = draw(st.sampled_from([*body, "extra"]))
        if draw(st.booleans()):
            body[key] = draw(JSONISH)
        else:
            body.pop(key, None)
    return body


@st.composite
def payloads(draw, topic: str):
    parts = topic.split("/")
    device = parts[2] if len(parts) == 4 and parts[2] in DEVICES else draw(st.sampled_from(DEVICES))
    kind = draw(st.sampled_from(["bytes", "jsonish", "summary", "summary", "summary", "status", "duplicate_keys",
                                 "huge"]))
    if kind == "bytes":
        return draw(st.binary(max_size=700))
    if kind == "jsonish":
        return json.dumps(draw(JSONISH)).encode()
    if kind == "summary":
        return json.dumps(draw(summary_like(device)), separators=(",", ":")).encode()
    if kind == "status":
        body = {"v": 1, "device": device, "state": draw(st.sampled_from(["online", "offline"])), "boot": 1,
                "uptime_ms": 5, "fw": draw(TEXT), "counter": "pcnt", "interval_ms": 10_000, "queued": 0, "dropped": 0}
        return json.dumps(body).encode()
    if kind == "duplicate_keys":
        return (f'{{"v":1,"device":"{device}","boot":1,"seq":1,"seq":{draw(EXTREME_INTS)},"uptime_ms":10000,'
                '"interval_ms":10000,"stitches":1,"run_ms":1,"stops":0,"peak_spm":0,"total":1,"v":1}').encode()
    return b'{"v":1,"fw":"' + b"x" * draw(st.integers(400, 5000)) + b'"}'


@st.composite
def messages(draw):
    topic = draw(topics())
    return topic, draw(payloads(topic))


@settings(max_examples=400, deadline=None)
@given(messages())
def test_validate_never_raises_and_names_a_reason(message):
    topic, payload = message
    result = validate(topic, payload, REGISTRY)
    assert type(result) in (Summary, Status, Rejected)
    if isinstance(result, Rejected):
        assert result.reason in REASONS and result.reason not in STORE_REASONS
        assert result.detail
        result.detail.encode("utf-8")
    else:
        assert result.device in REGISTRY and topic.split("/")[2] == result.device
        numbers = {k: v for k, v in asdict(result).items() if k not in ("device", "state", "fw", "counter")}
        assert all(v is None or (type(v) is int and 0 <= v < 2**63) for v in numbers.values())
        for text in (v for v in asdict(result).values() if isinstance(v, str)):
            text.encode("utf-8")  # raises on what the store could not hold
            assert text.isprintable()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(messages(), min_size=1, max_size=15), min_size=1, max_size=4),
       st.lists(st.floats(-3600, 3600, allow_nan=False), min_size=4, max_size=4))
def test_ingest_decides_every_message_and_keeps_every_rejection(batches, clock_steps):
    with tempfile.TemporaryDirectory() as tmp:
        with open_store(Path(tmp), kernel=Kernel(True), synchronous="OFF") as store:
            kept = 0
            for batch, step in zip(batches, clock_steps):
                at = T0 + 1000 + step
                incoming = [Incoming(t, p, at) for t, p in batch]
                r = store.ingest(incoming)
                assert r.accepted + r.duplicates + r.statuses + sum(r.rejected.values()) == len(batch)
                assert set(r.rejected) <= set(REASONS)
                kept += sum(r.rejected.values())
                assert len(store.rejected(10_000)) == kept
                for line in r.lines:
                    ts = int(line.rsplit(" ", 1)[1])
                    assert EARLIEST_TIME <= ts <= math.floor(at) + tk.MAX_AHEAD_S
            counters = store.counters()
            assert counters.get("accepted", 0) == store.pending_stats()[0]
            assert sum(v for k, v in counters.items() if k.startswith("rejected.")) == kept
            devices = store.devices(now=T0)
            assert all(d["missing"] >= 0 for d in devices)
            assert counters.get("missing", 0) == sum(d["missing"] for d in devices)
            # One line per second and series: nothing overwrites anything downstream.
            pending = store.pending(100_000)
            assert len({(p.series, p.ts) for p in pending}) == len(pending)
