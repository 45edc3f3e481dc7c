"""Plane geometry for drafting, in millimetres, y up: curves sampled to polylines, lengths.

Curves are sampled once, when a piece is drafted; every length the checks compare and every line
the exports draw comes from those same points, so what is checked is what the cutting room gets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import shapely

Pt = tuple[float, float]

#: Points per cubic curve: 24 keeps the polyline within about 0.05 mm of the true curve at these sizes.
CURVE_STEPS = 24


def cubic(p0: Pt, p1: Pt, p2: Pt, p3: Pt, steps: int = CURVE_STEPS) -> list[Pt]:
    out = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def polygon(points: Sequence[Pt]) -> shapely.Polygon:
    """shapely's Polygon(points), the same geometry, built from an array in one call: shapely's
    constructor walks a list of points in Python, which cost drafting and checking more than
    GEOS's own work on the outlines."""
    return shapely.polygons(np.asarray(points, dtype=float))


def ring(points: Sequence[Pt]) -> shapely.LinearRing:
    """shapely's LinearRing(points), built as `polygon` is."""
    return shapely.linearrings(np.asarray(points, dtype=float))


def length(points: Sequence[Pt]) -> float:
    return sum(math.dist(points[i], points[i + 1]) for i in range(len(points) - 1))


def join(*parts: Sequence[Pt]) -> list[Pt]:
    """Polylines end to end; a part that starts where the last ended does not repeat that point."""
    out: list[Pt] = []
    for part in parts:
        for p in part:
            if not out or math.dist(out[-1], p) > 1e-9:
                out.append((float(p[0]), float(p[1])))
    return out


def point_at(points: Sequence[Pt], distance: float) -> tuple[Pt, Pt]:
    """The point `distance` along a polyline and the unit direction of travel there."""
    left = max(0.0, distance)
    for i in range(len(points) - 1):
        a, b = points[i], points[i + 1]
        seg = math.dist(a, b)
        if seg == 0:
            continue
        if left <= seg or i == len(points) - 2:
            t = min(1.0, left / seg)
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), ((b[0] - a[0]) / seg, (b[1] - a[1]) / seg)
        left -= seg
    raise ValueError("a polyline needs two points")


def split_at_y(points: Sequence[Pt], y: float) -> tuple[list[Pt], list[Pt]]:
    """Split a polyline where it first crosses the height y: (before, after), sharing the crossing."""
    for i in range(len(points) - 1):
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        if (y0 - y) * (y1 - y) <= 0 and y0 != y1:
            t = (y - y0) / (y1 - y0)
            cross = (x0 + t * (x1 - x0), y)
            return join(points[: i + 1], [cross]), join([cross], points[i + 1:])
    raise ValueError(f"the line does not cross y = {y:.1f}")


def translate(points: Sequence[Pt], dx: float, dy: float) -> list[Pt]:
    return [(x + dx, y + dy) for x, y in points]


def mirror_x(points: Sequence[Pt]) -> list[Pt]:
    return [(-x, y) for x, y in points]


def rotate(points: Sequence[Pt], angle: float, about: Pt = (0.0, 0.0)) -> list[Pt]:
    c, s = math.cos(angle), math.sin(angle)
    ax, ay = about
    return [(ax + c * (x - ax) - s * (y - ay), ay + s * (x - ax) + c * (y - ay)) for x, y in points]


def bbox(points: Sequence[Pt]) -> tuple[float, float, float, float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def signed_area(points: Sequence[Pt]) -> float:
    n = len(points)
    return 0.5 * sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))


def solve(f: Callable[[float], float], lo: float, hi: float, tol: float = 0.01) -> float:
    """x in [lo, hi] with f(x) = 0 for an increasing f, by bisection (drafting rules are monotone)."""
    if f(lo) > 0 or f(hi) < 0:
        raise ValueError("no solution in the range")
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
