"""The font every PDF the hub draws uses for Korean (and Chinese) text.

reportlab's built-in CID font needs no file: Debian's Noto CJK fonts are CFF-outlined OpenType,
which reportlab cannot embed. The reader supplies the glyphs (Adobe Reader and pdf.js have them)."""

from __future__ import annotations

import threading

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

KOREAN_FONT = "HYGothic-Medium"
_lock = threading.Lock()


def korean_font() -> str:
    """The font's name, registered with reportlab on first use (once per process)."""
    with _lock:
        if KOREAN_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(KOREAN_FONT))
    return KOREAN_FONT
