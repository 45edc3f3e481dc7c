"""The kiosk's settings: environment `SEWNET_KIOSK_<FIELD>` over defaults (the hub's own settings
stay the hub's; `create_app(settings, kiosk_settings=…)` takes these)."""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class KioskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEWNET_KIOSK_", extra="forbid")

    #: The store the garment is picked up at, as the promise names it.
    store: str = "SewNet 동대문점 / Dongdaemun store"
    #: Seconds without a touch before the warning; then `idle_warning_s` more (at least 20, as the
    #: accessibility rules ask) before the shopper's entries are cleared.
    idle_timeout_s: float = Field(90.0, ge=5)
    idle_warning_s: float = Field(30.0, ge=20)
    #: Seoul time: an order after the cut-off is sewn from the next day; a garment sewn on a day
    #: is ready at the store at `ready_time` the day after (collected in the morning).
    cutoff: str = "15:00"
    ready_time: str = "14:00"
    #: Orders one address may place per minute (a kiosk is one address: a shopper orders one or two).
    orders_per_minute: int = Field(6, ge=1)
    #: When set, only a device that opened /kiosk/device?token=… (a cookie) may place orders.
    device_token: Optional[SecretStr] = None
    #: How often open orders are checked for a workshop that declined or let its offer expire.
    reroute_check_s: float = Field(5.0, gt=0)
    #: Hours a workshop's link to the pattern files stays valid.
    files_link_hours: float = Field(96.0, gt=0)
    #: The address workshops reach the hub at, for the pattern files' link (None: the address the
    #: kiosk itself used).
    public_url: Optional[str] = None
    #: Design key -> designer id in the registry (missing: the first designer of that family).
    designers: dict[str, str] = {}

    @field_validator("cutoff", "ready_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not HHMM.match(v):
            raise ValueError("write the time as HH:MM (Seoul), e.g. 15:00")
        return v
