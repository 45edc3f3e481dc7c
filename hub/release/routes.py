"""Published releases over HTTP, for the gateways (they pull: they sit behind LTE NAT).

    GET /api/v1/releases                               the index; ETag / If-None-Match -> 304; gzip
    GET /api/v1/releases/{version}/manifest.json       the canonical bytes as signed
    GET /api/v1/releases/{version}/manifest.sig        the signature (hex)
    GET /api/v1/releases/{version}/files/{name}        one file; gzip

Behind a workshop token (the one the gateway fetches its offers with) or an API token. Which
workshop owns a token is planning's to say: the composition root hands a lookup over as
`app.state.workshop_of_token` (a port), so this capability imports no other. A wrong token counts
at the workshop tokens' door, as at the offers'. A withdrawn release answers 410 with its reason.
"""

from __future__ import annotations

import gzip
import json
import logging
from typing import Annotated, Callable

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from hub.core.auth import check_token
from hub.core.db import Database
from hub.core.dependencies import client_address, get_database, get_guard, get_rejections, get_settings
from hub.core.lockout import LoginGuard
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings
from hub.release import service
from hub.release.manifest import NAME, VERSION

log = logging.getLogger("sewnet.hub.release")

Db = Annotated[Database, Depends(get_database)]
Rejected = Annotated[Rejections, Depends(get_rejections)]
#: A reader that is not a workshop's gateway (a person with an API token): not recorded as a fetch.
API_READER = ""


def require_gateway(request: Request, settings: Annotated[HubSettings, Depends(get_settings)], rejections: Rejected,
                    guard: Annotated[LoginGuard, Depends(get_guard)]) -> str:
    """`Authorization: Bearer <workshop token or API token>`: the workshop the token belongs to
    (API_READER for an API token). 401 otherwise, 429 for an address that sent too many."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    where = f"{request.method} {request.url.path}"
    if scheme.lower() != "bearer" or not value:
        rejections.add("releases", "no_token", where)
        raise HTTPException(401, "작업장 토큰이 필요합니다 / a workshop token is required: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    client = client_address(request)
    locked = guard.locked_out("workshop", client)
    if locked is not None:
        rejections.add("releases", "locked_out", f"{where}: refused for {locked.retry_after_s} s")
        raise HTTPException(429, locked.message, headers=locked.headers)
    if check_token(value, settings.all_api_tokens()) is not None:
        return API_READER
    owner_of: Callable[[str], str | None] | None = getattr(request.app.state, "workshop_of_token", None)
    owner = owner_of(value) if owner_of is not None else None
    if owner is None:
        guard.failed("workshop", client)
        rejections.add("releases", "bad_token", where)
        raise HTTPException(401, "토큰이 맞지 않습니다 / the token is not valid",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return owner


router = APIRouter(prefix="/api/v1/releases", tags=["releases"],
                   responses={401: {"description": "no token, or not a valid one"},
                              429: {"description": "too many wrong tokens from this address"}})
Reader = Annotated[str, Depends(require_gateway)]


def _body(request: Request, body: bytes, media_type: str, headers: dict[str, str] | None = None) -> Response:
    headers = {"Vary": "Accept-Encoding", **(headers or {})}
    # Python source shrinks to about a third: the LTE link is paid by the byte.
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = gzip.compress(body, compresslevel=9, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return any(tag.strip().removeprefix("W/").strip('"') in (etag, "*") for tag in header.split(","))


@router.get("", summary="The published releases (conditional: 304 when nothing changed)")
async def release_index(request: Request, db: Db, _reader: Reader):
    """Published releases newest first (`releases`: version, manifest_sha256, key_id, files, bytes,
    min_bootloader, published_at) and withdrawn ones (`withdrawn`: version, reason, withdrawn_at).
    `If-None-Match` with the last ETag answers 304 with no body while nothing changed."""
    def read():
        with db.session() as session:
            return service.index(session)

    doc, etag = await anyio.to_thread.run_sync(read)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return _body(request, body, "application/json", headers)


def _unknown(rejections: Rejections, request: Request, what: str) -> JSONResponse:
    rejections.add("releases", "not_found", f"{request.method} {request.url.path}")
    return JSONResponse({"error": "not_found", "ko": f"없는 {what}입니다", "en": f"no such {what}"}, status_code=404)


def _withdrawn(version: str) -> JSONResponse:
    return JSONResponse({"error": "withdrawn", "ko": f"{version} 버전은 허브가 철회했습니다",
                         "en": f"the hub withdrew version {version}"}, status_code=410)


@router.get("/{version}/{what}", summary="A release's manifest.json (as signed) or manifest.sig")
def release_manifest(version: str, what: str, request: Request, db: Db, rejections: Rejected, reader: Reader):
    if what not in ("manifest.json", "manifest.sig") or not VERSION.fullmatch(version):
        return _unknown(rejections, request, "release")
    with db.session() as session:
        found = service.manifest(session, version)
        if found is not None and not found[2] and what == "manifest.json" and reader != API_READER:
            service.record_fetch(session, version, reader)
    if found is None:
        return _unknown(rejections, request, "release")
    data, sig, withdrawn = found
    if withdrawn:
        return _withdrawn(version)
    if what == "manifest.sig":
        return Response(sig.encode() + b"\n", media_type="text/plain")
    return _body(request, data, "application/json")


@router.get("/{version}/files/{name}", summary="One file of a release")
def release_file(version: str, name: str, request: Request, db: Db, rejections: Rejected, _reader: Reader):
    if not VERSION.fullmatch(version) or not NAME.fullmatch(name):
        return _unknown(rejections, request, "file")
    with db.session() as session:
        found = service.manifest(session, version)
        data = service.file_data(session, version, name) if found is not None else None
    if found is not None and found[2]:
        return _withdrawn(version)
    if data is None:
        return _unknown(rejections, request, "file")
    return _body(request, data, "application/octet-stream")
