"""The store's schema is versioned: old stores are upgraded at open, newer or foreign ones refused."""

from __future__ import annotations

import sqlite3

import pytest

from edge_gateway import store_schema
from edge_gateway.outbox import SCHEMA, Outbox
from edge_gateway.store_schema import Step, StoreVersionError
from tests.unit.boards import D1, D2, REGISTRY, T0, WORKSHOP, msg, stamps, store_at

# Exactly what gateways created before the store was versioned (user_version left at 0): frozen
# here so the upgrade from it is tested forever, whatever SCHEMA becomes.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS seen (
    device TEXT NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (device, boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS anchors (
    device TEXT NOT NULL, boot INTEGER NOT NULL, anchor INTEGER NOT NULL,
    PRIMARY KEY (device, boot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    machine TEXT PRIMARY KEY, last_ts INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, series TEXT NOT NULL, ts INTEGER NOT NULL,
    line TEXT NOT NULL, stored_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY, line TEXT NOT NULL, reason TEXT NOT NULL,
    stored_at REAL NOT NULL, failed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
    reason TEXT NOT NULL, detail TEXT NOT NULL, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY, value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, machine TEXT NOT NULL, last_seen REAL,
    state TEXT, state_at REAL, boot INTEGER, seq INTEGER, fw TEXT,
    day TEXT, day_stitches INTEGER NOT NULL DEFAULT 0, total INTEGER
) WITHOUT ROWID;
"""

# Exactly what gateways created at version 2 (each series key once, in series_keys).
SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS seen (
    device TEXT NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (device, boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS anchors (
    device TEXT NOT NULL, boot INTEGER NOT NULL, anchor INTEGER NOT NULL,
    PRIMARY KEY (device, boot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    machine TEXT PRIMARY KEY, last_ts INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series_keys (
    id INTEGER PRIMARY KEY, machine TEXT NOT NULL, key TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, series INTEGER NOT NULL, tail TEXT, stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY, line TEXT NOT NULL, reason TEXT NOT NULL,
    stored_at REAL NOT NULL, failed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
    reason TEXT NOT NULL, detail TEXT NOT NULL, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY, value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, machine TEXT NOT NULL, last_seen REAL,
    state TEXT, state_at REAL, boot INTEGER, seq INTEGER, fw TEXT,
    day TEXT, day_stitches INTEGER NOT NULL DEFAULT 0, total INTEGER
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS outbox_lines AS
    SELECT o.id, k.machine AS series, k.key || coalesce(' ' || o.tail, '') AS line, o.stored_at
    FROM outbox o JOIN series_keys k ON k.id = o.series;
CREATE TABLE IF NOT EXISTS replaced_stores (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, set_aside TEXT NOT NULL, reason TEXT NOT NULL,
    salvaged_lines INTEGER NOT NULL
);
"""

# Lines as version 1 wrote them (the last one as a buggy older gateway might have: no timestamp).
V1_LINES = [
    ("m01", 1763900010, "sewing,machine=m01,workshop=ws-unit-01 interval_ms=10000i,peak_spm=3000i,run_ms=1000i,"
                        "stitches=10i,stops=0i 1763900010", 1763900010.5),
    ("m02", 1763900010, "sewing,machine=m02,workshop=ws-unit-01 interval_ms=10000i,peak_spm=3000i,run_ms=1000i,"
                        "stitches=7i,stops=1i 1763900010", 1763900010.7),
    ("m01", 1763900020, "sewing,machine=m01,workshop=ws-unit-01 interval_ms=10000i,peak_spm=3000i,run_ms=1000i,"
                        "stitches=12i,stops=0i 1763900020", 1763900020.5),
    ("m02", 1, "sewing,machine=m02", 1763900030.0),
]


def make_v1_store(path) -> None:
    """A store as the unversioned gateway left it: its schema, its rows, user_version 0."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA_V1)
    db.executemany("INSERT INTO outbox(series, ts, line, stored_at) VALUES (?,?,?,?)", V1_LINES)
    db.execute("INSERT INTO seen VALUES (?, 1, 1, 1763900010.5), (?, 1, 1, 1763900010.7)", (D1, D2))
    db.execute("INSERT INTO series VALUES ('m01', 1763900020), ('m02', 1763900010)")
    db.execute("INSERT INTO counters VALUES ('accepted', 3), ('sent', 40)")
    db.execute("INSERT INTO dead_letter(line, reason, stored_at, failed_at) VALUES ('x', 'HTTP 400', 1.5, 2.5)")
    db.close()


def key(machine: str) -> str:
    return f"sewing,machine={machine},workshop={WORKSHOP}"


def tail(ts: int) -> str:
    return f"interval_ms=10000i,peak_spm=3000i,run_ms=1000i,stitches=10i,stops=0i {ts}"


# What a version-2 gateway left waiting: board 1's boot 2 seqs 1, 2, 3, 5 (4 has not arrived),
# board 2's boot 1 seqs 1, 2; each stamped with its board's clock (T0 + 10 * seq).
V2_WAITING = [(D1, 2, q) for q in (1, 2, 3, 5)] + [(D2, 1, q) for q in (1, 2)]


def make_v2_store(path) -> None:
    """A store as a version-2 gateway left it: its schema, its rows (as it wrote them), version 2."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA_V2)
    db.execute("PRAGMA user_version = 2")
    db.executemany("INSERT INTO series_keys(id, machine, key) VALUES (?,?,?)", [(1, "m01", key("m01")),
                                                                                  (2, "m02", key("m02"))])
    for device, boot, seq in V2_WAITING:
        series = 1 if device == D1 else 2
        db.execute("INSERT INTO outbox(series, tail, stored_at) VALUES (?,?,?)", (series, tail(T0 + 10 * seq),
                                                                                   T0 + 10 * seq))
        db.execute("INSERT INTO seen VALUES (?,?,?,?)", (device, boot, seq, T0 + 10 * seq + 0.5))
    # Board 1's boot 1 was sent long ago; its identities were forgotten after a week.
    db.executemany("INSERT INTO anchors VALUES (?,?,?)", [(D1, 1, T0 - 86400), (D1, 2, T0), (D2, 1, T0)])
    db.execute("INSERT INTO series VALUES ('m01', ?), ('m02', ?)", (T0 + 50, T0 + 20))
    db.execute("INSERT INTO counters VALUES ('accepted', 9), ('sent', 3), ('missing', 1)")
    db.executemany("INSERT INTO devices(device, machine, last_seen, boot, seq, total) VALUES (?,?,?,?,?,?)",
                   [(D1, "m01", T0 + 50.5, 2, 5, 1050), (D2, "m02", T0 + 20.5, 1, 2, 1020)])
    db.close()


def layout(path) -> dict:
    """Every table's columns, keys and indexes: what a store IS, whatever text created it."""
    db = sqlite3.connect(path)
    out = {}
    for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type='table' ORDER BY name"):
        out[name] = {
            "columns": db.execute(f"PRAGMA table_xinfo({name})").fetchall(),
            "without_rowid": "WITHOUT ROWID" in sql.upper(),
            "indexes": sorted(
                (unique, origin, [c[2] for c in db.execute(f"PRAGMA index_info('{iname}')")])
                for _, iname, unique, origin, _ in db.execute(f"PRAGMA index_list({name})")
            ),
        }
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    return {"version": version, "tables": out}


def test_a_new_store_has_the_latest_version(tmp_path):
    Outbox(tmp_path / "gw.sqlite", WORKSHOP, REGISTRY).close()
    assert layout(tmp_path / "gw.sqlite")["version"] == store_schema.latest() >= 2


def test_an_unversioned_store_of_todays_gateways_is_upgraded_with_everything_in_it(tmp_path):
    make_v1_store(tmp_path / "old.sqlite")
    with Outbox(tmp_path / "old.sqlite", WORKSHOP, REGISTRY) as s:
        pending = s.pending(100)
        # Every waiting line comes out exactly as it went in, with its id; its time is the line's
        # own (a line without one sorts first, to be refused by the server and dead-lettered).
        assert sorted((p.id, p.series, p.ts, p.line, p.stored_at) for p in pending) == [
            (i, m, ts if line.endswith(str(ts)) else 0, line, int(at))
            for i, (m, ts, line, at) in enumerate(V1_LINES, start=1)
        ]
        assert s.counters() == {"accepted": 3, "sent": 40}
        assert s.dead_letters()[0]["line"] == "x"
        # Dedup and the series' last timestamps came along: a replay is a duplicate, the next
        # summary of m01 goes after its last one.
        r = s.ingest([msg(D1, 1), msg(D1, 3)])
        assert (r.accepted, r.duplicates) == (1, 1)
        # It keeps working as a store: the old lines can be sent and dead-lettered.
        assert s.confirm([1, 2]) == 2
        assert s.dead_letter([4], "HTTP 400: unable to parse", now=5.0) == 1
        assert s.dead_letters()[0]["line"] == "sewing,machine=m02"
        assert [p.id for p in s.pending(100)] == [3, 5]
    Outbox(tmp_path / "new.sqlite", WORKSHOP, REGISTRY).close()
    # The upgraded store is exactly like a new one: same tables, columns, keys and version.
    assert layout(tmp_path / "old.sqlite") == layout(tmp_path / "new.sqlite")


def test_an_unversioned_store_keeps_its_dedup_gaps_anchors_and_seconds(tmp_path):
    path = tmp_path / "gw.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.executemany("INSERT INTO seen(device, boot, seq, received_at) VALUES (?, 1, ?, ?)",
                   [(D1, q, T0 + 10 * q) for q in (1, 2, 3, 5)])
    db.execute("INSERT INTO anchors(device, boot, anchor) VALUES (?, 1, ?)", (D1, T0))
    db.execute("INSERT INTO series(machine, last_ts) VALUES ('m01', ?)", (T0 + 51,))
    db.execute("INSERT INTO outbox(series, ts, line, stored_at) VALUES ('m01', ?, ?, ?)",
               (T0 + 50, f"{key('m01')} {tail(T0 + 50)}", T0))
    db.execute("INSERT INTO counters VALUES ('missing', -1)")  # the old count could go negative
    db.commit()
    db.close()
    with store_at(path) as s:
        assert s.devices(now=T0)[0]["missing"] == 1 and s.counters()["missing"] == 1
        r = s.ingest([msg(D1, q, synced=False) for q in (1, 3, 4, 5, 6)])
        assert (r.accepted, r.duplicates) == (2, 3)
        assert s.devices(now=T0)[0]["missing"] == 0
        # Seq 4 is stamped from the old anchor; seq 5's second and the series' last are still taken.
        assert stamps(s, "m01") == [T0 + 40, T0 + 50, T0 + 60]
        assert s.ingest([msg(D1, 7, time=T0 + 51)]).lines[0].endswith(f" {T0 + 52}")


def test_a_version_2_store_is_upgraded_with_its_dedup_gaps_anchors_and_seconds(tmp_path):
    path = tmp_path / "gw.sqlite"
    make_v2_store(path)
    with store_at(path) as s:
        assert [p.line for p in sorted(s.pending(100), key=lambda p: p.id)] == [
            f"{key('m01' if d == D1 else 'm02')} {tail(T0 + 10 * q)}" for d, _, q in V2_WAITING]
        assert {d["device"]: d["missing"] for d in s.devices(now=T0)} == {D1: 1, D2: 0}
        assert s.counters() == {"accepted": 9, "sent": 3, "missing": 1}
        # The broker's copies are duplicates; seq 4, which had not arrived, is stored in its place.
        r = s.ingest([msg(D1, q, boot=2) for q in (1, 4, 5, 6)] + [msg(D2, 2)])
        assert (r.accepted, r.duplicates) == (2, 3)
        assert {d["device"]: d["missing"] for d in s.devices(now=T0)} == {D1: 0, D2: 0}
        # The boot's anchor came along: an unsynced summary is stamped from it.
        assert s.ingest([msg(D1, 7, boot=2, synced=False)]).lines[0].endswith(f" {T0 + 70}")
        # A waiting line's second is not given to another summary: board 2's next boot claims
        # T0 + 10 (its seq 1's, still waiting) and gets the next free second.
        assert s.ingest([msg(D2, 1, boot=2, time=T0 + 10)]).lines[0].endswith(f" {T0 + 11}")
        assert stamps(s, "m01") == [T0 + 10 * q for q in range(1, 8)]
    Outbox(tmp_path / "new.sqlite", WORKSHOP, REGISTRY).close()
    assert layout(path) == layout(tmp_path / "new.sqlite")


def test_a_store_of_a_newer_gateway_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "gw.sqlite"
    with Outbox(path, WORKSHOP, REGISTRY) as s:
        s.ingest([msg(D1, 1)])
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {store_schema.latest() + 1}")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreVersionError, match="newer gateway"):
        Outbox(path, WORKSHOP, REGISTRY)
    assert path.read_bytes() == before


def test_a_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "gw.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE recipes (name TEXT)")
    db.close()
    with pytest.raises(StoreVersionError, match="not a SewNet gateway store"):
        Outbox(path, WORKSHOP, REGISTRY)


def test_steps_run_in_order_in_one_transaction_and_a_failing_step_changes_nothing(tmp_path):
    db = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    base = "CREATE TABLE IF NOT EXISTS t (a INTEGER);"
    assert store_schema.bring_up_to_date(db, base, steps=()) == (None, 1)
    db.execute("INSERT INTO t VALUES (1)")
    good = (Step(2, "add b", "ALTER TABLE t ADD COLUMN b INTEGER;"), Step(3, "fill b", "UPDATE t SET b = a * 10;"))
    broken = good + (Step(4, "broken", "UPDATE t SET b = 0;\nSELECT no_such_function();"),)
    with pytest.raises(sqlite3.OperationalError):
        store_schema.bring_up_to_date(db, base, steps=broken)
    # Nothing of steps 2..4 stuck: still version 1 with its one column.
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert [c[1] for c in db.execute("PRAGMA table_info(t)")] == ["a"]
    assert store_schema.bring_up_to_date(db, base, steps=good) == (1, 3)
    assert db.execute("SELECT a, b FROM t").fetchall() == [(1, 10)]
    # Opening again at the same version runs no step.
    assert store_schema.bring_up_to_date(db, base, steps=good) == (3, 3)
    assert db.execute("SELECT a, b FROM t").fetchall() == [(1, 10)]


def test_schema_statements_split_like_sqlite_does():
    assert len(store_schema.statements(SCHEMA)) == SCHEMA.count("CREATE ")
    with pytest.raises(ValueError, match="incomplete"):
        store_schema.statements("CREATE TABLE x (a")


def test_the_cli_reads_beside_the_gateway_and_refuses_a_newer_store_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from edge_gateway.cli import app

    (tmp_path / "gw.toml").write_text(
        f'workshop = "{WORKSHOP}"\ndata_dir = "data"\n[uplink]\nurl = "http://127.0.0.1:9"\n[web]\nenabled = false\n'
        f'[registry]\n"{D1}" = "m01"\n')
    path = tmp_path / "data" / "gateway.sqlite"
    with Outbox(path, WORKSHOP, REGISTRY) as gateway:  # the running gateway
        gateway.ingest([msg(D1, 1)])
        r = CliRunner().invoke(app, ["status", "--config", str(tmp_path / "gw.toml")])
        assert r.exit_code == 0 and "pending lines: 1" in r.output
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {store_schema.latest() + 1}")
    db.close()
    for command in ("status", "run"):
        r = CliRunner().invoke(app, [command, "--config", str(tmp_path / "gw.toml")])
        assert r.exit_code == 1, r.output
        assert "newer gateway" in r.output and "Traceback" not in r.output and len(r.output.splitlines()) == 1
