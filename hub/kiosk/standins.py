"""A minimal stand-in for the measurements module (issue8-contract.md) while the helper who builds
it has not landed: the same names and shapes, crude numbers. `parts` uses the
real modules as soon as they exist; nothing else imports this file."""

from __future__ import annotations

from dataclasses import dataclass
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
