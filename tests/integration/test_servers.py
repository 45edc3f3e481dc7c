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
