"""The shopper's preview (SVG): the garment seen from the front, drawn from the pattern's own pieces,
in the chosen colour, beside the pieces laid out.

The front view is assembled, not illustrated: the front half and its mirror, the back showing
inside the neckline, each sleeve folded along its centre and hung from the shoulder point at 40
degrees, the collar or band from the collar pieces' depth, the pocket and buttons where the
pattern marks them. A longer sleeve or a wider chest shows as such.
"""

from __future__ import annotations

import math
import re
from html import escape

from shapely.geometry import Polygon, box
from shapely.ops import unary_union

from hub.kiosk.patterns.geometry import Pt, bbox, mirror_x, rotate, translate
from hub.kiosk.patterns.layout import shelf, to_sheet
from hub.kiosk.patterns.model import Pattern

SLEEVE_ANGLE = math.radians(40)
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _shade(colour: str, factor: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % tuple(max(0, min(255, round(c * factor))) for c in (r, g, b))


def _path(points: list[Pt], closed: bool = True) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + (" Z" if closed else "")


def _both_halves(points: list[Pt]) -> Polygon:
    half = Polygon(points).intersection(box(0, -1e5, 1e5, 1e5))
    return unary_union([half, Polygon(mirror_x(list(half.exterior.coords)))]).buffer(0.3).buffer(-0.3)


def _outline(poly) -> list[list[Pt]]:
    geoms = getattr(poly, "geoms", [poly])
    return [list(g.exterior.coords) for g in geoms if not g.is_empty]


def front_view(pattern: Pattern) -> tuple[list[tuple[str, list[list[Pt]], str]], tuple[float, float, float, float]]:
    """(role, outlines, fill role) in drafting coordinates (y up), and their bounds."""
    front = pattern.piece("front")
    backs = [pattern.piece("back")] + ([pattern.piece("yoke")] if pattern.has_piece("yoke") else [])
    back = unary_union([_both_halves(p.sew) for p in backs]).buffer(0.5).buffer(-0.5)
    body = _both_halves(front.sew)
    shoulder = front.edge("shoulder").points
    sp, hps = shoulder[0], shoulder[-1]
    sleeve = pattern.piece("sleeve")
    _, _, _, top = bbox(sleeve.sew)
    half = Polygon(sleeve.sew).intersection(box(-1e5, -1e5, 0, 1e5))
    pts = list(half.exterior.coords)
    hung = translate(rotate(translate(pts, 0, -top), SLEEVE_ANGLE), *sp)
    layers = [("back", _outline(back), "inside")]
    for side in (hung, mirror_x(hung)):
        layers.append(("sleeve", [side], "main"))
    layers.append(("front", _outline(body), "main"))
    neck = list(front.edge("neck").points)
    layers.append(("neckline", [neck + list(reversed(mirror_x(neck)))], "line"))
    if pattern.has_piece("collar_stand") or pattern.has_piece("band"):
        stand = pattern.piece("collar_stand" if pattern.has_piece("collar_stand") else "band")
        _, _, _, sh = bbox(stand.sew)
        ring = [(x, y + 0.6 * sh) for x, y in neck]
        layers.append(("stand", [neck + list(reversed(ring))], "main"))
        layers.append(("stand", [mirror_x(neck + list(reversed(ring)))], "main"))
        if pattern.has_piece("collar"):
            cf_y = neck[-1][1]
            point = (max(25.0, 0.3 * hps[0]), cf_y - 35)
            wing = [(hps[0], hps[1] + 0.6 * sh), (hps[0] + 25, hps[1] - 30), point, (3.0, cf_y + 5)]
            layers.append(("collar", [wing, mirror_x(wing)], "main"))
        layers.append(("placket", [[(0.0, 0.0), (0.0, neck[-1][1])]], "line"))
    for what, line in front.internal:
        if what.startswith("pocket"):
            layers.append(("pocket", [list(line) + [line[0]]], "main"))
        elif what.startswith("buttonhole"):
            (x0, y), _ = line[0], line[-1]
            layers.append(("button", [[(-4.0, y), (0.0, y + 4), (4.0, y), (0.0, y - 4)]], "inside"))
    allpts = [p for _, outs, _ in layers for o in outs for p in o]
    return layers, bbox(allpts)


def to_svg(pattern: Pattern, colour: str = "#3b6ea5") -> str:
    if not HEX.match(colour):
        raise ValueError(f"colour must be #rrggbb, not {colour!r}")
    layers, (minx, miny, maxx, maxy) = front_view(pattern)
    pad = 20.0
    view_w, view_h = maxx - minx + 2 * pad, maxy - miny + 2 * pad
    fills = {"main": colour, "inside": _shade(colour, 0.6), "line": "none"}
    stroke = _shade(colour, 0.45)
    out = []
    for role, outlines, fill in layers:
        for o in outlines:
            sheet = [(x - minx + pad, maxy - y + pad) for x, y in o]
            closed = fill != "line"
            out.append(f'<path class="{role}" d="{_path(sheet, closed)}" fill="{fills[fill]}" stroke="{stroke}" '
                       f'stroke-width="1.5" stroke-linejoin="round"/>')
    # The pieces, laid out at the same scale to the right.
    boxes = {p.name: bbox(p.cut) for p in pattern.pieces}
    pos, total = shelf([(n, b[2] - b[0], b[3] - b[1]) for n, b in boxes.items()], width=1.4 * view_w, gap=15)
    x0 = view_w + 40
    for piece in pattern.pieces:
        x, y = pos[piece.name]
        cut = to_sheet(piece.cut, boxes[piece.name], x0 + x, y + pad)
        sew = to_sheet(piece.sew, boxes[piece.name], x0 + x, y + pad)
        out.append(f'<path class="piece-cut" d="{_path(cut)}" fill="{_shade(colour, 1.25)}" fill-opacity="0.35" '
                   f'stroke="{stroke}" stroke-width="1"/>')
        out.append(f'<path class="piece-sew" d="{_path(sew)}" fill="none" stroke="{stroke}" stroke-width="0.8" '
                   f'stroke-dasharray="6 4"/>')
        cx, cy = x0 + x + (boxes[piece.name][2] - boxes[piece.name][0]) / 2, y + pad + 18
        out.append(f'<text x="{cx:.0f}" y="{cy:.0f}" font-size="14" text-anchor="middle" fill="#222">'
                   f'{escape(piece.words["ko"])} {escape(piece.words["en"])} · {escape(piece.quantity_text)}</text>')
    width = x0 + 1.4 * view_w
    height = max(view_h, total + 2 * pad)
    title = f"{pattern.design} {pattern.size_label} " + " ".join(f"{k}={v}" for k, v in pattern.options.items())
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>' + "".join(out) + "</svg>")
