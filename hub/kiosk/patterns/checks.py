"""The checks every drafted pattern must pass, measured from the pieces' own geometry.

Nothing here trusts the drafting arithmetic: finished sizes are measured across the sew lines at
the chest, waist and hip lines, seams by the length of the polylines the exports draw.
"""

from __future__ import annotations

from shapely.errors import GEOSException
from shapely.geometry import LineString, Polygon

from hub.kiosk.patterns.figures import body_figures
from hub.kiosk.patterns.geometry import bbox, polygon, ring
from hub.kiosk.patterns.model import BodyLike, Pattern, Piece

SEAM_TOLERANCE = 1.0      # mm, seams sewn together
FINISHED_TOLERANCE = 2.0  # mm, finished = body + ease
AREAS = ("chest", "waist", "hip", "shoulder", "sleeve", "length")


def _half_width(piece: Piece, y: float) -> float:
    """How far the sew line reaches from the centre line (x = 0) at height y."""
    cut = polygon(piece.sew).intersection(LineString([(-1e5, y), (1e5, y)]))
    if cut.is_empty:
        raise ValueError(f"{piece.name} does not reach the height {y:.0f}")
    return cut.bounds[2]


def measure(pattern: Pattern) -> dict[str, float]:
    """Finished garment measurements (mm), from the pieces."""
    front, back = pattern.piece("front"), pattern.piece("back")
    out = {}
    for area in ("chest", "waist", "hip"):
        y = pattern.levels[area] + (0.01 if area == "hip" else -0.01)  # just inside the piece at the hem
        out[area] = 2 * (_half_width(front, y) + _half_width(back, y))
    shoulder = front.edge("shoulder").points
    out["shoulder"] = 2 * max(p[0] for p in shoulder)
    out["length"] = max(p[1] for p in shoulder) - bbox(back.sew)[1]
    _, y0, _, y1 = bbox(pattern.piece("sleeve").sew)
    out["sleeve"] = y1 - y0 + pattern.cuff
    return out


def _outline_problems(piece: Piece) -> list[str]:
    out = []
    for what, pts in (("sew line", piece.sew), ("cut line", piece.cut)):
        if len(pts) < 3:
            out.append(f"{piece.name}: the {what} has fewer than 3 points")
            continue
        outline = ring(pts)
        if not outline.is_simple:
            out.append(f"{piece.name}: the {what} crosses itself")
        elif not Polygon(outline).is_valid:
            out.append(f"{piece.name}: the {what} is not a valid outline")
    for a, b in zip(piece.edges, piece.edges[1:] + piece.edges[:1]):
        if LineString([a.points[-1], b.points[0]]).length > 1e-6:
            out.append(f"{piece.name}: the sew line is open between {a.name} and {b.name}")
    if not out:
        sew, cut = polygon(piece.sew), polygon(piece.cut)
        if not cut.buffer(0.01).contains(sew):
            out.append(f"{piece.name}: the cut line does not enclose the sew line")
        for what, line in piece.internal:
            if not sew.buffer(0.5).covers(LineString(line)):
                out.append(f"{piece.name}: the {what} mark falls outside the piece")
    return out


def check(pattern: Pattern, body: BodyLike) -> list[str]:
    """Problems with a pattern for this body, in words; empty when the pattern is good to cut."""
    problems: list[str] = []
    for piece in pattern.pieces:
        problems += _outline_problems(piece)
    for seam in pattern.seams:
        a, b = pattern.seam_lengths(seam)
        if abs(a - b) > SEAM_TOLERANCE:
            problems.append(f"{seam.what}: {a:.1f} mm against {b:.1f} mm (more than {SEAM_TOLERANCE:g} mm apart)")
    cap_ease = pattern.cap_length - pattern.armhole_length
    lo, hi = pattern.cap_ease
    if not lo <= cap_ease <= hi:
        problems.append(f"sleeve cap ease {cap_ease:.1f} mm is outside the design's {lo:g} to {hi:g} mm "
                        f"(cap {pattern.cap_length:.1f} mm, armhole {pattern.armhole_length:.1f} mm)")
    try:
        finished = measure(pattern)
    except (ValueError, GEOSException) as e:  # a broken outline, already named above
        return problems + [f"cannot measure the garment: {e}"]
    body_fig = body_figures(body, pattern.options)
    for area in AREAS:
        want = body_fig[area] + pattern.ease[area]
        if abs(finished[area] - want) > FINISHED_TOLERANCE:
            problems.append(f"finished {area} {finished[area]:.1f} mm, but body {body_fig[area]:.1f} + ease "
                            f"{pattern.ease[area]:g} = {want:.1f} mm")
    return problems


def grading_problems(smaller: Pattern, larger: Pattern, tolerance: float = 0.5) -> list[str]:
    """Where the pattern for a larger body is smaller: any finished size, or a piece's width or height."""
    out = []
    for area in AREAS:
        if larger.finished[area] < smaller.finished[area] - tolerance:
            out.append(f"finished {area}: {larger.finished[area]:.1f} < {smaller.finished[area]:.1f} mm")
    for piece in smaller.pieces:
        if not larger.has_piece(piece.name):
            out.append(f"{piece.name} is missing from the larger pattern")
            continue
        x0, y0, x1, y1 = bbox(piece.sew)
        X0, Y0, X1, Y1 = bbox(larger.piece(piece.name).sew)
        for what, small, large in (("width", x1 - x0, X1 - X0), ("height", y1 - y0, Y1 - Y0)):
            if large < small - tolerance:
                out.append(f"{piece.name} {what}: {large:.1f} < {small:.1f} mm")
    return out
