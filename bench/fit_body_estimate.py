"""Derives the kiosk's measurement numbers (hub/kiosk/measurements.py) from real bodies and prints
them: the plausible ranges, the cross-check ratios, and the estimate from height, weight and gender
with its error. The data stays in ../shared/data/body (Size Korea is for evaluation only); only
these derived numbers go into the code.

1. Ranges, per gender, from Size Korea 7th (2015) adults aged 18-69: from 15 % below the p0.1 to
   15 % above the p99.9 for lengths and breadths (height, shoulder, arm: bone, narrow spread), and
   to 75 % above the p99.9 for girths and weight (fat: a long right tail; US adults in NHANES reach
   a waist of 146 cm at their p99 and 178 cm at most, Korean adults 107 cm at their p99). A range only refuses what no adult
   measures (a typo, inches for cm); everything real but unusual goes to the cross-checks.
   The shoulder's upper bound follows the longer way to measure it, a tape across the back (Size
   Korea's 055), 25 % above its p99.9.
2. Cross-checks: the ratio of two measurements (waist / chest, shoulder / chest, hip / waist,
   neck / chest, arm / height, BMI) over every real body that has both (Size Korea, the shoulder
   measured either way; plus NHANES for hip / waist and BMI), from 5 % below the p0.1 to 5 % above the p99.9: past it the kiosk asks
   the shopper to confirm.
3. The estimate: per gender and measurement, log(y) = a + b log(height) + c log(weight) (a power
   law: BMI is in it, since log BMI = log weight - 2 log height), least squares on four fifths of
   the adults; the mean absolute error on the fifth held out (every fifth row, tests/body_data.py)
   against the naive estimate (the training mean of that gender). A linear fit on height, weight
   and BMI is printed beside it for comparison.

    .venv/bin/python bench/fit_body_estimate.py     # about 2 s
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.body_data import (  # noqa: E402
    DATA, have_nhanes, have_size_korea, held_out, nhanes_adults, size_korea_adults,
)

GENDERS = ("female", "male")
LENGTHS = ("height", "shoulder", "arm")
GIRTHS = ("chest", "waist", "hip", "neck")
ESTIMATED = ("chest", "waist", "hip", "shoulder", "arm", "neck")
RATIOS = {  # name: (numerator, denominator); "bmi" is weight / height² in kg/m²
    "waist/chest": ("waist", "chest"), "shoulder/chest": ("shoulder", "chest"), "hip/waist": ("hip", "waist"),
    "neck/chest": ("neck", "chest"), "arm/height": ("arm", "height"), "bmi": ("weight", "height"),
}


def column(people, field):
    return np.array([p.values[field] for p in people])


def ratio(people, name):
    num, den = RATIOS[name]
    if name == "shoulder/chest":  # either way of measuring the shoulder
        return np.array([p.values[s] / p.values["chest"] for s in ("shoulder", "shoulder_over_back")
                         for p in people if s in p.values and "chest" in p.values])
    if name == "bmi":
        return np.array([p.values["weight"] / (p.values["height"] / 1000) ** 2 for p in people
                         if "weight" in p.values and "height" in p.values])
    return np.array([p.values[num] / p.values[den] for p in people if num in p.values and den in p.values])


def ranges(korea, nhanes):
    out = {}
    for gender in GENDERS:
        people = [p for p in korea if p.gender == gender]
        out[gender] = {}
        for field in (*LENGTHS, *GIRTHS, "weight"):
            v = column(people, field)
            up = 0.15 if field in LENGTHS else 0.75
            if field == "shoulder":
                # A tape across the back (Size Korea's 055, FreeSewing's shoulderToShoulder) runs
                # longer than the straight breadth, and over the deltoids longer still on big bodies:
                # the upper bound follows the longer measure, with more room.
                v_hi, up = np.concatenate([v, column(people, "shoulder_over_back")]), 0.25
            else:
                v_hi = v
            step = 1 if field == "weight" else 10
            lo = math.floor(np.percentile(v, 0.1) * 0.85 / step) * step
            hi = math.ceil(np.percentile(v_hi, 99.9) * (1 + up) / step) * step
            out[gender][field] = (lo, hi)
            us = np.array([p.values[field] for p in nhanes if p.gender == gender and field in p.values])
            outside = f"{np.mean((us < lo) | (us > hi)) * 100:5.2f} %" if len(us) else "    -  "
            print(f"  {gender:6s} {field:8s} p1 {np.percentile(v, 1):7.1f}  p99 {np.percentile(v, 99):7.1f}  "
                  f"p0.1 {np.percentile(v, 0.1):7.1f}  p99.9 {np.percentile(v, 99.9):7.1f}  -> range {lo}-{hi}"
                  f"  (NHANES outside: {outside})")
    return out


def cross_checks(korea, nhanes):
    out = {}
    for name in RATIOS:
        v = np.concatenate([ratio(korea, name), ratio(nhanes, name)])
        places = 0 if name == "bmi" else 2
        lo = math.floor(np.percentile(v, 0.1) * 0.95 * 10 ** places) / 10 ** places
        hi = math.ceil(np.percentile(v, 99.9) * 1.05 * 10 ** places) / 10 ** places
        out[name] = (lo, hi)
        flagged_k = np.mean((ratio(korea, name) < lo) | (ratio(korea, name) > hi)) * 100
        nh = ratio(nhanes, name)
        flagged_n = f"{np.mean((nh < lo) | (nh > hi)) * 100:.2f} %" if len(nh) else "-"
        print(f"  {name:15s} p0.1 {np.percentile(v, 0.1):6.3f}  p99.9 {np.percentile(v, 99.9):6.3f}  -> confirm "
              f"outside {lo:.2f}-{hi:.2f}  (asks {flagged_k:.2f} % of Size Korea, {flagged_n} of NHANES)")
    return out


def design(people, form):
    h, w = column(people, "height"), column(people, "weight")
    if form == "log":
        return np.column_stack([np.ones_like(h), np.log(h), np.log(w)])
    return np.column_stack([np.ones_like(h), h, w, w / (h / 1000) ** 2])


def fit(korea, nhanes):
    coefs, maes = {}, {}
    print(f"  {'':6s} {'':8s} {'naive':>6s} {'power':>6s} {'ratio':>6s} {'linear':>7s}   (MAE mm, held out)")
    for gender in GENDERS:
        train = [p for p in korea if p.gender == gender and not held_out(p)]
        test = [p for p in korea if p.gender == gender and held_out(p)]
        coefs[gender], maes[gender] = {}, {}
        for field in ESTIMATED:
            y_train, y_test = column(train, field), column(test, field)
            naive = np.abs(y_test - y_train.mean()).mean()
            c, *_ = np.linalg.lstsq(design(train, "log"), np.log(y_train), rcond=None)
            power = np.abs(np.exp(design(test, "log") @ c) - y_test).mean()
            cl, *_ = np.linalg.lstsq(design(train, "linear"), y_train, rcond=None)
            linear = np.abs(design(test, "linear") @ cl - y_test).mean()
            coefs[gender][field] = tuple(round(float(x), 6) for x in c)
            maes[gender][field] = round(float(power), 1)
            print(f"  {gender:6s} {field:8s} {naive:6.1f} {power:6.1f} {power / naive:6.2f} {linear:7.1f}")
        print(f"  {gender:6s} {len(train)} bodies to fit, {len(test)} held out")
    # Out of population: the Korean fit on US adults (girths NHANES has), for the record only.
    for gender in GENDERS:
        us = [p for p in nhanes if p.gender == gender]
        for field in ("waist", "hip"):
            a, b, c = coefs[gender][field]
            pred = np.exp(a + b * np.log(column(us, "height")) + c * np.log(column(us, "weight")))
            print(f"  NHANES {gender:6s} {field:5s} MAE {np.abs(pred - column(us, field)).mean():6.1f} mm "
                  f"(bias {np.mean(pred - column(us, field)):+6.1f}), {len(us)} adults")
    return coefs, maes


def main() -> None:
    if not have_size_korea():
        sys.exit(f"Size Korea's file is not in {DATA}")
    korea = size_korea_adults()
    nhanes = nhanes_adults() if have_nhanes() else []
    print(f"Size Korea 7th adults 18-69 with every field: {len(korea)}; NHANES adults: {len(nhanes)}\n")
    print("Ranges (mm; weight kg):")
    r = ranges(korea, nhanes)
    print("\nCross-checks (ratios):")
    x = cross_checks(korea, nhanes)
    print("\nEstimate from height, weight, gender:")
    coefs, maes = fit(korea, nhanes)
    print("\n# --- for hub/kiosk/measurements.py ---")
    print("RANGES_BY_GENDER = {")
    for g in GENDERS:
        print(f'    "{g}": {{' + ", ".join(f'"{f}": {v}' for f, v in r[g].items()) + "},")
    print("}")
    print("RATIO_BOUNDS = {" + ", ".join(f'"{k}": {v}' for k, v in x.items()) + "}")
    print("ESTIMATE = {")
    for g in GENDERS:
        print(f'    "{g}": {{')
        for f in ESTIMATED:
            print(f'        "{f}": {coefs[g][f]},')
        print("    },")
    print("}")
    print("ESTIMATE_MAE = {")
    for g in GENDERS:
        print(f'    "{g}": {maes[g]},')
    print("}")


if __name__ == "__main__":
    main()
