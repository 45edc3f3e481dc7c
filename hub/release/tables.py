"""The hub's published firmware releases (migration 0007). Private to hub.release: read through
hub.release.service.

- `release_releases`: one row per published version: the manifest's canonical bytes exactly as
  signed, the signature, the SHA-256 of those bytes (what a gateway compares before it downloads
  anything), who signed it (`key_id`), sizes, when it was published and, once the hub takes it
  back, when and why it was withdrawn. A version is published once: its bytes never change, so a
  gateway that kept it keeps the same thing the hub has.
- `release_files`: each file of a release, whole (at most 32 files of 96 KiB: firmware/sn_ota.py).
- `release_fetches`: which workshop's gateway fetched which release, first and last time, so the
  hub can say where a release has gone (and where it has not).

Portable types only (hub.core.db); LargeBinary is BYTEA on PostgreSQL and BLOB on SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base


class Release(Base):
    __tablename__ = "release_releases"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(String(128))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(12))
    files: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    min_bootloader: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_reason: Mapped[str | None] = mapped_column(String(300))


class ReleaseFile(Base):
    __tablename__ = "release_files"

    version: Mapped[str] = mapped_column(ForeignKey("release_releases.version", ondelete="CASCADE"),
                                         primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ReleaseFetch(Base):
    __tablename__ = "release_fetches"

    version: Mapped[str] = mapped_column(ForeignKey("release_releases.version", ondelete="CASCADE"),
                                         primary_key=True)
    workshop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer)
