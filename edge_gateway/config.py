"""Gateway configuration: one TOML file (see gateway.example.toml and README.md).

Secrets are never required in the file: every secret can come from a `*_file` (readable by the
service only) or from an environment variable, checked in that order after an inline value.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .contract import DEVICE_ID, TAG_VALUE


class ConfigError(ValueError):
    """A configuration problem, with the offending key in the message."""


class _Section(BaseModel):
    # A misspelt key must fail loudly, not silently fall back to a default.
    model_config = ConfigDict(extra="forbid")


def _secret(inline: str | None, file: Path | None, env: str, what: str) -> str | None:
    if inline and file:
        raise ConfigError(f"{what}: give either the value or its *_file, not both")
    if inline:
        return inline
    if file:
        try:
            value = Path(file).read_bytes().decode("utf-8").strip()  # bytes: no newline translation inside
        except OSError as exc:
            raise ConfigError(f"{what}_file: cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{what}_file: {file} is not UTF-8 text") from None
        if not value:
            raise ConfigError(f"{what}_file: {file} is empty")
        return value
    return os.environ.get(env) or None


class MqttConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str = "gateway"
    password: str | None = None
    password_file: Path | None = None
    #: Fixed so the broker keeps the gateway's persistent session (and its queue) across restarts.
    #: The workshop's Mosquitto replaces every client's id with its user name
    #: (use_username_as_clientid), so a board cannot take it over; by default it is that name.
    client_id: str | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    #: MQTT 5 lets the gateway tell the broker the largest message it takes (see ingest.py);
    #: "3.1.1" only for a broker without MQTT 5, such as the demo's embedded one.
    protocol: Literal["5", "3.1.1"] = "5"
    #: Most messages committed in one SQLite transaction before they are acknowledged.
    batch_max: int = Field(1000, ge=1, le=100_000)
    reconnect_max_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _client_id_is_user(self) -> "MqttConfig":
        if not self.client_id:
            self.client_id = self.username
        return self

    def secret(self) -> str | None:
        return _secret(self.password, self.password_file, "SEWNET_MQTT_PASSWORD", "mqtt.password")


class UplinkConfig(_Section):
    api: Literal["v1", "v2"] = "v1"
    url: str
    # v1 (InfluxDB 1.x /write)
    database: str = "sewnet"
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    # v2 (/api/v2/write)
    token: str | None = None
    token_file: Path | None = None
    org: str | None = None
    bucket: str = "sewnet"
    # Every request costs ~420 B of HTTP headers both ways on LTE: batching every 10 minutes keeps
    # the uplink under 3 KB per machine-hour (bench/bench_uplink_bytes.py) while the hub still sees
    # every machine inside its 15-minute online window.
    flush_interval_s: float = Field(600.0, gt=0)
    batch_lines: int = Field(5000, ge=1, le=100_000)
    gzip_level: int = Field(9, ge=0, le=9)
    timeout_s: float = Field(30.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    #: Backoff cap while the server refuses the credentials or has no database: only a person can
    #: fix that, so a try (of one line) every 15 minutes is enough.
    refused_backoff_max_s: float = Field(900.0, gt=0)
    #: A transient failure (network, server busy) becomes an alert on the page after this long.
    alert_after_s: float = Field(1800.0, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _per_api(self) -> "UplinkConfig":
        if self.api == "v2" and not self.org:
            raise ValueError("org is required when api = \"v2\"")
        return self

    def secret(self) -> str | None:
        if self.api == "v2":
            return _secret(self.token, self.token_file, "SEWNET_UPLINK_TOKEN", "uplink.token")
        return _secret(self.password, self.password_file, "SEWNET_UPLINK_PASSWORD", "uplink.password")


class WebConfig(_Section):
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)
    operator_password: str | None = None
    operator_password_file: Path | None = None
    #: How long a login is remembered on a device. Changing the password ends every session.
    session_days: float = Field(30.0, gt=0, le=400)
    #: Failed logins allowed per client address in login_window_s before it is locked out.
    login_max_failures: int = Field(5, ge=1, le=1000)
    login_window_s: int = Field(900, ge=1, le=86400)

    def secret(self) -> str | None:
        return _secret(self.operator_password, self.operator_password_file, "SEWNET_OPERATOR_PASSWORD",
                       "web.operator_password")


class HubConfig(_Section):
    """The hub's work offers for this workshop (issue 7). No [hub] section: no offers feature."""

    #: Base URL of the hub, e.g. "https://hub.example.kr".
    url: str
    #: The workshop's id on the hub; by default the gateway's `workshop`.
    workshop: str | None = None
    workshop_token: str | None = None
    workshop_token_file: Path | None = None
    #: How often the gateway asks for its offers. An unchanged answer is a 304 of a few hundred
    #: bytes (bench/bench_offer_bytes.py), so once a minute costs little LTE data and an offer
    #: reaches the page within a minute of the coordinator sending it.
    poll_interval_s: float = Field(60.0, ge=5, le=3600)
    timeout_s: float = Field(20.0, gt=0, le=300)
    #: Retry cap for answers and offer checks while the hub or the network fails.
    backoff_max_s: float = Field(300.0, gt=0, le=3600)
    #: While the hub refuses the token (401) or the body (400/413/422): only a person can fix
    #: that, so a try every 15 minutes is enough.
    refused_backoff_max_s: float = Field(900.0, gt=0, le=86400)
    #: With an [ota] section too: how often the gateway asks the hub for a new firmware release (on
    #: the offers' poll and connection). An unchanged list is a 304 of a few hundred bytes
    #: (bench/bench_release_fetch.py); releases are rare and the operator starts each rollout, so
    #: once an hour is soon enough (the /updates page can ask at once). 0: never.
    release_check_s: float = Field(3600.0, ge=0, le=7 * 86400)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("workshop")
    @classmethod
    def _workshop(cls, v: str | None) -> str | None:
        if v is not None and not TAG_VALUE.fullmatch(v):
            raise ValueError("use letters, digits, '-', '_' or '.'")
        return v

    def secret(self) -> str | None:
        return _secret(self.workshop_token, self.workshop_token_file, "SEWNET_WORKSHOP_TOKEN", "hub.workshop_token")


class OtaConfig(_Section):
    """Over-the-air updates and remote configuration of the boards (issue 10 §2, edge_gateway/ota.py).
    No [ota] section: no updates are served."""

    #: The hub's release public key (64 hex digits, `sewnet hub release keygen` writes KEY.pub).
    release_key_file: Path
    #: The boards' lines of the broker's password file: boards log in to the update API with their
    #: MQTT user and password. `sewnet gateway install`, `add-board` and `enable-updates` keep this
    #: copy (root's, group sewnet, 640) beside the broker's own file, which only Mosquitto reads.
    board_passwd_file: Path = Path("/etc/sewnet/boards.passwd")
    #: A board offered an update that has not reported healthy after this long fails the rollout.
    rollout_timeout_s: float = Field(1800.0, ge=10, le=7 * 86400)


class StoreConfig(_Section):
    #: SQLite synchronous level; FULL survives a power cut of the Pi, NORMAL only a crash.
    synchronous: Literal["NORMAL", "FULL", "EXTRA"] = "FULL"
    rejected_keep: int = Field(10_000, ge=1)
    #: How long the seconds taken per machine are remembered (docs/protocol.md 5.2). Dedup no longer
    #: depends on it; the name stays so existing configs keep working.
    seen_keep_days: float = Field(7.0, gt=0)
    #: Disk policy, checked before every batch: below this much free space on data_dir's
    #: filesystem the gateway stops taking new summaries (the broker keeps them, in its own
    #: persistence file on the same card) so the OS, its logs and the broker never meet a full
    #: disk. 0 turns the check off.
    min_free_mb: int = Field(512, ge=0)
    #: ... and when the store itself holds this much (a long uplink outage: about 115 bytes per
    #: waiting summary, bench/bench_store_bytes.py). 0: no limit but min_free_mb.
    max_store_mb: int = Field(4096, ge=0)

    @property
    def min_free_bytes(self) -> int:
        return self.min_free_mb * 1024 * 1024

    @property
    def max_store_bytes(self) -> int:
        return self.max_store_mb * 1024 * 1024


class GatewayConfig(_Section):
    workshop: str
    data_dir: Path
    #: Where "today" starts for the operator page's stitch counts.
    timezone: str = "Asia/Seoul"
    mqtt: MqttConfig = MqttConfig()
    uplink: UplinkConfig
    registry: dict[str, str] = {}
    web: WebConfig = WebConfig()
    store: StoreConfig = StoreConfig()
    hub: HubConfig | None = None
    ota: OtaConfig | None = None

    @field_validator("data_dir")
    @classmethod
    def _folder(cls, v: Path) -> Path:
        if "\x00" in str(v):
            raise ValueError("a folder name cannot hold a NUL character")
        return v

    @field_validator("workshop")
    @classmethod
    def _workshop(cls, v: str) -> str:
        if not TAG_VALUE.fullmatch(v):
            raise ValueError("use letters, digits, '-', '_' or '.' (it becomes an InfluxDB tag value)")
        return v

    @field_validator("registry")
    @classmethod
    def _registry(cls, v: dict[str, str]) -> dict[str, str]:
        for device, machine in v.items():
            if not DEVICE_ID.fullmatch(device):
                raise ValueError(f"{device!r} is not a device id (^[a-z0-9][a-z0-9_-]{{1,31}}$)")
            if not TAG_VALUE.fullmatch(machine):
                raise ValueError(f"{device} = {machine!r}: machine ids use letters, digits, '-', '_' or '.'")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @property
    def hub_workshop(self) -> str:
        """The workshop's id on the hub (the offers' URL)."""
        return (self.hub.workshop if self.hub and self.hub.workshop else None) or self.workshop

    @property
    def store_path(self) -> Path:
        return Path(self.data_dir) / "gateway.sqlite"

    def check_secrets(self) -> None:
        """Resolve every secret the running service needs; raise ConfigError naming a missing one."""
        self.mqtt.secret()
        if self.uplink.secret() is None and self.uplink.api == "v2":
            raise ConfigError("uplink.token: missing (token, token_file or SEWNET_UPLINK_TOKEN)")
        if self.hub is not None:
            token = self.hub.secret()
            if token is None:
                raise ConfigError("hub.workshop_token: missing (workshop_token, workshop_token_file or"
                                  " SEWNET_WORKSHOP_TOKEN), or remove the [hub] section")
            if any(ord(c) < 0x21 or ord(c) > 0x7e for c in token):
                raise ConfigError("hub.workshop_token: has spaces or characters that cannot go in an HTTP header"
                                  " (copy it again from `sewnet hub workshop-token issue`)")
        if self.web.enabled and self.web.secret() is None:
            raise ConfigError(
                "web.operator_password: missing (operator_password, operator_password_file or"
                " SEWNET_OPERATOR_PASSWORD), or set web.enabled = false"
            )


def _key_part(part) -> str:
    # A key as written in the file may hold anything (quoted keys); the message stays one line.
    text = str(part)
    return text if re.fullmatch(r"[\w-]+", text, re.ASCII) else json.dumps(text)


def _format(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        key = ".".join(_key_part(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{key}: {msg}")
    return "; ".join(parts)


def parse_config(data: dict, source: str = "config") -> GatewayConfig:
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_format(exc)}") from None


def load_config(path: str | Path) -> GatewayConfig:
    """Read and check a gateway TOML file. Raises ConfigError naming the bad key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    cfg = parse_config(data, str(path))
    # A relative data_dir means relative to the config file, not to wherever the service started.
    if not cfg.data_dir.is_absolute():
        cfg = cfg.model_copy(update={"data_dir": (path.parent / cfg.data_dir).resolve()})
    return cfg
