"""The harness itself: each real server starts, answers, and keeps its data across a restart."""

import paho.mqtt.client as mqtt
import pytest

from tests.waiting import wait_for


def _client(m, user, password):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}")
    c.username_pw_set(user, password)
    return c


def test_mosquitto_rejects_anonymous_and_confines_devices(mosquitto):
    anon = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    with pytest.raises(Exception):
        anon.connect(mosquitto.host, mosquitto.port)
        anon.loop_start()
        wait_for(lambda: anon.is_connected(), timeout=2, what="anonymous connect")
    anon.loop_stop()

    pw = mosquitto.add_device("sn-000000000001")
    got = []
    watcher = _client(mosquitto, mosquitto.admin_user, mosquitto.admin_password)
    watcher.on_message = lambda c, u, m: got.append(m.topic)
    watcher.connect(mosquitto.host, mosquitto.port)
    watcher.subscribe("sewnet/#", qos=1)
    watcher.loop_start()
    wait_for(watcher.is_connected, timeout=5, what="admin connected")

    dev = _client(mosquitto, "sn-000000000001", pw)
    dev.connect(mosquitto.host, mosquitto.port)
    dev.loop_start()
    wait_for(dev.is_connected, timeout=5, what="device connected")
    dev.publish("sewnet/v1/sn-000000000002/summary", b"{}", qos=1).wait_for_publish(5)
    dev.publish("sewnet/v1/sn-000000000001/summary", b"{}", qos=1).wait_for_publish(5)
    wait_for(lambda: "sewnet/v1/sn-000000000001/summary" in got, timeout=5, what="own topic delivered")
    assert "sewnet/v1/sn-000000000002/summary" not in got
    for c in (dev, watcher):
        c.loop_stop()
        c.disconnect()


def test_influxdb_keeps_points_across_restart(influxdb):
    influxdb.write("sewing,machine=m1,workshop=w1 stitches=5i 1763900000\n"
                   "sewing,machine=m1,workshop=w1 stitches=7i 1763900010\n"
                   "sewing,machine=m1,workshop=w1 stitches=7i 1763900010\n")
    assert influxdb.series_sum("stitches") == {"m1": 12}
    influxdb.restart()
    assert influxdb.series_sum("stitches") == {"m1": 12}


def test_victoria_accepts_v2_writes(victoria):
    import httpx
    r = httpx.post(f"{victoria.url}/api/v2/write", params={"bucket": "sewnet", "org": "x", "precision": "s"},
                   content=b"sewing,machine=m1,workshop=w1 stitches=5i 1763900000\n")
    assert r.status_code == 204
    series = wait_for(victoria.export, timeout=10, what="exported series")
    assert series[0]["metric"]["__name__"] == "sewing_stitches"
    assert series[0]["values"] == [5]


def _rows(engine) -> list[int]:
    import sqlalchemy as sa

    with engine.connect() as c:
        return [r[0] for r in c.execute(sa.text("SELECT n FROM cut_bundle ORDER BY n"))]


def test_postgresql_gives_each_test_an_empty_database_of_its_own(postgresql):
    import sqlalchemy as sa

    engine = sa.create_engine(postgresql.url)
    try:
        with engine.begin() as c:
            who, db = c.execute(sa.text("SELECT current_user, current_database()")).one()
            assert (who, db) == ("sewnet", postgresql.name)
            assert db != postgresql.server.database
            assert c.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
            c.execute(sa.text("CREATE TABLE cut_bundle (n int PRIMARY KEY, style text)"))
            c.execute(sa.text("INSERT INTO cut_bundle VALUES (1, '반팔 티셔츠')"))
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT style FROM cut_bundle")).scalar() == "반팔 티셔츠"
    finally:
        engine.dispose()
    # its own cluster, not the machine's PostgreSQL on 5432
    server = postgresql.server
    assert server.port != 5432
    with server.admin() as conn:
        assert conn.execute("SHOW data_directory").fetchone()[0] == str(server.data_dir)


def test_postgresql_refuses_a_wrong_password_and_passwordless_socket_logins(postgresql):
    import psycopg
    import sqlalchemy as sa

    engine = sa.create_engine(postgresql.server.url_for(postgresql.name, password="not-the-password"))
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        engine.connect()
    engine.dispose()
    # no trust or peer logins on the unix socket either, even for the superuser
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=str(postgresql.server.socket_dir), port=postgresql.server.port, user="postgres",
                        dbname="postgres", connect_timeout=5)


def test_postgresql_keeps_committed_rows_across_a_restart(postgresql_own):
    import sqlalchemy as sa

    engine = sa.create_engine(postgresql_own.url, pool_pre_ping=True)
    try:
        with engine.begin() as c:
            c.execute(sa.text("CREATE TABLE cut_bundle (n int PRIMARY KEY)"))
            c.execute(sa.text("INSERT INTO cut_bundle SELECT generate_series(1, 50)"))
        held = engine.connect()  # a pooled client still connected: the fast shutdown must not wait for it
        postgresql_own.stop()
        assert postgresql_own.cluster_state() == "shut down"
        held.close()
        postgresql_own.start()
        assert _rows(engine) == list(range(1, 51))
    finally:
        engine.dispose()


def test_postgresql_recovers_after_kill_9_with_a_transaction_in_flight(postgresql_own):
    import sqlalchemy as sa

    engine = sa.create_engine(postgresql_own.url, pool_pre_ping=True)
    try:
        with engine.begin() as c:
            c.execute(sa.text("CREATE TABLE cut_bundle (n int PRIMARY KEY)"))
            c.execute(sa.text("INSERT INTO cut_bundle SELECT generate_series(1, 100)"))
        in_flight = engine.connect()
        tx = in_flight.begin()
        in_flight.execute(sa.text("INSERT INTO cut_bundle SELECT generate_series(101, 200)"))
        postgresql_own.kill()
        # a crash, not a shutdown: the cluster was left mid-production and must replay its WAL
        assert postgresql_own.cluster_state() == "in production"
        with pytest.raises(sa.exc.OperationalError):
            tx.commit()
        in_flight.close()
        postgresql_own.start()
        assert _rows(engine) == list(range(1, 101))
        with engine.begin() as c:  # and it takes writes again
            c.execute(sa.text("INSERT INTO cut_bundle VALUES (101)"))
        assert len(_rows(engine)) == 101
    finally:
        engine.dispose()
