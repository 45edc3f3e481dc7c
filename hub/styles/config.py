"""My Style Lab's settings: environment `SEWNET_STYLES_<FIELD>` over defaults (the hub's own
settings stay the hub's; `create_app(settings, styles_settings=…)` takes these)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StylesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEWNET_STYLES_", extra="forbid")

    #: Train the recommender from the database once the hub is up (off: popularity until
    #: `POST /api/v1/styles/model` asks for a training).
    train_on_start: bool = True
    #: Seed of the recommender's training (the same data and seed give the same model).
    seed: int = 0
    #: Recommendations a request may ask for (`k`), and what it gets without asking.
    k_default: int = Field(12, ge=1, le=100)
    k_max: int = Field(100, ge=1, le=1000)
    #: Quiz cards the kiosk shows (the issue asks for 10 to 20).
    quiz_cards: int = Field(16, ge=10, le=20)
    #: Kiosk sessions (quiz answers → picks, `POST /api/v1/styles/sessions` and the page's results)
    #: one client address may ask for in a minute: a kiosk is one address and a shopper asks a few.
    sessions_per_minute: int = Field(30, ge=1)
    #: Seconds without a touch before the kiosk warns; then `idle_warning_s` more (at least 20, as
    #: the accessibility rules ask) before the picks are cleared.
    idle_timeout_s: float = Field(90.0, ge=5)
    idle_warning_s: float = Field(30.0, ge=20)
    #: Hours the phone link in the QR code keeps working (the list is in the link; nothing stored).
    link_hours: float = Field(72.0, gt=0)
    #: The address phones reach the hub at, for the QR code (None: the address the kiosk used).
    public_url: Optional[str] = None
