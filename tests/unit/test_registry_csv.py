"""The registry's CSV rules (hub/registry/csvio.py), without a database: a generated network reads
and writes back byte for byte, every bad row is named by line and column, nothing a cell holds
crashes the reader, and what export writes is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_gateway import contract
from hub.core import ids
from hub.registry import csvio, vocabulary
from hub.registry.csvio import KINDS, SPECS, escape_cell, read_csv, unescape_cell, write_csv
from simulators import network as gen

NET = gen.generate_network(60, seed=11)
FILES = {kind: io.StringIO() for kind in KINDS}
for _kind, _rows in NET.tables().items():
    _w = csv.DictWriter(FILES[_kind], fieldnames=gen.Network.KINDS[_kind].columns(), lineterminator="\n")
    _w.writeheader()
    _w.writerows(_rows)
TEXT = {kind: f.getvalue() for kind, f in FILES.items()}


def written(kind: str, values: list[dict]) -> str:
    out = io.StringIO()
    write_csv(kind, values, out)
    return out.getvalue()


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def with_cell(kind: str, line: int, column: str, value: str) -> str:
    """TEXT[kind] with one cell replaced (line counted as in the file, the header being 1)."""
    rows = rows_of(TEXT[kind])
    rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    # Every cell quoted, as a spreadsheet quotes a cell with a lone CR in it (Python 3.11's
    # writer would not, with "\n" line ends, and split the row).
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
    return out.getvalue()


# --- the rules agree with the gateway and the generator ---------------------------------------

def test_the_id_rules_are_the_gateways():
    assert ids.TAG_VALUE.pattern == contract.TAG_VALUE.pattern
    assert ids.DEVICE_ID.pattern == contract.DEVICE_ID.pattern


def test_the_vocabulary_is_the_generators():
    assert vocabulary.MACHINE_TYPES == {k: (m.ko, m.en) for k, m in gen.MACHINE_TYPES.items()}
    assert vocabulary.FAMILIES == {k: (f.ko, f.en) for k, f in gen.FAMILIES.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_a_generated_file_reads_clean_and_writes_back_byte_for_byte(kind):
    assert SPECS[kind].header == gen.Network.KINDS[kind].columns()
    parsed = read_csv(kind, TEXT[kind].encode())
    assert parsed.problems == []
    assert len(parsed.rows) == len(NET.tables()[kind]) == parsed.rows_read
    assert written(kind, [r.values for r in parsed.rows]) == TEXT[kind]


def test_what_spreadsheets_write_reads_the_same():
    """A byte-order mark, CRLF line ends, columns in another order, blank and comma-only rows,
    spaces around cells, a time as 9:00, yes/no as true/false."""
    rows = rows_of(TEXT["workshops"])
    header = rows[0]
    order = list(reversed(range(len(header))))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header[i] for i in order])
    for row in rows[1:4]:
        row = list(row)
        opens = row[header.index("opens")]
        row[header.index("opens")] = opens[1:] if opens.startswith("0") else opens
        row[header.index("takes_samples")] = {"0": "false", "1": "TRUE"}[row[header.index("takes_samples")]]
        row[header.index("name_en")] = f"  {row[header.index('name_en')]} "
        writer.writerow([row[i] for i in order])
        writer.writerow([])
        writer.writerow([""] * len(header))
    parsed = read_csv("workshops", "\ufeff".encode() + out.getvalue().encode())
    assert parsed.problems == []
    expected = read_csv("workshops", TEXT["workshops"]).rows[:3]
    assert [r.values for r in parsed.rows] == [r.values for r in expected]


# --- bad files: every bad row, by line and column ---------------------------------------------

def test_every_bad_row_is_named_by_line_and_column_and_none_is_kept():
    rows = rows_of(TEXT["workshops"])
    header = rows[0]
    col = header.index
    rows[2][col("lat")] = "37,5"  # a comma decimal (the cell is quoted by the writer)
    rows[2][col("operators")] = "many"
    rows[5][col("families")] = "knit_tops;;denim"
    rows[9][col("opens")] = "19:00"  # after closing
    rows[9][col("contact_phone")] = "call me"
    rows[12][col("id")] = rows[1][col("id")]  # the same id twice
    rows[14] = rows[14][:-1]  # a cell short
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    parsed = read_csv("workshops", out.getvalue())
    found = [(p.line, p.column) for p in parsed.problems]
    assert found == [(3, "lat"), (3, "operators"), (6, "families"), (10, "closes"), (10, "contact_phone"),
                     (13, "id"), (15, None)], parsed.problems
    assert {3, 6, 10, 13, 15}.isdisjoint(r.line for r in parsed.rows) and len(parsed.rows) == len(rows) - 1 - 5
    by_line = {(p.line, p.column): p for p in parsed.problems}
    assert by_line[(13, "id")].en == f"{rows[1][col('id')]} is also on line 2"
    assert "call me" not in by_line[(10, "contact_phone")].en + by_line[(10, "contact_phone")].ko  # personal data
    assert by_line[(3, "lat")].en.startswith('"37,5" is not a number')
    assert all(p.ko and p.en for p in parsed.problems)


def test_a_line_number_counts_the_lines_inside_quotes_before_it():
    rows = rows_of(TEXT["suppliers"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    good = list(rows[1])
    writer.writerow(good)
    two_lines = list(rows[2])
    two_lines[rows[0].index("address_en")] = "Dyeing complex\nGate 2"  # line 3 and 4
    writer.writerow(two_lines)
    bad = list(rows[3])
    bad[rows[0].index("lead_days")] = "-3"
    writer.writerow(bad)  # line 5
    parsed = read_csv("suppliers", out.getvalue())
    assert [(p.line, p.column) for p in parsed.problems] == [(3, "address_en"), (5, "lead_days")]
    assert "line break" in parsed.problems[0].en


@pytest.mark.parametrize("kind,text,words", [
    ("machines", "", "must be the header"),
    ("machines", "\n\n", "must be the header"),
    ("workshops", "id,name_ko\nws-1,x\n", "lacks the column(s): name_en"),
    ("machines", TEXT["machines"].replace("max_spm", "max_spm,colour", 1), 'does not have: "colour"'),
    ("machines", TEXT["machines"].replace("brand", "type", 1), "twice: type"),
])
def test_a_bad_header_is_named_on_line_1_and_nothing_is_read(kind, text, words):
    parsed = read_csv(kind, text)
    assert parsed.rows == [] and parsed.problems and {p.line for p in parsed.problems} == {1}
    assert words in " ".join(p.en for p in parsed.problems)


def test_a_file_that_is_not_utf8_says_where_and_what_to_do():
    data = TEXT["workshops"].encode()
    lines = data.split(b"\n")
    lines[4] = lines[4].decode().encode("cp949")  # Korean Excel's default
    parsed = read_csv("workshops", b"\n".join(lines))
    assert [(p.line, p.column) for p in parsed.problems] == [(5, None)]
    assert "CSV UTF-8" in parsed.problems[0].en and parsed.rows == []


def test_machines_need_unique_boards_within_a_file():
    rows = rows_of(TEXT["machines"])
    rows[7][2] = rows[3][2]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    parsed = read_csv("machines", out.getvalue())
    assert [(p.line, p.column) for p in parsed.problems] == [(8, "device_id")]
    assert "also on line 4" in parsed.problems[0].en


def test_a_wholesale_stall_needs_its_building_and_stall():
    rows = rows_of(TEXT["designers"])
    line = next(i for i, r in enumerate(rows) if r[1] == "wholesale") + 1
    text = with_cell("designers", line, "stall", "")
    assert [(p.line, p.column) for p in read_csv("designers", text).problems] == [(line, "stall")]


# --- spreadsheet safety -----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "'=already quoted", "'", "'x"])
def test_formula_like_text_is_written_as_text_and_read_back_as_it_was(value):
    text = with_cell("designers", 2, "name_en", value)
    parsed = read_csv("designers", text)
    assert parsed.problems == [] and parsed.rows[0].values["name_en"] == unescape_cell(value)
    exported = written("designers", [r.values for r in parsed.rows])
    cell = rows_of(exported)[1][SPECS["designers"].header.index("name_en")]
    assert not cell.startswith(("=", "+", "-", "@")) and cell == escape_cell(unescape_cell(value))
    again = read_csv("designers", exported)
    assert [r.values for r in again.rows] == [r.values for r in parsed.rows]


# --- fuzz -------------------------------------------------------------------------------------

# Text a person might type or paste: any character, commas, quotes and newlines included.
CELL_TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ['a,b', '"quoted"', 'say "hi", then', "line\nbreak", "tab\there", "=1+1", "-", "  ", "٣", "１２", "1e3", "nan",
     "inf", "0x1F", "1_000", "--1", "37.5.1", "\u202eevil", "\x00"])

TEXT_COLUMNS = [("workshops", "name_ko"), ("workshops", "address_en"), ("designers", "stall"),
                ("suppliers", "materials"), ("machines", "model")]
NUMBER_COLUMNS = [("workshops", c) for c in ("lat", "lon", "operators", "declared_efficiency", "on_time_rate",
                                               "lunch_minutes", "opens", "takes_samples", "price_level")] + [
    ("machines", "max_spm"), ("machines", "type"), ("suppliers", "lead_days"), ("designers", "kind")]


def check_one_cell(kind: str, column: str, value: str) -> None:
    """Either the cell reads as a value that survives a round trip through export, or the one
    problem is on that line and column; the other rows are read either way."""
    line = 3
    text = with_cell(kind, line, column, value)
    parsed = read_csv(kind, text)
    n = len(rows_of(TEXT[kind])) - 1
    if parsed.problems:
        assert {(p.line, p.column) for p in parsed.problems} <= {(line, column), (line, None)}, parsed.problems
        assert len(parsed.rows) == n - 1 and line not in {r.line for r in parsed.rows}
        return
    assert len(parsed.rows) == n
    exported = written(kind, [r.values for r in parsed.rows])
    cell = rows_of(exported)[line - 1][SPECS[kind].header.index(column)]
    assert not cell.startswith(("=", "+", "-", "@")), cell
    again = read_csv(kind, exported)
    assert again.problems == [] and [r.values for r in again.rows] == [r.values for r in parsed.rows]
    assert written(kind, [r.values for r in again.rows]) == exported


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(TEXT_COLUMNS + NUMBER_COLUMNS), value=CELL_TEXT)
def test_any_cell_is_read_or_named_and_never_breaks_the_file(where, value):
    check_one_cell(*where, value)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_mutated_row_is_named_and_only_those(data):
    """Known-bad values in number, time, yes/no and choice cells of random rows: the problems
    name exactly those rows and cells."""
    kind = "workshops"
    rows = rows_of(TEXT[kind])
    header = rows[0]
    columns = [c for k, c in NUMBER_COLUMNS if k == kind]
    bad_values = ["", " ", "nan", "inf", "1e3", "٣", "１２", "1_0", "0x1", "--1", "a b", "=1", "9999999", "-5",
                  "12:60", "24:00"]
    chosen = data.draw(st.dictionaries(st.integers(2, len(rows)), st.tuples(st.sampled_from(columns),
                                                                            st.sampled_from(bad_values)),
                                       min_size=1, max_size=8))
    for line, (column, value) in chosen.items():
        rows[line - 1][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    parsed = read_csv(kind, out.getvalue())
    assert {(p.line, p.column) for p in parsed.problems} == {(line, c) for line, (c, _) in chosen.items()}
    assert len(parsed.rows) == len(rows) - 1 - len(chosen)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=600) | st.text(max_size=300).map(str.encode),
       kind=st.sampled_from(KINDS), keep_header=st.booleans())
def test_any_bytes_get_an_answer(data, kind, keep_header):
    if keep_header:
        data = ",".join(SPECS[kind].header).encode() + b"\n" + data
    parsed = read_csv(kind, data)
    lines = len(re.split(rb"\r\n|\r|\n", data))  # as an editor counts them
    assert all(1 <= p.line <= lines and p.en and p.ko for p in parsed.problems)
    assert all(r.line <= lines for r in parsed.rows)
    # Whatever was read writes back as a file that reads the same.
    exported = written(kind, [r.values for r in parsed.rows])
    assert [r.values for r in read_csv(kind, exported).rows] == [r.values for r in parsed.rows]


def test_unescape_inverts_escape():
    for text in ["", "'", "''", "'a", "=", "a=b", "-1", "@x", "'=x", "''=x"]:
        assert unescape_cell(escape_cell(text)) == text
    assert csvio.Decimal(0, 1).parse("-0.00") == 0.0 and csvio.Decimal(0, 1).format(csvio.Decimal(0, 1).parse("-0")) == "0.00"
