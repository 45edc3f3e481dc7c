"""The release manifest, pure logic: which firmware files a release holds, their sizes and SHA-256,
its version and the boot layer it needs, as canonical JSON bytes (what is signed and what the
board parses). The board applies the same rules again (firmware/sn_ota.py, `check_manifest`)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

FORMAT = 1
KIND = "sewnet-firmware"
#: Never shipped over the air: the boot layer that recovers a board from a bad update, the trust
#: anchor, the board's own state and configuration (firmware/sn_boot.py, PROTECTED).
PROTECTED = frozenset({"main.py", "boot.py", "sn_boot.py", "release.pub", "sn_state.json", "sn_state.json.tmp",
                       "sewnet.json"})
NAME = re.compile(r"[a-z0-9_]+\.(py|mpy|json)")
FILE_MAX = 96 * 1024       # the board's limit per file (sn_ota.FILE_MAX)
FILES_MAX = 32
MANIFEST_MAX = 8192        # the board reads at most this much manifest
HEALTH_S = (5, 3600)
VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}")
_FW_VERSION = re.compile(r'^FW_VERSION\s*=\s*"([^"]+)"', re.M)
_BOOTLOADER = re.compile(r"^BOOTLOADER\s*=\s*(\d+)", re.M)


class ReleaseError(ValueError):
    """A release that must not be made or taken; the message says why in plain words."""


def _declared(firmware_dir: Path, file: str, line: re.Pattern, shape: str) -> str:
    """What the firmware folder's `file` declares on its `line`, or why it cannot be read."""
    try:
        m = line.search((Path(firmware_dir) / file).read_text(encoding="utf-8"))
    except OSError as e:
        raise ReleaseError(f"{firmware_dir}: no {file} ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ReleaseError(f"{firmware_dir}/{file}: not UTF-8 text") from None
    if not m:
        raise ReleaseError(f"{firmware_dir}/{file}: no {shape} line")
    return m.group(1)


def firmware_version(firmware_dir: Path) -> str:
    """The version the application reports (FW_VERSION in sn_app.py): a release is named by it, so
    the version a board reports is the version it runs."""
    return _declared(firmware_dir, "sn_app.py", _FW_VERSION, 'FW_VERSION = "..."')


def firmware_bootloader(firmware_dir: Path) -> int:
    """The boot layer version in the folder's sn_boot.py (what its application files expect)."""
    return int(_declared(firmware_dir, "sn_boot.py", _BOOTLOADER, "BOOTLOADER = N"))


def release_files(firmware_dir: Path) -> list[Path]:
    """The firmware folder's files that travel over the air (every .py but the boot layer)."""
    files = sorted(p for p in Path(firmware_dir).iterdir()
                   if p.is_file() and p.suffix in (".py", ".mpy") and p.name not in PROTECTED)
    if not files:
        raise ReleaseError(f"{firmware_dir}: no firmware files")
    return files


def build_manifest(files: list[Path], version: str, min_bootloader: int, health_s: int = 300,
                   created: datetime | None = None) -> dict:
    files = sorted(files, key=lambda p: p.name)
    entries = []
    for p in files:
        data = p.read_bytes()
        entries.append({"name": p.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    m = {
        "format": FORMAT,
        "kind": KIND,
        "version": version,
        "min_bootloader": min_bootloader,
        "health_s": health_s,
        "created": (created or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": entries,
    }
    check_manifest(m)
    return m


def manifest_bytes(manifest: dict) -> bytes:
    """Canonical JSON: the bytes that are signed, served and parsed on the board."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def check_manifest(m: object) -> dict:
    """The rules a board applies, checked before signing and when a gateway takes a release."""
    if not isinstance(m, dict) or m.get("format") != FORMAT or m.get("kind") != KIND:
        raise ReleaseError("not a SewNet firmware manifest (format 1)")
    v = m.get("version")
    if not isinstance(v, str) or not VERSION.fullmatch(v):
        raise ReleaseError(f"version {v!r}: letters, digits and . + _ -, at most 32")
    b = m.get("min_bootloader")
    if isinstance(b, bool) or not isinstance(b, int) or b < 1:
        raise ReleaseError("min_bootloader must be a whole number from 1")
    h = m.get("health_s")
    if isinstance(h, bool) or not isinstance(h, int) or not HEALTH_S[0] <= h <= HEALTH_S[1]:
        raise ReleaseError(f"health_s must be {HEALTH_S[0]}..{HEALTH_S[1]} seconds")
    files = m.get("files")
    if not isinstance(files, list) or not 1 <= len(files) <= FILES_MAX:
        raise ReleaseError(f"a release holds 1..{FILES_MAX} files")
    names = set()
    for f in files:
        name = f.get("name") if isinstance(f, dict) else None
        if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > 40 or name in PROTECTED:
            raise ReleaseError(f"file {name!r} cannot travel over the air")
        if name in names:
            raise ReleaseError(f"file {name} is listed twice")
        names.add(name)
        size, sha = f.get("size"), f.get("sha256")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= FILE_MAX:
            raise ReleaseError(f"{name}: {size} bytes, a board takes at most {FILE_MAX}")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ReleaseError(f"{name}: sha256 must be 64 lowercase hex digits")
    if len(manifest_bytes(m)) > MANIFEST_MAX:
        raise ReleaseError(f"the manifest is over the {MANIFEST_MAX} bytes a board reads")
    return m
