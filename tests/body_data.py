"""Readers for the body data in ../shared/data/body, shared by the kiosk's measurement tests and
bench/fit_body_estimate.py. The data is read where it lies and never copied into the project
(Size Korea is for evaluation only: ../shared/data/body/README.md).

Every body comes back in the kiosk's units (mm, kg) under the kiosk's field names
(hub.kiosk.measurements.FIELDS); a field the source does not measure is absent, not guessed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

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
# NHANES (cm, kg): only these match a kiosk field; its arm length is the upper arm alone.
NHANES_COLUMNS = {"height": "BMXHT", "weight": "BMXWT", "waist": "BMXWAIST", "hip": "BMXHIP"}

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
    the back, their arm from the shoulder tip to the wrist."""
    names = {"chest": "chest", "waist": "waist", "hip": "hips", "shoulder": "shoulderToShoulder",
             "arm": "shoulderToWrist", "neck": "neck"}
    with open(FREESEWING, newline="") as f:
        return [Person(n, "female" if "Female" in row["group"] else "male", None,
                       {field: float(row[name]) for field, name in names.items()})
                for n, row in enumerate(csv.DictReader(f))]


def held_out(person: Person) -> bool:
    """The estimate's test split: every fifth row of the file, fixed, so the figures in
    hub/kiosk/measurements.py can be checked again by the tests."""
    return person.row % 5 == 0
