"""The gateway against the shared contract vectors (tests/vectors/summaries.json)."""

import json
from pathlib import Path

import pytest

from edge_gateway.contract import REASONS, STORE_REASONS, Rejected, Summary, encode_line, validate
from edge_gateway.outbox import Incoming, Outbox

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "summaries.json").read_text())
WORKSHOP = VECTORS["registry"]["workshop"]
REGISTRY = VECTORS["registry"]["devices"]


def store_at(tmp_path) -> Outbox:
    # The vectors' timestamps assume a gateway clock that NTP keeps right (VECTORS["gateway_clock"]);
    # the kernel of the machine running the tests may say otherwise.
    assert VECTORS["gateway_clock"] == "synced"
    return Outbox(tmp_path / "gw.sqlite", WORKSHOP, REGISTRY, clock_synced=lambda: True)


def _raw(vector) -> bytes:
    if "raw_hex" in vector:
        return bytes.fromhex(vector["raw_hex"])
    if "raw" in vector:
        return vector["raw"].encode("utf-8")
    return json.dumps(vector["payload"], separators=(",", ":")).encode()


def test_vectors_are_loaded():
    # Guards against an empty parametrisation silently passing.
    assert len(VECTORS["valid"]) >= 5 and len(VECTORS["invalid"]) >= 10
    assert {v["reason"] for v in VECTORS["invalid"]} == set(REASONS) - set(STORE_REASONS)
    assert {v["reason"] for v in VECTORS["refused"]} == {"implausible_time"}


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vector_validates(vector):
    result = validate(vector["topic"], _raw(vector), REGISTRY)
    assert isinstance(result, Summary), result
    assert result.device == vector["payload"]["device"]
    assert result.time == vector["payload"].get("time")


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vector_encodes_to_its_line_through_a_fresh_store(vector, tmp_path):
    with store_at(tmp_path) as store:
        res = store.ingest([Incoming(vector["topic"], _raw(vector), vector["received_at"])])
        assert res.accepted == 1 and not res.rejected
        assert res.lines == [vector["line"]]
        assert [p.line for p in store.pending(10)] == [vector["line"]]


def test_encoder_alone_matches_the_first_vector():
    v = VECTORS["valid"][0]
    s = validate(v["topic"], _raw(v), REGISTRY)
    assert encode_line(WORKSHOP, REGISTRY[s.device], s, v["payload"]["time"]) == v["line"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector_is_rejected_with_its_reason(vector):
    result = validate(vector["topic"], _raw(vector), REGISTRY)
    assert isinstance(result, Rejected), result
    assert result.reason == vector["reason"], result.detail
    assert result.detail


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector_is_kept_and_counted_by_the_store(vector, tmp_path):
    with store_at(tmp_path) as store:
        res = store.ingest([Incoming(vector["topic"], _raw(vector), 1763900000.0)])
        assert res.accepted == 0 and res.rejected == {vector["reason"]: 1}
        kept = store.rejected()
        assert [(k["topic"], k["reason"]) for k in kept] == [(vector["topic"], vector["reason"])]
        assert kept[0]["payload"] == _raw(vector)[:4096]
        assert store.counters()["rejected." + vector["reason"]] == 1
        assert store.pending(10) == []


def test_sequence_reproduces_its_lines_in_order(tmp_path):
    seq = VECTORS["sequence"]
    with store_at(tmp_path) as store:
        got = []
        for step in seq["steps"]:
            res = store.ingest([Incoming(seq["topic"], _raw(step), step["received_at"])])
            got += res.lines
        assert got == [step["line"] for step in seq["steps"]]


def test_sequence_in_one_batch_gives_the_same_lines(tmp_path):
    # One transaction per batch must not change the timestamps a step-by-step store gives.
    seq = VECTORS["sequence"]
    with store_at(tmp_path) as store:
        res = store.ingest([Incoming(seq["topic"], _raw(s), s["received_at"]) for s in seq["steps"]])
        assert res.lines == [step["line"] for step in seq["steps"]]


def test_sequence_survives_reopen_between_steps(tmp_path):
    # Anchors and the last timestamp per series are durable, not only in memory.
    seq = VECTORS["sequence"]
    got = []
    for step in seq["steps"]:
        with store_at(tmp_path) as store:
            got += store.ingest([Incoming(seq["topic"], _raw(step), step["received_at"])]).lines
    assert got == [step["line"] for step in seq["steps"]]


@pytest.mark.parametrize("vector", VECTORS["refused"], ids=lambda v: v["name"])
def test_refused_vector_is_kept_and_counted_and_the_steps_before_it_are_stored(vector, tmp_path):
    *before, last = vector["steps"]
    with store_at(tmp_path) as store:
        for step in before:
            assert store.ingest([Incoming(vector["topic"], _raw(step), step["received_at"])]).accepted == 1
        assert isinstance(validate(vector["topic"], _raw(last), REGISTRY), Summary), "the contract allows it"
        res = store.ingest([Incoming(vector["topic"], _raw(last), last["received_at"])])
        assert res.accepted == 0 and res.rejected == {vector["reason"]: 1}
        assert [k["reason"] for k in store.rejected()] == [vector["reason"]]
        assert store.counters()["rejected." + vector["reason"]] == 1
        assert len(store.pending(10)) == len(before)


def test_newline_after_topic_is_a_bad_topic():
    v = VECTORS["valid"][0]
    assert validate(v["topic"] + "\n", _raw(v), REGISTRY).reason == "bad_topic"


def test_status_online_and_last_will_validate():
    online = {"v": 1, "device": "sn-3c71bf0a12f4", "state": "online", "boot": 17, "uptime_ms": 420000,
              "fw": "0.1.0", "counter": "pcnt", "interval_ms": 10000, "queued": 0, "dropped": 0}
    will = {k: v for k, v in online.items() if k not in ("uptime_ms", "queued", "dropped")} | {"state": "offline"}
    topic = "sewnet/v1/sn-3c71bf0a12f4/status"
    assert validate(topic, json.dumps(online).encode(), REGISTRY).state == "online"
    assert validate(topic, json.dumps(will).encode(), REGISTRY).state == "offline"
    bad = dict(online, state="sleeping")
    assert validate(topic, json.dumps(bad).encode(), REGISTRY).reason == "schema"
    no_uptime = {k: v for k, v in online.items() if k != "uptime_ms"}
    assert validate(topic, json.dumps(no_uptime).encode(), REGISTRY).reason == "schema"


# ---- the gateway's own configuration: the example must load, mistakes must name their key ------

from edge_gateway.config import ConfigError, load_config  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "edge_gateway" / "gateway.example.toml"


def test_example_config_loads_with_documented_defaults():
    cfg = load_config(EXAMPLE)
    assert (cfg.uplink.flush_interval_s, cfg.uplink.batch_lines, cfg.mqtt.username) == (600, 5000, "gateway")
    assert cfg.store.synchronous == "FULL" and cfg.registry["sn-3c71bf0a12f4"] == "m03"


@pytest.mark.parametrize("snippet, key", [
    ('[uplink]\nurl = "http://x"\nflush_intervall_s = 3', "uplink.flush_intervall_s: unknown key"),
    ('[uplink]\nurl = "ftp://x"', "uplink.url"),
    ('[uplink]\nurl = "http://x"\napi = "v2"', "org is required"),
    ('[uplink]\nurl = "http://x"\n[mqtt]\nport = "many"', "mqtt.port"),
    ('[uplink]\nurl = "http://x"\n[registry]\n"SN-BAD" = "m1"', "registry"),
    ('[uplink]\nurl = "http://x"\n[registry]\n"sn-ok01" = "m 1"', "registry"),
])
def test_config_errors_name_the_key(tmp_path, snippet, key):
    path = tmp_path / "gw.toml"
    path.write_text(f'workshop = "ws-1"\ndata_dir = "d"\n{snippet}\n')
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path)


def test_secrets_come_from_file_or_env_never_both(tmp_path, monkeypatch):
    secret = tmp_path / "mqtt.pw"
    secret.write_text("s3cret\n")
    path = tmp_path / "gw.toml"
    path.write_text(f'workshop = "ws-1"\ndata_dir = "d"\n[mqtt]\npassword_file = "{secret}"\n'
                    '[uplink]\nurl = "http://x"\n[web]\nenabled = false\n')
    cfg = load_config(path)
    assert cfg.mqtt.secret() == "s3cret" and cfg.data_dir == (tmp_path / "d").resolve()
    monkeypatch.setenv("SEWNET_UPLINK_PASSWORD", "from-env")
    assert cfg.uplink.secret() == "from-env"
    both = cfg.mqtt.model_copy(update={"password": "inline"})
    with pytest.raises(ConfigError, match="not both"):
        both.secret()
    web_on = cfg.model_copy(update={"web": cfg.web.model_copy(update={"enabled": True})})
    monkeypatch.delenv("SEWNET_OPERATOR_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="operator_password"):
        web_on.check_secrets()
