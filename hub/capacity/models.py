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
