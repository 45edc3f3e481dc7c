"""The kiosk's pure parts, from the modules the contract names (hub.kiosk.measurements,
hub.kiosk.patterns, hub.kiosk.fit) when they exist, else the stand-ins: the app codes against the
contract only, so swapping the measurements module in changes nothing here."""

from __future__ import annotations

try:  # pragma: no cover - which branch is present decides
    from hub.kiosk import measurements
except ImportError:  # pragma: no cover
    from hub.kiosk import standins as measurements  # type: ignore[no-redef]
from hub.kiosk import fit, patterns

Body = measurements.Body
RANGES = measurements.RANGES
check_body = measurements.check
estimate = measurements.estimate
to_svg = patterns.to_svg
to_dxf = patterns.to_dxf
to_pdf = patterns.to_pdf
fit_map = fit.fit_map


def draft(design: str, body, options: dict):
    """The pattern for the design's own options (the colour is the fabric's, not the pattern's)."""
    return patterns.draft(design, body, {k: v for k, v in options.items() if k != "colour"})


def cutting_ticket(pattern, fabric: str, colour: str = "") -> tuple[dict, str]:
    """(the ticket, its text form) for the fabric on hand."""
    ticket = patterns.cutting_ticket(pattern, {"name": fabric, "colour": colour})
    return ticket, patterns.ticket_text(ticket)
