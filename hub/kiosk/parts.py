"""The kiosk's pure parts (hub.kiosk.measurements, hub.kiosk.patterns, hub.kiosk.fit) as the app
uses them: the app codes against these names only."""

from __future__ import annotations

from hub.kiosk import fit, measurements, patterns

Body = measurements.Body
RANGES = measurements.RANGES
check_body = measurements.check
estimate = measurements.estimate
MeasurementError = measurements.MeasurementError
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
