"""Spare SAM-minutes end to end: GET /api/v1/capacity/sam over real HTTP (uvicorn on a free port)
with telemetry in a real InfluxDB 1.6, workshops from a generated Dongdaemun (simulators/network.py,
standing in for the registry through the WorkshopSource port) and a few workshops made by hand
whose figures are worked out here; and the same figures from the embedded store."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hub.app import create_app
from hub.capacity import (
    Commitment,
    ProfileMachine,
    StaticCommitments,
    StaticWorkshops,
    WorkingHours,
    WorkshopProfile,
    profile_from_registry,
    spare_capacity,
)
from hub.capacity.service import rules_from
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from hub.telemetry.embedded import EmbeddedTelemetry
from hub.telemetry.influxql import InfluxQLTelemetry
from hub.telemetry.storage import EmbeddedStore
from simulators.network import generate_network

TOKEN = "sam-reader-token"
WRITE_TOKEN = "sam-writer-token"
SEOUL = ZoneInfo("Asia/Seoul")
UTC = timezone.utc
HOURS = WorkingHours(time(9), time(18), time(12), 60, frozenset(range(6)))  # Mon-Sat, 480 min


def made(wid: str, lock: int, over: int, efficiency: float = 0.5) -> WorkshopProfile:
    kinds = ["lockstitch"] * lock + ["overlock"] * over
    return WorkshopProfile(wid, tuple(ProfileMachine(f"m{i:02d}", k) for i, k in enumerate(kinds, start=1)), HOURS,
                           efficiency, ("knit_tops",))


BUSY = made("ws-changsin-9001", 4, 2)    # three of four lockstitch and both overlocks run, every day
STALE = made("ws-changsin-9002", 2, 1)   # ran well, but its gateway went quiet a week ago
IDLE = made("ws-changsin-9003", 2, 1)    # its gateway reports, no machine runs: no work, not no capacity
NEVER = made("ws-changsin-9004", 3, 1, 0.6)  # no telemetry ever
MADE = [BUSY, STALE, IDLE, NEVER]


def working_days(now: datetime, first_back: int, count: int) -> list[date]:
    today = now.astimezone(SEOUL).date()
    days, back = [], first_back
    while len(days) < count:
        d = today - timedelta(days=back)
        if HOURS.works_on(d):
            days.append(d)
        back += 1
    return days


def lines(now: datetime) -> list[str]:
    """Hourly summaries (interval 1 h, the contract's longest) ending 10:00 to 18:00 local."""
    out = []

    def day_of(wid: str, machines: list[str], day: date, run_ms: int) -> None:
        for hour in range(10, 19):
            t = int(datetime.combine(day, time(hour), SEOUL).timestamp())
            for m in machines:
                out.append(f"sewing,machine={m},workshop={wid} interval_ms=3600000i,run_ms={run_ms}i,"
                           f"stitches={run_ms // 100}i,stops=3i {t}")

    for d in working_days(now, 1, 5):
        day_of(BUSY.id, ["m01", "m02", "m03", "m05", "m06"], d, 1_080_000)  # 18 min an hour: 162 min a day
    for d in working_days(now, 7, 4):
        day_of(STALE.id, ["m01", "m02", "m03"], d, 1_440_000)
    for d in working_days(now, 1, 3):
        day_of(IDLE.id, ["m01", "m02", "m03"], d, 0)
    return out


def network_profiles() -> list[WorkshopProfile]:
    return MADE + [profile_from_registry(w) for w in generate_network(30, seed=11).workshops]


def commitments(now: datetime) -> list[Commitment]:
    today = now.astimezone(SEOUL).date()
    tomorrow_working = next(d for d in (today + timedelta(days=i) for i in range(1, 4)) if HOURS.works_on(d))
    return [Commitment(BUSY.id, "overlock", tomorrow_working, 5_000, "order-7"),  # more than it has
            Commitment(BUSY.id, "lockstitch", tomorrow_working, 100, "order-8")]


def get(client: httpx.Client, **params) -> httpx.Response:
    return client.get("/api/v1/capacity/sam", params=params, headers={"Authorization": f"Bearer {TOKEN}"})


def by_type(workshop: dict) -> dict:
    return {t["machine_type"]: t for t in workshop["machine_types"]}


def check_made(body: dict) -> None:
    """The hand-made workshops' figures, worked out from what was written."""
    now = datetime.fromisoformat(body["generated_at"].replace("Z", "+00:00"))
    today = now.astimezone(SEOUL).date()
    assert body["days"] == [(today + timedelta(days=i)).isoformat() for i in range(14)]
    got = {w["workshop"]: w for w in body["workshops"]}
    half_life_s = 3 * 86400

    busy = by_type(got[BUSY.id])
    lock, over = busy["lockstitch"], busy["overlock"]
    assert lock["availability"]["measured"] == 0.75 and over["availability"]["measured"] == 1.0
    assert lock["efficiency"]["measured"] == round(162 / 480 / 0.5, 4)
    age_s = lock["efficiency"]["age_s"]
    last = datetime.combine(working_days(now, 1, 1)[0], time(18), SEOUL)
    assert abs(age_s - (now - last).total_seconds()) <= 1
    trust = 0.5 ** (age_s / half_life_s)  # five working days of evidence: full coverage
    assert lock["efficiency"]["trust"] == pytest.approx(trust, abs=1e-4)
    eff = 0.5 + trust * (0.675 - 0.5)
    avail = 1 + trust * (0.75 - 1)
    assert len(lock["days"]) == 14
    for d in lock["days"][1:]:
        minutes = 480 if HOURS.works_on(date.fromisoformat(d["date"])) else 0
        assert d["working_minutes"] == minutes
        assert d["capacity"] == pytest.approx(4 * avail * minutes * eff, abs=0.1)
    over_day = next(d for d in over["days"] if d["committed"])
    assert over_day["committed"] == 5000 and over_day["over_committed"] and over_day["spare"] < 0
    assert over_day["spare"] == pytest.approx(2 * 480 * eff - 5000, abs=0.2)
    assert "약속 초과" in over_day["ko"] and "over-committed" in over_day["en"]
    assert over_day["explanation"]["inputs"]["committed"]["commitments"] == 1
    assert "3.0 of 4 lockstitch machines ran" in lock["availability"]["en"]

    stale = by_type(got[STALE.id])["lockstitch"]
    assert stale["availability"]["measured"] == 1.0 and stale["efficiency"]["measured"] == round(216 / 480 / 0.5, 4)
    stale_age = stale["efficiency"]["age_s"]
    assert stale_age > 6 * 86400
    assert stale["efficiency"]["trust"] == pytest.approx(0.5 ** (stale_age / half_life_s), abs=1e-4)
    assert stale["efficiency"]["value"] == pytest.approx(
        0.5 + 0.5 ** (stale_age / half_life_s) * (0.9 - 0.5), abs=1e-4)

    idle = by_type(got[IDLE.id])["lockstitch"]
    assert idle["availability"]["rule"] == idle["efficiency"]["rule"] == "declared:idle"
    assert idle["days"][1]["capacity"] in (0, 2 * 480 * 0.5)

    never = by_type(got[NEVER.id])
    assert never["lockstitch"]["efficiency"]["rule"] == "declared:never_seen"
    for d in never["lockstitch"]["days"][1:]:
        assert d["capacity"] == pytest.approx(3 * d["working_minutes"] * 0.6, abs=0.1)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


def test_spare_sam_minutes_from_influxdb(influxdb, now):
    influxdb.write("\n".join(lines(now)), precision="s")
    settings = load_settings(telemetry="influxdb", influx_url=influxdb.url, influx_database=influxdb.database,
                             influx_username=influxdb.username, influx_password=influxdb.password,
                             influx_timeout_s=3, api_tokens=[TOKEN])
    app = create_app(settings, workshop_source=StaticWorkshops(network_profiles()),
                     commitment_source=StaticCommitments(commitments(now)))
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/api/v1/capacity/sam").status_code == 401
        assert client.get("/api/v1/capacity/sam", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        r = get(client)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["telemetry"] == {"store": "influxdb", "available": True, "reason": None}
        assert body["commitments_connected"] is True
        assert (len(body["workshops"]), body["total"], body["offset"], body["limit"]) == (34, 34, 0, 100)
        check_made(body)
        # Pages, in the registry's order.
        page = get(client, limit=10, offset=30, explain="false").json()
        assert [w["workshop"] for w in page["workshops"]] == [w["workshop"] for w in body["workshops"][30:]]
        assert (page["total"], page["offset"], page["limit"]) == (34, 30, 10)
        assert get(client, limit=1001).status_code == 422

        # Filters: a family, workshops by id, a machine type, fewer days, no explanations.
        r = get(client, family="denim")
        assert r.status_code == 200 and all("denim" in w["families"] for w in r.json()["workshops"])
        r = get(client, workshop=f"{BUSY.id},{NEVER.id}", machine_type="overlock", days=3, explain="false")
        assert r.status_code == 200
        body = r.json()
        assert [w["workshop"] for w in body["workshops"]] == [BUSY.id, NEVER.id]
        for w in body["workshops"]:
            assert [t["machine_type"] for t in w["machine_types"]] == ["overlock"]
            assert len(w["machine_types"][0]["days"]) == 3 and len(body["days"]) == 3
            assert "explanation" not in w["machine_types"][0]["days"][0]
        r = get(client, workshop=["ws-nowhere-0001", BUSY.id])
        assert r.status_code == 404 and r.json()["workshops"] == ["ws-nowhere-0001"]
        assert get(client, days=15).status_code == 422
        assert get(client, days=0).status_code == 422

        # The docs list it (behind the token, like everything).
        spec = client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert "/api/v1/capacity/sam" in spec["paths"]

        # The store down: the declared figures, said so; never a workshop with no capacity.
        influxdb.stop()
        r = get(client, workshop=BUSY.id)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["telemetry"]["available"] is False and "unreachable" in body["telemetry"]["reason"]
        lock = by_type(body["workshops"][0])["lockstitch"]
        assert lock["efficiency"]["rule"] == "declared:telemetry_unavailable"
        assert lock["days"][1]["capacity"] in (0, 4 * 480 * 0.5)


def test_the_hubs_registry_is_where_spare_capacity_finds_its_workshops(tmp_path):
    """Without a source given, the hub reads workshops from its own registry: empty at first, then
    every workshop a CSV import brought, with its machines by type."""
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite", api_tokens=[TOKEN])
    network = generate_network(workshops=12, seed=5)
    network.write_csv(tmp_path / "registry")
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        r = get(client)
        assert r.status_code == 200 and r.json()["workshops"] == []
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for kind in ("workshops", "machines"):
            with open(tmp_path / "registry" / f"{kind}.csv", "rb") as f:
                up = client.post(f"/api/v1/registry/{kind}.csv", headers=auth, files={"file": (f"{kind}.csv", f)})
            assert up.status_code == 200, up.text
        body = get(client, explain="false").json()
        got = {w["workshop"]: {t["machine_type"]: t["machines"] for t in w["machine_types"]} for w in body["workshops"]}
        expected = {w.id: {} for w in network.workshops}
        for m in network.machines:
            expected[m.workshop_id][m.type] = expected[m.workshop_id].get(m.type, 0) + 1
        assert got == expected


def test_influxdb_and_the_embedded_store_give_the_same_figures(influxdb, tmp_path, now):
    body = "\n".join(lines(now))
    influxdb.write(body, precision="s")
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN])
    app = create_app(settings, workshop_source=StaticWorkshops(network_profiles()),
                     commitment_source=StaticCommitments(commitments(now)))
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        r = client.post("/write", params={"db": "sewnet", "precision": "s"}, content=body.encode(),
                        headers={"Authorization": f"Token {WRITE_TOKEN}"})
        assert r.status_code == 204, r.text
        check_made(get(client).json())

        async def both():
            rules = rules_from(settings)
            influx = InfluxQLTelemetry(influxdb.url, influxdb.database, influxdb.username, influxdb.password)
            embedded = EmbeddedTelemetry(EmbeddedStore(tmp_path / "hub.sqlite"))
            over_http = InfluxQLTelemetry(server.url, "sewnet", "hub", TOKEN)
            try:
                return [await spare_capacity(a, network_profiles(), commitments(now), rules, settings.known_window,
                                             now) for a in (influx, embedded, over_http)]
            finally:
                for a in (influx, embedded, over_http):
                    await a.aclose()
        a, b, c = asyncio.run(both())
        assert a.telemetry_reason is None and b.telemetry_reason is None and c.telemetry_reason is None
        assert a.workshops == b.workshops == c.workshops
        assert any(t.efficiency.rule == "blended" for w in a.workshops for t in w.types)


TEXT = st.one_of(st.none(), st.none(), st.text(max_size=80),
                 st.sampled_from(["knit_tops", "denim", "lockstitch", "overlock", BUSY.id]))


def number(low: int, high: int):
    """Mostly in range (the answer's content gets checked), sometimes out of it or not a number."""
    return st.one_of(st.none(), st.integers(low, high).map(str), st.integers(low, high).map(str),
                     st.one_of(st.integers(-10**20, 10**20).map(str), st.text(max_size=6)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=number(1, 14), family=TEXT, workshop=st.lists(TEXT, max_size=3), machine_type=TEXT,
       explain=st.one_of(st.none(), st.sampled_from(["true", "false", "1", "0", "yes", "maybe", ""])),
       limit=number(1, 1000), offset=number(0, 40))
def test_any_parameters_get_an_answer_never_a_500(sam_hub, days, family, workshop, machine_type, explain, limit,
                                                  offset):
    params = {k: v for k, v in {"days": days, "family": family, "machine_type": machine_type, "explain": explain,
                                "limit": limit, "offset": offset}.items() if v is not None}
    params["workshop"] = [w for w in workshop if w is not None]
    r = get(sam_hub, **params)
    assert r.status_code in (200, 404, 422), (r.status_code, r.text)
    body = r.json()
    if r.status_code == 200:
        assert len(body["days"]) == int(days or 14)
        for w in body["workshops"]:
            assert not family or family in w["families"]
            for t in w["machine_types"]:
                assert not machine_type or t["machine_type"] == machine_type
                assert all(d["spare"] >= 0 or d["over_committed"] for d in t["days"])
    elif r.status_code == 404:
        assert body["error"] == "unknown_workshop" and body["workshops"]


@pytest.fixture
def sam_hub(tmp_path):
    settings_ = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite", api_tokens=[TOKEN])
    app = create_app(settings_, workshop_source=StaticWorkshops(network_profiles()),
                     commitment_source=StaticCommitments(commitments(datetime.now(UTC))))
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
