"""The registry on a real PostgreSQL: a generated Dongdaemun imports and exports back unchanged,
re-importing changes nothing, a file with bad rows imports nothing and names every one, and the
API (token only) and the command line (exit codes) say the same."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hub.app import create_app
from hub.core import db
from hub.core.settings import load_settings
from hub.registry import service as registry
from hub.registry.csvio import SPECS
from hub.server import BackgroundServer
from sewnet.cli import app as sewnet
from simulators.network import Network, generate_network

TOKEN = "registry-reader-token"
NET = generate_network(200, seed=5)
runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    paths = NET.write_csv(tmp_path_factory.mktemp("network"))
    return {kind: path.read_bytes() for kind, path in paths.items()}


@pytest.fixture
def database(postgresql):
    db.upgrade(postgresql.url)
    database = db.Database(postgresql.url)
    yield database
    database.close()


def import_all(database: db.Database, files: dict[str, bytes]) -> dict[str, registry.ImportReport]:
    reports = {}
    for kind in registry.KINDS:
        with database.session() as session:
            reports[kind] = registry.import_csv(session, kind, files[kind])
    return reports


def export(database: db.Database, kind: str) -> str:
    with database.session() as session:
        return registry.export_csv(session, kind)


def sorted_file(kind: str, text: str) -> str:
    """The same file with its rows in the registry's order (by key), as export writes them."""
    rows = list(csv.reader(io.StringIO(text)))
    key = [rows[0].index(k) for k in SPECS[kind].key]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([rows[0]] + sorted(rows[1:], key=lambda r: [r[i] for i in key]))
    return out.getvalue()


def counts(database: db.Database) -> dict[str, int]:
    with database.session() as session:
        return {kind: registry.count(session, kind) for kind in registry.KINDS}


def test_a_generated_network_imports_and_exports_back_unchanged(database, files):
    reports = import_all(database, files)
    assert {k: (r.added, r.changed, r.unchanged, r.ok) for k, r in reports.items()} == {
        "workshops": (200, 0, 0, True), "machines": (len(NET.machines), 0, 0, True),
        "designers": (len(NET.designers), 0, 0, True), "suppliers": (len(NET.suppliers), 0, 0, True)}
    exported = {kind: export(database, kind) for kind in registry.KINDS}
    for kind in registry.KINDS:
        # The generator's own bytes, rows in key order.
        assert exported[kind] == sorted_file(kind, files[kind].decode()), kind
    again = import_all(database, files)
    assert all((r.added, r.changed, r.unchanged) == (0, 0, r.rows) for r in again.values()), again
    round_trip = import_all(database, {k: v.encode() for k, v in exported.items()})
    assert all((r.added, r.changed) == (0, 0) for r in round_trip.values())
    assert {kind: export(database, kind) for kind in registry.KINDS} == exported


def test_a_changed_cell_changes_one_record_and_only_its_time(database, files):
    import_all(database, files)
    rows = list(csv.DictReader(io.StringIO(files["workshops"].decode())))
    target = rows[17]
    target["declared_efficiency"] = "0.66" if target["declared_efficiency"] != "0.66" else "0.67"
    target["families"] = "denim;knit_tops"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    with database.session() as session:
        report = registry.import_csv(session, "workshops", out.getvalue(), now=later)
    assert (report.added, report.changed, report.unchanged) == (0, 1, 199)
    with database.session() as session:
        shops = {w.id: w for w in registry.workshops(session)}
        denim = {w.id for w in registry.workshops(session, family="denim")}
    changed = shops[target["id"]]
    assert changed.declared_efficiency == float(target["declared_efficiency"])
    assert changed.families == ("denim", "knit_tops") and changed.id in denim
    assert changed.updated_at == later
    assert all(w.updated_at < later for wid, w in shops.items() if wid != target["id"])


def test_a_file_with_bad_rows_imports_nothing_and_names_every_one(database, files):
    rows = list(csv.reader(io.StringIO(files["workshops"].decode())))
    col = rows[0].index
    rows[4][col("lat")] = "127.01"  # lat and lon swapped
    rows[50][col("families")] = "knit_top"
    rows[51][col("id")] = "ws changsin 1"
    rows[199][col("closes")] = "07:00"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    with database.session() as session:
        report = registry.import_csv(session, "workshops", out.getvalue())
    assert not report.ok and report.rows == 200 and report.bad_rows == 4 and not report.written
    assert [(p.line, p.column) for p in report.problems] == [(5, "lat"), (51, "families"), (52, "id"), (200, "closes")]
    assert "swapped" in report.problems[0].en and '"knit_top" is not one of' in report.problems[1].en
    assert counts(database)["workshops"] == 0
    assert report.summary() == "workshops: 4 of 200 rows are bad (4 problems); nothing was imported"


def test_machines_must_belong_to_registered_workshops_and_boards_to_one_machine(database, files):
    with database.session() as session:
        report = registry.import_csv(session, "machines", files["machines"])
    assert not report.ok and report.bad_rows == len(NET.machines)
    assert report.problems[0].en == f"workshop {NET.machines[0].workshop_id} is not in the registry; " \
                                    "import its workshops file first"
    import_all(database, files)
    m1, m2 = NET.workshops[0].machines[:2]
    header = ",".join(SPECS["machines"].header)

    def machines_file(*lines: str) -> str:
        return "\n".join([header, *lines]) + "\n"

    def line(m, device: str) -> str:
        return f"{m.workshop_id},{m.machine_id},{device},{m.type},{m.brand},{m.model},{m.max_spm}"

    new = f"{m1.workshop_id},m99,{m2.device_id},lockstitch,Juki,DDL-8700,5000"
    with database.session() as session:
        taken = registry.import_csv(session, "machines", machines_file(new))
    assert [(p.line, p.column, p.en) for p in taken.problems] == [
        (2, "device_id", f"board {m2.device_id} is already on machine {m1.workshop_id}/{m2.machine_id}")]
    # Two machines swap their boards in one file: fine.
    with database.session() as session:
        swap = registry.import_csv(session, "machines", machines_file(line(m1, m2.device_id), line(m2, m1.device_id)))
    assert swap.ok and swap.changed == 2, swap.problems
    with database.session() as session:
        boards = {m.machine_id: m.device_id for m in registry.machines(session, workshop_id=m1.workshop_id)}
    assert boards[m1.machine_id] == m2.device_id and boards[m2.machine_id] == m1.device_id


def test_what_other_capabilities_read(database, files):
    import_all(database, files)
    with database.session() as session:
        shops = registry.workshops(session)
        knit = registry.workshops(session, family="knit_tops")
        changsin = registry.workshops(session, dong="changsin")
        one = registry.workshop(session, NET.workshops[3].id)
        page = registry.workshops(session, limit=7, offset=10)
        dyers = registry.suppliers(session, kind="dyeing")
        stalls = registry.designers(session, kind="wholesale", family="knit_tops")
    # Plain values, usable after the session is gone.
    source = {w.id: w for w in NET.workshops}
    assert [w.id for w in shops] == sorted(source)
    assert {w.id for w in knit} == {w.id for w in NET.workshops if "knit_tops" in w.families}
    assert {w.id for w in changsin} == {w.id for w in NET.workshops if w.dong == "changsin"}
    assert page == shops[10:17]
    generated = source[one.id]
    assert one.machine_counts == generated.machine_counts()
    assert one.working_minutes_per_day == generated.working_minutes_per_day
    assert [(m.machine_id, m.device_id, m.type) for m in one.machines] == [
        (m.machine_id, m.device_id, m.type) for m in generated.machines]
    assert (one.lat, one.lon, one.declared_efficiency, one.on_time_rate, one.families, one.workdays) == (
        generated.lat, generated.lon, generated.declared_efficiency, generated.on_time_rate, generated.families,
        generated.workdays)
    assert {s.id for s in dyers} == {s.id for s in NET.suppliers if s.kind == "dyeing"}
    assert {d.id for d in stalls} == {d.id for d in NET.designers if d.kind == "wholesale" and "knit_tops" in d.families}
    assert all(d.building_ko and d.stall for d in stalls)


def test_progress_is_reported_for_reading_and_writing(database, files):
    calls = []
    with database.session() as session:
        registry.import_csv(session, "machines", files["machines"], dry_run=True, progress=lambda *a: calls.append(a))
        registry.import_csv(session, "workshops", files["workshops"], progress=lambda *a: calls.append(a))
    assert {c[0] for c in calls} == {"reading", "writing"}
    writing = [c for c in calls if c[0] == "writing"]
    assert writing[-1] == ("writing", 200, 200) and writing[0][1] == 0
    assert counts(database)["machines"] == 0  # the dry run wrote nothing (and its workshops were missing)


# --- fuzz: cells with anything in them, through a real import --------------------------------

SMALL = generate_network(12, seed=8)
SMALL_FILES = {}
for _kind, _rows in SMALL.tables().items():
    _out = io.StringIO()
    _w = csv.DictWriter(_out, fieldnames=Network.KINDS[_kind].columns(), lineterminator="\n")
    _w.writeheader()
    _w.writerows(_rows)
    SMALL_FILES[_kind] = _out.getvalue()

CELLS = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", "=cmd|' /C calc'!A0", "+82 10", "@x", "-1", "1,5", 'a "b", c', "x\ny", "12:00", "0.5", "99999999999",
     "٣", "１２", "ws-changsin-0001", "sn-020000000001", "lockstitch;overlock", "\u202e", "'=1"])


def record_lines(text: str) -> list[int]:
    """The line each record of a CSV text starts on, as an editor counts lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, end = [], 0
    for _ in reader:
        starts.append(end + 1)
        end = reader.line_num
    return starts


@pytest.fixture
def fuzz_database(database):
    with database.session() as session:
        for kind in ("workshops", "machines"):
            assert registry.import_csv(session, kind, SMALL_FILES[kind]).ok
    return database


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_any_cells_import_whole_or_not_at_all(fuzz_database, data):
    kind = data.draw(st.sampled_from(["workshops", "machines"]))
    rows = list(csv.reader(io.StringIO(SMALL_FILES[kind])))
    edits = data.draw(st.dictionaries(st.tuples(st.integers(2, len(rows)), st.sampled_from(rows[0])), CELLS,
                                      min_size=1, max_size=4))
    for (line, column), value in edits.items():
        rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
    before = export(fuzz_database, kind)
    session = fuzz_database.sessions()
    try:
        report = registry.import_csv(session, kind, out.getvalue())
        if not report.ok:
            # A line break inside a cell moves the rows after it down the file.
            starts = record_lines(out.getvalue())
            # An edited cell that repeats another row's unique value names that row as well.
            repeated = {i + 1 for (_, column), value in edits.items() for i, row in enumerate(rows)
                        if i and row[rows[0].index(column)] == value}
            assert {p.line for p in report.problems} <= {starts[row - 1] for row in {r for r, _ in edits} | repeated}, \
                report.problems
            assert registry.export_csv(session, kind) == before  # nothing written
        else:
            exported = registry.export_csv(session, kind)
            again = registry.import_csv(session, kind, exported)
            assert (again.added, again.changed) == (0, 0) and registry.export_csv(session, kind) == exported
            for line in csv.reader(io.StringIO(exported)):
                assert not any(cell.startswith(("=", "+", "-", "@")) for cell in line), line
    finally:
        session.rollback()
        session.close()


# --- the API ----------------------------------------------------------------------------------

@pytest.fixture
def hub(database, tmp_path):
    settings_ = load_settings(telemetry="embedded", embedded_path=tmp_path / "telemetry.sqlite", api_tokens=[TOKEN],
                              database_url=database.url.render_as_string(hide_password=False),
                              registry_max_upload_bytes=400_000)
    with BackgroundServer(create_app(settings_)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def upload(client: httpx.Client, kind: str, data: bytes, **params) -> httpx.Response:
    return client.post(f"/api/v1/registry/{kind}.csv", params=params, headers=AUTH,
                       files={"file": (f"{kind}.csv", data, "text/csv")})


def test_the_api_needs_the_token(hub, files):
    for method, path in [("GET", "/api/v1/registry"), ("GET", "/api/v1/registry/workshops"),
                         ("GET", f"/api/v1/registry/workshops/{NET.workshops[0].id}"), ("GET", "/api/v1/registry/machines"),
                         ("GET", "/api/v1/registry/suppliers.csv"), ("POST", "/api/v1/registry/workshops.csv")]:
        # A wrong token on two of them only: the fifth wrong one locks the address out (429).
        for headers in ({}, {"Authorization": "Bearer wrong-token-here"} if path.endswith(".csv") else {}):
            r = hub.request(method, path, headers=headers, files={"file": ("w.csv", files["workshops"])}
                            if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.status_code)
    assert hub.get("/api/v1/registry", headers=AUTH).json()["workshops"] == 0  # the upload never got in
    spec = hub.get("/openapi.json", headers=AUTH).json()
    assert {"/api/v1/registry/workshops", "/api/v1/registry/{kind}.csv"} <= set(spec["paths"])


def test_import_list_filter_get_and_export_through_the_api(hub, files):
    dry = upload(hub, "workshops", files["workshops"], dry_run="true")
    assert dry.status_code == 200 and dry.json()["added"] == 200 and dry.json()["written"] is False
    assert hub.get("/api/v1/registry", headers=AUTH).json()["workshops"] == 0
    for kind in registry.KINDS:
        r = upload(hub, kind, files[kind])
        assert r.status_code == 200 and r.json()["written"] and r.json()["unchanged"] == 0, r.text
    assert upload(hub, "machines", files["machines"]).json()["summary"] == f"0 added, 0 changed, {len(NET.machines)} unchanged"

    page = hub.get("/api/v1/registry/workshops", params={"family": "denim", "limit": 3}, headers=AUTH).json()
    denim = sorted(w.id for w in NET.workshops if "denim" in w.families)
    assert page["total"] == len(denim) and [w["id"] for w in page["items"]] == denim[:3]
    shop = NET.workshops[0]
    one = hub.get(f"/api/v1/registry/workshops/{shop.id}", headers=AUTH).json()
    assert one["machine_counts"] == shop.machine_counts() and one["machines"][0]["device_id"] == shop.machines[0].device_id
    assert one["working_minutes_per_day"] == shop.working_minutes_per_day
    missing = hub.get("/api/v1/registry/workshops/ws-nowhere-0001", headers=AUTH)
    assert missing.status_code == 404 and "ws-nowhere-0001" in missing.json()["detail"]
    assert hub.get("/api/v1/registry/workshops", params={"family": "capes"}, headers=AUTH).status_code == 422
    machines = hub.get("/api/v1/registry/machines", params={"workshop_id": shop.id}, headers=AUTH).json()
    assert [m["machine_id"] for m in machines["items"]] == [m.machine_id for m in shop.machines]
    designer = NET.designers[0]
    assert hub.get(f"/api/v1/registry/designers/{designer.id}", headers=AUTH).json()["name_ko"] == designer.name_ko
    dyeing = hub.get("/api/v1/registry/suppliers", params={"kind": "dyeing"}, headers=AUTH).json()
    assert dyeing["total"] == sum(s.kind == "dyeing" for s in NET.suppliers)

    for kind in registry.KINDS:
        r = hub.get(f"/api/v1/registry/{kind}.csv", headers=AUTH)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == f'attachment; filename="{kind}.csv"'
        assert r.text == sorted_file(kind, files[kind].decode())


def test_an_upload_with_bad_rows_is_422_with_every_problem(hub, files):
    text = files["workshops"].decode().splitlines(keepends=True)
    text[3] = text[3].replace(",kakaotalk,", ",fax,").replace(",phone,", ",fax,")
    text[9] = "ws-x,only,a,few,cells\n"
    r = upload(hub, "workshops", "".join(text).encode())
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "bad_rows" and body["bad_rows"] == 2 and body["rows"] == 200
    assert [(p["line"], p["column"]) for p in body["problems"]] == [(4, "contact_channel"), (10, None)]
    assert body["problems"][0]["ko"] and '"fax" is not one of' in body["problems"][0]["en"]
    assert hub.get("/api/v1/registry", headers=AUTH).json()["workshops"] == 0
    rejections = hub.get("/api/v1/rejections", headers=AUTH).json()
    assert rejections["counts"]["registry:bad_rows"] == 2
    big = upload(hub, "workshops", files["workshops"] * 10)
    assert big.status_code == 413


# --- the command line -------------------------------------------------------------------------

def test_the_command_line_imports_exports_and_exits_2_on_bad_input(database, files, tmp_path, monkeypatch):
    monkeypatch.setenv("SEWNET_HUB_DATABASE_URL", database.url.render_as_string(hide_password=False))
    paths = NET.write_csv(tmp_path / "in")
    for kind in registry.KINDS:
        result = runner.invoke(sewnet, ["registry", "import", kind, str(paths[kind])])
        assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"suppliers: {len(NET.suppliers)} added, 0 changed, 0 unchanged"
    again = runner.invoke(sewnet, ["registry", "import", "workshops", str(paths["workshops"])])
    assert again.exit_code == 0 and again.stdout.strip() == "workshops: 0 added, 0 changed, 200 unchanged"

    out = tmp_path / "out" / "machines.csv"
    out.parent.mkdir()
    result = runner.invoke(sewnet, ["registry", "export", "machines", str(out)])
    assert result.exit_code == 0 and out.read_text() == sorted_file("machines", files["machines"].decode())
    stdout = runner.invoke(sewnet, ["registry", "export", "designers", "-"])
    assert stdout.exit_code == 0 and stdout.stdout == sorted_file("designers", files["designers"].decode())

    bad = tmp_path / "bad.csv"
    lines = files["suppliers"].decode().splitlines(keepends=True)
    lines[2] = lines[2].replace(",seoul,", ",Seoul City,").replace(",gyeonggi,", ",Gyeonggi Do,").replace(",daegu,", ",Daegu!,")
    lines[5] = lines[5].replace(",kakaotalk,", ",telegram,").replace(",phone,", ",telegram,")
    bad.write_text("".join(lines))
    result = runner.invoke(sewnet, ["registry", "import", "suppliers", str(bad)])
    errors = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert [e.split(":")[1].strip() for e in errors[:-1]] == ["line 3, region", "line 6, contact_channel"]
    assert errors[-1] == "error: 2 of 24 rows in bad.csv are bad; nothing was imported"

    for args, words in [(["registry", "import", "fabrics", str(bad)], "'fabrics' is not a registry kind"),
                        (["registry", "export", "fabrics", "-"], "'fabrics' is not a registry kind"),
                        (["registry", "import", "suppliers", str(tmp_path / "none.csv")], "cannot read")]:
        result = runner.invoke(sewnet, args)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], \
            result.output


def test_the_command_line_refuses_a_database_without_the_schema(postgresql, tmp_path, monkeypatch):
    monkeypatch.setenv("SEWNET_HUB_DATABASE_URL", postgresql.url)
    paths = NET.write_csv(tmp_path)
    result = runner.invoke(sewnet, ["registry", "import", "workshops", str(paths["workshops"])])
    assert result.exit_code == 1 and "run `sewnet hub db upgrade`" in result.stderr, result.output
