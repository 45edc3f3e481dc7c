"""Published firmware releases: what the hub offers the gateways (issue 10 §2). Plain Python over a
session (the caller's transaction); no web.

    publish(session, manifest_bytes, signature, blobs, public_key)  # checked whole, then kept once
    index(session)                       # (the gateways' document, its ETag): what is offered, what was withdrawn
    manifest(session, version)           # (canonical bytes, signature) or None
    file_data(session, version, name)    # the file's bytes or None
    withdraw(session, version, reason)   # gateways hear of it on their next check
    releases(session)                    # the operator's list, with where each went

A version is published once and never changes: a gateway compares the index's `manifest_sha256`
with what it keeps, and what it keeps is byte for byte what was signed. Publishing the same
release again changes nothing; another release under a published (or withdrawn) version is
refused, since boards and gateways already know that version as something else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.db import utc
from hub.release.manifest import ReleaseError
from hub.release.tables import Release, ReleaseFetch, ReleaseFile

__all__ = ["INDEX_FORMAT", "INDEX_MAX_RELEASES", "Published", "file_data", "index", "manifest", "publish",
           "publish_folder", "record_fetch", "releases", "withdraw"]

INDEX_FORMAT = 1
#: The newest this many published releases (and withdrawn ones) are in the index: a gateway takes
#: the newest, the rest tell it which versions the hub still stands behind.
INDEX_MAX_RELEASES = 20
REASON_MAX = 300


@dataclass(frozen=True)
class Published:
    version: str
    files: int
    bytes: int
    manifest_sha256: str
    key_id: str
    new: bool  # False: the same release was already published


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(t: datetime | None) -> str | None:
    return utc(t).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def publish(session: Session, data: bytes, signature: str, blobs: dict[str, bytes], public_key,
            now: datetime | None = None) -> Published:
    """Keep a release the gateways may fetch: its signature must be the hub's release key's (the
    key gateways and boards trust), every file must match the signed manifest, and its version
    must be new or this very release. ReleaseError with the reason otherwise."""
    from hub.release.keys import check_files, key_id, verify_manifest

    m = verify_manifest(public_key, data, signature)
    check_files(m, blobs)
    sha = hashlib.sha256(data).hexdigest()
    size = sum(f["size"] for f in m["files"])
    kid = key_id(public_key)
    existing = session.get(Release, m["version"])
    if existing is not None:
        if existing.withdrawn_at is not None:
            raise ReleaseError(f"version {m['version']} was withdrawn ({existing.withdrawn_reason}): publish the fix "
                               "under a new version (FW_VERSION in sn_app.py)")
        if existing.manifest_sha256 != sha:
            raise ReleaseError(f"version {m['version']} is published already with other files: a version is "
                               "published once, so give the new one its own FW_VERSION")
        return Published(m["version"], len(m["files"]), size, sha, kid, new=False)
    session.add(Release(version=m["version"], manifest=data, signature=signature.strip(), manifest_sha256=sha,
                        key_id=kid, files=len(m["files"]), bytes=size, min_bootloader=m["min_bootloader"],
                        published_at=now or _now()))
    session.flush()
    for f in m["files"]:
        session.add(ReleaseFile(version=m["version"], name=f["name"], size=f["size"], sha256=f["sha256"],
                                data=blobs[f["name"]]))
    session.flush()
    return Published(m["version"], len(m["files"]), size, sha, kid, new=True)


def publish_folder(session: Session, folder: Path, public_key, now: datetime | None = None) -> Published:
    """A release folder (`sewnet hub release sign --out DIR`: manifest.json, manifest.sig, files/)."""
    from hub.release.keys import read_release

    _, data, sig, blobs = read_release(folder, public_key)
    return publish(session, data, sig, blobs, public_key, now)


def withdraw(session: Session, version: str, reason: str, now: datetime | None = None) -> bool:
    """Take a release back: it leaves the index's offer and is listed as withdrawn, so gateways
    stop offering it to their boards. False when it was withdrawn already."""
    row = session.get(Release, version)
    if row is None:
        raise ReleaseError(f"no published release {version}")
    reason = " ".join(reason.split())[:REASON_MAX]
    if not reason:
        raise ReleaseError("say why it is withdrawn: the gateways' operators read it")
    if row.withdrawn_at is not None:
        return False
    row.withdrawn_at, row.withdrawn_reason = now or _now(), reason
    session.flush()
    return True


def index(session: Session) -> tuple[dict, str]:
    """The gateways' document and its ETag (without quotes): the published releases, newest first,
    and the withdrawn ones. The ETag covers everything in it, so an unchanged index is a 304."""
    live = session.scalars(select(Release).where(Release.withdrawn_at.is_(None))
                           .order_by(Release.published_at.desc(), Release.version.desc())
                           .limit(INDEX_MAX_RELEASES))
    gone = session.scalars(select(Release).where(Release.withdrawn_at.is_not(None))
                           .order_by(Release.withdrawn_at.desc(), Release.version.desc())
                           .limit(INDEX_MAX_RELEASES))
    doc = {
        "format": INDEX_FORMAT,
        "releases": [{"version": r.version, "manifest_sha256": r.manifest_sha256, "key_id": r.key_id,
                      "files": r.files, "bytes": r.bytes, "min_bootloader": r.min_bootloader,
                      "published_at": _iso(r.published_at)} for r in live],
        "withdrawn": [{"version": r.version, "manifest_sha256": r.manifest_sha256, "reason": r.withdrawn_reason,
                       "withdrawn_at": _iso(r.withdrawn_at)} for r in gone],
    }
    etag = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]
    return doc, etag


def manifest(session: Session, version: str) -> tuple[bytes, str, bool] | None:
    """(canonical manifest bytes, signature hex, withdrawn) of a published version, or None."""
    row = session.get(Release, version)
    if row is None:
        return None
    return bytes(row.manifest), row.signature, row.withdrawn_at is not None


def file_data(session: Session, version: str, name: str) -> bytes | None:
    row = session.get(ReleaseFile, (version, name))
    return bytes(row.data) if row is not None else None


def record_fetch(session: Session, version: str, workshop_id: str, now: datetime | None = None) -> None:
    """A workshop's gateway took the release's manifest: remembered for the operator's list."""
    now = now or _now()
    row = session.get(ReleaseFetch, (version, workshop_id))
    if row is None:
        session.add(ReleaseFetch(version=version, workshop_id=workshop_id, first_at=now, last_at=now, count=1))
    else:
        row.last_at, row.count = now, row.count + 1
    session.flush()


def releases(session: Session) -> list[dict]:
    """Every published release, newest first, with the workshops whose gateways fetched it."""
    fetched: dict[str, list[str]] = {}
    for f in session.scalars(select(ReleaseFetch).order_by(ReleaseFetch.first_at)):
        fetched.setdefault(f.version, []).append(f.workshop_id)
    return [{"version": r.version, "files": r.files, "bytes": r.bytes, "min_bootloader": r.min_bootloader,
             "manifest_sha256": r.manifest_sha256, "key_id": r.key_id, "published_at": _iso(r.published_at),
             "withdrawn_at": _iso(r.withdrawn_at), "withdrawn_reason": r.withdrawn_reason,
             "fetched_by": fetched.get(r.version, [])}
            for r in session.scalars(select(Release).order_by(Release.published_at.desc(), Release.version.desc()))]
