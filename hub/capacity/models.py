"""What the capacity API answers, as pydantic models (they are its OpenAPI schema too)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class MachineCapacity(BaseModel):
    machine: str
    online: bool
    last_seen: str | None = Field(description="ISO 8601 UTC time of the machine's latest summary")
    stitches_last_hour: int
    run_ms: int
    observed_ms: int
    running_ratio: float | None = Field(description="run_ms / observed_ms to 4 decimals; null without data")


class WorkshopCapacity(BaseModel):
    workshop: str
    machines_known: int
    machines_online: int
    stitches_last_hour: int = Field(description="stitches in this workshop's window (window_start, window_end)")
    run_ms: int
    observed_ms: int
    running_ratio: float | None
    last_seen: str | None
    window_start: str = Field(description="ISO 8601 UTC start of the hour counted (inclusive, a whole minute)")
    window_end: str = Field(description="ISO 8601 UTC end of the hour counted (exclusive): the end of the minute "
                                        "holding the workshop's latest data")
    window_ends_at: Literal["latest_data", "online_window"] = Field(
        description="latest_data: the hour ends at the workshop's latest data; online_window: the workshop has "
                    "sent nothing for longer than the online window, and the hour ends that long ago")
    machines: list[MachineCapacity]


class CapacityReport(BaseModel):
    generated_at: str
    telemetry: str
    online_window_s: int
    capacity_window_s: int
    known_window_s: int
    workshops: list[WorkshopCapacity]


class Unavailable(BaseModel):
    error: str = "telemetry_unavailable"
    reason: str


# ----------------------------------------------------------------------------- spare SAM-minutes
class FactorOut(BaseModel):
    value: float = Field(description="the figure used (0..1)")
    declared: float = Field(description="the registry's figure (availability: 1, every machine in use)")
    measured: float | None = Field(description="what telemetry showed, before weighing; null without evidence")
    trust: float = Field(description="weight of the measurement, freshness × coverage (0..1)")
    freshness: float = Field(description="0.5^(age of the latest data / half-life)")
    coverage: float = Field(description="evidence working minutes / the working days that earn full trust, at most 1")
    rule: str = Field(description="measured | blended | declared:never_seen | declared:idle | declared:too_little_data "
                                  "| declared:no_recent_data | declared:telemetry_unavailable | declared:no_machines")
    evidence_days: int = Field(description="recent working days with machines running")
    busy_days: int = Field(description="of which the busier half by weight, which set the measurement")
    last_data: str | None = Field(description="ISO 8601 UTC time of the workshop's latest telemetry")
    age_s: int | None = Field(description="seconds between the latest telemetry and the report")
    ko: str
    en: str


class DayOut(BaseModel):
    date: str = Field(description="local date in the workshop's time zone (Asia/Seoul)")
    working_minutes: float = Field(description="working minutes that day; today only those after now")
    capacity: float = Field(description="machines × availability × working minutes × efficiency, SAM-minutes")
    committed: float = Field(description="minutes of accepted work already booked")
    spare: float = Field(description="capacity − committed; negative only when over-committed")
    over_committed: bool
    partial: bool = Field(description="today: only the minutes after the report's time")
    ko: str | None = None
    en: str | None = None
    explanation: dict | None = Field(None, description="which inputs made the figure, their values and the rule")


class MachineTypeOut(BaseModel):
    machine_type: str
    machines: int
    machine_ids: list[str]
    availability: FactorOut
    efficiency: FactorOut
    days: list[DayOut]


class WorkshopSamOut(BaseModel):
    workshop: str
    families: list[str]
    time_zone: str
    working_hours: dict = Field(description="opens, closes, lunch, workdays as the registry has them, and in words")
    last_data: str | None
    declared_at: str | None = Field(description="when the registry last changed the declared figures, if known")
    machine_types: list[MachineTypeOut]


class TelemetryStatus(BaseModel):
    store: str
    available: bool
    reason: str | None = None


class SamReport(BaseModel):
    generated_at: str
    days: list[str] = Field(description="the local dates covered, today first (Asia/Seoul)")
    telemetry: TelemetryStatus
    commitments_connected: bool = Field(description="false: no source of accepted work is connected yet, so "
                                                    "committed is 0 everywhere")
    rules: dict = Field(description="half-life, lookback, needle share and the other calibration settings")
    total: int = Field(description="workshops that match the filters; this answer holds offset .. offset + limit")
    offset: int
    limit: int
    workshops: list[WorkshopSamOut]


class RegistryUnavailable(BaseModel):
    error: str = "registry_unavailable"
    reason: str
