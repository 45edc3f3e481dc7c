"""Laying pieces out side by side (shelf packing): for the exports' sheets and the cutting lay.

Pieces keep their grain: on a sheet, as drafted; on fabric, the grainline along the selvedge
(pieces drafted with a crosswise grainline, like cuffs and collars, are turned a quarter).
Positions are in a y-down sheet frame: (x, y) of each item's top-left corner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.kiosk.patterns.geometry import Pt, bbox, mirror_x, rotate
from hub.kiosk.patterns.model import Piece


@dataclass
class Placed:
    name: str
    outline: list[Pt]   # already in sheet coordinates (y down)
    x: float
    y: float
    w: float
    h: float


def shelf(sizes: list[tuple[str, float, float]], width: float, gap: float = 10.0) -> tuple[dict[str, tuple[float, float]], float]:
    """Top-left corners for (key, w, h) boxes in rows no wider than `width`, tallest first; total height."""
    order = sorted(sizes, key=lambda s: -s[2])
    x = y = row_h = 0.0
    out: dict[str, tuple[float, float]] = {}
    for key, w, h in order:
        if x > 0 and x + w > width:
            x, y, row_h = 0.0, y + row_h + gap, 0.0
        out[key] = (x, y)
        x += w + gap
        row_h = max(row_h, h)
    return out, y + row_h


def to_sheet(points: list[Pt], box: tuple[float, float, float, float], x: float, y: float) -> list[Pt]:
    """Drafting coordinates (y up) to a sheet (y down), the piece's box top-left at (x, y)."""
    minx, _, _, maxy = box
    return [(px - minx + x, maxy - py + y) for px, py in points]


def grain_is_crosswise(piece: Piece) -> bool:
    (x0, y0), (x1, y1) = piece.grainline
    return abs(x1 - x0) > abs(y1 - y0)


def fabric_outlines(piece: Piece) -> list[list[Pt]]:
    """The fabric shapes a piece is cut as on an open, single-ply lay: unfolded, one per copy, grain up."""
    cut = list(piece.cut)
    if piece.on_fold:
        # Mirror the half across the fold (x = 0) for the whole shape.
        right = [p for p in cut]
        cut = right + list(reversed(mirror_x(right)))
    if grain_is_crosswise(piece):
        cut = rotate(cut, math.pi / 2)
    copies = []
    for i in range(piece.quantity):
        copies.append(cut if i % 2 == 0 else mirror_x(cut))
    return copies


def lay(pieces: list[Piece], fabric_width: float, gap: float = 5.0) -> tuple[list[Placed], float]:
    """A simple lay: every fabric piece's box in rows across the width. Returns placements and length."""
    shapes = []
    for piece in pieces:
        for i, outline in enumerate(fabric_outlines(piece)):
            b = bbox(outline)
            shapes.append((f"{piece.name}#{i}", outline, b))
    sizes = [(k, b[2] - b[0], b[3] - b[1]) for k, _, b in shapes]
    too_wide = [k for k, w, _ in sizes if w > fabric_width]
    if too_wide:
        raise ValueError(f"{', '.join(too_wide)} is wider than the fabric ({fabric_width:.0f} mm)")
    # Across the width (x), along the length (y): rows are strips across the fabric.
    pos, total = shelf(sizes, fabric_width, gap)
    placed = [Placed(k.split("#")[0], to_sheet(o, b, *pos[k]), pos[k][0], pos[k][1], b[2] - b[0], b[3] - b[1])
              for k, o, b in shapes]
    return placed, total
