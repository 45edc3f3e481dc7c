"""What a drafted pattern is: pieces made of named edges (the sew line), their cut line, marks.

A piece keeps the coordinates it was drafted in (mm, y up; centre front or back at x = 0 for the
body pieces), so pieces that are sewn together share a frame and can be measured against each
other; exports lay them out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import shapely
from shapely.geometry import box

from hub.kiosk.patterns.geometry import Pt, join, length, point_at, polygon, signed_area


class BodyLike(Protocol):
    """The measurements drafting reads (mm; hub.kiosk.measurements.Body has them all)."""

    gender: str
    height: float
    chest: float
    waist: float
    hip: float
    shoulder: float
    arm: float
    neck: float


class PatternError(ValueError):
    """A pattern that cannot be drafted, with the reason in plain words."""


@dataclass(frozen=True)
class Edge:
    """One stretch of the sew line, named for the seam it joins ("side", "armhole", "fold", ...)."""

    name: str
    points: tuple[Pt, ...]
    allowance: float  # seam allowance outside it, mm; 0 on a fold

    @property
    def length(self) -> float:
        return length(self.points)


@dataclass(frozen=True)
class Notch:
    """A notch: a slit from the sew line out to the cut line, where two pieces are matched."""

    at: Pt          # on the sew line
    normal: Pt      # unit, outward
    depth: float    # the seam allowance there (the slit reaches the cut line)
    mark: str = ""  # what it matches ("waist", "front", "back 2", "shoulder")

    @property
    def slit(self) -> tuple[Pt, Pt]:
        (x, y), (nx, ny) = self.at, self.normal
        return (x, y), (x + nx * self.depth, y + ny * self.depth)


def _unit(a: Pt, b: Pt) -> Pt:
    d = math.dist(a, b)
    return (b[0] - a[0]) / d, (b[1] - a[1]) / d


def _corner(a: Edge, b: Edge) -> list[Pt]:
    """The points whose hull is the wedge of cut line at the corner where edge a ends and b
    starts, up to their mitre."""
    v = a.points[-1]
    da, db = _unit(a.points[-2], v), _unit(v, b.points[1])
    na, nb = (da[1], -da[0]), (db[1], -db[0])  # outward, the outline running counter-clockwise
    pa = (v[0] + na[0] * a.allowance, v[1] + na[1] * a.allowance)
    pb = (v[0] + nb[0] * b.allowance, v[1] + nb[1] * b.allowance)
    pts = [v, pa, pb]
    cross = da[0] * db[1] - da[1] * db[0]
    if abs(cross) > 1e-9:
        t = ((pb[0] - pa[0]) * db[1] - (pb[1] - pa[1]) * db[0]) / cross
        q = (pa[0] + t * da[0], pa[1] + t * da[1])
        if math.dist(q, v) <= 3 * max(a.allowance, b.allowance):
            pts.append(q)
    return pts


def _ragged(kind, point_lists: list) -> np.ndarray:
    """One shapely call for many geometries (shapely's array functions): drafting makes thousands
    of bands and corners a second, and building them one Python object at a time cost more than
    GEOS's work on them."""
    if not point_lists:
        return np.empty(0, dtype=object)
    coords = np.array([p for pts in point_lists for p in pts], dtype=float)
    index = np.repeat(np.arange(len(point_lists)), [len(pts) for pts in point_lists])
    return kind(coords, indices=index)


@dataclass
class Piece:
    name: str                   # trade name, also the DXF block name: front, back, sleeve, ...
    words: dict[str, str]       # {"ko": "앞판", "en": "front", "zh": "前片"}
    edges: list[Edge]
    quantity: int               # fabric pieces to cut
    on_fold: bool               # drafted as a half, the fold on x = 0
    grainline: tuple[Pt, Pt]
    size_label: str = ""
    notches: list[Notch] = field(default_factory=list)
    internal: list[tuple[str, tuple[Pt, ...]]] = field(default_factory=list)  # (what, polyline)
    fold_lines: list[tuple[Pt, Pt]] = field(default_factory=list)  # hems and facings folded back
    cut: list[Pt] = field(default_factory=list)

    def __post_init__(self) -> None:
        for a, b in zip(self.edges, self.edges[1:] + self.edges[:1]):
            if math.dist(a.points[-1], b.points[0]) > 1e-6:
                raise PatternError(f"{self.name}: edge {a.name} does not meet {b.name}")
        self.cut = self._cut_line()

    def _cut_line(self) -> list[Pt]:
        """The sew line grown by each edge's allowance: each edge's band (flat ends, mitred bends)
        merged with the piece, and each corner filled to the mitre of its two bands (squared off
        where the mitre would reach past three allowances). Merging, unlike offsetting point by
        point, cannot loop where a hollow curve (the bottom of an armhole) is tighter than its
        allowance. A piece cut on the fold is trimmed back to the fold."""
        banded = [e for e in self.edges if e.allowance > 0]
        bands = shapely.buffer(_ragged(shapely.linestrings, [e.points for e in banded]),
                               np.array([e.allowance for e in banded]), quad_segs=16, cap_style="flat",
                               join_style="mitre", mitre_limit=3)
        hulls = shapely.convex_hull(_ragged(shapely.multipoints, [
            _corner(a, b) for a, b in zip(self.edges, self.edges[1:] + self.edges[:1])]))
        # Grown by 0.01 mm so each corner overlaps the bands it meets rather than touching them
        # along a line that rounding can open into a gap. A corner with no width (its hull a
        # line or a point) adds nothing.
        corners = shapely.buffer(hulls[shapely.get_type_id(hulls) == 3], 0.01, quad_segs=16, join_style="mitre")
        shape = shapely.union_all([polygon(self.sew), *bands, *corners])
        if self.on_fold:
            shape = shape.intersection(box(0, -1e5, 1e5, 1e5))
        if shape.geom_type != "Polygon":
            raise PatternError(f"{self.name}: the seam allowances do not make one piece")
        ring = list(shape.exterior.coords)[:-1]
        return ring if signed_area(ring) > 0 else list(reversed(ring))

    @property
    def sew(self) -> list[Pt]:
        pts = join(*[e.points for e in self.edges])
        return pts[:-1] if math.dist(pts[0], pts[-1]) < 1e-9 else pts

    @property
    def allowances(self) -> list[float]:
        out: list[float] = []
        for e in self.edges:
            out += [e.allowance] * (len(join(e.points)) - 1)
        return out

    @property
    def fold(self) -> tuple[Pt, Pt] | None:
        for e in self.edges:
            if e.name == "fold":
                return e.points[0], e.points[-1]
        return None

    @property
    def quantity_text(self) -> str:
        return f"cut {self.quantity}" + (" on fold" if self.on_fold else "")

    @property
    def quantity_words(self) -> dict[str, str]:
        fold = self.on_fold
        return {"ko": f"{self.quantity}장 재단" + (" (골선)" if fold else ""),
                "en": self.quantity_text,
                "zh": f"裁{self.quantity}片" + ("（对折）" if fold else "")}

    def edge(self, name: str) -> Edge:
        for e in self.edges:
            if e.name == name:
                return e
        raise KeyError(f"{self.name} has no edge {name}")

    def has_edge(self, name: str) -> bool:
        return any(e.name == name for e in self.edges)

    def notch(self, edge: str, distance: float, mark: str, from_end: bool = False) -> None:
        e = self.edge(edge)
        pts = list(reversed(e.points)) if from_end else list(e.points)
        (x, y), (ux, uy) = point_at(pts, distance)
        if from_end:
            ux, uy = -ux, -uy
        self.notches.append(Notch((x, y), (uy, -ux), e.allowance, mark))

    @property
    def area(self) -> float:
        return abs(signed_area(self.sew))


@dataclass(frozen=True)
class Seam:
    """Edges sewn together: side a, less `take`, must equal side b times `ratio` within 1 mm.

    take: what side a gives up by design (a pleat folded out, the stand's button extension past the
    collar); ratio: a knit band stretched onto the neckline (1 when both are sewn flat). Each side
    is one or more (piece, edge), added up (a neckband takes the front and back necklines).
    """

    what: str
    a: tuple[tuple[str, str], ...]
    b: tuple[tuple[str, str], ...]
    ratio: float = 1.0
    take: float = 0.0


@dataclass
class Pattern:
    design: str
    options: dict[str, str]
    fabric_kind: str                  # knit | woven
    pieces: list[Piece]
    finished: dict[str, float]        # chest, waist, hip, shoulder, sleeve, length: the garment, mm
    ease: dict[str, float]            # finished minus body, per area, mm
    body: dict[str, float]            # the body figure each area is compared with, mm
    size_label: str
    seams: list[Seam]
    levels: dict[str, float]          # drafting height of the chest, waist and hip lines
    cap_ease: tuple[float, float]     # the design's sleeve cap ease range, mm
    armhole: tuple[tuple[str, str], ...]  # the edges that make the armhole
    cuff: float = 0.0                 # cuff depth added to the sleeve length, mm
    notes: list[str] = field(default_factory=list)

    def piece(self, name: str) -> Piece:
        for p in self.pieces:
            if p.name == name:
                return p
        raise KeyError(f"the {self.design} pattern has no piece {name}")

    def has_piece(self, name: str) -> bool:
        return any(p.name == name for p in self.pieces)

    def edge_length(self, piece: str, edge: str) -> float:
        return self.piece(piece).edge(edge).length

    def seam_lengths(self, seam: Seam) -> tuple[float, float]:
        """(side a less its take, side b times its ratio), mm."""
        a = sum(self.edge_length(p, e) for p, e in seam.a) - seam.take
        return a, seam.ratio * sum(self.edge_length(p, e) for p, e in seam.b)

    @property
    def armhole_length(self) -> float:
        return sum(self.edge_length(p, e) for p, e in self.armhole)

    @property
    def cap_length(self) -> float:
        return self.edge_length("sleeve", "cap_front") + self.edge_length("sleeve", "cap_back")
