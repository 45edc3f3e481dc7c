"""The gateway's configuration boundary under fuzzing: whatever TOML (or not-TOML) a person puts
in gateway.toml, and whatever the secret files hold, only ConfigError comes out, naming the key."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge_gateway.config import ConfigError, load_config, parse_config
from edge_gateway.provision import toml_key, toml_value

EXAMPLE = Path(__file__).resolve().parents[2] / "edge_gateway" / "gateway.example.toml"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.text(max_size=30), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([math.inf, -math.inf, math.nan]),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)), st.dates(),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(min_size=1, max_size=10), inner,
                                                                       max_size=4)), max_leaves=12)


def inline(value) -> str:
    """Any TOML value as an inline literal (enough to write every document tomllib can read)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return toml_value(value)


def document(data: dict) -> str:
    return "".join(f"{toml_key(k)} = {inline(v)}\n" for k, v in data.items())


def example_data() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


KEYS = [(None, k) for k in example_data() if not isinstance(example_data()[k], dict)] + [
    (section, k) for section, body in example_data().items() if isinstance(body, dict) for k in body] + [
    ("mqtt", "client_id"), ("web", "operator_password"), ("uplink", "token"), ("uplink", "org"), (None, "extra")]


@FUZZ
@given(data=st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=8))
def test_any_toml_document_gives_a_config_or_a_config_error(tmp_path, data):
    path = tmp_path / "gateway.toml"
    path.write_text(document(data), encoding="utf-8")
    assert tomllib.loads(path.read_text()) is not None  # the writer made valid TOML
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
@example(raw=b"\xff\xfe")
@example(raw=b'workshop = "w"\ndata_dir = "a\\u0000b"\n[uplink]\nurl = "http://x"\n')
def test_any_bytes_give_a_config_or_a_config_error(tmp_path, raw):
    path = tmp_path / "gateway.toml"
    path.write_bytes(raw)
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(where=st.sampled_from(KEYS), value=values, drop=st.booleans())
@example(where=(None, "data_dir"), value="a\x00b", drop=False)
@example(where=("uplink", "url"), value="http://\x00", drop=False)
@example(where=(None, "timezone"), value="\x00", drop=False)
def test_one_wrong_key_of_the_example_is_named(tmp_path, where, value, drop):
    data = example_data()
    section, key = where
    target = data if section is None else data[section]
    if drop:
        target.pop(key, None)
    else:
        target[key] = value
    path = tmp_path / "gateway.toml"
    path.write_text(document(data), encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        message = str(exc)
        assert (section or key) in message, message
        assert "\n" not in message


@FUZZ
@given(secret=st.binary(max_size=64))
@example(secret=b"\xff\xfe")
@example(secret=b"")
def test_any_secret_file_gives_a_secret_or_a_config_error(tmp_path, secret):
    data = example_data()
    for section, key in (("mqtt", "password_file"), ("uplink", "password_file"), ("web", "operator_password_file")):
        data[section][key] = str(tmp_path / f"{section}.secret")
        (tmp_path / f"{section}.secret").write_bytes(secret)
    cfg = parse_config(data)
    try:
        cfg.check_secrets()
    except ConfigError as exc:
        assert "_file" in str(exc) and "\n" not in str(exc)
    else:
        assert cfg.mqtt.secret() == secret.decode().strip()


def test_a_secret_file_that_is_a_folder_is_named(tmp_path):
    data = example_data()
    data["mqtt"]["password_file"] = str(tmp_path)
    with pytest.raises(ConfigError, match="mqtt.password_file"):
        parse_config(data).check_secrets()
