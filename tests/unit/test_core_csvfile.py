"""hub.core.csvfile's reading of a file whose rows may repeat a key (H&M's transactions: a row per
piece bought): repeats are counted on the first good row, never refused; without the count a
repeated key is a problem naming the first line."""

from __future__ import annotations

from hub.core.csvfile import Column, Integer, Spec, Text, read_csv

COLUMNS = (Column("who", Text(10)), Column("what", Integer(1, 99)))
COUNTED = Spec("baskets", COLUMNS, key=("who", "what"), count_repeats_as="pieces")
REFUSED = Spec("baskets", COLUMNS, key=("who", "what"))


def test_repeated_rows_are_counted_on_the_first_good_one():
    parsed = read_csv(COUNTED, "who,what\na,1\nb,2\na,1\n\na,1\nb,x\nb,2\n'=c,3\n")
    assert parsed.rows_read == 7
    assert [(r.line, r.values) for r in parsed.rows] == [
        (2, {"who": "a", "what": 1, "pieces": 3}), (3, {"who": "b", "what": 2, "pieces": 2}),
        (9, {"who": "=c", "what": 3, "pieces": 1})]
    assert [(p.line, p.column) for p in parsed.problems] == [(7, "what")]


def test_after_a_bad_row_the_first_good_one_with_its_key_counts():
    spec = Spec("baskets", (*COLUMNS, Column("note", Text(5, required=False))), key=("who", "what"),
                count_repeats_as="pieces")
    parsed = read_csv(spec, "who,what,note\na,1,far too long\na,1,\na,1,\n")
    assert [(r.line, r.values["pieces"]) for r in parsed.rows] == [(3, 2)]
    assert [(p.line, p.column) for p in parsed.problems] == [(2, "note")]


def test_without_a_count_a_repeated_key_is_a_problem_naming_the_first_line():
    parsed = read_csv(REFUSED, "who,what\na,1\nb,2\na,1\n")
    assert [r.line for r in parsed.rows] == [2, 3]
    assert [(p.line, p.column, p.en) for p in parsed.problems] == [(4, "what", "a/1 is also on line 2")]
