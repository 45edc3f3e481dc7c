"""Telemetry: what the hub asks of a time-series store (the port), and the stores that answer.

The public face is the port alone: other capabilities import these names from `hub.telemetry`.
The adapters (`influxql`, `embedded` over `storage`) and the embedded store's HTTP face (`routes`)
are for the composition root, hub.app, which opens one adapter in its lifespan.
"""

from hub.telemetry.port import (
    MachineActivity,
    MachineBucket,
    MachineSeen,
    Telemetry,
    TelemetryUnavailable,
    WorkshopRecent,
    check_zone,
    epoch_ms,
)

__all__ = ["MachineActivity", "MachineBucket", "MachineSeen", "Telemetry", "TelemetryUnavailable", "WorkshopRecent", "check_zone",
           "epoch_ms"]
