"""How long spare capacity in SAM-minutes takes for the whole market (hub/capacity/sam.py).

For a generated Dongdaemun of 1,000 and 7,000 workshops (simulators/network.py) with 14 days of
daily telemetry per machine (synthetic: most machines run 2 to 4 hours a working day, some never,
a tenth of the gateways silent for days) and a commitment on a third of the workshops, prints:
- the 14-day computation itself (calibration and spare per workshop, machine type and day);
- building the API's answer without and with the explanations, and its JSON size.
With --influxdb, also the telemetry read the API makes (days per machine in Seoul, last seen) from
a real InfluxDB 1.6 started as the tests start it, for 1,000 workshops (hourly summaries, 14 days).

Run: .venv/bin/python bench/bench_capacity.py [--influxdb] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.capacity import (  # noqa: E402
    CapacityRules,
    Commitment,
    TelemetryEvidence,
    network_spare,
    profile_from_registry,
    sam_report,
    spare_capacity,
)
from hub.capacity.sam import local_days  # noqa: E402
from hub.capacity.service import DayCache, SamOutcome, read_evidence  # noqa: E402
from simulators.network import generate_network  # noqa: E402

NOW = datetime(2026, 11, 26, 5, 30, tzinfo=timezone.utc)  # a Thursday, 14:30 in Seoul
RULES = CapacityRules()


def synthetic(profiles, rng: random.Random):
    today = local_days(NOW, "Asia/Seoul", 1)[0]
    evidence, last_seen, commitments = [], {}, []
    for p in profiles:
        silent_days = rng.choice([0] * 9 + [rng.randint(2, 20)])
        for m in p.machines:
            if rng.random() < 0.1:
                continue  # registered, never runs
            for back in range(silent_days, RULES.lookback_days + 1):
                day = today - timedelta(days=back)
                if not p.hours.works_on(day):
                    continue
                run = rng.randint(120, 240) * 60_000
                evidence.append(TelemetryEvidence(p.id, m.machine_id, day, run, 9 * 3_600_000, run // 100))
            last_seen[(p.id, m.machine_id)] = NOW - timedelta(days=silent_days, minutes=rng.randint(1, 15))
        if rng.random() < 0.33:
            t = p.machines[0].type
            commitments.append(Commitment(p.id, t, today + timedelta(days=rng.randint(1, 10)), rng.randint(100, 3000)))
    return evidence, last_seen, commitments


def timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def pure(n: int, repeat: int) -> None:
    net = generate_network(n, seed=5)
    t = time.perf_counter()
    profiles = [profile_from_registry(w) for w in net.workshops]
    mapped = time.perf_counter() - t
    evidence, last_seen, commitments = synthetic(profiles, random.Random(n))
    took, workshops = timed(lambda: network_spare(profiles, evidence, last_seen, commitments, NOW, RULES), repeat)
    figures = sum(len(t.days) for w in workshops for t in w.types)
    outcome = SamOutcome(NOW, RULES, workshops, "synthetic", None, True)
    plain, body = timed(lambda: json.dumps(sam_report(outcome, explain=False), ensure_ascii=False), repeat)
    full, full_body = timed(lambda: json.dumps(sam_report(outcome, explain=True), ensure_ascii=False), 1)
    print(f"{n:>5,} workshops, {len(profiles[0:]) and sum(len(p.machines) for p in profiles):,} machines, "
          f"{len(evidence):,} machine-days of telemetry, {len(commitments):,} commitments")
    print(f"      map registry records: {mapped:.3f} s")
    print(f"      14-day spare capacity: {took:.3f} s ({figures:,} figures: workshop × machine type × day)")
    print(f"      API answer without explanations: {plain:.3f} s, {len(body.encode()) / 1e6:.1f} MB JSON")
    print(f"      API answer with explanations:    {full:.3f} s, {len(full_body.encode()) / 1e6:.1f} MB JSON")


def with_influxdb(n: int) -> None:
    from hub.telemetry.influxql import InfluxQLTelemetry
    from tests.servers import InfluxDB1

    net = generate_network(n, seed=5)
    profiles = [profile_from_registry(w) for w in net.workshops]
    today = local_days(NOW, "Asia/Seoul", 1)[0]
    real_now = datetime.now(timezone.utc)
    shift = real_now - NOW  # the store's now() is the real clock: write the same days relative to it
    with tempfile.TemporaryDirectory() as d:
        server = InfluxDB1(Path(d))
        server.start()
        try:
            lines, written = [], 0
            t = time.perf_counter()
            for p in profiles:
                for m in p.machines:
                    for back in range(RULES.lookback_days + 1):
                        day = today - timedelta(days=back)
                        if not p.hours.works_on(day):
                            continue
                        for hour in range(10, 19):
                            at = datetime.combine(day, dtime(hour), timezone(timedelta(hours=9))) + shift
                            if at > real_now:
                                break
                            lines.append(f"sewing,machine={m.machine_id},workshop={p.id} interval_ms=3600000i,"
                                         f"run_ms=1200000i,stitches=12000i,stops=5i {int(at.timestamp())}")
                    if len(lines) >= 20_000:
                        server.write("\n".join(lines), precision="s")
                        written += len(lines)
                        lines = []
            server.write("\n".join(lines), precision="s")
            written += len(lines)
            print(f"      InfluxDB 1.6: {written:,} hourly summaries written in {time.perf_counter() - t:.1f} s")

            async def read():
                telemetry = InfluxQLTelemetry(server.url, server.database, server.username, server.password,
                                              timeout_s=120)
                try:
                    t0 = time.perf_counter()
                    evidence, seen = await read_evidence(telemetry, profiles, RULES, timedelta(days=30), real_now)
                    t1 = time.perf_counter()
                    outcome = await spare_capacity(telemetry, profiles, [], RULES, timedelta(days=30), real_now)
                    t2 = time.perf_counter()
                    cache = DayCache(timedelta(minutes=10))
                    await spare_capacity(telemetry, profiles, [], RULES, timedelta(days=30), real_now, cache)
                    t3 = time.perf_counter()
                    await spare_capacity(telemetry, profiles, [], RULES, timedelta(days=30), real_now, cache)
                    kept = time.perf_counter() - t3
                    return t1 - t0, t2 - t1, kept, sum(map(len, evidence.values())), len(seen), outcome
                finally:
                    await telemetry.aclose()
            reading, whole, kept, rows, seen, outcome = asyncio.run(read())
            assert outcome.telemetry_reason is None, outcome.telemetry_reason
            print(f"      telemetry read (days in Seoul per machine, last seen): {reading:.2f} s, "
                  f"{rows:,} machine-days, {seen:,} machines")
            print(f"      read + 14-day spare capacity: {whole:.2f} s")
            print(f"      the same with past days kept (capacity_evidence_ttl), today read again: {kept:.2f} s")
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--influxdb", action="store_true")
    args = ap.parse_args()
    for n in (1000, 7000):
        pure(n, args.repeat)
    if args.influxdb:
        with_influxdb(1000)


if __name__ == "__main__":
    main()
