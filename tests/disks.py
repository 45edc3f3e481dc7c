"""A real small filesystem to fill up: a tmpfs of a few MB mounted for one test.

A full disk is tested for real, not mocked: the kernel answers ENOSPC to SQLite's own writes (of
the database, its WAL and its shared memory file) exactly as a full SD card would, at whatever
instant it happens. Mounting needs root (or CAP_SYS_ADMIN); where the tests cannot mount, they
are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def small_filesystem(where: Path, size_bytes: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int = 0) -> Path:
    """Fill the filesystem of `path` with a ballast file until at most `leave` bytes are free."""
    ballast = path / "ballast"
    with open(ballast, "ab", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            while free_bytes(path) - chunk >= leave:
                try:
                    f.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    assert free_bytes(path) <= max(leave, 0) + 4096
    return ballast


def rows_on_disk(path: Path) -> int:
    """Outbox rows in the file, as a second reader sees them (not what the store hands out)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()
