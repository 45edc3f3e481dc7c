"""Capacity per workshop: live, from telemetry; and spare standard minutes per machine type and day.

The public face other capabilities use: the live report and its service, the SAM-minutes inputs
(WorkshopProfile, TelemetryEvidence, Commitment), rules and results, and the sources the hub feeds
it from. The API (`routes`) and the page (`pages`) are mounted by hub.app.
"""

from hub.capacity.models import CapacityReport, MachineCapacity, WorkshopCapacity
from hub.capacity.profiles import profile_from_registry
from hub.capacity.sam import (
    CapacityRules,
    Commitment,
    DaySpare,
    Factor,
    ProfileMachine,
    TelemetryEvidence,
    TypeCapacity,
    WorkingHours,
    WorkshopProfile,
    WorkshopSam,
    calibrate,
    network_spare,
    workshop_spare,
)
from hub.capacity.service import (
    SamOutcome,
    StitchSpan,
    build_report,
    current_capacity,
    machine_stitches,
    sam_report,
    spare_capacity,
)
from hub.capacity.sources import (
    CommitmentSource,
    SourceUnavailable,
    StaticCommitments,
    StaticWorkshops,
    WorkshopSource,
)

__all__ = ["CapacityReport", "CapacityRules", "Commitment", "CommitmentSource", "DaySpare", "Factor", "MachineCapacity",
           "ProfileMachine", "SamOutcome", "SourceUnavailable", "StaticCommitments", "StaticWorkshops", "StitchSpan",
           "TelemetryEvidence", "TypeCapacity", "WorkingHours", "WorkshopCapacity", "WorkshopProfile", "WorkshopSam",
           "WorkshopSource", "build_report", "calibrate", "current_capacity", "machine_stitches", "network_spare",
           "profile_from_registry", "sam_report", "spare_capacity", "workshop_spare"]
