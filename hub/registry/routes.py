"""The registry's API, under /api/v1/registry, every route behind the API token:

    GET  /api/v1/registry                          how many of each kind
    GET  /api/v1/registry/workshops?family=&dong=  workshops with their machines (paged: limit, offset)
    GET  /api/v1/registry/workshops/{id}           one workshop
    GET  /api/v1/registry/machines?workshop_id=&type=
    GET  /api/v1/registry/designers?family=&dong=&kind=        and /designers/{id}
    GET  /api/v1/registry/suppliers?family=&kind=&region=      and /suppliers/{id}
    GET  /api/v1/registry/{kind}.csv               the export, as a download
    POST /api/v1/registry/{kind}.csv               an import: the file as multipart field `file`
                                                   (?dry_run=true checks and counts, writes nothing)

An import with bad rows answers 422 with every problem (line, column, Korean and English) and
writes nothing. A thin layer over hub.registry.service.
"""

from __future__ import annotations

import enum
import logging
import typing
from dataclasses import fields
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, create_model
from sqlalchemy.exc import IntegrityError

from hub.core.db import Database
from hub.core.dependencies import get_database, get_rejections, get_settings, require_api_token
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.registry import service
from hub.registry.service import DesignerInfo, MachineInfo, SupplierInfo, WorkshopInfo
from hub.registry.vocabulary import DESIGNER_KINDS, SUPPLIER_KINDS

log = logging.getLogger("sewnet.hub.registry")


def _choices(name: str, keys) -> type[enum.Enum]:
    """A query or path parameter that takes only these words (422 naming them otherwise)."""
    return enum.Enum(name, {k: k for k in keys}, type=str)


Kind = _choices("Kind", service.KINDS)
Family = _choices("Family", service.FAMILIES)
MachineType = _choices("MachineType", service.MACHINE_TYPES)
DesignerKind = _choices("DesignerKind", DESIGNER_KINDS)
SupplierKind = _choices("SupplierKind", SUPPLIER_KINDS)

router = APIRouter(prefix="/api/v1/registry", tags=["registry"], dependencies=[Depends(require_api_token)],
                   responses={401: {"description": "no or wrong API token"}})


def _model(cls: type, **extra: Any) -> type[BaseModel]:
    """The API's schema for one of the service's dataclasses (plus derived fields)."""
    hints = typing.get_type_hints(cls)
    return create_model(cls.__name__, **{**{f.name: (hints[f.name], ...) for f in fields(cls)}, **extra})


MachineOut = _model(MachineInfo)
WorkshopOut = _model(WorkshopInfo, machines=(list[MachineOut], ...), machine_counts=(dict[str, int], ...),
                     working_minutes_per_day=(int, ...))
DesignerOut = _model(DesignerInfo)
SupplierOut = _model(SupplierInfo)


def _page_of(item: type[BaseModel]) -> type[BaseModel]:
    return create_model(f"{item.__name__}Page", total=(int, ...), limit=(int, ...), offset=(int, ...),
                        items=(list[item], ...))


class ImportResult(BaseModel):
    kind: str
    rows: int
    added: int
    changed: int
    unchanged: int
    written: bool
    summary: str


class ProblemOut(BaseModel):
    line: int
    column: str | None
    ko: str
    en: str


class BadRows(BaseModel):
    error: str = "bad_rows"
    kind: str
    rows: int
    bad_rows: int
    ko: str
    en: str
    problems: list[ProblemOut]


def _workshop_out(w: WorkshopInfo) -> dict:
    out = {f.name: getattr(w, f.name) for f in fields(w)}
    out["machine_counts"] = w.machine_counts
    out["working_minutes_per_day"] = w.working_minutes_per_day
    return out


def _value(e: enum.Enum | None) -> str | None:
    return None if e is None else e.value


def _not_found(what: str, key: str) -> HTTPException:
    return HTTPException(404, f"no {what} {key!r} in the registry")


Limit = Annotated[int, Query(ge=1, le=10_000, description="records per page")]
Offset = Annotated[int, Query(ge=0)]
Db = Annotated[Database, Depends(get_database)]


@router.get("", summary="How many workshops, machines, designers and suppliers the registry holds")
def counts(db: Db) -> dict[str, int]:
    with db.session() as session:
        return {kind: service.count(session, kind) for kind in service.KINDS}


@router.get("/workshops", response_model=_page_of(WorkshopOut), summary="Workshops with their machines, by id")
def list_workshops(db: Db, family: Family | None = None, dong: str | None = None, limit: Limit = 1000,
                   offset: Offset = 0):
    filters = {"family": _value(family), "dong": dong}
    with db.session() as session:
        total = service.count(session, "workshops", **filters)
        items = service.workshops(session, **filters, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [_workshop_out(w) for w in items]}


@router.get("/workshops/{workshop_id}", response_model=WorkshopOut, responses={404: {"description": "not registered"}})
def get_workshop(db: Db, workshop_id: str):
    with db.session() as session:
        found = service.workshop(session, workshop_id)
    if found is None:
        raise _not_found("workshop", workshop_id)
    return _workshop_out(found)


@router.get("/machines", response_model=_page_of(MachineOut), summary="Machines by workshop and machine id")
def list_machines(db: Db, workshop_id: str | None = None, type: MachineType | None = None, limit: Limit = 1000,
                  offset: Offset = 0):
    filters = {"workshop_id": workshop_id, "type": _value(type)}
    with db.session() as session:
        total = service.count(session, "machines", **filters)
        items = service.machines(session, **filters, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/designers", response_model=_page_of(DesignerOut), summary="Designers, brands and wholesale stalls")
def list_designers(db: Db, family: Family | None = None, dong: str | None = None, kind: DesignerKind | None = None,
                   limit: Limit = 1000, offset: Offset = 0):
    filters = {"family": _value(family), "dong": dong, "kind": _value(kind)}
    with db.session() as session:
        total = service.count(session, "designers", **filters)
        items = service.designers(session, **filters, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/designers/{designer_id}", response_model=DesignerOut, responses={404: {"description": "not registered"}})
def get_designer(db: Db, designer_id: str):
    with db.session() as session:
        found = service.designer(session, designer_id)
    if found is None:
        raise _not_found("designer", designer_id)
    return found


@router.get("/suppliers", response_model=_page_of(SupplierOut), summary="Fabric, knitting, dyeing, trims suppliers")
def list_suppliers(db: Db, family: Family | None = None, kind: SupplierKind | None = None, region: str | None = None,
                   limit: Limit = 1000, offset: Offset = 0):
    filters = {"family": _value(family), "kind": _value(kind), "region": region}
    with db.session() as session:
        total = service.count(session, "suppliers", **filters)
        items = service.suppliers(session, **filters, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/suppliers/{supplier_id}", response_model=SupplierOut, responses={404: {"description": "not registered"}})
def get_supplier(db: Db, supplier_id: str):
    with db.session() as session:
        found = service.supplier(session, supplier_id)
    if found is None:
        raise _not_found("supplier", supplier_id)
    return found


@router.get("/{kind}.csv", response_class=Response, summary="Export: every record of a kind, in the import format",
            responses={200: {"content": {"text/csv": {}}}})
def export(db: Db, kind: Kind) -> Response:
    with db.session() as session:
        text = service.export_csv(session, kind.value)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{kind.value}.csv"'})


@router.post("/{kind}.csv", response_model=ImportResult,
             summary="Import: add new records, update changed ones; a file with any bad row imports nothing",
             responses={413: {"description": "the file is too big"},
                        422: {"model": BadRows, "description": "bad rows: every one, and nothing imported"}})
async def import_file(
    kind: Kind,
    db: Db,
    settings: Annotated[HubSettings, Depends(get_settings)],
    rejections: Annotated[Rejections, Depends(get_rejections)],
    file: Annotated[UploadFile, File(description="the CSV file (UTF-8)")],
    dry_run: bool = False,
):
    limit = settings.registry_max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        rejections.add("registry", "too_big", f"{kind.value}: more than {limit} bytes")
        raise HTTPException(413, f"the file is bigger than {limit:,} bytes")

    def run() -> service.ImportReport:
        with db.session() as session:
            return service.import_csv(session, kind.value, data, dry_run=dry_run)

    try:
        report = await anyio.to_thread.run_sync(run)
    except IntegrityError:
        # Another import wrote the same records between our check and our write.
        raise HTTPException(409, "the registry changed during the import (another import at the same time?); "
                                 "send the file again") from None
    if not report.ok:
        rejections.add("registry", "bad_rows", f"{kind.value}: {report.bad_rows} of {report.rows} rows",
                       count=report.bad_rows)
        body = BadRows(kind=kind.value, rows=report.rows, bad_rows=report.bad_rows, ko=report.summary_ko(),
                       en=report.summary(),
                       problems=[ProblemOut(line=p.line, column=p.column, ko=p.ko, en=p.en) for p in report.problems])
        return JSONResponse(body.model_dump(), status_code=422)
    log.info("registry import %s: %s%s", kind.value, report.summary(), " (dry run)" if dry_run else "")
    return ImportResult(kind=kind.value, rows=report.rows, added=report.added, changed=report.changed,
                        unchanged=report.unchanged, written=report.written, summary=report.summary())
