"""The pattern engine: parametric drafting from a body, checks, and the cutting room's files.

    draft(design, body, options) -> Pattern        DESIGNS: "tshirt", "shirt" and their options
    check(pattern, body) -> list[str]              empty when good to cut
    grading_problems(smaller, larger) -> list[str] a larger body never gets a smaller piece
    to_dxf(pattern) -> bytes                       DXF-AAMA (R12, mm)
    to_svg(pattern, colour) -> str                 the preview
    to_pdf(pattern, layout="a4"|"plotter") -> bytes  1:1 with a 10 cm test square
    cutting_ticket(pattern, fabric) -> dict, ticket_text(ticket) -> str
"""

from hub.kiosk.patterns.checks import check, grading_problems, measure
from hub.kiosk.patterns.designs import DESIGNS, draft
from hub.kiosk.patterns.export_dxf import to_dxf
from hub.kiosk.patterns.export_pdf import to_pdf
from hub.kiosk.patterns.export_svg import to_svg
from hub.kiosk.patterns.model import BodyLike, Edge, Notch, Pattern, PatternError, Piece, Seam
from hub.kiosk.patterns.ticket import DEFAULT_FABRIC, Fabric, cutting_ticket, ticket_text

__all__ = ["DEFAULT_FABRIC", "DESIGNS", "BodyLike", "Edge", "Fabric", "Notch", "Pattern", "PatternError", "Piece",
           "Seam", "check", "cutting_ticket", "draft", "grading_problems", "measure", "ticket_text", "to_dxf",
           "to_pdf", "to_svg"]
