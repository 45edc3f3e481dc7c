"""The registry's public face: who is in the Dongdaemun network (workshops with their machines,
designers and brands, suppliers) and the CSV import and export that keep it. Plain Python over a
SQLAlchemy session; no web.

Reading hands out frozen dataclasses that hold no session, so a caller may keep them after the
session closes:

    with db.session() as session:
        shops = registry.workshops(session, family="denim")    # list[WorkshopInfo], by id
    shops[0].machine_counts                                     # {"lockstitch": 3, "overlock": 1, ...}

Writing happens in the caller's transaction (`with db.session() as session:` commits at the end):

    report = registry.import_csv(session, "workshops", data)    # data: the file's bytes or text
    report.ok, report.summary(), report.problems                # "3 added, 1 changed, 196 unchanged"

A file with any bad row writes nothing and reports every bad row (line, column, reason in Korean
and English); importing the same file again changes nothing. `export_csv` writes the same format
back (hub.registry.csvio); exporting, importing that and exporting again gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.orm import Session

from hub.core.db import utc
from hub.registry import csvio
from hub.registry.csvio import KINDS, ParsedFile, Problem, minutes_of_day
from hub.registry.models import Designer, DesignerFamily, Machine, Supplier, SupplierFamily, Workshop, WorkshopFamily
from hub.registry.vocabulary import FAMILIES, MACHINE_TYPES

__all__ = ["FAMILIES", "KINDS", "MACHINE_TYPES", "DesignerInfo", "ImportReport", "MachineInfo", "Problem",
           "SupplierInfo", "WorkshopInfo", "count", "designer", "designers", "dongs", "export_csv", "import_csv", "machines",
           "supplier", "suppliers", "workshop", "workshops"]

#: Rows per INSERT/UPDATE batch (and per progress step).
CHUNK = 1000

#: progress(phase, done, total): phase "reading" counts lines, "writing" counts rows.
Progress = Callable[[str, int, int], None]


# --- what readers get -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MachineInfo:
    workshop_id: str
    #: The machine tag the workshop's gateway writes: telemetry's `machine`.
    machine_id: str
    #: The board on it (its MQTT user name), None while none is fitted.
    device_id: str | None
    type: str  # a key of MACHINE_TYPES
    brand: str
    model: str
    max_spm: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WorkshopInfo:
    #: The gateway's workshop id: telemetry's `workshop`.
    id: str
    name_ko: str
    name_en: str
    dong: str
    address_ko: str
    address_en: str
    lat: float
    lon: float
    operators: int
    area_m2: int
    #: Keys of FAMILIES, its main family first.
    families: tuple[str, ...]
    opens: str  # "HH:MM", local time (Asia/Seoul)
    closes: str
    lunch_start: str
    lunch_minutes: int
    workdays: tuple[str, ...]  # "mon" ... "sun"
    min_order_pieces: int
    takes_samples: bool
    #: Earned / attended minutes as the owner declares it, 0.01 to 1.
    declared_efficiency: float
    price_per_sam_minute_krw: int
    price_level: int  # 1 cheap, 2 market rate, 3 dear
    #: Share of past orders delivered by the agreed day (0 to 1), over `orders_delivered` orders.
    on_time_rate: float
    orders_delivered: int
    contact_channel: str
    contact_phone: str
    #: When an import last added or changed this record: how old the declared figures are.
    updated_at: datetime
    machines: tuple[MachineInfo, ...]

    @property
    def working_minutes_per_day(self) -> int:
        """Minutes between opening and closing, lunch taken out."""
        return minutes_of_day(self.closes) - minutes_of_day(self.opens) - self.lunch_minutes

    @property
    def machine_counts(self) -> dict[str, int]:
        """Machines per type, e.g. {"lockstitch": 3, "overlock": 1}."""
        counts: dict[str, int] = {}
        for m in self.machines:
            counts[m.type] = counts.get(m.type, 0) + 1
        return counts


@dataclass(frozen=True, slots=True)
class DesignerInfo:
    id: str
    kind: str  # wholesale | designer_brand | online_store
    name_ko: str
    name_en: str
    families: tuple[str, ...]
    building_ko: str  # "" when not in a wholesale building
    building_en: str
    floor: str
    stall: str
    dong: str
    address_ko: str
    address_en: str
    lat: float
    lon: float
    typical_order_pieces: int
    styles_per_month: int
    contact_channel: str
    contact_phone: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SupplierInfo:
    id: str
    kind: str  # fabric | knitting | dyeing | trims | printing | washing
    name_ko: str
    name_en: str
    materials: tuple[str, ...]
    families: tuple[str, ...]
    lead_days: int
    region: str  # seoul | gyeonggi | daegu | ...
    city_ko: str
    city_en: str
    address_ko: str
    address_en: str
    lat: float
    lon: float
    contact_channel: str
    contact_phone: str
    updated_at: datetime


@dataclass(frozen=True)
class ImportReport:
    kind: str
    rows: int  # rows in the file with any content
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    #: Every problem, by line; empty when the file was good.
    problems: tuple[Problem, ...] = ()
    #: False for a dry run and for a file with problems (then nothing was written).
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_rows(self) -> int:
        return len({p.line for p in self.problems})

    def summary(self) -> str:
        """One line for a person, in English (the problems say what is wrong in Korean too)."""
        if self.ok:
            return f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged"
        if not self.rows:  # the file itself: its header, its encoding
            return f"{self.kind}: the file cannot be read as a {self.kind} file; nothing was imported"
        return (f"{self.kind}: {self.bad_rows} of {self.rows} rows are bad ({len(self.problems)} problems); "
                "nothing was imported")

    def summary_ko(self) -> str:
        if self.ok:
            return f"추가 {self.added}, 변경 {self.changed}, 그대로 {self.unchanged}"
        if not self.rows:
            return f"{self.kind} 파일로 읽을 수 없어 아무것도 가져오지 않았습니다"
        return f"{self.rows}행 중 {self.bad_rows}행에 문제가 있어 아무것도 가져오지 않았습니다"


# --- how each kind is stored ------------------------------------------------------------------

@dataclass(frozen=True)
class _Store:
    model: type
    #: The families table and its column naming the owner, for kinds that list families.
    families: type | None = None
    owner: str = ""
    #: Columns holding a list as JSON.
    json_lists: tuple[str, ...] = ()


_STORES: dict[str, _Store] = {
    "workshops": _Store(Workshop, WorkshopFamily, "workshop_id", ("workdays",)),
    "machines": _Store(Machine),
    "designers": _Store(Designer, DesignerFamily, "designer_id"),
    "suppliers": _Store(Supplier, SupplierFamily, "supplier_id", ("materials",)),
}


def _key_columns(kind: str) -> list:
    model = _STORES[kind].model
    return [getattr(model, name) for name in csvio.spec(kind).key]


def _in_code_order(session: Session, *columns: Any) -> list:
    """ORDER BY terms that sort text by code point on both databases, as Python does: SQLite's
    default (BINARY) does; PostgreSQL follows the database's locale (which may ignore '-') unless
    told "C". So lists, pages and exports come out in the same order everywhere."""
    if session.get_bind().dialect.name == "postgresql":
        return [c.collate("C") for c in columns]
    return list(columns)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _families_by_owner(session: Session, kind: str, owners: Select | None) -> dict[str, tuple[str, ...]]:
    store = _STORES[kind]
    owner = getattr(store.families, store.owner)
    query = select(owner, store.families.family).order_by(owner, store.families.position)
    if owners is not None:
        query = query.where(owner.in_(owners))
    out: dict[str, list[str]] = {}
    for owner_id, family in session.execute(query):
        out.setdefault(owner_id, []).append(family)
    return {k: tuple(v) for k, v in out.items()}


def _values(kind: str, row: Mapping[str, Any], families: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """A stored record as csvio values (plus updated_at)."""
    store = _STORES[kind]
    values = dict(row)
    for name in store.json_lists:
        values[name] = tuple(values[name])
    if store.families is not None:
        values["families"] = families.get(values["id"], ())
    values["updated_at"] = utc(values["updated_at"])
    return values


def _page(query: Select, limit: int | None, offset: int) -> Select:
    return query.limit(limit).offset(offset) if limit is not None or offset else query


def _owners(session: Session, model: type, where: Sequence, limit: int | None, offset: int) -> Select:
    """The ids of the records a list call returns, as a subquery for their families or machines."""
    return _page(select(model.id).where(*where).order_by(*_in_code_order(session, model.id)), limit, offset)


def _records(session: Session, kind: str, where: Sequence = (), limit: int | None = None,
             offset: int = 0) -> list[dict[str, Any]]:
    """Stored records of `kind` (as csvio values) that meet `where`, by key."""
    store = _STORES[kind]
    query = (select(*store.model.__table__.columns).where(*where)
             .order_by(*_in_code_order(session, *_key_columns(kind))))
    rows = session.execute(_page(query, limit, offset)).mappings().all()
    families: dict[str, tuple[str, ...]] = {}
    if store.families is not None and rows:
        families = _families_by_owner(session, kind, _owners(session, store.model, where, limit, offset))
    return [_values(kind, row, families) for row in rows]


def _family_clause(kind: str, family: str | None) -> list:
    if family is None:
        return []
    store = _STORES[kind]
    owner = getattr(store.families, store.owner)
    return [store.model.id.in_(select(owner).where(store.families.family == family))]


def _equal(model: type, **filters: Any) -> list:
    return [getattr(model, name) == value for name, value in filters.items() if value is not None]


# --- reading ----------------------------------------------------------------------------------

def _workshop_where(family: str | None, dong: str | None, ids: Iterable[str] | None) -> list:
    where = _family_clause("workshops", family) + _equal(Workshop, dong=dong)
    if ids is not None:
        where.append(Workshop.id.in_(list(ids)))
    return where


def workshops(session: Session, family: str | None = None, dong: str | None = None,
              ids: Iterable[str] | None = None, limit: int | None = None, offset: int = 0) -> list[WorkshopInfo]:
    """Workshops by id, each with its machines (by machine id); only those that sew `family`,
    sit in `dong` or have one of `ids`, when given."""
    where = _workshop_where(family, dong, ids)
    records = _records(session, "workshops", where, limit, offset)
    if not records:
        return []
    by_workshop: dict[str, list[MachineInfo]] = {}
    owners = _owners(session, Workshop, where, limit, offset)
    query = select(*Machine.__table__.columns).where(Machine.workshop_id.in_(owners))
    for row in session.execute(query).mappings():
        values = dict(row)
        values["updated_at"] = utc(values["updated_at"])
        by_workshop.setdefault(values["workshop_id"], []).append(MachineInfo(**values))
    return [WorkshopInfo(**r, machines=tuple(sorted(by_workshop.get(r["id"], ()), key=lambda m: m.machine_id)))
            for r in records]


def workshop(session: Session, workshop_id: str) -> WorkshopInfo | None:
    found = workshops(session, ids=[workshop_id])
    return found[0] if found else None


def machines(session: Session, workshop_id: str | None = None, type: str | None = None,
             limit: int | None = None, offset: int = 0) -> list[MachineInfo]:
    """Machines by (workshop, machine id), of one workshop or type when given."""
    return [MachineInfo(**r) for r in _records(session, "machines", _equal(Machine, workshop_id=workshop_id, type=type),
                                               limit, offset)]


def designers(session: Session, family: str | None = None, dong: str | None = None, kind: str | None = None,
              limit: int | None = None, offset: int = 0) -> list[DesignerInfo]:
    where = _family_clause("designers", family) + _equal(Designer, dong=dong, kind=kind)
    return [DesignerInfo(**r) for r in _records(session, "designers", where, limit, offset)]


def designer(session: Session, designer_id: str) -> DesignerInfo | None:
    found = _records(session, "designers", [Designer.id == designer_id])
    return DesignerInfo(**found[0]) if found else None


def suppliers(session: Session, family: str | None = None, kind: str | None = None, region: str | None = None,
              limit: int | None = None, offset: int = 0) -> list[SupplierInfo]:
    where = _family_clause("suppliers", family) + _equal(Supplier, kind=kind, region=region)
    return [SupplierInfo(**r) for r in _records(session, "suppliers", where, limit, offset)]


def supplier(session: Session, supplier_id: str) -> SupplierInfo | None:
    found = _records(session, "suppliers", [Supplier.id == supplier_id])
    return SupplierInfo(**found[0]) if found else None


def count(session: Session, records: str, /, **filters: Any) -> int:
    """How many records of a kind ("workshops", ...) meet the filters its list function takes
    (e.g. count(session, "suppliers", kind="dyeing"))."""
    csvio.spec(records)
    model = _STORES[records].model
    filters = {k: v for k, v in filters.items() if v is not None}
    family = filters.pop("family", None)
    where = _family_clause(records, family) if records != "machines" else []
    if records == "workshops" and "ids" in filters:
        where.append(Workshop.id.in_(list(filters.pop("ids"))))
    where += _equal(model, **filters)
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


# --- export -----------------------------------------------------------------------------------

def export_csv(session: Session, kind: str) -> str:
    """Every record of `kind` as a file in the import format, by key."""
    buffer = io.StringIO()
    csvio.write_csv(kind, _records(session, kind), buffer)
    return buffer.getvalue()


# --- import -----------------------------------------------------------------------------------

def import_csv(session: Session, kind: str, data: bytes | str, dry_run: bool = False,
               progress: Progress | None = None, now: datetime | None = None) -> ImportReport:
    """Check every row of a `kind` file, then add the new records and update the changed ones
    (by key; records not in the file stay as they are). A file with any problem, in a cell, a
    row, the header or against the registry (a machine of an unknown workshop, a board already
    on another machine), writes nothing. A dry run checks and counts without writing."""
    spec = csvio.spec(kind)
    reading = (lambda done, total: progress("reading", done, total)) if progress else None
    parsed = csvio.read_csv(kind, data, reading)
    existing = _existing(session, kind, parsed)
    problems = list(parsed.problems) + _registry_problems(session, kind, parsed)
    if problems:
        problems.sort(key=spec.problem_order)
        return ImportReport(kind, parsed.rows_read, problems=tuple(problems))

    added, changed, unchanged = [], [], 0
    for row in parsed.rows:
        before = existing.get(spec.key_of(row.values))
        if before is None:
            added.append(row.values)
        elif spec.canonical(before) != spec.canonical(row.values):
            changed.append(row.values)
        else:
            unchanged += 1
    if not dry_run:
        _write(session, kind, added, changed, now or datetime.now(timezone.utc), progress)
    return ImportReport(kind, parsed.rows_read, len(added), len(changed), unchanged, written=not dry_run)


def _existing(session: Session, kind: str, parsed: ParsedFile) -> dict[tuple, dict[str, Any]]:
    """The stored records the file's good rows name, by key."""
    spec = csvio.spec(kind)
    keys = {spec.key_of(r.values) for r in parsed.rows}
    # By the key's first column (a machine's workshop): a plain IN list, which both databases
    # answer from the primary key's index; a machine the file does not name is left out after.
    first = _key_columns(kind)[0]
    out: dict[tuple, dict[str, Any]] = {}
    for chunk in _chunks(sorted({k[0] for k in keys})):
        for record in _records(session, kind, [first.in_(chunk)]):
            key = spec.key_of(record)
            if key in keys:
                out[key] = record
    return out


def _registry_problems(session: Session, kind: str, parsed: ParsedFile) -> list[Problem]:
    """What the good rows get wrong against what is stored: machines of unknown workshops, boards
    already on a machine the file does not mention."""
    if kind != "machines" or not parsed.rows:
        return []
    problems = []
    wanted = sorted({r.values["workshop_id"] for r in parsed.rows})
    known: set[str] = set()
    for chunk in _chunks(wanted):
        known.update(session.execute(select(Workshop.id).where(Workshop.id.in_(chunk))).scalars())
    for row in parsed.rows:
        wid = row.values["workshop_id"]
        if wid not in known:
            problems.append(Problem(row.line, "workshop_id",
                                    f"작업장 {wid}이(가) 등록부에 없습니다. workshops 파일을 먼저 가져오세요",
                                    f"workshop {wid} is not in the registry; import its workshops file first"))
    in_file = {(r.values["workshop_id"], r.values["machine_id"]) for r in parsed.rows}
    devices = {r.values["device_id"]: r for r in parsed.rows if r.values["device_id"]}
    for chunk in _chunks(sorted(devices)):
        query = select(Machine.workshop_id, Machine.machine_id, Machine.device_id).where(Machine.device_id.in_(chunk))
        for wid, mid, device in session.execute(query):
            row = devices[device]
            # Taken by a machine the file leaves alone; one the file gives another board is free.
            if (wid, mid) != (row.values["workshop_id"], row.values["machine_id"]) and (wid, mid) not in in_file:
                problems.append(Problem(row.line, "device_id", f"보드 {device}는 이미 {wid}/{mid} 기계에 달려 있습니다",
                                        f"board {device} is already on machine {wid}/{mid}"))
    return problems


def _write(session: Session, kind: str, added: list[dict], changed: list[dict], now: datetime,
           progress: Progress | None) -> None:
    store = _STORES[kind]
    total, done = len(added) + len(changed), 0

    def stored(values: dict) -> dict:
        row = {k: v for k, v in values.items() if k != "families"}
        for name in store.json_lists:
            row[name] = list(row[name])
        row["updated_at"] = now
        return row

    def families(rows: Sequence[dict]) -> list[dict]:
        return [{store.owner: r["id"], "family": f, "position": i} for r in rows for i, f in enumerate(r["families"])]

    if progress:
        progress("writing", 0, total)
    if kind == "machines" and changed:
        # Boards may change hands within the file (two machines swap theirs): free the changed
        # machines' boards first, so the unique board id holds after every statement.
        for chunk in _chunks(changed):
            session.execute(update(Machine), [{"workshop_id": r["workshop_id"], "machine_id": r["machine_id"],
                                               "device_id": None} for r in chunk])
    for chunk in _chunks(changed):
        session.execute(update(store.model), [stored(r) for r in chunk])
        if store.families is not None:
            owner = getattr(store.families, store.owner)
            session.execute(delete(store.families).where(owner.in_([r["id"] for r in chunk])))
            session.execute(insert(store.families), families(chunk))
        done += len(chunk)
        if progress:
            progress("writing", done, total)
    for chunk in _chunks(added):
        # executemany: psycopg pipelines the rows (a multi-row VALUES statement measured slower,
        # its compilation costs more than the round trips it saves).
        session.execute(insert(store.model), [stored(r) for r in chunk])
        if store.families is not None:
            session.execute(insert(store.families), families(chunk))
        done += len(chunk)
        if progress:
            progress("writing", done, total)
    session.flush()


def dongs(session: Session) -> list[tuple[str, int, str, str]]:
    """The dongs workshops sit in: (dong, workshops, its name in Korean, in English), by dong. The
    names are read from the workshops' addresses ("… 종로구 창신동 542-11" -> 창신동)."""
    query = (select(Workshop.dong, func.count(), func.min(Workshop.address_ko), func.min(Workshop.address_en))
             .group_by(Workshop.dong).order_by(Workshop.dong))
    return [(d, n, _dong_word(ko, ("동", "가")) or d, _dong_word(en, ("-dong", "-ga")) or d)
            for d, n, ko, en in session.execute(query)]


def _dong_word(address: str | None, endings: tuple[str, ...]) -> str | None:
    for word in (address or "").replace(",", " ").split():
        if word.endswith(endings) and not word[0].isdigit():
            return word
    return None
