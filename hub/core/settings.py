"""Hub settings: environment (`SEWNET_HUB_*`) over an optional TOML file over defaults.

Secrets (API tokens, the embedded write token, the InfluxDB password, the session key) come from
the environment, a token file or the TOML file the operator keeps outside the repository; the
defaults hold none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "SEWNET_HUB_"


def _split_tokens(value: object) -> object:
    """Accept a JSON list or a comma/whitespace separated string, so one env variable can carry
    several tokens without JSON quoting in a shell."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [t for t in text.replace(",", " ").split() if t]
    return value


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, toml_file=None
    )

    # --- where capacity comes from
    telemetry: Literal["influxdb", "embedded"] = "embedded"
    influx_url: str = "http://127.0.0.1:8086"
    influx_database: str = "sewnet"
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_timeout_s: float = Field(5.0, gt=0, le=120)

    # --- the embedded time-series store (the demo's stand-in for InfluxDB)
    embedded_path: Path = Path("var/hub/telemetry.sqlite")
    embedded_database: str = "sewnet"  # the only db/bucket name the embedded store accepts
    embedded_write_token: SecretStr | None = None
    embedded_max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # Twice the gateway's 5,000-line batches; a longer body is refused (413) before it is parsed,
    # so one request costs bounded work whatever it holds.
    embedded_max_lines: int = Field(10_000, ge=1)
    # Points older than this are pruned; longer than the known window so "machines known" holds.
    embedded_retention: timedelta = timedelta(days=35)

    # --- the relational store (registry, orders, plans): PostgreSQL in production,
    # postgresql+psycopg://USER:PASSWORD@HOST:5432/DB; a SQLite file for the demo and development.
    # A secret: the URL holds the password (messages and logs show it hidden).
    database_url: SecretStr = SecretStr("sqlite:///var/hub/hub.sqlite")
    # A registry CSV upload bigger than this is refused (413) before it is read; the whole
    # Dongdaemun belt (7,000 workshops, 45,000 machines) is about 3 MB a file.
    registry_max_upload_bytes: int = Field(32 * 1024 * 1024, ge=1024)

    # --- who may read
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list, repr=False)
    api_token_file: Path | None = None
    # the Ed25519 key firmware releases are signed with (`sewnet hub release keygen`); never in the repo
    release_key_file: Path | None = None
    session_secret: SecretStr | None = None
    session_max_age: timedelta = timedelta(hours=12)
    cookie_secure: bool = False  # set true behind HTTPS so the session cookie never goes out in clear
    # Wrong tokens per client address (page, API and embedded store each count their own) before
    # that address is refused for the rest of the window: guessing a token stays hopeless.
    login_failures_allowed: int = Field(5, ge=1, le=1000)
    login_lockout: timedelta = Field(timedelta(minutes=15), ge=timedelta(seconds=1))

    # --- what capacity means
    online_window: timedelta = timedelta(minutes=15)
    capacity_window: timedelta = timedelta(hours=1)
    known_window: timedelta = timedelta(days=30)
    page_refresh_s: int = Field(15, ge=2, le=3600)

    # --- spare capacity in SAM-minutes (hub/capacity/sam.py says how each is used)
    # The most days ahead GET /api/v1/capacity/sam answers (it answers 14 unless asked for fewer).
    capacity_days: int = Field(14, ge=1, le=60)
    # Telemetry's weight halves with every half-life its latest data ages: a silent gateway drifts
    # back to the registry's declared figures instead of reading as a workshop with no capacity.
    capacity_half_life: timedelta = Field(timedelta(days=3), gt=timedelta(0))
    # Days of telemetry calibration reads (and today); past 14 days at a 3-day half-life data
    # weighs under 4 %.
    capacity_lookback_days: int = Field(14, ge=1, le=60)
    # Share of a standard minute during which the needle runs (unconfirmed: FIELD_FACTS puts the
    # needle at 20-40 % of working time at 30-65 % efficiency): turns needle time into earned minutes.
    capacity_needle_share: float = Field(0.5, gt=0, le=1)
    # A machine counts as in use on a day when its needle ran at least this long.
    capacity_min_run: timedelta = Field(timedelta(minutes=5), ge=timedelta(0))
    # Past days' telemetry sums are kept this long between requests (today's are read every time):
    # a late batch from a gateway that was offline shows within it. 0 reads everything every time.
    capacity_evidence_ttl: timedelta = Field(timedelta(minutes=10), ge=timedelta(0))

    # --- planning bulk orders
    # The most a plan (or re-plan) request may spend solving; the API answers within it plus the
    # capacity read. The plan says whether the solver proved it best (gap 0) or stopped at the limit.
    planning_time_limit: timedelta = Field(timedelta(seconds=10), ge=timedelta(seconds=0.1),
                                           le=timedelta(minutes=5))

    # --- work offers to the workshops, and progress from stitches
    # An offer not answered this many hours after its plan was accepted expires, and the order is
    # re-planned without that workshop (a proposal the coordinator still accepts).
    offer_response_hours: float = Field(24, gt=0, le=24 * 14)
    # Seconds an idle HTTP connection stays open. Longer than the gateways' default offer poll
    # (60 s), so each check reuses its connection instead of paying a new TCP (and, behind a TLS
    # proxy, TLS) handshake over LTE; nginx's own default is 75 s too.
    keep_alive_s: float = Field(75, ge=1, le=3600)
    # How often the hub looks for offers past their deadline (the background task in the lifespan).
    offer_expiry_check_s: float = Field(60, ge=1, le=3600)
    # Stitches per standard minute, to estimate pieces from stitches before the owner's first count:
    # FIELD_FACTS gives a basic tee about 2,000 stitches at a SAM of about 7 minutes.
    stitches_per_sam_minute: float = Field(300, gt=0, le=100_000)
    # An accepted offer (and its order) is behind when the pieces done (counted or estimated) fall
    # short of the pieces its plan had due by now by more than this share.
    behind_threshold: float = Field(0.15, gt=0, lt=1)

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _tokens_from_text(cls, value: object) -> object:
        return _split_tokens(value)

    @field_validator("api_tokens")
    @classmethod
    def _tokens_not_blank(cls, value: list[SecretStr]) -> list[SecretStr]:
        for token in value:
            if len(token.get_secret_value()) < 8:
                raise ValueError("an API token must be at least 8 characters long")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_usable(cls, value: SecretStr) -> SecretStr:
        from hub.core.db import database_url  # SQLAlchemy only when settings are read, not imported

        return SecretStr(database_url(value.get_secret_value()).render_as_string(hide_password=False))

    @model_validator(mode="after")
    def _windows_make_sense(self) -> "HubSettings":
        for name in ("online_window", "capacity_window", "known_window", "embedded_retention"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.capacity_window.total_seconds() % 60 or self.capacity_window < timedelta(minutes=1):
            raise ValueError("capacity_window must be whole minutes: each workshop's window ends at the end of "
                             "the minute holding its latest data")
        if self.known_window < self.online_window:
            raise ValueError("known_window must not be shorter than online_window")
        if self.embedded_retention < max(self.known_window, self.capacity_window):
            raise ValueError("embedded_retention must cover known_window and capacity_window")
        if self.embedded_retention < timedelta(days=self.capacity_lookback_days + 1):
            raise ValueError("embedded_retention must cover capacity_lookback_days")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls), file_secret_settings)

    # ----------------------------------------------------------------- derived values
    def all_api_tokens(self) -> list[str]:
        """Tokens from the settings plus the token file (one per line, `#` starts a comment).
        Read on each call so a rotated token file takes effect without a restart."""
        tokens = [t.get_secret_value() for t in self.api_tokens]
        if self.api_token_file is not None:
            try:
                text = self.api_token_file.read_text(encoding="utf-8")
            except OSError:
                text = ""  # a missing file means no tokens from it; logged at start-up
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if len(line) >= 8:
                    tokens.append(line)
        return tokens

    def session_key(self) -> bytes:
        """The key that signs session cookies. Without a configured secret it is derived from the
        tokens, so several hub workers agree on it and rotating the tokens ends old sessions."""
        if self.session_secret is not None:
            return hashlib.sha256(self.session_secret.get_secret_value().encode()).digest()
        material = "\n".join(sorted(self.all_api_tokens())).encode()
        if self.embedded_write_token is not None:
            material += b"\n" + self.embedded_write_token.get_secret_value().encode()
        return hmac.new(b"sewnet-hub-session-v1", material, hashlib.sha256).digest()


def load_settings(config_file: Path | str | None = None, **overrides: object) -> HubSettings:
    """Settings from the environment over `config_file` (TOML, top-level keys named like the
    fields) over defaults. `overrides` win over everything (used by tests and the demo)."""
    if config_file is None:
        return HubSettings(**overrides)
    path = Path(config_file)
    if not path.is_file():
        raise FileNotFoundError(f"hub config file {path} not found")
    bound = type(
        "HubSettingsFromFile",
        (HubSettings,),
        {"model_config": SettingsConfigDict(**{**HubSettings.model_config, "toml_file": path})},
    )
    return bound(**overrides)
