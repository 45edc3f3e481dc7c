"""The kiosk's pure parts, from the modules the contract names (hub.kiosk.measurements,
hub.kiosk.patterns, hub.kiosk.fit) when they exist, else the stand-ins: the app codes against the
contract only, so swapping them in changes nothing here."""

from __future__ import annotations

try:  # pragma: no cover - which branch is present decides
    from hub.kiosk import measurements
except ImportError:  # pragma: no cover
    from hub.kiosk import standins as measurements  # type: ignore[no-redef]
try:  # pragma: no cover
    from hub.kiosk import patterns
except ImportError:  # pragma: no cover
    from hub.kiosk import standins as patterns  # type: ignore[no-redef]
try:  # pragma: no cover
    from hub.kiosk import fit
except ImportError:  # pragma: no cover
    from hub.kiosk import standins as fit  # type: ignore[no-redef]

Body = measurements.Body
RANGES = measurements.RANGES
check_body = measurements.check
estimate = measurements.estimate
draft = patterns.draft
to_svg = patterns.to_svg
to_dxf = patterns.to_dxf
to_pdf = patterns.to_pdf
cutting_ticket = patterns.cutting_ticket
fit_map = fit.fit_map
