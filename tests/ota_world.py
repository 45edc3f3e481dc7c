"""Shared pieces of the OTA tests: a release key, releases made from a copy of the firmware with
another FW_VERSION (and, for some tests, a change), the gateway's OTA store and web server."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

from hub.release import (build_manifest, firmware_bootloader, generate_key, release_files, sign_manifest,
                         load_private_key, write_release)

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
#: The version a freshly flashed board runs; test releases take other numbers (9.x) so a shipped
#: bump (0.2.0 came with contract v2) never makes a "new" release the board already has.
SHIPPED = re.search(r'^FW_VERSION = "([^"]*)"', (FIRMWARE / "sn_app.py").read_text(), re.M).group(1)


def firmware_copy(dest: Path, version: str, edit=None) -> Path:
    """The shipped firmware with FW_VERSION = version; `edit(folder)` may change files."""
    shutil.copytree(FIRMWARE, dest)
    app = dest / "sn_app.py"
    text, n = re.subn(r'^FW_VERSION = "[^"]*"', f'FW_VERSION = "{version}"', app.read_text(), count=1, flags=re.M)
    assert n == 1
    app.write_text(text)
    if edit is not None:
        edit(dest)
    return dest


def make_release(tmp: Path, key_file: Path, version: str, *, edit=None, min_bootloader: int | None = None,
                 health_s: int = 300) -> Path:
    fw = firmware_copy(tmp / f"fw-{version}", version, edit)
    boot = firmware_bootloader(fw) if min_bootloader is None else min_bootloader
    manifest = build_manifest(release_files(fw), version, boot, health_s)
    data, sig = sign_manifest(load_private_key(key_file), manifest)
    return write_release(tmp / f"release-{version}", data, sig, fw)


def new_key(folder: Path) -> tuple[Path, str]:
    key = folder / "release.key"
    return key, generate_key(key)


def tamper_file(ota_db: Path, version: str, name: str, change) -> None:
    """Changes a kept release file in the gateway's store, as a damaged disk or an attacker would."""
    with sqlite3.connect(ota_db) as db:
        (data,) = db.execute("SELECT data FROM release_files WHERE version=? AND name=?", (version, name)).fetchone()
        db.execute("UPDATE release_files SET data=? WHERE version=? AND name=?", (change(bytes(data)), version, name))


def tamper_signature(ota_db: Path, version: str) -> None:
    with sqlite3.connect(ota_db) as db:
        (sig,) = db.execute("SELECT signature FROM releases WHERE version=?", (version,)).fetchone()
        flipped = ("0" if sig[10] != "0" else "1")
        db.execute("UPDATE releases SET signature=? WHERE version=?", (sig[:10] + flipped + sig[11:], version))


# One workshop in the hub's registry, the fewest cells `sewnet registry import workshops` takes.
WORKSHOPS_CSV = (
    "id,name_ko,name_en,dong,address_ko,address_en,lat,lon,operators,area_m2,families,opens,closes,lunch_start,"
    "lunch_minutes,workdays,min_order_pieces,takes_samples,declared_efficiency,price_per_sam_minute_krw,price_level,"
    "on_time_rate,orders_delivered,contact_channel,contact_phone\n"
    "{workshop},창신 봉제,,changsin,서울특별시 종로구 창신동 1,,37.576581,127.009444,4,30,knit_tops,09:00,19:00,"
    "12:00,60,mon;tue;wed;thu;fri,0,0,0.55,300,2,0.90,0,phone,\n")


def workshop_token(database_url: str, workshop: str) -> str:
    """The workshop put in the hub's registry and a token issued for its gateway (as
    `sewnet registry import workshops` and `sewnet hub workshop-token issue` do)."""
    from hub import registry
    from hub.core.db import Database
    from hub.planning import offers

    db = Database(database_url)
    try:
        with db.session() as session:
            if registry.workshop(session, workshop) is None:
                report = registry.import_csv(session, "workshops", WORKSHOPS_CSV.format(workshop=workshop))
                assert report.ok, report.summary()
            return offers.issue_workshop_token(session, workshop)
    finally:
        db.close()
