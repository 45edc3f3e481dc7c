"""The generated Dongdaemun (simulators/network.py): same seed, same network; sizes and mixes as
the field facts say; every workshop inside its real dong; ids the gateway accepts."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

from edge_gateway.config import parse_config
from edge_gateway.contract import DEVICE_ID, TAG_VALUE
from simulators.network import DONGDAEMUN, FAMILIES, MACHINE_TYPES, Network, generate_network, km_between

ROOT = Path(__file__).resolve().parents[2]
# Read the boundaries here from the file, not through the module, so a bug in its loading or
# sampling cannot agree with itself.
BOUNDARIES = {f["properties"]["slug"]: shape(f["geometry"])
              for f in json.loads((ROOT / "simulators" / "dongdaemun_dongs.json").read_text())["features"]}

# What each family cannot be sewn without (FIELD_FACTS "Machines per garment"), written out here
# rather than taken from the module's table.
NEEDS = {
    "knit_tops": {"overlock", "coverstitch"},
    "woven_shirts": {"lockstitch", "buttonhole"},
    "denim": {"lockstitch", "overlock", "bartack"},
    "sportswear": {"overlock", "flatlock"},
    "dresses_skirts": {"lockstitch", "overlock"},
    "trousers": {"lockstitch", "overlock"},
    "outerwear": {"lockstitch", "buttonhole"},
}

# Road-free distances: the market itself, Gyeonggi's textile towns (Yangju, Dongducheon, Pocheon,
# Ansan: 25 to 45 km), Daegu (about 240 km).
KM_FROM_DONGDAEMUN = {"seoul": (0, 3), "gyeonggi": (15, 70), "daegu": (200, 260)}


@pytest.fixture(scope="module")
def net() -> Network:
    return generate_network(2000, seed=11)


def _csv_digest(network: Network, folder: Path) -> str:
    h = hashlib.sha256()
    for kind, path in sorted(network.write_csv(folder).items()):
        h.update(kind.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_the_boundaries_are_where_the_landmarks_are():
    """A swapped lat/lon or a wrong polygon would put every workshop somewhere else."""
    landmarks = {  # (lat, lon) of stations and the gate, to about 50 m
        "jongno6ga": (37.5711, 127.0095),   # Heunginjimun (Dongdaemun gate)
        "changsin": (37.5797, 127.0151),    # Changsin station
        "sungin": (37.5730, 127.0166),      # Dongmyo
        "sinseol": (37.5760, 127.0250),     # Sinseol-dong station
    }
    for slug, (lat, lon) in landmarks.items():
        assert BOUNDARIES[slug].contains(Point(lon, lat)), slug


def test_same_seed_same_network_byte_for_byte(tmp_path):
    a, b = generate_network(300, seed=5), generate_network(300, seed=5)
    assert a == b
    assert _csv_digest(a, tmp_path / "a") == _csv_digest(b, tmp_path / "b")
    assert _csv_digest(generate_network(300, seed=6), tmp_path / "c") != _csv_digest(a, tmp_path / "a2")


def test_same_seed_same_bytes_in_another_process(tmp_path):
    """Nothing may hang on Python's per-process string hashing (set or dict order of strings)."""
    here = _csv_digest(generate_network(200, seed=3), tmp_path / "here")
    code = ("import sys, hashlib; from pathlib import Path; from simulators.network import generate_network;"
            "net = generate_network(200, seed=3); h = hashlib.sha256();"
            "[h.update(k.encode() + b'\\0' + p.read_bytes()) for k, p in sorted(net.write_csv(Path(sys.argv[1])).items())];"
            "print(h.hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    there = subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert there == here


def test_sizes_follow_the_field_facts(net):
    machines = [len(w.machines) for w in net.workshops]
    people = [w.operators for w in net.workshops]
    n = len(net.workshops)
    assert 3 <= statistics.median(machines) <= 6
    assert sum(2 <= m <= 10 for m in machines) / n >= 0.8  # "most have 2 to 10 machines"
    assert 0.55 <= sum(p < 5 for p in people) / n <= 0.75  # "most with fewer than 5 people"
    assert max(machines) >= 25  # a long tail of bigger shops
    assert min(machines) >= 2
    # machines slightly outnumber the people who sew on them
    assert all(len(w.machines) >= w.operators for w in net.workshops)
    assert 25 <= statistics.mean(w.area_m2 for w in net.workshops) <= 50  # about 36 m2 on average


def test_shares_match_the_stated_weights(net):
    n = len(net.workshops)
    for family in FAMILIES.values():
        share = sum(w.families[0] == family.key for w in net.workshops) / n
        assert abs(share - family.share) < 0.04, family.key
    changsin = sum(w.dong == "changsin" for w in net.workshops) / n
    assert 0.25 <= changsin <= 0.35  # the largest by far
    assert {w.dong for w in net.workshops} <= set(BOUNDARIES)
    assert not {"euljiro6ga", "euljiro7ga", "gwanghui1ga"} & {w.dong for w in net.workshops}  # malls only


def test_terms_are_plausible(net):
    for w in net.workshops:
        assert 0.35 <= w.declared_efficiency <= 0.70
        assert 0.0 <= w.on_time_rate <= 1.0
        assert 420 <= w.working_minutes_per_day <= 690  # 8:00 to 20:00 in a busy season
        assert w.opens < "12:00" < w.closes
        assert w.workdays[:5] == ("mon", "tue", "wed", "thu", "fri")
        assert w.min_order_pieces >= 5  # wholesale starts from 5 pieces
        assert 220 <= w.price_per_sam_minute_krw <= 420 and w.price_level in (1, 2, 3)
        assert w.contact_channel in ("phone", "kakaotalk")
        assert re.fullmatch(r"010-0\d{3}-\d{4}", w.contact_phone)  # never a subscriber's number
    assert 0.45 <= statistics.median(w.declared_efficiency for w in net.workshops) <= 0.55
    assert 0.85 <= statistics.median(w.on_time_rate for w in net.workshops) <= 0.95
    early = sum(w.opens < "09:00" for w in net.workshops) / len(net.workshops)
    assert 0.2 <= early <= 0.4  # some start early


def _check_network(net: Network) -> None:
    """What must hold for any size and seed."""
    ids = [w.id for w in net.workshops]
    assert len(set(ids)) == len(ids)
    devices = [m.device_id for m in net.machines]
    assert len(set(devices)) == len(devices)
    for w in net.workshops:
        assert re.fullmatch(rf"ws-{w.dong}-\d{{4}}", w.id)
        assert TAG_VALUE.fullmatch(w.id) and DEVICE_ID.fullmatch(w.id)
        assert BOUNDARIES[w.dong].contains(Point(w.lon, w.lat)), (w.id, w.lat, w.lon)
        assert [m.machine_id for m in w.machines] == [f"m{i:02d}" for i in range(1, len(w.machines) + 1)]
        have = {m.type for m in w.machines}
        assert have <= set(MACHINE_TYPES)
        assert w.families and len(set(w.families)) == len(w.families)
        for family in w.families:
            assert NEEDS[family] <= have, (w.id, family, have)
            assert set(FAMILIES[family].required) <= have
        for m in w.machines:
            assert m.workshop_id == w.id
            assert TAG_VALUE.fullmatch(m.machine_id)
            assert re.fullmatch(r"sn-[0-9a-f]{12}", m.device_id) and DEVICE_ID.fullmatch(m.device_id)
            assert m.max_spm <= 10_000
    for d in net.designers:
        assert BOUNDARIES[d.dong].contains(Point(d.lon, d.lat)), (d.id, d.dong)
        assert d.families and set(d.families) <= set(FAMILIES)
        assert (d.kind == "wholesale") == bool(d.building_en and d.floor and d.stall)
    stalls = [(d.building_en, d.floor, d.stall) for d in net.designers if d.kind == "wholesale"]
    assert len(set(stalls)) == len(stalls)
    for s in net.suppliers:
        lo, hi = KM_FROM_DONGDAEMUN[s.region]
        assert lo <= km_between(DONGDAEMUN, (s.lat, s.lon)) <= hi, (s.id, s.region)
        assert s.materials and 1 <= s.lead_days <= 21
        assert set(s.families) <= set(FAMILIES)
    for kind in ("designers", "suppliers"):
        other = [r.id for r in getattr(net, kind)]
        assert len(set(other)) == len(other)


def test_every_record_is_consistent(net):
    _check_network(net)


@settings(max_examples=20, deadline=None)
@given(workshops=st.integers(0, 150), seed=st.integers(-(2**63), 2**63), designers=st.integers(0, 60),
       suppliers=st.integers(0, 40))
def test_any_size_and_seed_gives_a_consistent_network(workshops, seed, designers, suppliers):
    net = generate_network(workshops, seed=seed, designers=designers, suppliers=suppliers)
    assert (len(net.workshops), len(net.designers), len(net.suppliers)) == (workshops, designers, suppliers)
    _check_network(net)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        generate_network(-1)
    with pytest.raises(ValueError):
        generate_network(10, designers=-1)


def test_the_gateway_takes_a_generated_workshop_as_configured(net):
    base = tomllib.loads((ROOT / "edge_gateway" / "gateway.example.toml").read_text())
    for w in net.workshops[:: max(1, len(net.workshops) // 50)]:
        cfg = parse_config({**base, "workshop": w.id, "registry": {m.device_id: m.machine_id for m in w.machines}})
        assert cfg.workshop == w.id and len(cfg.registry) == len(w.machines)


def test_csv_rows_read_back_as_written(net, tmp_path):
    small = Network(net.seed, net.workshops[:40], net.designers[:20], net.suppliers[:20])
    paths = small.write_csv(tmp_path)
    for kind, rows in small.tables().items():
        with paths[kind].open(encoding="utf-8", newline="") as f:
            back = list(csv.DictReader(f))
        assert back == [{k: str(v) for k, v in row.items()} for row in rows]
        assert list(back[0]) == Network.KINDS[kind].columns()
    machines = {r["workshop_id"] for r in small.tables()["machines"]}
    assert machines == {w.id for w in small.workshops}
    # an empty network still writes each file's header
    empty = generate_network(0, designers=0, suppliers=0).write_csv(tmp_path / "empty")
    assert empty["workshops"].read_text().startswith("id,name_ko,name_en,dong,")
