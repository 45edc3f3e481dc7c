"""The printable dispatch sheet for one workshop's share of an order: an A4 PDF (reportlab) in
Korean first with English, with the day-by-day pieces, the standard minutes, the price and, when
the offer has a phone link, its QR code (segno) for the owner to open the offer on a phone.

Korean needs a CJK font. Debian's Noto CJK fonts are OpenType with CFF outlines, which reportlab
cannot embed; reportlab's built-in CID font HYGothic-Medium (Adobe-Korea1) needs no file: the PDF
names it and every reader ships or substitutes a Korean gothic, and the text stays searchable.
"""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from typing import Optional

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from hub.core.days import WEEKDAYS_KO
from hub.core.pdf import korean_font



def _qr(c: canvas.Canvas, link: str, x: float, y: float, size: float) -> None:
    """The QR code drawn as squares: no image library, sharp at any print resolution."""
    qr = segno.make(link, error="m")
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix) + 8  # the quiet zone of four modules each side
    cell = size / n
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for k, dark in enumerate(row):
            if dark:
                c.rect(x + (k + 4) * cell, y + size - (r + 5) * cell, cell, cell, stroke=0, fill=1)


def dispatch_pdf(order: dict, assignment: dict, version: int, names: dict[str, tuple[str, str]],
                 workshop: Optional[object] = None, link: Optional[str] = None, now: Optional[datetime] = None) -> bytes:
    """One page: `order` (OrderRecord.to_dict()), `assignment` (one of plan_view's), the
    registry's workshop record if there is one (address, contact), the offer's phone link."""
    font = korean_font()
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(f"작업 지시서 {order['id']} {assignment['workshop']}")
    c.setAuthor("SewNet")
    width, height = A4
    left, y = 18 * mm, height - 22 * mm

    def line(text: str, size: float = 11, gap: float = 6.5 * mm, x: float = left) -> None:
        nonlocal y
        c.setFont(font, size)
        c.drawString(x, y, text)
        y -= gap

    line("작업 지시서 · Dispatch sheet", 20, 10 * mm)
    line(f"주문 Order {order['id']} · 계획 {version}판 plan version {version}", 12)
    fam = names.get(order["family"], (order["family"], order["family"]))
    line(f"스타일 Style: {order['style']}")
    line(f"제품군 Family: {fam[0]} / {fam[1]}")
    line(f"작업장 Workshop: {assignment['name_ko']} / {assignment['name_en']} ({assignment['workshop']})", 12)
    if workshop is not None:
        line(f"주소 Address: {getattr(workshop, 'address_ko', '')}", 10, 5.5 * mm)
        line(f"연락처 Contact: {getattr(workshop, 'contact_phone', '')}", 10, 7 * mm)
    due = date.fromisoformat(order["due"])
    line(f"납기 Due: {due.isoformat()} ({WEEKDAYS_KO[due.weekday()]})", 12)
    line(f"수량 Pieces: {assignment['pieces']:,}벌 = {assignment['bundles']}묶음 × {order['bundle_size']}벌"
         f"  ({assignment['bundles']} bundles of {order['bundle_size']})", 13, 8 * mm)
    sam = ", ".join(f"{names.get(t, (t, t))[0]} {m:.1f}" for t, m in order["sam_minutes"].items())
    line(f"표준시간 SAM per piece: {order['sam_total']:.1f}분 min ({sam})")
    if order.get("price_per_piece_krw"):
        line(f"단가 Price: {order['price_per_piece_krw']:,.0f}원 KRW a piece")
    line(f"이 작업장 비용 Cost here: {assignment['cost']['total']:,.0f}원 KRW "
         f"({assignment['per_piece_krw']:,.0f}원 a piece)", 11, 10 * mm)

    line("날짜별 수량 · Pieces per day", 13, 7 * mm)
    c.setFont(font, 11)
    c.drawString(left, y, "날짜 Day")
    c.drawRightString(left + 80 * mm, y, "수량 Pieces")
    c.drawRightString(left + 120 * mm, y, "누계 Total")
    y -= 2 * mm
    c.line(left, y, left + 125 * mm, y)
    y -= 5.5 * mm
    total = 0
    for s in assignment["schedule"]:
        if s["pieces"] <= 0:
            continue
        total += s["pieces"]
        d = date.fromisoformat(s["day"])
        c.drawString(left, y, f"{d.isoformat()} ({WEEKDAYS_KO[d.weekday()]})")
        c.drawRightString(left + 80 * mm, y, f"{s['pieces']:,}")
        c.drawRightString(left + 120 * mm, y, f"{total:,}")
        y -= 6 * mm
        if y < 60 * mm:  # leave room for the QR code and the signature line
            c.showPage()
            c.setFont(font, 11)
            y = height - 22 * mm
    y -= 4 * mm
    if link:
        size = 42 * mm
        _qr(c, link, width - left - size, 20 * mm, size)
        c.setFont(font, 9)
        c.drawRightString(width - left, 16 * mm, "휴대폰으로 찍어 제안 보기 · scan to open the offer")
        c.setFont(font, 5)
        c.drawRightString(width - left, 12 * mm, link)  # to type in when a phone cannot scan
    c.setFont(font, 11)
    c.drawString(left, 40 * mm, "받은 사람 Received by: ____________________   날짜 Date: __________")
    c.setFont(font, 8)
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    c.drawString(left, 14 * mm, f"SewNet · 출력 printed {stamp}")
    c.showPage()
    c.save()
    return buf.getvalue()
