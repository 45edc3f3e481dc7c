"""Minimal stand-ins for the measurements, patterns and fit modules (issue8-contract.md) while the
helpers who build them have not landed: the same names and shapes, crude numbers. `parts` uses the
real modules as soon as they exist; nothing else imports this file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

RANGES: dict[str, tuple[float, float]] = {
    "height": (1400, 2000), "chest": (720, 1250), "waist": (560, 1200), "hip": (760, 1200),
    "shoulder": (300, 480), "arm": (460, 680), "neck": (280, 470), "weight": (35, 150),
}


@dataclass(frozen=True)
class Body:
    gender: str
    height: float
    chest: float
    waist: float
    hip: float
    shoulder: float
    arm: float
    neck: float
    weight: Optional[float] = None


@dataclass(frozen=True)
class Problem:
    field: str
    kind: str
    words: dict


def check(body: Body) -> list[Problem]:
    out = []
    for name, (lo, hi) in RANGES.items():
        v = getattr(body, name)
        if v is None:
            continue
        if not lo <= v <= hi:
            out.append(Problem(name, "out_of_range", {
                "ko": f"{lo:g}–{hi:g} 사이여야 합니다", "en": f"must be between {lo:g} and {hi:g}",
                "zh": f"必须在 {lo:g} 到 {hi:g} 之间"}))
    if body.waist > body.chest * 1.25:
        out.append(Problem("waist", "confirm", {"ko": "허리가 가슴보다 훨씬 큽니다. 맞습니까?",
                                                "en": "The waist is far above the chest. Is that right?",
                                                "zh": "腰围远大于胸围。正确吗？"}))
    if body.shoulder > body.chest * 0.48:
        out.append(Problem("shoulder", "confirm", {"ko": "어깨가 가슴둘레에 비해 넓습니다. 맞습니까?",
                                                   "en": "The shoulders are wide for the chest. Is that right?",
                                                   "zh": "肩宽相对胸围偏大。正确吗？"}))
    return out


def estimate(height: float, weight: float, gender: str) -> Body:
    bmi = weight / (height / 1000) ** 2
    m = gender == "male"
    chest = (0.46 if m else 0.47) * height + 14 * (bmi - 22) + 160
    waist = chest * (0.85 if m else 0.82) + 10 * (bmi - 22)
    return Body(gender, height, round(chest), round(waist), round(chest * (0.99 if m else 1.07)),
                round(height * (0.23 if m else 0.225)), round(height * 0.34), round(chest * 0.4), weight)


@dataclass
class Pattern:
    design: str
    options: dict
    pieces: list = field(default_factory=list)
    finished: dict = field(default_factory=dict)
    ease: dict = field(default_factory=dict)


EASE = {"tshirt": {"chest": 80, "waist": 120, "hip": 60, "shoulder": 10, "sleeve": 0, "length": 0},
        "shirt": {"chest": 110, "waist": 130, "hip": 90, "shoulder": 15, "sleeve": 20, "length": 0}}
SLEEVE = {"short": 0.35, "three_quarter": 0.75, "long": 1.0}


def draft(design: str, body: Body, options: dict) -> Pattern:
    e = EASE[design]
    finished = {"chest": body.chest + e["chest"], "waist": body.waist + e["waist"], "hip": body.hip + e["hip"],
                "shoulder": body.shoulder + e["shoulder"],
                "sleeve": round(body.arm * SLEEVE[options.get("sleeve", "short")]) + e["sleeve"],
                "length": round(body.height * 0.42)}
    return Pattern(design, dict(options), [], finished, dict(e))


def to_svg(pattern: Pattern, colour: str = "#888888") -> str:
    w = pattern.finished["chest"] / 4
    sl = pattern.finished["sleeve"] / 2
    ln = pattern.finished["length"] / 2
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-200 -20 {w + 400:.0f} {ln + 60:.0f}">'
            f'<path d="M0 0 L{w:.0f} 0 L{w + sl:.0f} {sl:.0f} L{w:.0f} {sl + 20:.0f} L{w:.0f} {ln:.0f} '
            f'L0 {ln:.0f} L0 {sl + 20:.0f} L{-sl:.0f} {sl:.0f} Z" fill="{colour}" stroke="#222" stroke-width="3"/>'
            '</svg>')


def to_dxf(pattern: Pattern) -> bytes:
    return b"0\nSECTION\n2\nENTITIES\n0\nENDSEC\n0\nEOF\n"


def to_pdf(pattern: Pattern, layout: str = "a4") -> bytes:
    return b"%PDF-1.4\n%stand-in\n"


def cutting_ticket(pattern: Pattern, fabric: str) -> dict:
    return {"fabric": fabric, "lay_length_mm": pattern.finished["length"] * 2 + 300,
            "pieces": [], "text": f"{pattern.design} / {fabric}"}


def check_pattern(pattern: Pattern, body: Body) -> list[str]:
    return []


@dataclass(frozen=True)
class FitArea:
    area: str
    body: float
    garment: float
    ease: float
    verdict: str
    note: Optional[dict] = None


def fit_map(pattern: Pattern, body: Body) -> list[FitArea]:
    out = []
    pairs = {"chest": body.chest, "waist": body.waist, "hip": body.hip, "shoulder": body.shoulder,
             "sleeve": body.arm, "length": body.height * 0.42}
    for area, b in pairs.items():
        g = pattern.finished[area]
        ease = g - b
        verdict = "tight" if ease < 20 and area in ("chest", "waist", "hip") else "fitted" if ease < 80 else \
            "relaxed" if ease < 150 else "loose"
        note = {"ko": "끼일 수 있습니다", "en": "may feel tight", "zh": "可能偏紧"} if verdict == "tight" else None
        out.append(FitArea(area, b, g, ease, verdict, note))
    return out
