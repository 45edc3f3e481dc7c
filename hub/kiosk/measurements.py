"""The shopper's body: its measurements, their plausible ranges and cross-checks, and an estimate
from height, weight and gender.

Lengths in mm, weight in kg. Every number below is derived from real bodies by
bench/fit_body_estimate.py (Size Korea 7th, 2015, adults aged 18-69; NHANES 2017-2020 adults for
the ratios both have) and printed by it; the data itself stays in ../shared/data/body.

Body measurements are personal data: nothing here logs, and a Body's repr shows no measurement, so
an accidental log line or traceback does not carry one. Problem words never repeat the value entered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

GENDERS = ("female", "male")
# The measurements a garment is drafted from, in mm (weight, in kg, is optional and only feeds the
# estimate and the BMI cross-check).
FIELDS = ("height", "chest", "waist", "hip", "shoulder", "arm", "neck")

# The shopper's words for each field (Korean first).
LABELS: dict[str, dict[str, str]] = {
    "height": {"ko": "키", "en": "height", "zh": "身高"},
    "chest": {"ko": "가슴둘레", "en": "chest", "zh": "胸围"},
    "waist": {"ko": "허리둘레", "en": "waist", "zh": "腰围"},
    "hip": {"ko": "엉덩이둘레", "en": "hip", "zh": "臀围"},
    "shoulder": {"ko": "어깨너비", "en": "shoulder width", "zh": "肩宽"},
    "arm": {"ko": "팔 길이", "en": "arm length", "zh": "臂长"},
    "neck": {"ko": "목둘레", "en": "neck", "zh": "颈围"},
    "weight": {"ko": "몸무게", "en": "weight", "zh": "体重"},
}


@dataclass(frozen=True, repr=False)
class Body:
    """A shopper's body. Shoulder is the breadth from one shoulder tip (acromion) to the other,
    straight across; arm runs from the shoulder tip to the wrist; chest, waist, hip and neck are
    circumferences. Plausibility is `check`'s job, not the constructor's: a form keeps what the
    shopper typed and says what is wrong with it."""

    gender: str
    height: float
    chest: float
    waist: float
    hip: float
    shoulder: float
    arm: float
    neck: float
    weight: float | None = None

    def __post_init__(self):
        if self.gender not in GENDERS:
            raise ValueError(f"gender must be one of {GENDERS}")

    def __repr__(self) -> str:
        # Personal data: kept out of logs and tracebacks. Read the fields themselves where needed.
        return f"Body(gender={self.gender!r}, measurements withheld)"

    def values(self) -> dict[str, float]:
        """The measurements given, by field name (weight only when given)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "gender" and getattr(self, f.name) is not None}


# -- ranges (bench/fit_body_estimate.py) --------------------------------------------------------
# Per gender, from 15 % below Size Korea's p0.1 to 15 % above its p99.9 for lengths and breadths,
# and to 75 % above it for girths and weight (fat has a long right tail: NHANES's US adults reach a
# 146 cm waist at their p99). Every bound lies well outside Korean adults' p1-p99 (printed by the
# script) and refuses only what no adult measures: a typo, or inches and centimetres mixed up. The
# shoulder's upper bound follows the longer way to measure it, a tape across the back (Size Korea's
# 어깨가쪽사이길이, FreeSewing's shoulderToShoulder), 25 % above its p99.9.
# Rounded outward to 10 mm (1 kg), so the words can say them in whole centimetres.
RANGES_BY_GENDER: dict[str, dict[str, tuple[float, float]]] = {
    "female": {"height": (1200, 2030), "shoulder": (250, 540), "arm": (400, 720), "chest": (600, 1940),
               "waist": (490, 1980), "hip": (670, 2180), "neck": (240, 750), "weight": (33, 185)},
    "male": {"height": (1300, 2200), "shoulder": (280, 630), "arm": (420, 780), "chest": (660, 2160),
             "waist": (520, 2080), "hip": (670, 2110), "neck": (260, 820), "weight": (37, 208)},
}
# Either gender's bounds: what a form can offer before the gender is chosen.
RANGES: dict[str, tuple[float, float]] = {
    name: (min(RANGES_BY_GENDER[g][name][0] for g in GENDERS), max(RANGES_BY_GENDER[g][name][1] for g in GENDERS))
    for name in (*FIELDS, "weight")
}

# Cross-checks: a ratio of two measurements outside the bounds asks the shopper to confirm. Bounds
# from 5 % below the p0.1 to 5 % above the p99.9 of every real body that has both measurements
# (Size Korea, the shoulder measured straight or across the back; plus NHANES for hip/waist and
# BMI); they ask 0.01 % of Size Korea's adults and 0.1 % of NHANES's, so a question means a likely
# slip of the tape.
RATIO_BOUNDS: dict[str, tuple[float, float]] = {
    "waist/chest": (0.67, 1.14), "shoulder/chest": (0.31, 0.56), "hip/waist": (0.81, 1.55),
    "neck/chest": (0.30, 0.51), "arm/height": (0.28, 0.40), "bmi": (14.0, 63.0),
}

# Each cross-check: the ratio, its two fields (the one to look at again first), and the question
# when the ratio is too low / too high.
_CROSS_CHECKS: dict[str, tuple[str, str, dict[str, str], dict[str, str]]] = {
    "waist/chest": ("waist", "chest",
                    {"ko": "허리둘레가 가슴둘레에 비해 아주 작습니다. 맞습니까?",
                     "en": "Your waist is very small for your chest — is that right?",
                     "zh": "您的腰围相对胸围非常小，确定吗？"},
                    {"ko": "허리둘레가 가슴둘레보다 많이 큽니다. 맞습니까?",
                     "en": "Your waist is much larger than your chest — is that right?",
                     "zh": "您的腰围比胸围大很多，确定吗？"}),
    "shoulder/chest": ("shoulder", "chest",
                       {"ko": "어깨너비가 가슴둘레에 비해 아주 좁습니다. 어깨너비는 양쪽 어깨 끝 사이를 "
                              "곧게 잰 길이입니다. 맞습니까?",
                        "en": "Your shoulders are very narrow for your chest. Shoulder width is measured "
                              "straight across, from one shoulder tip to the other. Is that right?",
                        "zh": "您的肩宽相对胸围过窄。肩宽是两侧肩端点之间的直线距离。确定吗？"},
                       {"ko": "어깨너비가 가슴둘레에 비해 아주 넓습니다. 어깨너비는 양쪽 어깨 끝 사이를 "
                              "곧게 잰 길이입니다. 맞습니까?",
                        "en": "Your shoulders are very wide for your chest. Shoulder width is measured "
                              "straight across, from one shoulder tip to the other. Is that right?",
                        "zh": "您的肩宽相对胸围过宽。肩宽是两侧肩端点之间的直线距离。确定吗？"}),
    "hip/waist": ("hip", "waist",
                  {"ko": "엉덩이둘레가 허리둘레보다 많이 작습니다. 맞습니까?",
                   "en": "Your hips are much smaller than your waist — is that right?",
                   "zh": "您的臀围比腰围小很多，确定吗？"},
                  {"ko": "엉덩이둘레가 허리둘레보다 많이 큽니다. 맞습니까?",
                   "en": "Your hips are much larger than your waist — is that right?",
                   "zh": "您的臀围比腰围大很多，确定吗？"}),
    "neck/chest": ("neck", "chest",
                   {"ko": "목둘레가 가슴둘레에 비해 아주 작습니다. 맞습니까?",
                    "en": "Your neck is very small for your chest — is that right?",
                    "zh": "您的颈围相对胸围过小，确定吗？"},
                   {"ko": "목둘레가 가슴둘레에 비해 아주 큽니다. 맞습니까?",
                    "en": "Your neck is very large for your chest — is that right?",
                    "zh": "您的颈围相对胸围过大，确定吗？"}),
    "arm/height": ("arm", "height",
                   {"ko": "팔 길이가 키에 비해 아주 짧습니다. 팔 길이는 어깨 끝에서 손목까지입니다. 맞습니까?",
                    "en": "Your arms are very short for your height. Arm length runs from the shoulder "
                          "tip to the wrist. Is that right?",
                    "zh": "您的臂长相对身高过短。臂长是从肩端点到手腕的长度。确定吗？"},
                   {"ko": "팔 길이가 키에 비해 아주 깁니다. 팔 길이는 어깨 끝에서 손목까지입니다. 맞습니까?",
                    "en": "Your arms are very long for your height. Arm length runs from the shoulder "
                          "tip to the wrist. Is that right?",
                    "zh": "您的臂长相对身高过长。臂长是从肩端点到手腕的长度。确定吗？"}),
    "bmi": ("weight", "height",
            {"ko": "몸무게가 키에 비해 아주 적습니다. 맞습니까?",
             "en": "Your weight is very low for your height — is that right?",
             "zh": "您的体重相对身高过轻，确定吗？"},
            {"ko": "몸무게가 키에 비해 아주 많습니다. 맞습니까?",
             "en": "Your weight is very high for your height — is that right?",
             "zh": "您的体重相对身高过重，确定吗？"}),
}

_GENDER_WORDS = {"ko": "성별(여성 또는 남성)을 골라 주세요.", "en": "Please choose female or male.",
                 "zh": "请选择性别（女或男）。"}


@dataclass(frozen=True)
class Problem:
    """What is wrong with one measurement. `out_of_range` refuses the value; `confirm` asks the
    shopper whether it is right (accepted once confirmed). `words` is the sentence for the shopper,
    by language ("ko", "en", "zh"); `rule` names the check ("range", "gender", or a cross-check's
    ratio and side, e.g. "waist/chest high") and `related` the other field it compared with."""

    field: str
    kind: str  # "out_of_range" | "confirm"
    words: dict[str, str]
    rule: str = "range"
    related: tuple[str, ...] = ()


def _range_words(name: str, lo: float, hi: float) -> dict[str, str]:
    label = LABELS[name]
    if name == "weight":
        lo_s, hi_s, unit, unit_zh = f"{lo:g}", f"{hi:g}", "kg", "公斤"
    else:  # shoppers measure in centimetres; the bounds are whole centimetres
        lo_s, hi_s, unit, unit_zh = f"{lo / 10:g}", f"{hi / 10:g}", "cm", "厘米"
    # Every Korean label ends in a vowel, so the topic particle is 는.
    return {"ko": f"{label['ko']}는 {lo_s}–{hi_s} {unit} 사이로 입력해 주세요.",
            "en": f"Please enter a {label['en']} between {lo_s} and {hi_s} {unit}.",
            "zh": f"请输入{lo_s}至{hi_s}{unit_zh}之间的{label['zh']}。"}


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def check_values(gender: str | None, values: Mapping[str, float | None]) -> list[Problem]:
    """`check` for the measurements at hand: each field given (None = not given, skipped) against
    its range, then every cross-check whose two fields are both given and in range. For a form
    filled in step by step, or a source that lacks some fields."""
    unknown = set(values) - {*FIELDS, "weight"}
    if unknown:
        raise ValueError(f"unknown measurement fields: {sorted(unknown)}")
    if gender not in GENDERS:
        return [Problem("gender", "out_of_range", dict(_GENDER_WORDS), rule="gender")]
    problems: list[Problem] = []
    good: dict[str, float] = {}
    for name in (*FIELDS, "weight"):
        if values.get(name) is None:
            continue
        lo, hi = RANGES_BY_GENDER[gender][name]
        x = _number(values[name])
        if x is None or not lo <= x <= hi:
            problems.append(Problem(name, "out_of_range", _range_words(name, lo, hi)))
        else:
            good[name] = x
    for rule, (num, den, low_words, high_words) in _CROSS_CHECKS.items():
        if num not in good or den not in good:
            continue
        r = good[num] / (good[den] / 1000) ** 2 if rule == "bmi" else good[num] / good[den]
        lo, hi = RATIO_BOUNDS[rule]
        if r < lo:
            problems.append(Problem(num, "confirm", dict(low_words), rule=f"{rule} low", related=(den,)))
        elif r > hi:
            problems.append(Problem(num, "confirm", dict(high_words), rule=f"{rule} high", related=(den,)))
    return problems


def check(body: Body) -> list[Problem]:
    """Every problem with a body: out_of_range ones refuse it, confirm ones ask the shopper. Empty
    when the body is plausible."""
    return check_values(body.gender, body.values())


# -- the estimate (bench/fit_body_estimate.py) ---------------------------------------------------
# measurement = exp(a) * height^b * weight^c (mm, kg), per gender: log-linear least squares on four
# fifths of Size Korea's adults aged 18-69 (2,166 women, 2,134 men). Mean absolute error on the
# fifth held out (538 women, 528 men), in mm, against the naive estimate (the gender's mean):
#   women: chest 21.2 (naive 48.0), waist 31.5 (72.3), hip 20.4 (43.5), shoulder 9.7 (12.1),
#          arm 12.2 (20.0), neck 9.9 (14.9)
#   men:   chest 24.9 (53.0), waist 28.0 (73.0), hip 17.1 (47.8), shoulder 11.8 (14.5),
#          arm 14.8 (23.1), neck 11.6 (18.3)
# A linear fit on height, weight and BMI does no better (within 0.4 mm). Korean bodies: on NHANES's
# US adults the waist comes out 5 to 7 cm small on average and the hip 2 to 6 cm, so a tourist
# should adjust them.
ESTIMATE: dict[str, dict[str, tuple[float, float, float]]] = {
    "female": {
        "chest": (8.648346, -0.500032, 0.447349),
        "waist": (13.60503, -1.351519, 0.739483),
        "hip": (4.979314, 0.050643, 0.367594),
        "shoulder": (2.641506, 0.37351, 0.120084),
        "arm": (0.16295, 0.801025, 0.058331),
        "neck": (6.445504, -0.264361, 0.321),
    },
    "male": {
        "chest": (7.942609, -0.389994, 0.429801),
        "waist": (12.142643, -1.139261, 0.717501),
        "hip": (5.442163, -0.03082, 0.386192),
        "shoulder": (1.587974, 0.537864, 0.091146),
        "arm": (-1.249285, 1.011673, 0.020163),
        "neck": (7.205741, -0.352679, 0.318542),
    },
}
# The held-out errors above, for the kiosk to show ("± 3 cm") and for the tests to hold it to.
ESTIMATE_MAE: dict[str, dict[str, float]] = {
    "female": {"chest": 21.2, "waist": 31.5, "hip": 20.4, "shoulder": 9.7, "arm": 12.2, "neck": 9.9},
    "male": {"chest": 24.9, "waist": 28.0, "hip": 17.1, "shoulder": 11.8, "arm": 14.8, "neck": 11.6},
}


class MeasurementError(ValueError):
    """The input cannot be used; `problems` says why, in the shopper's words."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.words["en"] for p in problems))
        self.problems = problems


def estimate(height: float, weight: float, gender: str) -> Body:
    """A body from height (mm), weight (kg) and gender, for the shopper to adjust: each other
    measurement from the fit above, rounded to the millimetre. Raises MeasurementError when the
    height, weight or gender is refused by the ranges (a BMI that only asks to confirm is used)."""
    refused = [p for p in check_values(gender, {"height": height, "weight": weight}) if p.kind == "out_of_range"]
    if refused:
        raise MeasurementError(refused)
    log_h, log_w = math.log(height), math.log(weight)
    est = {name: round(math.exp(a + b * log_h + c * log_w)) for name, (a, b, c) in ESTIMATE[gender].items()}
    return Body(gender=gender, height=height, weight=weight, **est)
