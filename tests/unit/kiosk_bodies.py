"""Real and canonical bodies for the kiosk's tests, read from ../shared/data/body (never copied in).

A minimal stand-in for hub.kiosk.measurements.Body (same field names, mm) until that lands.

FreeSewing's 20 adult models (mm): chest, waist, seat (the fullest hip, as Body's hip),
shoulderToShoulder (over the shoulder: a little more than the acromion breadth), shoulderToWrist
(arm), neck. They carry no height: height = (hpsToWaistBack + waistToFloor) / 0.83, the HPS being
at about 83 % of stature.

NHANES 2017-2020 (cm, times 10): height, waist, hip, weight as measured; arm = upper-arm length
(shoulder to elbow) x the FreeSewing models' mean shoulder-to-wrist / shoulder-to-elbow ratio.
NHANES has no chest, shoulder or neck: these are derived, per gender, by a least-squares line on
height, weight, waist and hip fitted to Size Korea's 7th survey when the tests run (the data stays
in ../shared). So NHANES tests the whole drafting on real combinations of height, weight, waist
and hip; chest, shoulder and neck there are plausible, not measured.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "body"
if not DATA.exists():
    DATA = Path("/work/shared/data/body")


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
    weight: float | None = None
    source: str = ""


@cache
def _freesewing_rows() -> list[dict]:
    with open(DATA / "freesewing_models_4.10.2_adult_mm.csv", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def freesewing() -> list[Body]:
    out = []
    for r in _freesewing_rows():
        v = {k.strip(): float(x) for k, x in r.items() if k.strip() not in ("model", "group")}
        out.append(Body(gender="female" if "Female" in r["group"] else "male",
                        height=(v["hpsToWaistBack"] + v["waistToFloor"]) / 0.83, chest=v["chest"],
                        waist=v["waist"], hip=v["seat"], shoulder=v["shoulderToShoulder"],
                        arm=v["shoulderToWrist"], neck=v["neck"], source=r["model"]))
    return out


def arm_ratio() -> float:
    rows = _freesewing_rows()
    return float(np.mean([float(r["shoulderToWrist"]) / float(r["shoulderToElbow"]) for r in rows]))


@cache
def korean_lines() -> dict[str, dict[str, np.ndarray]]:
    """Per gender, least-squares coefficients of chest, shoulder, neck on [1, height, weight, waist, hip]."""
    cols = {"sex": "02_성별", "height": "003_키", "weight": "031_몸무게", "neck": "037_목둘레", "chest": "039_가슴둘레",
            "waist": "042_허리둘레", "hip": "045_엉덩이둘레", "shoulder": "089_어깨너비"}
    rows = {"female": [], "male": []}
    with open(DATA / "sizekorea_7th_2015_direct_measurements_mm.csv", encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            try:
                vals = [float(r[cols[k]]) for k in ("height", "weight", "waist", "hip", "chest", "shoulder", "neck")]
            except (KeyError, ValueError):
                continue
            rows["male" if r[cols["sex"]].strip() == "남" else "female"].append(vals)
    out = {}
    for gender, data in rows.items():
        a = np.array(data)
        x = np.column_stack([np.ones(len(a)), a[:, :4]])
        out[gender] = {name: np.linalg.lstsq(x, a[:, 4 + i], rcond=None)[0]
                       for i, name in enumerate(("chest", "shoulder", "neck"))}
    return out


def nhanes(n: int = 500) -> list[Body]:
    """n bodies, half women and half men, every k-th row of each file (deterministic)."""
    lines, ratio = korean_lines(), arm_ratio()
    out = []
    for gender in ("female", "male"):
        with open(DATA / f"nhanes_2017_2020_adult_{gender}_bmx_cm.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
        step = len(rows) / (n // 2)
        for i in range(n // 2):
            r = rows[int(i * step)]
            wt, ht, arml = float(r["BMXWT"]), 10 * float(r["BMXHT"]), 10 * float(r["BMXARML"])
            hip, waist = 10 * float(r["BMXHIP"]), 10 * float(r["BMXWAIST"])
            x = np.array([1, ht, wt, waist, hip])
            c = lines[gender]
            out.append(Body(gender=gender, height=ht, chest=float(x @ c["chest"]), waist=waist, hip=hip,
                            shoulder=float(x @ c["shoulder"]), arm=arml * ratio, neck=float(x @ c["neck"]),
                            weight=wt, source=f"nhanes {gender} row {int(i * step)}"))
    return out
