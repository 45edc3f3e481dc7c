"""The fit map (the seed's virtual fitting): finished garment against the body, area by area.

Verdicts by ease (finished minus body, mm). Circumferences: a knit stretches, so it is only tight
below zero ease; a woven needs room to breathe and move (about 4 cm at the chest before it pulls).
Lengths and the shoulder are compared with the design's own line: a sleeve or a body length
shorter than it should be is called tight (it rides up), a shoulder seam that sits inside the
shoulder point pulls across the back.

| area | tight below | fitted below | relaxed below | loose from |
|---|---|---|---|---|
| chest, waist, hip (knit) | 0 | 60 | 140 | 140 |
| chest, waist, hip (woven) | 40 | 90 | 170 | 170 |
| shoulder | -10 | 25 | 60 | 60 |
| length (HPS to hem against HPS to hip line) | -40 | 60 | 130 | 130 |
| sleeve (against the arm length the sleeve is meant to cover) | -15 | 30 | 60 | 60 |
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.kiosk.patterns import BodyLike, Pattern
from hub.kiosk.patterns.figures import body_figures

VERDICTS = ("tight", "fitted", "relaxed", "loose")
THRESHOLDS = {
    ("knit", "round"): (0, 60, 140),
    ("woven", "round"): (40, 90, 170),
    "shoulder": (-10, 25, 60),
    "length": (-40, 60, 130),
    "sleeve": (-15, 30, 60),
}
AREA_WORDS = {
    "chest": {"ko": "가슴", "en": "chest", "zh": "胸围"},
    "waist": {"ko": "허리", "en": "waist", "zh": "腰围"},
    "hip": {"ko": "엉덩이", "en": "hip", "zh": "臀围"},
    "shoulder": {"ko": "어깨", "en": "shoulder", "zh": "肩宽"},
    "sleeve": {"ko": "소매 길이", "en": "sleeve length", "zh": "袖长"},
    "length": {"ko": "옷 길이", "en": "length", "zh": "衣长"},
}


@dataclass(frozen=True)
class FitArea:
    area: str
    body: float      # mm
    garment: float   # mm
    ease: float      # garment - body, mm
    verdict: str     # tight | fitted | relaxed | loose
    note: dict[str, str] | None  # {"ko","en","zh"}, where tight


def _note(area: str, ease: float) -> dict[str, str]:
    w = AREA_WORDS[area]
    cm = abs(ease) / 10
    if area in ("length", "sleeve"):
        return {"ko": f"{w['ko']}이(가) 몸보다 {cm:.1f}cm 짧아 움직이면 올라갈 수 있습니다.",
                "en": f"The {w['en']} is {cm:.1f} cm short of the body and may ride up when you move.",
                "zh": f"{w['zh']}比身体短{cm:.1f}厘米，活动时可能会上移。"}
    if area == "shoulder":
        return {"ko": f"어깨선이 어깨 끝보다 {cm:.1f}cm 안쪽이라 등이 당길 수 있습니다.",
                "en": f"The shoulder seam sits {cm:.1f} cm inside your shoulder point and may pull across the back.",
                "zh": f"肩线在肩点内侧{cm:.1f}厘米，背部可能会紧绷。"}
    return {"ko": f"{w['ko']} 여유가 {ease / 10:.1f}cm뿐이라 끼일 수 있습니다.",
            "en": f"Only {ease / 10:.1f} cm of ease at the {w['en']}: it may feel tight.",
            "zh": f"{w['zh']}只有{ease / 10:.1f}厘米的松量，可能会偏紧。"}


def fit_map(pattern: Pattern, body: BodyLike) -> list[FitArea]:
    """Chest, waist, hip, shoulder, sleeve and length of this pattern on this body (which need not be the
    body it was drafted for: a stock size on a shopper, say)."""
    figures = body_figures(body, pattern.options)
    out = []
    for area in ("chest", "waist", "hip", "shoulder", "sleeve", "length"):
        b, g = figures[area], pattern.finished[area]
        ease = g - b
        if area in ("chest", "waist", "hip"):
            limits = THRESHOLDS[(pattern.fabric_kind, "round")]
        else:
            limits = THRESHOLDS[area]
        verdict = VERDICTS[sum(ease >= t for t in limits)]
        out.append(FitArea(area, round(b, 1), round(g, 1), round(ease, 1), verdict,
                           _note(area, ease) if verdict == "tight" else None))
    return out
