"""Gap accounting (issue 5, item 11): how many summaries of a board are known not to have arrived.

Definition (docs/protocol.md section 5): for each boot, the seqs from its base up to the highest
seq arrived that have not arrived. The base is 1, except in the first boot of a board this store
ever sees, where it is the lowest seq arrived (the store cannot know what came before it listened).
A board's `missing` adds its boots up; the counter `missing` adds up the boards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edge_gateway.cli import app
from edge_gateway.outbox import Outbox
from tests.unit.boards import D1, D2, REGISTRY, T0, WORKSHOP, Kernel, msg, open_store


def missing(store, device=D1) -> int:
    return {d["device"]: d["missing"] for d in store.devices(now=T0)}[device]


def test_seq_2_before_seq_1_of_a_new_boot_is_one_missing_then_none(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, q, boot=1) for q in (1, 2, 3)])
        s.ingest([msg(D1, 2, boot=2, at=T0 + 100)])
        assert missing(s) == 1 and s.counters()["missing"] == 1
        s.ingest([msg(D1, 1, boot=2, at=T0 + 101)])
        assert missing(s) == 0 and s.counters().get("missing", 0) == 0


def test_a_gap_before_the_first_seq_seen_counts_once_and_fills_when_it_arrives(tmp_path):
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, 1, boot=1)])
        s.ingest([msg(D1, 5, boot=2), msg(D1, 7, boot=2)])
        assert missing(s) == 5  # 1-4 and 6
        s.ingest([msg(D1, 2, boot=2), msg(D1, 2, boot=2), msg(D1, 6, boot=2)])
        assert missing(s) == 3 and missing(s, D2) == 0
        assert s.counters()["missing"] == 3


def test_the_first_boot_a_store_sees_counts_from_its_lowest_seq(tmp_path):
    # A gateway installed (or its store replaced) while the board is mid-boot.
    with open_store(tmp_path) as s:
        s.ingest([msg(D1, 4000, boot=17), msg(D1, 4002, boot=17)])
        assert missing(s) == 1
        s.ingest([msg(D1, 3998, boot=17)])  # an older one still queued somewhere
        assert missing(s) == 2  # 3999 and 4001


@st.composite
def arrivals(draw):
    """Summaries of two boots of one board (the first is the store's first), any subset, any order,
    some twice, cut into batches; the store is reopened between some batches."""
    seqs = {boot: draw(st.lists(st.integers(1, 60), max_size=40)) for boot in (1, 2)}
    items = [(boot, q) for boot in (1, 2) for q in seqs[boot]]
    order = draw(st.permutations(items))
    cuts = draw(st.lists(st.integers(1, 8), max_size=len(order)))
    reopen = draw(st.lists(st.booleans(), max_size=len(cuts) + 1))
    return order, cuts, reopen


@settings(max_examples=80, deadline=None)
@given(arrivals())
def test_missing_is_exact_whatever_the_arrival_order(case):
    order, cuts, reopen = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        store = open_store(path, synchronous="OFF")
        try:
            i, n = 0, 0
            sizes = iter(cuts)
            while i < len(order):
                size = next(sizes, len(order))
                batch = order[i:i + size]
                i += size
                store.ingest([msg(D1, q, boot=b, synced=False, at=T0 + 1000 * b + 10 * q + 0.5) for b, q in batch])
                if n < len(reopen) and reopen[n]:
                    store.close()
                    store = open_store(path, synchronous="OFF")
                n += 1
                # Boot 2 counts from 1 if boot 1 was known when boot 2 first arrived; otherwise (and
                # always for boot 1, which has no earlier boot) from the lowest seq arrived.
                seen = {b: {q for bb, q in order[:i] if bb == b} for b in (1, 2)}
                boot2_first = next((k for k, (b, _) in enumerate(order) if b == 2), len(order))
                counts_from_one = {1: False, 2: any(b == 1 for b, _ in order[:boot2_first])}
                expected = 0
                for b, qs in seen.items():
                    if qs:
                        base = 1 if counts_from_one[b] else min(qs)
                        expected += sum(1 for q in range(base, max(qs) + 1) if q not in qs)
                assert missing(store) >= 0
                assert missing(store) == expected, (order[:i], expected)
                assert store.counters().get("missing", 0) == expected
            distinct = {(b, q) for b, q in order}
            assert store.counters().get("accepted", 0) == len(distinct) == store.pending_stats()[0]
        finally:
            store.close()


def test_sewnet_gateway_status_shows_missing_per_board(tmp_path):
    with Outbox(tmp_path / "gw" / "gateway.sqlite", WORKSHOP, REGISTRY, clock_synced=Kernel(True)) as s:
        s.ingest([msg(D1, 1), msg(D1, 4), msg(D2, 1)])
    config = tmp_path / "gw.toml"
    registry = "\n".join(f'"{d}" = "{m}"' for d, m in REGISTRY.items())
    config.write_text(f'workshop = "{WORKSHOP}"\ndata_dir = "gw"\n[uplink]\nurl = "http://127.0.0.1:9"\n'
                      f'[web]\nenabled = false\n[registry]\n{registry}\n')
    out = CliRunner().invoke(app, ["status", "--config", str(config)])
    assert out.exit_code == 0, out.output
    lines = {line.split()[1]: line for line in out.output.splitlines() if line.startswith("  ")}
    assert "missing 2" in lines[D1] and "missing 0" in lines[D2]
