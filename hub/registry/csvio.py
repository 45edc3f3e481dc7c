"""The registry's CSV files: what each column holds, and the kind-by-name face of reading and
writing them (the machinery is hub.core.csvfile). Pure: text in, values and problems out; no
database.

The format is the one simulators/network.py writes (`Network.write_csv`), so a generated network
imports as it is: UTF-8, a header of column names, one row per record, lists joined with ";",
yes/no as 1/0, coordinates with 6 decimals (about 0.1 m) and other fractions with 2, "\\n" line
ends. Reading also takes what a spreadsheet writes: a byte-order mark, CRLF line ends, columns in
any order, blank rows, surrounding spaces; fractions with more decimals are rounded to the
column's. Writing turns every value into its one canonical text, so exporting, importing that
file and exporting again gives the same bytes.

Spreadsheet safety: a cell that starts with = + - @ or ' is written with a ' in front, so a
spreadsheet shows it as text instead of running it as a formula; reading takes that ' off again.

Every problem names its line (the header is line 1; a row that spans lines inside quotes counts
from its first), its column and the reason, in Korean and English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from hub.core import csvfile
from hub.core.csvfile import (
    Cell,
    Choice,
    Clock,
    Column,
    Decimal,
    Flag,
    Integer,
    Invalid,
    ListOf,
    ParsedFile,
    Pattern,
    Problem,
    Row,
    Spec,
    Text,
    decode,
    escape_cell,
    minutes_of_day,
    unescape_cell,
)
from hub.core.ids import DEVICE_ID, TAG_VALUE
from hub.registry.vocabulary import (
    CONTACT_CHANNELS,
    DESIGNER_KINDS,
    FAMILIES,
    MACHINE_TYPES,
    SUPPLIER_KINDS,
    WEEKDAYS,
)

# The machinery's names stay reachable here, where the registry's callers have always found them.
__all__ = ["KINDS", "SPECS", "Cell", "Choice", "Clock", "Column", "Decimal", "Flag", "Integer", "Invalid",
           "ListOf", "ParsedFile", "Pattern", "Problem", "Row", "Spec", "Text", "decode", "escape_cell",
           "minutes_of_day", "read_csv", "spec", "unescape_cell", "write_csv"]

KINDS: tuple[str, ...] = ("workshops", "machines", "designers", "suppliers")

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_PHONE = re.compile(r"\+?[0-9][0-9-]{6,18}[0-9]")


# --- the four files ---------------------------------------------------------------------------

def _hours_make_sense(row: Mapping[str, Any]) -> list[tuple[str | None, str, str]]:
    opens, closes = minutes_of_day(row["opens"]), minutes_of_day(row["closes"])
    if closes <= opens:
        return [("closes", "문 닫는 시각(closes)이 여는 시각(opens)보다 늦어야 합니다",
                 "closes must be later than opens")]
    lunch = minutes_of_day(row["lunch_start"])
    if row["lunch_minutes"] and not (opens <= lunch and lunch + row["lunch_minutes"] <= closes):
        return [("lunch_start", "점심시간이 일하는 시간(opens~closes) 안에 있어야 합니다",
                 "lunch must fall within the working hours (opens to closes)")]
    if closes - opens - row["lunch_minutes"] <= 0:
        return [("lunch_minutes", "점심시간을 빼면 일하는 시간이 남지 않습니다",
                 "leaves no working time once lunch is taken out")]
    return []


def _stall_for_wholesale(row: Mapping[str, Any]) -> list[tuple[str | None, str, str]]:
    if row["kind"] != "wholesale":
        return []
    return [(name, f"도매(wholesale) 매장은 {name} 칸이 필요합니다", f"a wholesale stall needs its {name}")
            for name in ("building_ko", "stall") if not row[name]]


_ID = Pattern(TAG_VALUE, "영문자, 숫자, '-', '_', '.'만 써서 1~64자여야 합니다 (게이트웨이의 id 규칙)",
              "may hold only letters, digits, '-', '_' and '.', 1 to 64 of them "
              "(the gateway's rule for ids, docs/protocol.md)")
_DEVICE = Pattern(DEVICE_ID, "소문자, 숫자, '-', '_'로 2~32자, 첫 글자는 소문자나 숫자여야 합니다 (예: sn-3c71bf0a12f4)",
                  "is not a board id: 2 to 32 lower-case letters, digits, '-' or '_', starting with a letter "
                  "or digit (like sn-3c71bf0a12f4)", required=False)
_PLACE = Pattern(_SLUG, "소문자, 숫자, '-', '_'로 적는 이름이어야 합니다 (예: changsin)",
                 "is not a name of lower-case letters, digits, '-' and '_' (like changsin)")
_LAT = Decimal(33.0, 39.0, 6, "37.576581", " (한국의 위도; lat과 lon이 바뀌었나요?)",
               " (South Korea's latitudes; lat and lon swapped?)")
_LON = Decimal(124.0, 132.0, 6, "127.009444", " (한국의 경도; lat과 lon이 바뀌었나요?)",
               " (South Korea's longitudes; lat and lon swapped?)")
_FAMILIES = ListOf(Choice(tuple(FAMILIES)))
_CONTACT = (Column("contact_channel", Choice(CONTACT_CHANNELS)),
            Column("contact_phone", Pattern(_PHONE, "전화번호는 숫자와 '-'로 적어 주세요 (예: 02-2231-5678)",
                                            "is not a phone number of digits and '-' (like 02-2231-5678)",
                                            required=False, empty=""), personal=True))

SPECS: dict[str, Spec] = {s.kind: s for s in (
    Spec("workshops", (
        Column("id", _ID),
        Column("name_ko", Text(200)),
        Column("name_en", Text(200, required=False)),
        Column("dong", _PLACE),
        Column("address_ko", Text(300)),
        Column("address_en", Text(300, required=False)),
        Column("lat", _LAT),
        Column("lon", _LON),
        Column("operators", Integer(1, 1000)),
        Column("area_m2", Integer(1, 100_000)),
        Column("families", _FAMILIES),
        Column("opens", Clock()),
        Column("closes", Clock()),
        Column("lunch_start", Clock()),
        Column("lunch_minutes", Integer(0, 240)),
        Column("workdays", ListOf(Choice(WEEKDAYS))),
        Column("min_order_pieces", Integer(0, 1_000_000)),
        Column("takes_samples", Flag()),
        Column("declared_efficiency", Decimal(0.01, 1.0, 2, "0.55", " (55 %는 0.55로 적습니다)",
                                              " (write 55 % as 0.55)")),
        Column("price_per_sam_minute_krw", Integer(1, 100_000)),
        Column("price_level", Integer(1, 3)),
        Column("on_time_rate", Decimal(0.0, 1.0, 2, "0.92", " (92 %는 0.92로 적습니다)", " (write 92 % as 0.92)")),
        Column("orders_delivered", Integer(0, 1_000_000)),
        *_CONTACT,
    ), key=("id",), checks=(_hours_make_sense,)),
    Spec("machines", (
        Column("workshop_id", _ID),
        Column("machine_id", _ID),
        Column("device_id", _DEVICE),
        Column("type", Choice(tuple(MACHINE_TYPES))),
        Column("brand", Text(100, required=False)),
        Column("model", Text(100, required=False)),
        Column("max_spm", Integer(100, 12_000)),
    ), key=("workshop_id", "machine_id"), unique=("device_id",)),
    Spec("designers", (
        Column("id", _ID),
        Column("kind", Choice(DESIGNER_KINDS)),
        Column("name_ko", Text(200)),
        Column("name_en", Text(200, required=False)),
        Column("families", _FAMILIES),
        Column("building_ko", Text(100, required=False)),
        Column("building_en", Text(100, required=False)),
        Column("floor", Text(20, required=False)),
        Column("stall", Text(40, required=False)),
        Column("dong", _PLACE),
        Column("address_ko", Text(300)),
        Column("address_en", Text(300, required=False)),
        Column("lat", _LAT),
        Column("lon", _LON),
        Column("typical_order_pieces", Integer(1, 1_000_000)),
        Column("styles_per_month", Integer(0, 10_000)),
        *_CONTACT,
    ), key=("id",), checks=(_stall_for_wholesale,)),
    Spec("suppliers", (
        Column("id", _ID),
        Column("kind", Choice(SUPPLIER_KINDS)),
        Column("name_ko", Text(200)),
        Column("name_en", Text(200, required=False)),
        Column("materials", ListOf(Text(100))),
        Column("families", _FAMILIES),
        Column("lead_days", Integer(0, 365)),
        Column("region", _PLACE),
        Column("city_ko", Text(100)),
        Column("city_en", Text(100, required=False)),
        Column("address_ko", Text(300)),
        Column("address_en", Text(300, required=False)),
        Column("lat", _LAT),
        Column("lon", _LON),
        *_CONTACT,
    ), key=("id",)),
)}



def spec(kind: str) -> Spec:
    try:
        return SPECS[kind]
    except KeyError:
        raise ValueError(f"{kind!r} is not a registry kind: use one of {', '.join(KINDS)}") from None


def read_csv(kind: str, data: bytes | str, progress: Callable[[int, int], None] | None = None) -> ParsedFile:
    """Every row of a `kind` file parsed and checked (hub.core.csvfile.read_csv)."""
    return csvfile.read_csv(spec(kind), data, progress)


def write_csv(kind: str, records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """The records as a `kind` file (hub.core.csvfile.write_csv); returns the number of rows."""
    return csvfile.write_csv(spec(kind), records, out)
