"""Readers for the body data in ../shared/data/body, shared by the kiosk's measurement tests and
bench/fit_body_estimate.py. The data is read where it lies and never copied into the project
(Size Korea is for evaluation only: ../shared/data/body/README.md).

Every body comes back in the kiosk's units (mm, kg) under the kiosk's field names
(hub.kiosk.measurements.FIELDS); a field the source does not measure is absent, not guessed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from hub.kiosk.measurements import Body

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "body").resolve()
SIZE_KOREA = DATA / "sizekorea_7th_2015_direct_measurements_mm.csv"
FREESEWING = DATA / "freesewing_models_4.10.2_adult_mm.csv"
NHANES = {g: DATA / f"nhanes_2017_2020_adult_{g}_bmx_cm.csv" for g in ("female", "male")}

# Size Korea's Korean headers for the kiosk's fields (README: stature, weight in kg, neck, chest at
# the armpits, waist, hip, shoulder breadth, arm length; the rest in mm).
SIZE_KOREA_COLUMNS = {
    "height": "003_키", "weight": "031_몸무게", "neck": "037_목둘레", "chest": "039_가슴둘레",
    "waist": "042_허리둘레", "hip": "045_엉덩이둘레", "shoulder": "089_어깨너비", "arm": "064_팔길이",
    # Not a kiosk field: the shoulder measured with a tape across the back between the same two
    # points (Size Korea's 어깨가쪽사이길이), as a shopper or FreeSewing measures it; a little longer.
    "shoulder_over_back": "055_어깨가쪽사이길이",
}
KIOSK_FIELDS = ("height", "chest", "waist", "hip", "shoulder", "arm", "neck", "weight")
SIZE_KOREA_GENDER = {"남": "male", "여": "female"}
# NHANES (cm, kg): only these match a kiosk field; its arm length is the upper arm alone (kept as
# upper_arm, not a kiosk field).
NHANES_COLUMNS = {"height": "BMXHT", "weight": "BMXWT", "waist": "BMXWAIST", "hip": "BMXHIP", "upper_arm": "BMXARML"}

ADULT_AGES = (18, 69)


@dataclass(frozen=True)
class Person:
    row: int  # the row's number in its file (0 = the first body), which the held-out split uses
    gender: str
    age: int | None
    values: dict[str, float]

    def kiosk(self, shoulder: str = "shoulder") -> dict[str, float]:
        """The kiosk's fields this body has; `shoulder="shoulder_over_back"` takes the shoulder as
        measured across the back instead."""
        out = {f: self.values[f] for f in KIOSK_FIELDS if f in self.values}
        if shoulder in self.values:
            out["shoulder"] = self.values[shoulder]
        return out


def have_size_korea() -> bool:
    return SIZE_KOREA.exists()


def have_nhanes() -> bool:
    return all(p.exists() for p in NHANES.values())


def have_freesewing() -> bool:
    return FREESEWING.exists()


def size_korea_adults() -> list[Person]:
    """Size Korea's adults aged 18-69 with every kiosk field measured (a few rows miss one)."""
    people = []
    with open(SIZE_KOREA, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        sex, age = header.index("02_성별"), header.index("06_나이_반올림")
        cols = {field: header.index(name) for field, name in SIZE_KOREA_COLUMNS.items()}
        for n, row in enumerate(reader):
            if not row[age].strip() or not ADULT_AGES[0] <= int(float(row[age])) <= ADULT_AGES[1]:
                continue
            if any(not row[i].strip() for i in cols.values()):
                continue
            people.append(Person(n, SIZE_KOREA_GENDER[row[sex]], int(float(row[age])),
                                 {field: float(row[i]) for field, i in cols.items()}))
    return people


def nhanes_adults() -> list[Person]:
    """NHANES 2017-2020 adults (18 and over) in mm and kg: height, weight, waist, hip."""
    people = []
    for gender, path in NHANES.items():
        with open(path, newline="") as f:
            reader = csv.reader(line for line in f if not line.startswith("#") and line.strip())
            header = next(reader)
            cols = {field: header.index(name) for field, name in NHANES_COLUMNS.items()}
            for n, row in enumerate(reader):
                values = {field: float(row[i]) * (1 if field == "weight" else 10) for field, i in cols.items()}
                people.append(Person(n, gender, None, values))
    return people


def freesewing_bodies() -> list[Person]:
    """FreeSewing's 20 adult test bodies (no height, no weight): their shoulder is measured across
    the back, their arm from the shoulder tip to the wrist. Also kept, not kiosk fields: seat (the
    fullest round of the seat, below FreeSewing's hips), hps_to_waist_back, waist_to_floor and
    shoulder_to_elbow, which the pattern bodies below derive from."""
    names = {"chest": "chest", "waist": "waist", "hip": "hips", "shoulder": "shoulderToShoulder",
             "arm": "shoulderToWrist", "neck": "neck", "seat": "seat", "hps_to_waist_back": "hpsToWaistBack",
             "waist_to_floor": "waistToFloor", "shoulder_to_elbow": "shoulderToElbow"}
    with open(FREESEWING, newline="") as f:
        return [Person(n, "female" if "Female" in row["group"] else "male", None,
                       {field: float(row[name]) for field, name in names.items()})
                for n, row in enumerate(csv.DictReader(f))]


def held_out(person: Person) -> bool:
    """The estimate's test split: every fifth row of the file, fixed, so the figures in
    hub/kiosk/measurements.py can be checked again by the tests."""
    return person.row % 5 == 0


# -- whole bodies for the pattern engine's tests ---------------------------------------------------
# Drafting needs every field; the sources lack some, derived here from what they do measure.


def _freesewing_arm_ratio() -> float:
    """FreeSewing's mean shoulder-to-wrist over shoulder-to-elbow: NHANES measures the upper arm only."""
    return float(np.mean([p.values["arm"] / p.values["shoulder_to_elbow"] for p in freesewing_bodies()]))


def freesewing_pattern_bodies() -> list[tuple[str, Body]]:
    """FreeSewing's 20 models as (name, Body). Hip is their seat (the fullest round, as drafting's
    hip). They carry no height: height = (hpsToWaistBack + waistToFloor) / 0.83, the high point of
    the shoulder being at about 83 % of stature."""
    with open(FREESEWING, newline="") as f:
        names = [row["model"] for row in csv.DictReader(f)]
    out = []
    for p in freesewing_bodies():
        v = p.values
        out.append((names[p.row], Body(gender=p.gender, height=(v["hps_to_waist_back"] + v["waist_to_floor"]) / 0.83,
                                       chest=v["chest"], waist=v["waist"], hip=v["seat"], shoulder=v["shoulder"],
                                       arm=v["arm"], neck=v["neck"])))
    return out


@cache
def korean_lines() -> dict[str, dict[str, np.ndarray]]:
    """Per gender, least-squares coefficients of chest, shoulder and neck on [1, height, weight,
    waist, hip], fitted to Size Korea's adults."""
    out = {}
    for gender in ("female", "male"):
        people = [p for p in size_korea_adults() if p.gender == gender]
        a = np.array([[p.values[f] for f in ("height", "weight", "waist", "hip")] for p in people])
        x = np.column_stack([np.ones(len(a)), a])
        out[gender] = {name: np.linalg.lstsq(x, np.array([p.values[name] for p in people]), rcond=None)[0]
                       for name in ("chest", "shoulder", "neck")}
    return out


def nhanes_pattern_bodies(n: int = 500) -> list[tuple[str, Body]]:
    """n NHANES adults as (label, Body), half women and half men, every k-th row of each file
    (deterministic). Height, weight, waist and hip as measured; arm = upper arm x FreeSewing's
    shoulder-to-wrist / shoulder-to-elbow; chest, shoulder and neck from Size Korea's lines
    (`korean_lines`): plausible, not measured. So NHANES tests the drafting on real combinations of
    height, weight, waist and hip."""
    lines, ratio = korean_lines(), _freesewing_arm_ratio()
    people = nhanes_adults()
    out = []
    for gender in ("female", "male"):
        rows = [p for p in people if p.gender == gender]
        step = len(rows) / (n // 2)
        for i in range(n // 2):
            p = rows[int(i * step)]
            v = p.values
            x = np.array([1, v["height"], v["weight"], v["waist"], v["hip"]])
            c = lines[gender]
            out.append((f"nhanes {gender} row {p.row}",
                        Body(gender=gender, height=v["height"], chest=float(x @ c["chest"]), waist=v["waist"],
                             hip=v["hip"], shoulder=float(x @ c["shoulder"]), arm=v["upper_arm"] * ratio,
                             neck=float(x @ c["neck"]), weight=v["weight"])))
    return out
