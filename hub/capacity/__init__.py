"""Live capacity per workshop, from telemetry.

The public face other capabilities use: the report's models and the service that builds it.
The API (`routes`) and the page (`pages`) are mounted by hub.app.
"""

from hub.capacity.models import CapacityReport, MachineCapacity, WorkshopCapacity
from hub.capacity.service import build_report, current_capacity

__all__ = ["CapacityReport", "MachineCapacity", "WorkshopCapacity", "build_report", "current_capacity"]
