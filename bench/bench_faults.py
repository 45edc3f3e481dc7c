"""Issue 5's faults, end to end: for each one, summaries lost and doubled, time to recover, and the
gateway's peak memory.

Every scenario is a real workshop: a real Mosquitto with the shipped broker config, the gateway as
its own process (`python -m edge_gateway`, as tests/e2e/harness.py starts it) and one real
InfluxDB 1.6 shared by all scenarios (each workshop has its own tag). Boards are paho publishers
(tests/mqtt_helpers.py) that keep the ground truth: every valid summary they sent, identified by
its `peak_spm` field (a number unique per machine, the same in a resend), so that what InfluxDB
holds can be compared summary by summary:

- lost: a summary the boards sent (and the broker acknowledged) that InfluxDB does not hold;
- doubled: a summary InfluxDB holds more than once, or one it holds that no board sent validly.

Messages the contract refuses (the poison, an oversize payload) are not summaries of the truth:
they are counted as the gateway's rejections in the note.

Time to recover runs from the moment the fault ends until InfluxDB holds the truth (polled every
0.1 s, with a deadline). The fault ends: 1, 11 when the odd messages and the traffic around them
have been published; 2, 6, 10 when the gateway process is started again (its start-up is in the
figure); 3, 3b when the later summaries have been published (3b: by the gateway started again on
the right clock); 4 when the big publish is over; 5 when the ballast is removed; 7 when the bombing
stops; 9 when the password file is fixed or the database created.

Peak RSS is the gateway process's VmHWM, the largest over its restarts in the scenario. It counts
the shared library pages it has mapped (about 28 MiB, how many of them depends on the page cache:
the same gateway reads 76 to 94 MiB from one run to the next); its own memory is about 64 MiB.

Scenario 5 mounts a tmpfs (tests/disks.py) and needs root; without it, it says so and is skipped.
Scenario 3b runs the gateway under libfaketime (Debian's `faketime`) and is skipped without it.

Run: .venv/bin/python bench/bench_faults.py [--only 1,4,5]
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pytest  # noqa: E402  (tests/disks.py skips with pytest's exception where it cannot mount)

from hub.app import create_app  # noqa: E402
from hub.server import BackgroundServer  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from tests.disks import fill, small_filesystem  # noqa: E402
from tests.e2e.harness import Board, Workshop  # noqa: E402
from tests.integration.test_broker_rules import Peer  # noqa: E402
from tests.integration.test_hub_write_path import AT_THE_CAP, BAD_LINES, BOMB  # noqa: E402
from tests.mqtt_helpers import proc_status_kib, publish_sync  # noqa: E402
from tests.servers import InfluxDB1, Mosquitto  # noqa: E402
from tests.unit.test_store_damage import checkpoint, leaf_pages, smash  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

MIB = 1024 * 1024
INTERVAL_MS = 1000  # the contract's shortest interval: many summaries in little time
#: A stamp this close to a summary's true time counts as right ("within minutes").
STAMP_TOLERANCE_S = 120
#: Debian's libfaketime (package `faketime`), the thread-safe build, on whatever architecture.
LIBFAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))),
                   Path("/usr/lib/faketime/libfaketimeMT.so.1"))
YEAR_S = 365 * 86400


@dataclass
class Row:
    fault: str
    sent: int | None = None
    lost: int | None = None
    doubled: int | None = None
    recover_s: float | None = None
    rss_mib: float | None = None
    note: str = ""
    error: bool = False


def say(text: str) -> None:
    print(f"  {text}", flush=True)


# ---- one workshop ---------------------------------------------------------------------------------


class Site:
    """One workshop: real Mosquitto, the gateway process, boards as publishers, and the truth.

    `stored()` reads what the uplink delivered: InfluxDB by default, or any reader of
    {machine: [(timestamp, id, stitches)]} (the hub's embedded store in scenario 7)."""

    def __init__(self, bench: "Bench", key: str, boards: int = 3, *, size_limits: bool = True,
                 flush_s: float = 0.5, overrides: dict | None = None, database: str | None = None,
                 reader: Callable[[], dict] | None = None):
        self.bench = bench
        self.name = f"fb-{key}"
        root = bench.tmp / self.name
        broker = Mosquitto(root / "mosquitto", size_limits=size_limits)
        self.ws = Workshop(name=self.name, root=root, broker=broker, influx=bench.influx)
        for i in range(boards):
            device = f"sn-{key}-{i + 1:02d}"
            self.ws.boards.append(Board(device=device, machine=f"m{i + 1:02d}", flash=root / device))
        self.devices = [b.device for b in self.ws.boards]
        self.machine_of = {b.device: b.machine for b in self.ws.boards}
        for d in self.devices:
            broker.add_device(d)
        broker.start()
        self.overrides = overrides or {}
        self.ws.write_gateway_config(flush_s, self.overrides)
        self.database = database
        self.reader = reader
        #: machine -> id -> stitches, of every valid summary a board sent
        self.truth: dict[str, dict[int, int]] = defaultdict(dict)
        #: (machine, id) -> the summary's true interval end
        self.true_ts: dict[tuple[str, int], int] = {}
        self._ids: dict[tuple[str, int, int], int] = {}
        self._next_id: Counter = Counter()
        self._total: Counter = Counter()
        self.peak_kib = 0

    # the gateway process
    def start(self, env: dict | None = None, flush_s: float | None = None) -> None:
        if flush_s is not None:
            self.ws.write_gateway_config(flush_s, self.overrides)
        self.ws.start_gateway(env)
        self.ws.wait_gateway_listening(timeout=60)

    def sample(self) -> int:
        g = self.ws.gateway
        if g is not None and g.poll() is None:
            try:
                self.peak_kib = max(self.peak_kib, proc_status_kib(g.pid, "VmHWM"))
            except (OSError, KeyError):
                pass
        return self.peak_kib

    def kill(self) -> None:
        self.sample()
        self.ws.kill_gateway()

    def stop(self) -> None:
        self.sample()
        self.ws.stop_gateway()

    def close(self) -> None:
        if self.ws.gateway is not None and self.ws.gateway.poll() is None:
            self.stop()
        self.ws.broker.kill()

    @property
    def alive(self) -> bool:
        return self.ws.gateway is not None and self.ws.gateway.poll() is None

    def snapshot(self) -> dict:
        # Generous: under libfaketime (3b) the gateway's threads now and then wait seconds for the GIL.
        return self.ws.gateway_snapshot(timeout=15)

    def counter(self, name: str) -> int:
        return self.snapshot()["counters"].get(name, 0)

    def wait_accepted(self, n: int, timeout: float = 60) -> None:
        wait_for(lambda: self.counter("accepted") >= n, timeout=timeout, what=f"{self.name}: {n} summaries stored",
                 interval=0.1)

    @property
    def rss_mib(self) -> float:
        return round(self.sample() / 1024, 1)

    # the boards
    def summary(self, device: str, boot: int, seq: int, *, boot_start: int | None = None,
                uptime_ms: int | None = None, time_s: int | None = None, record: bool = True,
                true_end: int | None = None) -> tuple[str, bytes, bool]:
        """A summary as a board sends it; recorded in the truth unless record=False (a message the
        contract refuses). `boot_start`: when the boot began, for its true interval end."""
        machine = self.machine_of[device]
        key = (device, boot, seq)
        ident = self._ids.get(key)
        if ident is None:
            self._next_id[machine] += 1
            ident = self._ids[key] = self._next_id[machine]
            assert ident <= 30_000, "peak_spm carries the id: at most 30,000 summaries per machine"
        stitches = 1 + (ident * 37) % 150
        uptime = seq * INTERVAL_MS if uptime_ms is None else uptime_ms
        if record and ident not in self.truth[machine]:
            self._total[device] += stitches
            self.truth[machine][ident] = stitches
            if true_end is not None or boot_start is not None:
                self.true_ts[(machine, ident)] = true_end if true_end is not None else boot_start + seq
        body = {"v": 1, "device": device, "boot": boot, "seq": seq, "uptime_ms": uptime,
                "interval_ms": INTERVAL_MS, "stitches": stitches, "run_ms": 600, "stops": 1,
                "peak_spm": ident, "total": max(self._total[device], stitches)}
        if time_s is not None:
            body["time"] = time_s
        return f"sewnet/v1/{device}/summary", json.dumps(body, separators=(",", ":")).encode(), False

    def ident(self, device: str, boot: int, seq: int) -> tuple[str, int]:
        """(machine, id) of a summary already built."""
        return self.machine_of[device], self._ids[(device, boot, seq)]

    def publish(self, device: str, items: list[tuple[str, bytes, bool]]) -> None:
        publish_sync(self.ws.broker, device, self.ws.broker.passwords[device], items)

    def sent(self) -> int:
        return sum(len(ids) for ids in self.truth.values())

    # what arrived
    def stored(self) -> dict[str, list[tuple[int, int, int]]]:
        if self.reader is not None:
            return self.reader()
        try:
            body = self.bench.influx.query(
                f'SELECT "peak_spm", "stitches" FROM "sewing" WHERE "workshop" = \'{self.name}\' AND time > 0'
                ' GROUP BY "machine"', database=self.database)
        except (httpx.HTTPError, RuntimeError):  # e.g. the database does not exist yet
            return {}
        result = body["results"][0]
        assert not result.get("partial"), "InfluxDB cut the answer short"
        return {s["tags"]["machine"]: [tuple(v) for v in s["values"]] for s in result.get("series") or []}

    def compare(self, allow_lost: set[tuple[str, int]] = frozenset()) -> tuple[int, int, int]:
        """(lost, doubled, wrong value) against the truth; `allow_lost` are not counted as lost."""
        stored = self.stored()
        lost = doubled = wrong = 0
        for machine in set(self.truth) | set(stored):
            truth = self.truth.get(machine, {})
            seen = Counter(ident for _, ident, _ in stored.get(machine, []))
            for _, ident, stitches in stored.get(machine, []):
                if ident in truth and truth[ident] != stitches:
                    wrong += 1
            lost += sum(1 for i in truth if not seen[i] and (machine, i) not in allow_lost)
            doubled += sum(c - 1 for i, c in seen.items() if i in truth and c > 1)
            doubled += sum(c for i, c in seen.items() if i not in truth)
        return lost, doubled, wrong

    def wait_exact(self, timeout: float, allow_lost: set[tuple[str, int]] = frozenset(),
                   since: float | None = None) -> tuple[float | None, int, int]:
        """Seconds from `since` (monotonic; default now) until InfluxDB holds the truth (None if
        it did not within `timeout`), then (lost, doubled) as they stand."""
        since = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            lost, doubled, wrong = self.compare(allow_lost)
            if lost == doubled == wrong == 0:
                took = time.monotonic() - since
                lost, doubled, _ = self.compare()
                return took, lost, doubled
            if time.monotonic() > deadline:
                lost, doubled, wrong = self.compare()
                say(f"not exact after {timeout:.0f} s: lost {lost}, doubled {doubled}, wrong values {wrong}")
                return None, lost, doubled
            time.sleep(0.1)

    def stamp_errors(self) -> dict[tuple[str, int], int]:
        """(machine, id) -> stored timestamp minus true time, for summaries whose true time is known."""
        out = {}
        for machine, points in self.stored().items():
            for ts, ident, _ in points:
                if (machine, ident) in self.true_ts:
                    out[(machine, ident)] = ts - self.true_ts[(machine, ident)]
        return out

    def alert_keys(self) -> list[str]:
        return [a["key"] for a in self.snapshot()["alerts"]]


class Bench:
    def __init__(self, tmp: Path, influx: InfluxDB1):
        self.tmp = tmp
        self.influx = influx


def run_seqs(site: Site, device: str, boot: int, seqs, boot_start: int, with_time: bool = False) -> list:
    return [site.summary(device, boot, q, boot_start=boot_start, time_s=boot_start + q if with_time else None)
            for q in seqs]


def rejected_note(site: Site) -> str:
    c = site.snapshot()["counters"]
    parts = [f"{k.removeprefix('rejected.')} {v}" for k, v in sorted(c.items()) if k.startswith("rejected.")]
    return "rejected: " + (", ".join(parts) if parts else "none")


# ---- the scenarios --------------------------------------------------------------------------------


def s1_poison(bench: Bench) -> list[Row]:
    """A retained status with a lone surrogate and a second summary of a boot with uptime 2^53, among
    normal summaries of three boards; then more normal traffic."""
    site = Site(bench, "s1")
    try:
        site.start()
        d1, d2, d3 = site.devices
        start = int(time.time()) - 200
        for d in site.devices:
            site.publish(d, run_seqs(site, d, 1, range(1, 21), start))
        status = {"v": 1, "device": d2, "state": "online", "boot": 1, "uptime_ms": 20_000, "fw": "\ud800",
                  "counter": "pcnt", "interval_ms": INTERVAL_MS, "queued": 0, "dropped": 0}
        poison_status = (f"sewnet/v1/{d2}/status", json.dumps(status).encode(), True)  # "\ud800" as JSON escapes it
        poison_uptime = site.summary(d3, 1, 21, uptime_ms=2**53, record=False)
        site.publish(d2, [poison_status] + run_seqs(site, d2, 1, range(21, 41), start))
        site.publish(d3, [poison_uptime] + run_seqs(site, d3, 1, range(22, 41), start))
        site.publish(d1, run_seqs(site, d1, 1, range(21, 41), start))
        fault_end = time.monotonic()
        took, _, _ = site.wait_exact(60, since=fault_end)
        note = rejected_note(site)
        # The retained poison comes again on every (re)subscription: a restart must not stall on it.
        site.stop()
        site.start()
        for d in site.devices:
            site.publish(d, run_seqs(site, d, 1, range(41, 51), start))
        again, lost, doubled = site.wait_exact(60)
        after = "exact" if again is not None else "NOT exact"
        note += f"; restarted (the retained poison delivered again), 30 more summaries: {after}; {rejected_note(site)}"
        say(note)
        return [Row("1 poison (status fw \\ud800, uptime 2^53)", site.sent(), lost, doubled, took, site.rss_mib,
                    note)]
    finally:
        site.close()


def s2_client_id(bench: Bench) -> list[Row]:
    """A board logs in with the gateway's client id and a clean session: once while the gateway is
    connected, once while it is away with summaries queued for it."""
    site = Site(bench, "s2")
    try:
        site.start()
        d1 = site.devices[0]
        ids = [site.ws.broker.gateway_user, f"sewnet-gateway-{site.name}"]
        before = site.snapshot()["ingest"]["reconnects"]
        thief = Peer(site.ws.broker, d1, ids[0], clean=True)
        thief.stop()
        time.sleep(1)  # a kicked gateway notices at once and reconnects within a second: look after that
        kicked = site.snapshot()["ingest"]["reconnects"] - before
        assert site.snapshot()["ingest"]["connected"], "the gateway was left disconnected"
        site.stop()
        start = int(time.time()) - 100
        for d in site.devices:
            site.publish(d, run_seqs(site, d, 1, range(1, 18), start))  # 51 queued for the gateway
        outcomes = []
        for cid in ids:
            thief = Peer(site.ws.broker, d1, cid, clean=True)
            outcomes.append("accepted" if thief.accepted else "refused")
            thief.stop()
        fault_end = time.monotonic()
        site.start()
        took, lost, doubled = site.wait_exact(60, since=fault_end)
        note = (f"{site.sent()} queued while away; board logged in with the gateway's ids {ids} (clean session):"
                f" {', '.join(outcomes)}, given its own id; gateway kicked while connected: {kicked}")
        say(note)
        return [Row("2 client id takeover", site.sent(), lost, doubled, took, site.rss_mib, note)]
    finally:
        site.close()


def _time_check(site: Site, later: set[tuple[str, int]]) -> tuple[int, int]:
    errors = site.stamp_errors()
    bad = [k for k in later if abs(errors.get(k, 10**9)) > STAMP_TOLERANCE_S]
    return len(later) - len(bad), len(later)


def s3_time(bench: Bench) -> list[Row]:
    """Among normal summaries: one with an uptime 30 days too large, one with a board `time` in 2106,
    one with a board `time` a day ahead. The series' later summaries must be stamped right."""
    site = Site(bench, "s3")
    try:
        site.start()
        d1, d2, d3 = site.devices
        start = int(time.time()) - 60
        site.publish(d1, run_seqs(site, d1, 1, range(1, 58), start, with_time=True))
        for d in (d2, d3):
            site.publish(d, run_seqs(site, d, 1, range(1, 58), start))
        faults = {
            d1: site.summary(d1, 1, 58, boot_start=start, time_s=2**32 - 1),
            d2: site.summary(d2, 1, 58, boot_start=start, uptime_ms=(58 + 30 * 86400) * 1000),
            d3: site.summary(d3, 1, 58, boot_start=start, time_s=int(time.time()) + 86400),
        }
        for d, item in faults.items():
            site.publish(d, [item])
        time.sleep(4)  # the boards' next intervals pass
        later = set()
        now = int(time.time())
        for d in site.devices:
            items = run_seqs(site, d, 1, range(59, now - start + 1), start, with_time=d == d1)
            site.publish(d, items)
            later |= {site.ident(d, 1, q) for q in range(59, now - start + 1)}
        took, lost, doubled = site.wait_exact(60)
        right, n = _time_check(site, later)
        errors = site.stamp_errors()
        fault_err = {d: errors.get(site.ident(d, 1, 58)) for d in faults}
        first = [abs(e) for k, e in errors.items() if k not in later and k not in {site.ident(d, 1, 58) for d in faults}]
        note = (f"later summaries stamped within {STAMP_TOLERANCE_S} s: {right}/{n}; the first burst's {len(first)} within"
                f" {max(first)} s; the faulty ones stamped off by"
                f" (s): time 2106 -> {fault_err[d1]}, uptime +30 d -> {fault_err[d2]}, time +1 d -> {fault_err[d3]}"
                f"; {rejected_note(site)}")
        say(note)
        return [Row("3 time (uptime +30 d, time 2106, time +1 d)", site.sent(), lost, doubled, took, site.rss_mib,
                    note)]
    finally:
        site.close()


def s3b_clock_ahead(bench: Bench) -> list[Row]:
    """The gateway's clock a year ahead (libfaketime), then corrected (restarted on the true clock)."""
    if not LIBFAKETIME.exists():
        return [Row("3b gateway clock a year ahead", note="libfaketime not installed (apt-get install faketime):"
                    " left to the tests (tests/unit/test_gateway_time.py)")]
    site = Site(bench, "s3b")
    try:
        site.start(env={"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": f"+{YEAR_S // 86400}d",
                        "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        d1 = site.devices[0]
        start = int(time.time()) - 30
        for d in site.devices:
            site.publish(d, run_seqs(site, d, 1, range(1, 31), start, with_time=d == d1))
        site.wait_accepted(90)
        ahead_clock = site.snapshot()["now"] - time.time()
        site.stop()
        site.start()  # NTP (here: the true clock) corrected it
        time.sleep(3)
        now = int(time.time())
        later = set()
        for d in site.devices:
            site.publish(d, run_seqs(site, d, 1, range(31, now - start + 1), start, with_time=d == d1))
            later |= {site.ident(d, 1, q) for q in range(31, now - start + 1)}
        took, lost, doubled = site.wait_exact(60)
        right, n = _time_check(site, later)
        errors = site.stamp_errors()
        during = [(k, e) for k, e in errors.items() if k not in later]
        year_ahead = sum(1 for _, e in during if abs(e - YEAR_S) < STAMP_TOLERANCE_S)
        synced_right = sum(1 for (m, _), e in during if m == site.machine_of[d1] and abs(e) <= STAMP_TOLERANCE_S)
        note = (f"gateway clock {ahead_clock / 86400:+.0f} d, then corrected: later summaries stamped right"
                f" {right}/{n}; while ahead, the synced board's {synced_right}/30 right (its `time`),"
                f" the unsynced boards' {year_ahead}/60 a year ahead (nothing could tell); alerts after: "
                f"{','.join(site.alert_keys()) or 'none'}")
        say(note)
        return [Row("3b gateway clock a year ahead", site.sent(), lost, doubled, took, site.rss_mib, note)]
    finally:
        site.close()


def s4_oversize(bench: Bench) -> list[Row]:
    """64 and 255 MiB publishes to a broker without size limits, then 255 MiB through the shipped limits."""
    rows = []
    site = Site(bench, "s4", boards=1, size_limits=False)
    try:
        site.start()
        (d,) = site.devices
        start = int(time.time()) - 100
        site.publish(d, run_seqs(site, d, 1, range(1, 6), start))
        site.wait_exact(30)
        idle = site.sample()
        topic = f"sewnet/v1/{d}/summary"
        seq, notes, slowest = 5, [], 0.0
        for mib in (64, 255):
            big = Peer(site.ws.broker, d, d)
            t0 = time.monotonic()
            info = big.client.publish(topic, b"{" + b"x" * (mib * MIB - 1), qos=1)
            info.wait_for_publish(300)
            big.stop()
            fault_end = time.monotonic()
            site.publish(d, run_seqs(site, d, 1, range(seq + 1, seq + 6), start))
            seq += 5
            took, lost, doubled = site.wait_exact(120, since=fault_end)
            slowest = max(slowest, took or 0)
            notes.append(f"{mib} MiB: acked by broker {'yes' if info.is_published() else 'no'} in"
                         f" {fault_end - t0:.1f} s, gateway peak {site.sample() / 1024:.0f} MiB")
            say(notes[-1])
        broker_peak = proc_status_kib(site.ws.broker.proc.pid, "VmHWM") / 1024
        logged = len(re.findall("Dropping too large outgoing PUBLISH", site.ws.broker.log_tail(100_000)))
        lost, doubled, _ = site.compare()
        notes.append(f"gateway idle {idle / 1024:.0f} MiB; broker peak {broker_peak:.0f} MiB;"
                     f" broker log 'Dropping too large outgoing PUBLISH' x{logged}; {rejected_note(site)}")
        rows.append(Row("4 oversize 64+255 MiB, broker without limits", site.sent(), lost, doubled, slowest,
                        site.rss_mib, "; ".join(notes)))
    finally:
        site.close()
    site = Site(bench, "s4b", boards=1)
    try:
        site.start()
        (d,) = site.devices
        start = int(time.time()) - 100
        big = Peer(site.ws.broker, d, d)
        big.client.publish(f"sewnet/v1/{d}/summary", b"{" + b"x" * (255 * MIB - 1), qos=1)
        wait_for(lambda: big.disconnects, timeout=60, what="the broker closing the big publisher")
        big.client.loop_stop()
        fault_end = time.monotonic()
        site.publish(d, run_seqs(site, d, 1, range(1, 11), start))
        took, lost, doubled = site.wait_exact(60, since=fault_end)
        broker_peak = proc_status_kib(site.ws.broker.proc.pid, "VmHWM") / 1024
        note = (f"255 MiB: the broker closed the publisher's connection ({big.disconnects[0]});"
                f" broker peak {broker_peak:.0f} MiB; {rejected_note(site)}")
        say(note)
        rows.append(Row("4b oversize 255 MiB, shipped broker limits", site.sent(), lost, doubled, took,
                        site.rss_mib, note))
    finally:
        site.close()
    return rows


DISK_FLUSH_S = 8.0


def s5_disk_full(bench: Bench) -> list[Row]:
    """data_dir on an 8 MB tmpfs, filled with a ballast while lines wait to be sent and boards publish."""
    try:
        with small_filesystem(bench.tmp / "s5-card", 8 * MIB) as card:
            site = Site(bench, "s5", flush_s=DISK_FLUSH_S,
                        overrides={"data_dir": str(card / "gateway"), "store": {"min_free_mb": 1}})
            try:
                return [_disk_full(site, card)]
            finally:
                site.close()
    except pytest.skip.Exception as exc:
        return [Row("5 disk full", note=f"skipped: {exc}")]


def _disk_full(site: Site, card: Path) -> Row:
    site.start()
    start = int(time.time()) - 400
    for d in site.devices:
        site.publish(d, run_seqs(site, d, 1, range(1, 101), start))
    site.wait_accepted(300)
    # The uplink's first interval ends DISK_FLUSH_S after the start: these lines are still waiting.
    waiting = site.snapshot()["uplink"]["pending_lines"]
    ballast = fill(card)
    received0 = site.snapshot()["ingest"]
    for d in site.devices:
        site.publish(d, run_seqs(site, d, 1, range(101, 201), start))
    seen: set[str] = set()

    def alerts_include(*keys: str) -> bool:
        seen.update(site.alert_keys())
        return all(k in seen for k in keys)

    # The store refuses the boards' new batch (the disk policy) and says so...
    wait_for(lambda: alerts_include("disk_low"), timeout=30, what="the page saying the disk is full", interval=0.2)
    # ... having given the disk its WAL's blocks back (a checkpoint). The disk fills up again (the
    # system's logs, say), then the uplink's interval comes: InfluxDB takes the waiting lines, and
    # removing them from the full disk fails (the crash loop).
    fill(card)
    try:
        wait_for(lambda: alerts_include("sent_not_removed"), timeout=DISK_FLUSH_S + 10,
                 what="delivered lines the full disk could not remove", interval=0.2)
        hit = "yes"
    except AssertionError:
        hit = "no (the removal found room)"
    during = site.snapshot()
    acked = during["ingest"]["messages"] - received0["messages"]
    arrived = during["ingest"]["received"] - received0["received"]
    delivered = during["uplink"]["lines_sent"]
    alive = site.alive
    # A power cut while the disk is still full: the gateway must come up again on the full disk.
    site.kill()
    site.start()
    if hit == "yes":  # those lines are still in the file: the restarted gateway sends them again
        wait_for(lambda: site.snapshot()["uplink"]["lines_sent"] > 0, timeout=DISK_FLUSH_S + 10,
                 what="the restarted gateway sending", interval=0.2)
    restarted = site.snapshot()
    ballast.unlink()
    fault_end = time.monotonic()
    took, lost, doubled = site.wait_exact(90, since=fault_end)
    after = site.snapshot()
    note = (f"uplink interval {DISK_FLUSH_S:.0f} s (bounds the recovery); filled with {waiting} lines waiting to be sent; during the fault the gateway took {arrived} messages"
            f" from the broker and acknowledged {acked}; InfluxDB took {delivered} lines the full disk could not"
            f" remove: {hit}; alerts: {','.join(sorted(seen))}; process survived: {alive}; SIGKILL and restart on"
            f" the full disk: up, alerts {','.join(a['key'] for a in restarted['alerts'])}, lines sent again"
            f" {restarted['uplink']['lines_sent']} (InfluxDB overwrites them); store_errors"
            f" {after['ingest']['store_errors']}; alerts after: {','.join(a['key'] for a in after['alerts']) or 'none'}")
    say(note)
    return Row("5 disk full (8 MB card)", site.sent(), lost, doubled, took, site.rss_mib, note)


def s6_corrupt_store(bench: Bench) -> list[Row]:
    """SIGKILL with lines waiting; one page of waiting lines and the dedup table's page overwritten."""
    site = Site(bench, "s6", flush_s=600)
    try:
        site.start()
        start = int(time.time()) - 1000
        for d in site.devices:
            site.publish(d, run_seqs(site, d, 1, range(1, 601), start))
        site.wait_accepted(1800)
        waiting = site.snapshot()["uplink"]["pending_lines"]
        site.kill()
        path = site.ws.root / "gateway-data" / "gateway.sqlite"
        checkpoint(path)
        pages = leaf_pages(path, "outbox")
        bad_at = len(pages) // 2
        bad, on_bad = pages[bad_at]
        before = sum(n for _, n in pages[:bad_at])
        db = sqlite3.connect(path)
        lines = [r[0] for r in db.execute("SELECT line FROM outbox_lines ORDER BY id LIMIT ? OFFSET ?",
                                          (on_bad, before))]
        db.close()
        on_page = {(re.search(r"machine=(\w+)", ln).group(1), int(re.search(r"peak_spm=(\d+)i", ln).group(1)))
                   for ln in lines}
        smash(path, bad)
        (boots_page, _), = leaf_pages(path, "boots")
        smash(path, boots_page, seed=7)
        fault_end = time.monotonic()
        site.start(flush_s=0.5)
        took, lost, doubled = site.wait_exact(60, allow_lost=on_page, since=fault_end)
        # The boards replay their last 50 summaries (as after a Wi-Fi outage) and go on.
        dup0 = site.counter("duplicate")
        for d in site.devices:
            site.publish(d, run_seqs(site, d, 1, range(551, 621), start))
        _, lost, doubled = site.wait_exact(60, allow_lost=on_page)
        dups = site.counter("duplicate") - dup0
        aside = [p.name for p in path.parent.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))]
        note = (f"{waiting} lines waiting at the kill; damaged: outbox page {bad} ({on_bad} lines) and the boots"
                f" page; set aside as {aside}; lost = the lines on that page ({len(on_page)}); replay of 150 after"
                f" restart: {dups} dropped as duplicates; alerts: {','.join(site.alert_keys())}")
        say(note)
        return [Row("6 corrupt store (SIGKILL + 2 pages smashed)", site.sent(), lost, doubled, took, site.rss_mib,
                    note)]
    finally:
        site.close()


def _hub_reader(hub_db: Path, workshop: str) -> Callable[[], dict]:
    def read() -> dict:
        try:
            db = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=10)
        except sqlite3.Error:
            return {}
        try:
            rows = db.execute(
                "SELECT s.machine, p.time_ns / 1000000000, json_extract(p.fields, '$.peak_spm'), p.stitches"
                " FROM point p JOIN series s ON s.id = p.series_id WHERE s.workshop = ? AND s.measurement = 'sewing'",
                (workshop,)).fetchall()
        except sqlite3.Error:  # not created yet
            return {}
        finally:
            db.close()
        out = defaultdict(list)
        for machine, ts, ident, stitches in rows:
            out[machine].append((ts, ident, stitches))
        return out

    return read


BOMBING_S = 4.0


def s7_hub_and_s8_logins(bench: Bench) -> list[Row]:
    """The hub's write path under gzip bombs while a gateway ships to it; then 100 wrong logins."""
    write_token, read_token = "faults-writer-token", "faults-reader-token"
    hub_db = bench.tmp / "hub" / "hub.sqlite"
    settings = load_settings(telemetry="embedded", embedded_path=hub_db, embedded_write_token=write_token,
                             api_tokens=[read_token])
    with BackgroundServer(create_app(settings)) as hub:
        site = Site(bench, "s7", reader=_hub_reader(hub_db, "fb-s7"),
                    overrides={"uplink": {"url": hub.url, "username": "gateway", "password": write_token}})
        try:
            rows = [_hub_bomb(site, hub, write_token)]
            rows.append(_logins(site, hub, read_token))
            return rows
        finally:
            site.close()


def _hub_bomb(site: Site, hub: BackgroundServer, write_token: str) -> Row:
    site.start()
    start = int(time.time()) - 600
    stop = threading.Event()

    def board(d: str) -> None:
        seq = 0
        while not stop.is_set():
            site.publish(d, run_seqs(site, d, 1, range(seq + 1, seq + 11), start))
            seq += 10
            time.sleep(0.1)

    boards = [threading.Thread(target=board, args=(d,)) for d in site.devices]
    for t in boards:
        t.start()
    site.wait_accepted(30)
    up0 = site.snapshot()["uplink"]
    answers: list[tuple[str, int, float]] = []
    bombs = {"bomb": BOMB, "at the cap": AT_THE_CAP}
    until = time.monotonic() + BOMBING_S

    def bomber() -> None:
        # The bomb (10 MiB of "x" lines: refused by its line count) and its cousin at the line cap
        # (10,000 lines of 1 KiB junk, each parsed and refused), in turn, for BOMBING_S.
        with httpx.Client(base_url=hub.url, timeout=60) as c:
            for i in range(200):
                if time.monotonic() > until:
                    break
                kind = "bomb" if i % 2 == 0 else "at the cap"
                t0 = time.monotonic()
                r = c.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"}, content=bombs[kind],
                           headers={"Authorization": f"Token {write_token}", "Content-Encoding": "gzip"})
                answers.append((kind, r.status_code, time.monotonic() - t0))

    bombers = [threading.Thread(target=bomber) for _ in range(4)]
    for t in bombers:
        t.start()
    health = []
    with httpx.Client(base_url=hub.url, timeout=60) as c:
        while any(t.is_alive() for t in bombers):
            t0 = time.monotonic()
            c.get("/healthz").raise_for_status()
            health.append(time.monotonic() - t0)
            time.sleep(0.01)
    fault_end = time.monotonic()
    stop.set()
    for t in boards:
        t.join()
    took, lost, doubled = site.wait_exact(60, since=fault_end)
    up1 = site.snapshot()["uplink"]
    per_kind = []
    for kind, body in bombs.items():
        mine = [(st, took) for k, st, took in answers if k == kind]
        per_kind.append(f"{len(mine)} x {kind} ({len(body) / 1024:.0f} KB gzip) answered"
                        f" {dict(Counter(st for st, _ in mine))} in {min(t for _, t in mine):.2f}.."
                        f"{max(t for _, t in mine):.2f} s")
    note = (f"4 senders for {BOMBING_S:.0f} s while the gateway shipped ({len(BAD_LINES) / MIB:.0f} MiB of bad lines"
            f" per bomb): {'; '.join(per_kind)}; /healthz {len(health)} answers meanwhile, median"
            f" {sorted(health)[len(health) // 2]:.3f} s, slowest {max(health):.3f} s; gateway writes meanwhile:"
            f" {up1['requests'] - up0['requests']}, failed {up1['requests_failed'] - up0['requests_failed']}")
    say(note)
    return Row("7 hub write path: gzip bombs", site.sent(), lost, doubled, took, site.rss_mib, note)


def _logins(site: Site, hub: BackgroundServer, read_token: str) -> Row:
    gateway_url = f"http://127.0.0.1:{site.ws.web_port}"

    def from_address(url: str, address: str) -> httpx.Client:
        # The whole of 127/8 is this machine: another loopback address stands in for another computer.
        return httpx.Client(base_url=url, timeout=30, transport=httpx.HTTPTransport(local_address=address))

    def flood(url: str, field: str) -> tuple[Counter, float, int, int]:
        with from_address(url, "127.0.0.2") as c:
            t0 = time.monotonic()
            answers = Counter(c.post("/login", data={field: f"wrong-{i}"}).status_code for i in range(100))
            took = time.monotonic() - t0
            right = read_token if field == "token" else site.ws.operator_password
            same = c.post("/login", data={field: right}).status_code
        with from_address(url, "127.0.0.3") as c:
            other = c.post("/login", data={field: right}).status_code
        return answers, took, same, other

    g = flood(gateway_url, "password")
    h = flood(hub.url, "token")

    def words(r) -> str:
        answers, took, same, other = r
        return (f"100 wrong in {took:.1f} s: {answers.get(401, 0)} refused as wrong, {answers.get(429, 0)} as locked"
                f" out; right password from that address {same}, from another {other}")

    note = f"gateway page: {words(g)}; hub login: {words(h)}"
    say(note)
    return Row("8 logins: 100 wrong passwords", note=note)


def s9_uplink_errors(bench: Bench) -> list[Row]:
    """InfluxDB refusing the gateway's password (fixed in its password file), then a database not created yet."""
    rows = []
    password_file = bench.tmp / "s9a-influx-password"
    password_file.write_text("not-the-password\n")
    password_file.chmod(0o600)
    site = Site(bench, "s9a", overrides={"uplink": {"password": None, "password_file": str(password_file)}})
    try:
        rows.append(_refused(site, "credentials", lambda: password_file.write_text(bench.influx.password + "\n"),
                             "9a uplink: InfluxDB refuses the password", "password file fixed"))
    finally:
        site.close()
    database = "fb_s9b_not_yet"
    site = Site(bench, "s9b", overrides={"uplink": {"database": database}}, database=database)
    try:
        rows.append(_refused(site, "not_found",
                             lambda: bench.influx.query(f'CREATE DATABASE "{database}"', method="POST"),
                             "9b uplink: database does not exist yet", "database created"))
    finally:
        site.close()
    return rows


REFUSAL_WINDOW_S = 10


def _refused(site: Site, problem: str, fix: Callable[[], object], fault: str, fixed: str) -> Row:
    site.start()
    start = int(time.time()) - 100
    for d in site.devices:
        site.publish(d, run_seqs(site, d, 1, range(1, 51), start))
    wait_for(lambda: site.snapshot()["uplink"]["problem"] == problem, timeout=30,
             what=f"the uplink reporting {problem}", interval=0.2)
    time.sleep(REFUSAL_WINDOW_S)  # the refusal lasts that long: what does it cost meanwhile?
    snap = site.snapshot()
    up = snap["uplink"]
    window = snap["now"] - up["failing_since"]
    fix()
    fault_end = time.monotonic()
    took, lost, doubled = site.wait_exact(120, since=fault_end)
    after = site.snapshot()["uplink"]
    note = (f"{window:.0f} s of refusal: {up['requests']} requests,"
            f" {up['bytes_sent']} bytes sent ({up['requests_failed']} failed), problem {up['problem']}, alerts"
            f" {','.join(a['key'] for a in snap['alerts'])}; at the fix the uplink's backoff was"
            f" {up['retry_in_s']:.1f} s{' (a password file is re-read every 2 s)' if problem == 'credentials' else ''};"
            f" after the fix ({fixed}): {after['lines_sent']} lines"
            f" sent, dead letters {after['dead_lettered']}")
    say(note)
    return Row(fault, site.sent(), lost, doubled, took, site.rss_mib, note)


def s10_sigkill(bench: Bench, kills: int = 5) -> list[Row]:
    """SIGKILL the gateway several times while boards publish at a high rate."""
    site = Site(bench, "s10")
    try:
        site.start()
        start = int(time.time()) - 20_000
        stop = threading.Event()
        lock = threading.Lock()

        def board(d: str) -> None:
            seq = 0
            while not stop.is_set():
                with lock:  # the truth is shared by the publishers
                    items = run_seqs(site, d, 1, range(seq + 1, seq + 21), start)
                site.publish(d, items)
                seq += 20
                time.sleep(0.02)

        boards = [threading.Thread(target=board, args=(d,)) for d in site.devices]
        t_publish = time.monotonic()
        for t in boards:
            t.start()
        hits = []
        for _ in range(kills):
            committed = site.counter("accepted")
            wait_for(lambda: site.counter("accepted") > committed + 200, timeout=60,
                     what="the gateway storing again", interval=0.05)
            snap = site.snapshot()
            site.kill()
            in_flight = snap["ingest"]["received"] - snap["ingest"]["messages"]
            hits.append((in_flight, snap["uplink"]["pending_lines"]))
            fault_end = time.monotonic()
            site.start()
        stop.set()
        for t in boards:
            t.join()
        rate = site.sent() / (time.monotonic() - t_publish)
        took, lost, doubled = site.wait_exact(120, since=fault_end)
        hit = sum(1 for a, p in hits if a or p)
        c = site.snapshot()["counters"]
        note = (f"{kills} SIGKILLs while 3 boards published {rate:.0f} summaries/s; at each kill (messages taken but not yet acknowledged, lines waiting to be sent): {hits};"
                f" {hit}/{kills} hit work in flight; duplicates dropped after restarts: {c.get('duplicate', 0)}")
        say(note)
        return [Row(f"10 SIGKILL x{kills} mid-batch", site.sent(), lost, doubled, took, site.rss_mib, note)]
    finally:
        site.close()


def s11_gaps(bench: Bench) -> list[Row]:
    """A known board's new boot arrives seq 2 before 1; a board with a real hole of 3; a new board's
    first boot arrives seq 2 before 1."""
    site = Site(bench, "s11")
    try:
        site.start()
        a, b, c = site.devices
        start = int(time.time()) - 100
        site.publish(a, run_seqs(site, a, 1, range(1, 4), start))
        site.publish(b, run_seqs(site, b, 1, range(1, 4), start))
        fault_start = time.monotonic()
        site.publish(a, run_seqs(site, a, 2, [2, 1, 3, 4, 5], start + 50))
        site.publish(b, run_seqs(site, b, 1, [7, 8, 9], start))
        site.publish(c, run_seqs(site, c, 5, [2, 1, 3], start + 50))
        took, lost, doubled = site.wait_exact(60, since=fault_start)
        missing = {d["device"]: d["missing"] for d in site.snapshot()["devices"]}
        want = {a: 0, b: 3, c: 0}
        note = (f"missing per board on /api/v1/devices: {[missing[d] for d in site.devices]} (exact: "
                f"{[want[d] for d in site.devices]}) -> {'exact' if missing == want else 'WRONG'}")
        say(note)
        return [Row("11 gaps: seq 2 before 1, a hole of 3", site.sent(), lost, doubled, took, site.rss_mib, note)]
    finally:
        site.close()


SCENARIOS = {
    "1": s1_poison, "2": s2_client_id, "3": s3_time, "3b": s3b_clock_ahead, "4": s4_oversize,
    "5": s5_disk_full, "6": s6_corrupt_store, "7": s7_hub_and_s8_logins, "9": s9_uplink_errors,
    "10": s10_sigkill, "11": s11_gaps,
}


def table(rows: list[Row]) -> None:
    def cell(v, fmt="{}"):
        return "-" if v is None else fmt.format(v)

    head = f"{'fault':<48} {'sent':>6} {'lost':>5} {'doubled':>7} {'recover s':>9} {'gw peak RSS MiB':>15}"
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        recover = cell(r.recover_s, "{:.1f}") if r.sent is not None and not r.error else "-"
        if r.sent is not None and r.recover_s is None and not r.error:
            recover = "never"
        print(f"{r.fault[:48]:<48} {cell(r.sent):>6} {cell(r.lost):>5} {cell(r.doubled):>7} {recover:>9}"
              f" {cell(r.rss_mib, '{:.0f}'):>15}")
    print("\nnotes:")
    for r in rows:
        print(f"- {r.fault}: {r.note}")


def main(only: list[str] | None) -> int:
    t_all = time.monotonic()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sewnet-faults-") as tmp:
        influx = InfluxDB1(Path(tmp) / "influxdb")
        influx.start()
        bench = Bench(Path(tmp), influx)
        try:
            for key, scenario in SCENARIOS.items():
                if only and key not in only:
                    continue
                print(f"== scenario {key}: {scenario.__doc__.splitlines()[0] if scenario.__doc__ else ''}",
                      flush=True)
                t0 = time.monotonic()
                try:
                    rows += scenario(bench)
                except Exception as exc:  # the run failed, not the gateway: say so, go on, exit 1
                    traceback.print_exc()
                    rows.append(Row(f"{key} {scenario.__name__}", note=f"RUN FAILED: {exc}", error=True))
                say(f"({time.monotonic() - t0:.0f} s)")
        finally:
            influx.kill()
    table(rows)
    print(f"\ntotal {time.monotonic() - t_all:.0f} s")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated scenario numbers, e.g. 1,4,5")
    args = ap.parse_args()
    raise SystemExit(main(args.only.split(",") if args.only else None))
