"""DXF-AAMA for the cutting room's CAD (ezdxf, DXF R12, mm).

One block per piece, named for the piece, inserted side by side in model space. AAMA layers:
1 boundary (the cut line) and the piece's text, 4 notches (a slit from sew line to cut line),
6 mirror line (the fold of a piece cut on the fold), 7 grainline, 8 internal lines (pocket
placement, buttonholes, fold-back lines of hems, facings and bands), 14 sew line. Text in ASCII:
R12 readers expect the ANSI code page, so Korean names stay in the PDF and the ticket.
"""

from __future__ import annotations

import io
import logging

import ezdxf

from hub.kiosk.patterns.designs import DESIGNS
from hub.kiosk.patterns.geometry import bbox
from hub.kiosk.patterns.layout import shelf
from hub.kiosk.patterns.model import Pattern, Piece

LAYERS = {"1": "boundary", "4": "notches", "6": "mirror line", "7": "grainline", "8": "internal lines",
          "14": "sew line"}
TEXT_HEIGHT = 6.0


def block_name(piece: Piece) -> str:
    return piece.name.upper()


def piece_texts(pattern: Pattern, piece: Piece) -> list[str]:
    return [f"Piece Name: {block_name(piece)}", f"Style Name: SEWNET-{pattern.design.upper()}",
            f"Size: {piece.size_label}", f"Quantity: {piece.quantity}",
            f"Annotation: {piece.quantity_text}", f"Category: {DESIGNS[pattern.design].fabric_kind}"]


def _add_piece(doc: ezdxf.document.Drawing, pattern: Pattern, piece: Piece) -> None:
    blk = doc.blocks.new(name=block_name(piece))
    blk.add_polyline2d(piece.cut, close=True, dxfattribs={"layer": "1"})
    blk.add_polyline2d(piece.sew, close=True, dxfattribs={"layer": "14"})
    for notch in piece.notches:
        a, b = notch.slit
        blk.add_line(a, b, dxfattribs={"layer": "4"})
    a, b = piece.grainline
    blk.add_line(a, b, dxfattribs={"layer": "7"})
    if piece.fold:
        fa, fb = piece.fold
        blk.add_line(fa, fb, dxfattribs={"layer": "6"})
    for _, line in piece.internal:
        blk.add_polyline2d(list(line), dxfattribs={"layer": "8"})
    for fa, fb in piece.fold_lines:
        blk.add_line(fa, fb, dxfattribs={"layer": "8"})
    # The text sits along the grainline's start, inside the piece.
    x, y = a
    for i, text in enumerate(piece_texts(pattern, piece)):
        blk.add_text(text, height=TEXT_HEIGHT, dxfattribs={"layer": "1"}).set_placement((x + 5, y - 5 - i * 1.6 * TEXT_HEIGHT))


def to_dxf(pattern: Pattern) -> bytes:
    # ezdxf.new always sets $INSUNITS and warns that R12 has no place for it; R12 files are mm by
    # the AAMA convention (and say so in a text below), so that warning is noise on every export.
    log = logging.getLogger("ezdxf")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        doc = ezdxf.new("R12", units=4)
    finally:
        log.setLevel(level)
    for name in LAYERS:
        doc.layers.add(name)
    for piece in pattern.pieces:
        _add_piece(doc, pattern, piece)
    msp = doc.modelspace()
    boxes = {p.name: bbox(p.cut) for p in pattern.pieces}
    pos, total = shelf([(n, b[2] - b[0], b[3] - b[1]) for n, b in boxes.items()], width=1500, gap=30)
    for piece in pattern.pieces:
        minx, miny, _, maxy = boxes[piece.name]
        x, y = pos[piece.name]
        # Sheet rows run downward; DXF y runs up: a row's top at -y.
        msp.add_blockref(block_name(piece), (x - minx, -y - maxy))
    msp.add_text("Units: MM", height=TEXT_HEIGHT, dxfattribs={"layer": "1"}).set_placement((0, 20))
    msp.add_text(f"Style Name: SEWNET-{pattern.design.upper()} {pattern.size_label}", height=TEXT_HEIGHT,
                 dxfattribs={"layer": "1"}).set_placement((0, 30))
    out = io.StringIO()
    doc.write(out)
    return out.getvalue().encode("cp1252")
