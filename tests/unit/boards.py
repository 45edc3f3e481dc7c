"""Messages as boards send them, for the gateway store's unit tests."""

from __future__ import annotations

import json

from edge_gateway.outbox import Incoming, Outbox

WORKSHOP = "ws-unit-01"
REGISTRY = {"sn-cccccccccc01": "m01", "sn-cccccccccc02": "m02"}
D1, D2 = REGISTRY
T0 = 1_763_900_000  # 2025-11-23 12:13:20 UTC


def msg(device: str, seq: int, *, boot: int = 1, stitches: int = 10, at: float | None = None,
        synced: bool = True, **extra) -> Incoming:
    """Summary `seq` of a board closing one 10 s interval after another since T0; with `synced`
    its clock is set (`time`). It arrives 0.5 s after it ended unless `at` says otherwise."""
    body = {"v": 1, "device": device, "boot": boot, "seq": seq, "uptime_ms": 10_000 * seq, "interval_ms": 10_000,
            "stitches": stitches, "run_ms": 1_000, "stops": 0, "peak_spm": 3_000, "total": 1_000 + seq * stitches}
    if synced:
        body["time"] = T0 + 10 * seq
    body.update(extra)
    return Incoming(f"sewnet/v1/{device}/summary", json.dumps(body).encode(), T0 + 10 * seq + 0.5 if at is None else at)


def status(device: str, *, at: float = T0, retained: bool = False, **extra) -> Incoming:
    body = {"v": 1, "device": device, "state": "online", "boot": 1, "uptime_ms": 5_000, "fw": "0.1.0",
            "counter": "pcnt", "interval_ms": 10_000, "queued": 0, "dropped": 0, **extra}
    return Incoming(f"sewnet/v1/{device}/status", json.dumps(body).encode(), at, retained=retained)


class Kernel:
    """Stands in for the kernel's NTP flag (adjtimex), which a test cannot set on this machine."""

    def __init__(self, synced: bool | None = True) -> None:
        self.synced = synced

    def __call__(self) -> bool | None:
        return self.synced


def store_at(path, registry=REGISTRY, kernel=None, **kw) -> Outbox:
    """The store at `path` of a gateway whose kernel says its clock is synced, unless `kernel` says
    otherwise. (This test machine's kernel says unsynced: the store would alert clock_unsynced.)"""
    return Outbox(path, WORKSHOP, registry, clock_synced=kernel or Kernel(True), **kw)


def open_store(tmp_path, registry=REGISTRY, kernel=None, **kw) -> Outbox:
    return store_at(tmp_path / "gw.sqlite", registry, kernel, **kw)


def stamps(store: Outbox, series: str) -> list[int]:
    return sorted(p.ts for p in store.pending(100_000) if p.series == series)
