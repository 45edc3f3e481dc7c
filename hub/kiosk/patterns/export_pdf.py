"""The pattern printed at 1:1 (reportlab): tiled on A4 for home printing, or one sheet for a plotter.

Both carry a 10 cm test square: measure it before cutting; if it is not 100 mm the printer scaled
the page ("fit to page" must be off). A4 tiles overlap by 10 mm: each page shows the overlap band
along its right and bottom edges (dashed) with crosses at its corners, and says which row and
column it is, so the pages are trimmed, lined up cross on cross and taped.
"""

from __future__ import annotations

import io
import math

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from hub.core.pdf import korean_font
from hub.kiosk.patterns.geometry import Pt, bbox
from hub.kiosk.patterns.layout import shelf
from hub.kiosk.patterns.model import Pattern, Piece

MARGIN = 10.0       # mm, unprinted edge of a home printer
OVERLAP = 10.0      # mm shared by neighbouring A4 tiles
A4_COLUMNS = 4      # tiles across: the layout is packed to this width (a shirt front and back side by side)
PLOTTER_WIDTH = 914.0  # mm, a 36-inch roll
SQUARE = 100.0


def _poly(c: canvas.Canvas, points: list[Pt], close: bool) -> None:
    p = c.beginPath()
    p.moveTo(points[0][0] * mm, points[0][1] * mm)
    for x, y in points[1:]:
        p.lineTo(x * mm, y * mm)
    if close:
        p.close()
    c.drawPath(p, stroke=1, fill=0)


def _draw_piece(c: canvas.Canvas, pattern: Pattern, piece: Piece, x: float, y: float, box: tuple) -> None:
    """The piece with its box's top-left at sheet (x, y) (y down); the canvas is in sheet mm, y up = -y."""
    minx, _, _, maxy = box
    dx, dy = x - minx, -(y + 12) - maxy

    def t(points) -> list[Pt]:
        return [(px + dx, py + dy) for px, py in points]

    c.setStrokeColorRGB(0, 0, 0)
    c.setLineWidth(0.8)
    c.setDash()
    _poly(c, t(piece.cut), True)
    c.setLineWidth(0.4)
    c.setDash(4, 3)
    _poly(c, t(piece.sew), True)
    c.setDash()
    for notch in piece.notches:
        _poly(c, t(list(notch.slit)), False)
    (gx0, gy0), (gx1, gy1) = t(list(piece.grainline))
    _poly(c, [(gx0, gy0), (gx1, gy1)], False)
    ang = math.atan2(gy1 - gy0, gx1 - gx0)
    for (ex, ey), a in (((gx1, gy1), ang), ((gx0, gy0), ang + math.pi)):
        _poly(c, [(ex - 6 * math.cos(a - 0.4), ey - 6 * math.sin(a - 0.4)), (ex, ey),
                  (ex - 6 * math.cos(a + 0.4), ey - 6 * math.sin(a + 0.4))], False)
    c.setLineWidth(0.3)
    for _, line in piece.internal:
        _poly(c, t(list(line)), False)
    c.setDash([6, 2, 1, 2])
    for fa, fb in piece.fold_lines:
        _poly(c, t([fa, fb]), False)
    if piece.fold:
        fa, fb = t(list(piece.fold))
        c.setLineWidth(1.2)
        _poly(c, [fa, fb], False)
    c.setDash()
    c.setFont(korean_font(), 9)
    c.drawString((x) * mm, (-y - 8) * mm,
                 f"{piece.words['ko']} {piece.words['en']} · {piece.quantity_words['ko']} / {piece.quantity_text}"
                 + (" · 골선 FOLD (굵은 선)" if piece.fold else ""))
    c.setFont(korean_font(), 7)
    c.drawString((gx0 + 3) * mm, (gy0 + 3) * mm, f"SewNet {pattern.design} {piece.size_label}")


def _draw_square(c: canvas.Canvas, x: float, y: float) -> None:
    c.setStrokeColorRGB(0.8, 0, 0)
    c.setLineWidth(0.6)
    c.setDash()
    c.rect(x * mm, -(y + 12 + SQUARE) * mm, SQUARE * mm, SQUARE * mm, stroke=1, fill=0)
    c.setFillColorRGB(0.8, 0, 0)
    c.setFont(korean_font(), 9)
    c.drawString(x * mm, (-y - 8) * mm, "10 cm 확인 사각형 · test square: must measure 100 mm")
    c.setFillColorRGB(0, 0, 0)
    c.setStrokeColorRGB(0, 0, 0)


def _draw_all(c: canvas.Canvas, pattern: Pattern, pos: dict, boxes: dict) -> None:
    _draw_square(c, 0.0, 0.0)
    for piece in pattern.pieces:
        _draw_piece(c, pattern, piece, *pos[piece.name], boxes[piece.name])


def _positions(pattern: Pattern, width: float) -> tuple[dict, dict, float]:
    boxes = {p.name: bbox(p.cut) for p in pattern.pieces}
    sizes = [(n, b[2] - b[0], b[3] - b[1] + 12) for n, b in boxes.items()]
    # The square first: a row of its own at the top left keeps it whole on the first A4 page.
    pos, total = shelf(sizes, width, gap=12)
    shift = SQUARE + 12 + 12
    return {k: (x, y + shift) for k, (x, y) in pos.items()}, boxes, total + shift


def to_pdf(pattern: Pattern, layout: str = "a4") -> bytes:
    if layout not in ("a4", "plotter"):
        raise ValueError(f"layout is a4 or plotter, not {layout!r}")
    buf = io.BytesIO()
    title = f"SewNet {pattern.design} {pattern.size_label} " + " ".join(f"{k}={v}" for k, v in pattern.options.items())
    if layout == "plotter":
        pos, boxes, total = _positions(pattern, PLOTTER_WIDTH - 2 * MARGIN)
        page = (PLOTTER_WIDTH * mm, (total + 2 * MARGIN + 10) * mm)
        c = canvas.Canvas(buf, pagesize=page, pageCompression=1)
        c.setTitle(title)
        c.setFont(korean_font(), 10)
        c.drawString(MARGIN * mm, page[1] - 8 * mm, title + " · 1:1 plotter · 실물 크기")
        c.translate(MARGIN * mm, page[1] - (MARGIN + 10) * mm)
        _draw_all(c, pattern, pos, boxes)
        c.showPage()
        c.save()
        return buf.getvalue()
    stride_x, stride_y = A4[0] / mm - 2 * MARGIN - OVERLAP, A4[1] / mm - 2 * MARGIN - OVERLAP
    width = A4_COLUMNS * stride_x + OVERLAP
    pos, boxes, total = _positions(pattern, width)
    widest = max(x + boxes[n][2] - boxes[n][0] for n, (x, _) in pos.items())
    cols = max(1, math.ceil((max(widest, SQUARE) - OVERLAP) / stride_x))
    rows = max(1, math.ceil((total - OVERLAP) / stride_y))
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle(title)
    pw, ph = A4[0] / mm - 2 * MARGIN, A4[1] / mm - 2 * MARGIN
    # Item boxes in the sheet frame (y down): a tile none of them touches is not printed.
    items = [(0.0, 0.0, SQUARE + 2, SQUARE + 14)] + [
        (x, y, x + boxes[n][2] - boxes[n][0], y + 12 + boxes[n][3] - boxes[n][1]) for n, (x, y) in pos.items()]
    tiles = [(r, col) for r in range(rows) for col in range(cols)
             if any(x0 < col * stride_x + pw and x1 > col * stride_x and y0 < r * stride_y + ph and y1 > r * stride_y
                    for x0, y0, x1, y1 in items)]
    for r, col in tiles:
        if True:
            label = f"{chr(ord('A') + r)}{col + 1}"
            c.setFont(korean_font(), 8)
            c.drawString(MARGIN * mm, (A4[1] / mm - 7) * mm,
                         f"{title} · 1:1 · page {label} (row {r + 1}/{rows}, column {col + 1}/{cols}) · "
                         f"{tiles.index((r, col)) + 1}/{len(tiles)} (blank pages left out)")
            c.drawString(MARGIN * mm, 4 * mm, "겹침 10 mm: 점선까지 잘라 십자 표시를 맞춰 붙이세요 · "
                                              "overlap 10 mm: trim to the dashed band, match cross to cross, tape")
            c.saveState()
            p = c.beginPath()
            p.rect(MARGIN * mm, MARGIN * mm, pw * mm, ph * mm)
            c.clipPath(p, stroke=0, fill=0)
            c.saveState()
            c.translate((MARGIN - col * stride_x) * mm, (MARGIN + ph + r * stride_y) * mm)
            _draw_all(c, pattern, pos, boxes)
            c.restoreState()
            # The overlap bands this page shares with the next page right and below.
            c.setLineWidth(0.3)
            c.setDash(2, 2)
            c.setStrokeColorRGB(0.3, 0.3, 0.9)
            bx, by = MARGIN + pw - OVERLAP, MARGIN + OVERLAP
            if col < cols - 1:
                c.line(bx * mm, MARGIN * mm, bx * mm, (MARGIN + ph) * mm)
            if r < rows - 1:
                c.line(MARGIN * mm, by * mm, (MARGIN + pw) * mm, by * mm)
            c.setDash()
            for cx in (MARGIN + OVERLAP / 2, MARGIN + pw - OVERLAP / 2):
                for cy in (MARGIN + OVERLAP / 2, MARGIN + ph - OVERLAP / 2):
                    c.line((cx - 3) * mm, cy * mm, (cx + 3) * mm, cy * mm)
                    c.line(cx * mm, (cy - 3) * mm, cx * mm, (cy + 3) * mm)
            c.setFont(korean_font(), 14)
            c.drawString((MARGIN + pw / 2 - 5) * mm, (MARGIN + ph / 2) * mm, label)
            c.setStrokeColorRGB(0, 0, 0)
            c.restoreState()
            c.showPage()
    c.save()
    return buf.getvalue()
