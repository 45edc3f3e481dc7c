"""The cells hub.core.csvfile gained for the styles files (the registry's own cells are tested
through its files in test_registry_csv.py): measured numbers kept as written, calendar days,
and numbers never escaped as if they were formulas."""

from __future__ import annotations

import io
from datetime import date

import pytest

from hub.core.csvfile import Column, Date, Integer, Invalid, Problem, Real, Spec, Text, read_csv, write_csv


@pytest.mark.parametrize("raw,value", [("0.0508305084745762", 0.0508305084745762), ("1.6949152542372882e-05", 1.6949152542372882e-05),
                                       (" 49.0 ", 49.0), ("-0", 0.0), (".5", 0.5), ("3.", 3.0)])
def test_a_real_is_kept_as_written(raw, value):
    assert Real(-1.0, 100.0).parse(raw) == value
    assert Real(-1.0, 100.0).format(value) == repr(value)


@pytest.mark.parametrize("raw,en", [("nan", "is not a number"), ("inf", "is not a number"), ("1e999", "is outside"),
                                    ("101", "is outside 0 to 100"), ("", "is empty"), ("1,5", "is not a number")])
def test_a_bad_real_is_refused(raw, en):
    with pytest.raises(Invalid) as caught:
        Real(0.0, 100.0).parse(raw)
    assert en in caught.value.en


def test_an_optional_real_may_be_empty():
    cell = Real(0.0, 120.0, required=False)
    assert cell.parse("  ") is None and cell.format(None) == "" and cell.format(float("nan")) == ""


@pytest.mark.parametrize("raw,en", [("2026-02-30", "not a day on the calendar"), ("2026-7-6", "not a date as YYYY-MM-DD"),
                                    ("06/07/2026", "not a date as YYYY-MM-DD"), ("", "is empty")])
def test_a_date_is_a_real_day_as_yyyy_mm_dd(raw, en):
    assert Date().parse(" 2026-07-06 ") == date(2026, 7, 6) and Date().format(date(2026, 7, 6)) == "2026-07-06"
    with pytest.raises(Invalid) as caught:
        Date().parse(raw)
    assert en in caught.value.en


def test_numbers_are_written_as_they_are_and_text_is_escaped():
    spec = Spec("things", (Column("code", Integer(-1, 9)), Column("price", Real(-5.0, 5.0)), Column("name", Text())),
                key=("code",))
    out = io.StringIO()
    write_csv(spec, [{"code": -1, "price": -0.5, "name": "-minus"}], out)
    assert out.getvalue() == "code,price,name\n-1,-0.5,'-minus\n"
    parsed = read_csv(spec, out.getvalue())
    assert parsed.problems == [] and parsed.rows[0].values == {"code": -1, "price": -0.5, "name": "-minus"}


def test_a_problem_may_name_its_file():
    p = Problem(3, "price", "숫자가 아닙니다", "is not a number", file="transactions_train.csv")
    assert str(p) == "transactions_train.csv line 3, price: is not a number"
    assert p.text_ko() == "transactions_train.csv 3행 price: 숫자가 아닙니다"
    assert str(Problem(3, None, "가", "bad")) == "line 3: bad"
