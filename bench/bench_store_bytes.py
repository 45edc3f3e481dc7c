"""Bytes on the Pi's SD card per stored summary, and what the start-up check of the store costs.

Feeds N summaries (default 100,000) from 20 boards through Outbox.ingest in batches of 1,000 (as
the ingest loop does), checkpoints the WAL, and prints:
- the file size (database + WAL) divided by N, while every line is still pending (uplink down);
- the same after the uplink sent everything (the seconds taken, `stamps`, stay seen_keep_days);
- with --check-lines M: the time of the start-up check (PRAGMA quick_check) on a store holding
  M pending lines (the issue asks for 1,000,000), and of replacing it when one page is damaged.

Run: .venv/bin/python bench/bench_store_bytes.py [--summaries 100000] [--check-lines 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_gateway.outbox import Incoming, Outbox  # noqa: E402

BOARDS = 20
REGISTRY = {f"sn-bench{i:06d}": f"m{i:02d}" for i in range(1, BOARDS + 1)}
T0 = 1_763_900_000


def summaries(n: int):
    """n realistic summaries, round-robin over the boards, 10 s apart per board."""
    devices = list(REGISTRY)
    for k in range(n):
        device = devices[k % BOARDS]
        seq = k // BOARDS + 1
        stitches = (seq * 37 + k) % 1800
        body = {"v": 1, "device": device, "boot": 3, "seq": seq, "uptime_ms": 10_000 * seq, "interval_ms": 10_000,
                "stitches": stitches, "run_ms": 6_000, "stops": 2, "peak_spm": 5_040,
                "total": 1_234_567 + seq * 900, "time": T0 + 10 * seq}
        yield Incoming(f"sewnet/v1/{device}/summary", json.dumps(body, separators=(",", ":")).encode(),
                       T0 + 10 * seq + 0.4)


def fill(store: Outbox, n: int, batch: int = 1000) -> None:
    buf = []
    for m in summaries(n):
        buf.append(m)
        if len(buf) == batch:
            store.ingest(buf)
            buf = []
    if buf:
        store.ingest(buf)


def on_disk(path: Path) -> int:
    """Database + WAL after a full checkpoint (what the SD card holds at rest)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def evict(path: Path) -> None:
    """Drop this file from the OS page cache (only this file), as after a reboot of the Pi."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def in_use(path: Path) -> int:
    db = sqlite3.connect(path)
    pages, free, size = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size"))
    db.close()
    return (pages - free) * size


def table_bytes(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        rows = []
    db.close()
    return dict(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--summaries", type=int, default=100_000)
    ap.add_argument("--check-lines", type=int, default=0, help="also time the start-up check on this many lines")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.sqlite"
        with Outbox(path, "ws-bench-01", REGISTRY) as store:
            fill(store, a.summaries)
            line = store.pending(1)[0].line
        pending = on_disk(path)
        print(f"{a.summaries} summaries pending: {pending} bytes = {pending / a.summaries:.0f} B per summary"
              f" (a line is {len(line)} B: {line})")
        for name, size in table_bytes(path).items():
            print(f"  {name:<28} {size / a.summaries:6.1f} B per summary")
        with Outbox(path, "ws-bench-01", REGISTRY) as store:
            while batch := store.pending(5000):
                store.confirm(p.id for p in batch)
        size, used = on_disk(path), in_use(path)
        print(f"after the uplink sent them: {used} bytes in use (the file stays {size} bytes, its free pages"
              f" are reused): {used / a.summaries:.0f} B per summary, the seconds taken kept for seen_keep_days")
    if a.check_lines:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "gateway.sqlite"
            with Outbox(path, "ws-bench-01", REGISTRY) as store:
                fill(store, a.check_lines, batch=5000)
            size = on_disk(path)
            for cache in ("cold", "warm"):
                if cache == "cold":
                    evict(path)
                db = sqlite3.connect(path)
                t = time.perf_counter()
                result = db.execute("PRAGMA quick_check").fetchall()
                took = time.perf_counter() - t
                db.close()
                print(f"quick_check of {a.check_lines} pending lines ({size / 1e6:.0f} MB), {cache} page cache:"
                      f" {took:.2f} s -> {result[0][0]}")
            evict(path)
            t = time.perf_counter()
            Outbox(path, "ws-bench-01", REGISTRY).close()
            print(f"opening that store as the gateway does (check included), cold page cache:"
                  f" {time.perf_counter() - t:.2f} s")
            # One page of noise in the middle of the outbox: the open sets the file aside and
            # carries every readable row into a new store.
            db = sqlite3.connect(path)
            page = db.execute("SELECT pageno FROM dbstat WHERE name='outbox' AND pagetype='leaf' ORDER BY path"
                              " LIMIT 1 OFFSET (SELECT count(*) / 2 FROM dbstat WHERE name='outbox' AND"
                              " pagetype='leaf')").fetchone()[0]
            db.close()
            with open(path, "r+b") as f:
                f.seek((page - 1) * 4096)
                f.write(os.urandom(4096))
            evict(path)
            t = time.perf_counter()
            with Outbox(path, "ws-bench-01", REGISTRY) as store:
                took = time.perf_counter() - t
                left = store.pending_stats()[0]
            print(f"the same store with one damaged page: open, set aside and carry over {left} of"
                  f" {a.check_lines} lines: {took:.2f} s")


if __name__ == "__main__":
    main()
