"""The body figures a finished garment is compared with, from the shopper's measurements (mm).

Body has no back length, so lengths come from height: HPS (the high point of the shoulder, where
the shoulder seam meets the neck) to the hip line = 0.38 x height, HPS to the waist = 0.26 x
height (about Size Korea's mean back length and waist-to-hip drop over stature). Short and
three-quarter sleeves are design lengths: 0.3 and 0.75 of the arm (shoulder point to wrist).
"""

from __future__ import annotations

from hub.kiosk.patterns.model import BodyLike

HPS_TO_HIP = 0.38    # of height
HPS_TO_WAIST = 0.26  # of height
SLEEVE_FRACTION = {"short": 0.30, "three_quarter": 0.75, "long": 1.0}


def body_figures(body: BodyLike, options: dict[str, str]) -> dict[str, float]:
    """The body figure each finished measurement is compared with (mm)."""
    return {"chest": body.chest, "waist": body.waist, "hip": body.hip, "shoulder": body.shoulder,
            "length": HPS_TO_HIP * body.height, "sleeve": SLEEVE_FRACTION[options["sleeve"]] * body.arm}
