"""Over-the-air updates and remote configuration for the workshop's boards (issue 10 §2).

The gateway keeps the hub's signed releases (checked against the hub's release key when they are
added: `sewnet gateway release add DIR`), serves them to its boards on the LAN, and runs a
rollout: one board first, the rest once it reports healthy, none after a failure. Device
configuration (interval, filters) goes down the same check; the board validates it with the
firmware's own rules and says why when it refuses (firmware/sn_ota.py is the other side).

Everything lives in its own SQLite file (`data_dir/ota.sqlite`): releases with their files,
what each board last reported, rollouts and their boards, configurations, the boards' events.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger("sewnet.gateway.ota")

#: What a board lets be set over the air (firmware/sn_ota.py, REMOTE_KEYS).
REMOTE_KEYS = ("interval_ms", "filter_ns", "lockout_us", "state_save_ms", "keepalive_s")
VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}")
FILE_NAME = re.compile(r"[a-z0-9_]+\.(py|mpy|json)")
EVENT_RESULTS = ("installed", "refused", "rolled_back")
FILES_MAX = 32              # as the board (firmware/sn_ota.py) and the hub (hub/release/manifest.py)
FILE_MAX = 96 * 1024
CHECK_BODY_MAX = 16 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (version TEXT PRIMARY KEY, manifest BLOB NOT NULL, signature TEXT NOT NULL,
    files INTEGER NOT NULL, bytes INTEGER NOT NULL, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS release_files (version TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (version, name));
CREATE TABLE IF NOT EXISTS boards (device TEXT PRIMARY KEY, firmware TEXT, bootloader INTEGER, config_id TEXT,
    trial INTEGER NOT NULL DEFAULT 0, last_check REAL, checks INTEGER NOT NULL DEFAULT 0,
    bytes_served INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rollouts (id INTEGER PRIMARY KEY, version TEXT NOT NULL, first_device TEXT NOT NULL,
    state TEXT NOT NULL, reason TEXT, started_at REAL NOT NULL, ended_at REAL);
CREATE TABLE IF NOT EXISTS rollout_boards (rollout INTEGER NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL,
    reason TEXT, offered_at REAL, done_at REAL, bytes INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (rollout, device));
CREATE TABLE IF NOT EXISTS configs (device TEXT PRIMARY KEY, id TEXT NOT NULL, vals TEXT NOT NULL,
    state TEXT NOT NULL, reason TEXT, set_at REAL NOT NULL, done_at REAL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, device TEXT NOT NULL, at REAL NOT NULL, kind TEXT,
    version TEXT, rollout TEXT, result TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS hub_releases (id INTEGER PRIMARY KEY CHECK (id = 1), etag TEXT, checked_at REAL,
    changed_at REAL);
CREATE TABLE IF NOT EXISTS release_refusals (version TEXT NOT NULL, manifest_sha256 TEXT NOT NULL,
    key_id TEXT NOT NULL, reason_ko TEXT NOT NULL, reason_en TEXT NOT NULL, first_at REAL NOT NULL,
    last_at REAL NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (version, manifest_sha256));
CREATE TABLE IF NOT EXISTS hub_withdrawn (version TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, reason TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (version, manifest_sha256));
"""
#: Columns added to `releases` since its first version, for a store made before them: where the
#: release came from ('folder': `sewnet gateway release add`; 'hub': fetched), the SHA-256 of its
#: manifest (the hub's index names a release by it) and, once the hub withdrew it, why.
_RELEASE_COLUMNS = {"source": "TEXT NOT NULL DEFAULT 'folder'", "manifest_sha256": "TEXT", "withdrawn": "TEXT"}
#: A release refused for the same bytes and the same trusted key is not fetched again before this:
#: the hub does not change a published version, so the answer would be the same.
REFUSED_RETRY_S = 86400.0


class OtaError(ValueError):
    """Refused with a reason a person can act on: (Korean, English)."""

    def __init__(self, ko: str, en: str):
        super().__init__(en)
        self.ko, self.en = ko, en


def load_release_key(path: Path) -> Ed25519PublicKey:
    """The hub's release public key: 64 hex digits (`sewnet hub release keygen` writes KEY.pub)."""
    try:
        raw = bytes.fromhex(Path(path).read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise OtaError("릴리스 키 파일을 읽을 수 없습니다", f"cannot read the release key {path}: {e}") from None
    if len(raw) != 32:
        raise OtaError("릴리스 키는 16진수 64자리입니다", f"{path}: a release key is 64 hex digits")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The first 12 hex digits of the SHA-256 of the raw public key: the hub names the key it signs
    with the same way (hub.release.keys.key_id), so a refusal can say which key signed what."""
    return hashlib.sha256(key.public_bytes_raw()).hexdigest()[:12]


def verify_manifest(key: Ed25519PublicKey, data: bytes, sig: str) -> dict:
    """The manifest, once its signature is the hub's release key's over the SHA-256 of these exact
    bytes and it is a format 1 firmware manifest whose file names may travel."""
    try:
        key.verify(bytes.fromhex(sig.strip()), hashlib.sha256(data).digest())
    except (ValueError, InvalidSignature):
        raise OtaError("서명이 허브의 릴리스 키와 맞지 않습니다 (다른 곳에서 왔거나 바뀐 파일)",
                       "the signature does not match the hub's release key (not the hub's, or altered)") from None
    try:
        m = json.loads(data)
        version, files = m["version"], m["files"]
        if m.get("format") != 1 or not VERSION.fullmatch(version) or not isinstance(files, list) \
                or not 1 <= len(files) <= FILES_MAX:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise OtaError("매니페스트 형식이 맞지 않습니다", "the manifest is not a format 1 firmware manifest") from None
    names = set()
    for f in files:
        name = f.get("name") if isinstance(f, dict) else None
        if not isinstance(name, str) or not FILE_NAME.fullmatch(name) or name in names:
            raise OtaError("매니페스트의 파일 이름이 잘못되었습니다", f"file name {name!r} is not allowed")
        names.add(name)
    return m


def check_files(m: dict, blobs: dict[str, bytes]) -> None:
    """Every file the signed manifest lists, each of its size and SHA-256; nothing else."""
    for f in m["files"]:
        name = f["name"]
        blob = blobs.get(name)
        if blob is None:
            raise OtaError(f"파일 {name}이(가) 없습니다", f"files/{name} is missing")
        if len(blob) != f.get("size") or hashlib.sha256(blob).hexdigest() != f.get("sha256"):
            raise OtaError(f"파일 {name}이(가) 서명된 매니페스트와 다릅니다", f"files/{name} does not match the signed manifest")
    extra = set(blobs) - {f["name"] for f in m["files"]}
    if extra:
        raise OtaError("매니페스트에 없는 파일이 있습니다", f"files not in the manifest: {', '.join(sorted(extra))}")


def read_release(folder: Path, key: Ed25519PublicKey) -> tuple[dict, bytes, str, dict[str, bytes]]:
    """A release folder (manifest.json, manifest.sig, files/) checked whole before it is kept:
    the signature over the manifest's SHA-256, then each file's size and SHA-256."""
    folder = Path(folder)
    try:
        data = (folder / "manifest.json").read_bytes()
        sig = (folder / "manifest.sig").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise OtaError("릴리스 폴더에 manifest.json과 manifest.sig가 없습니다",
                       f"{folder}: no manifest.json and manifest.sig") from None
    m = verify_manifest(key, data, sig)
    blobs = {}
    for f in m["files"]:
        try:
            blobs[f["name"]] = (folder / "files" / f["name"]).read_bytes()
        except OSError:
            raise OtaError(f"파일 {f['name']}이(가) 없습니다", f"files/{f['name']} is missing") from None
    check_files(m, blobs)
    return m, data, sig, blobs


def board_password_ok(passwd_file: Path, device: str, password: str) -> bool:
    """The board's MQTT password, checked against the broker's password file (Mosquitto 2's
    `$7$` PBKDF2-SHA512 lines): a board needs no second secret for its updates."""
    from .provision import broker_passwd_has

    return bool(password) and broker_passwd_has(Path(passwd_file), device, password)


@dataclass
class Offer:
    firmware: dict | None
    config: dict | None

    def as_dict(self) -> dict:
        return {"firmware": self.firmware, "config": self.config}


class Ota:
    """The gateway's side of OTA; thread-safe (the web server calls it from worker threads)."""

    def __init__(self, path: Path, release_key: Ed25519PublicKey, *, devices=lambda: [],
                 rollout_timeout_s: float = 1800.0, clock=time.time):
        self.path = Path(path)
        self.key = release_key
        self.devices = devices          # the registered boards, in the registry's order
        self.rollout_timeout_s = rollout_timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        have = {r[1] for r in self._db.execute("PRAGMA table_info(releases)")}
        for column, decl in _RELEASE_COLUMNS.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE releases ADD COLUMN {column} {decl}")
        for version, data in self._db.execute("SELECT version, manifest FROM releases WHERE manifest_sha256 IS NULL")\
                .fetchall():
            self._db.execute("UPDATE releases SET manifest_sha256=? WHERE version=?",
                             (hashlib.sha256(data).hexdigest(), version))
        self.key_id = key_id(release_key)
        self.counts = {"checks": 0, "auth_failed": 0, "bad_requests": 0, "bad_events": 0, "files_served": 0,
                       "bytes_served": 0, "passwd_unreadable": 0}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- releases -----------------------------------------------------------------------------

    def add_release(self, folder: Path) -> dict:
        """A release folder (`sewnet gateway release add`), checked whole, then kept."""
        m, data, sig, blobs = read_release(folder, self.key)
        return self._keep(m, data, sig, blobs, "folder")

    def keep_release(self, data: bytes, sig: str, blobs: dict[str, bytes], source: str = "hub") -> dict:
        """A release fetched from the hub, checked by the same code as a folder (signature, then
        every file's size and SHA-256), then kept."""
        m = verify_manifest(self.key, data, sig)
        check_files(m, blobs)
        return self._keep(m, data, sig.strip(), blobs, source)

    def _keep(self, m: dict, data: bytes, sig: str, blobs: dict[str, bytes], source: str) -> dict:
        sha = hashlib.sha256(data).hexdigest()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            gone = self._db.execute("SELECT reason FROM hub_withdrawn WHERE version=? AND manifest_sha256=?",
                                    (m["version"], sha)).fetchone()
            if gone is not None:
                raise OtaError(f"허브가 이 릴리스를 철회했습니다: {gone[0]}", f"the hub withdrew this release: {gone[0]}")
            self._db.execute("DELETE FROM release_files WHERE version=?", (m["version"],))
            self._db.execute("INSERT OR REPLACE INTO releases (version, manifest, signature, files, bytes, added_at, "
                             "source, manifest_sha256, withdrawn) VALUES (?,?,?,?,?,?,?,?,NULL)",
                             (m["version"], data, sig, len(blobs), sum(map(len, blobs.values())), self.clock(),
                              source, sha))
            self._db.executemany("INSERT INTO release_files VALUES (?,?,?)",
                                 [(m["version"], n, b) for n, b in blobs.items()])
        return m

    def releases(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT version, files, bytes, added_at, source, manifest_sha256, withdrawn "
                                    "FROM releases ORDER BY added_at DESC")
            return [dict(zip(("version", "files", "bytes", "added_at", "source", "manifest_sha256", "withdrawn"), r))
                    for r in rows]

    def release_sha(self, version: str) -> str | None:
        """The SHA-256 of the manifest kept under `version`, or None."""
        with self._lock:
            row = self._db.execute("SELECT manifest_sha256 FROM releases WHERE version=?", (version,)).fetchone()
            return row[0] if row else None

    # -- what the hub publishes (edge_gateway/release_link.py) --------------------------------------

    def hub_state(self) -> dict:
        with self._lock:
            row = self._db.execute("SELECT etag, checked_at, changed_at FROM hub_releases WHERE id=1").fetchone()
        return dict(zip(("etag", "checked_at", "changed_at"), row or (None, None, None)))

    def hub_checked(self, now: float, etag: str | None = None) -> None:
        """The hub answered the release check; with `etag`: its index was handled whole, so the next
        check may be conditional on it."""
        with self._lock, self._db:
            self._db.execute("INSERT INTO hub_releases (id, checked_at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE "
                             "SET checked_at=excluded.checked_at", (now,))
            if etag is not None:
                self._db.execute("UPDATE hub_releases SET etag=?, changed_at=? WHERE id=1", (etag, now))

    def refusal(self, version: str, sha: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT key_id, reason_ko, reason_en, first_at, last_at, count FROM release_refusals"
                                   " WHERE version=? AND manifest_sha256=?", (version, sha)).fetchone()
        return dict(zip(("key_id", "reason_ko", "reason_en", "first_at", "last_at", "count"), row)) if row else None

    def refuse(self, version: str, sha: str, ko: str, en: str) -> int:
        """Remember that the hub's release (version, manifest SHA-256) was refused and why; returns
        how often it has been."""
        now = self.clock()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO release_refusals VALUES (?,?,?,?,?,?,?,1) ON CONFLICT(version, manifest_sha256) DO UPDATE "
                "SET key_id=excluded.key_id, reason_ko=excluded.reason_ko, reason_en=excluded.reason_en, "
                "last_at=excluded.last_at, count=count+1", (version, sha, self.key_id, ko[:300], en[:300], now, now))
            return self._db.execute("SELECT count FROM release_refusals WHERE version=? AND manifest_sha256=?",
                                    (version, sha)).fetchone()[0]

    def refusals(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT version, manifest_sha256, reason_ko, reason_en, first_at, last_at, count "
                                    "FROM release_refusals ORDER BY last_at DESC LIMIT 20").fetchall()
        return [dict(zip(("version", "manifest_sha256", "reason_ko", "reason_en", "first_at", "last_at", "count"), r))
                for r in rows]

    def withdraw(self, version: str, sha: str, reason: str) -> bool:
        """The hub withdrew this release: it is no longer offered, and a rollout of it stops. Only
        the very release the hub names (same manifest) is marked."""
        reason = (reason or "").strip()[:300] or "withdrawn by the hub"
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR IGNORE INTO hub_withdrawn VALUES (?,?,?,?)", (version, sha, reason, self.clock()))
            changed = self._db.execute("UPDATE releases SET withdrawn=? WHERE version=? AND manifest_sha256=? AND "
                                       "withdrawn IS NULL", (reason, version, sha)).rowcount
            active = self._active()
            if changed and active is not None and active[1] == version:
                self._stop(active[0], f"the hub withdrew {version}: {reason}")
        if changed:
            log.warning("release %s withdrawn by the hub: %s", version, reason)
        return bool(changed)

    def release_blob(self, version: str, what: str, device: str) -> bytes | None:
        """manifest.json, manifest.sig or files/<name>; the bytes count towards the board's."""
        with self._lock:
            if what == "manifest.json":
                row = self._db.execute("SELECT manifest FROM releases WHERE version=?", (version,)).fetchone()
                blob = row[0] if row else None
            elif what == "manifest.sig":
                row = self._db.execute("SELECT signature FROM releases WHERE version=?", (version,)).fetchone()
                blob = row[0].encode() if row else None
            else:
                row = self._db.execute("SELECT data FROM release_files WHERE version=? AND name=?",
                                       (version, what)).fetchone()
                blob = row[0] if row else None
            if blob is not None:
                self.counts["files_served"] += 1
                self.counts["bytes_served"] += len(blob)
                self._db.execute("UPDATE boards SET bytes_served = bytes_served + ? WHERE device=?",
                                 (len(blob), device))
                self._db.execute("UPDATE rollout_boards SET bytes = bytes + ? WHERE device=? AND rollout IN "
                                 "(SELECT id FROM rollouts WHERE version=?)", (len(blob), device, version))
            return blob

    # -- rollouts -------------------------------------------------------------------------------

    def start_rollout(self, version: str, first: str | None = None) -> int:
        boards = list(self.devices())
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT withdrawn FROM releases WHERE version=?", (version,)).fetchone()
            if row is None:
                raise OtaError("그 버전은 게이트웨이에 없습니다", f"version {version} is not on this gateway")
            if row[0] is not None:
                raise OtaError(f"허브가 이 버전을 철회했습니다: {row[0]}", f"the hub withdrew this version: {row[0]}")
            if self._active() is not None:
                raise OtaError("이미 업데이트가 진행 중입니다", "an update is already running")
            have = {d: fw for d, fw in self._db.execute("SELECT device, firmware FROM boards")}
            todo = [d for d in boards if have.get(d) != version]
            if not todo:
                raise OtaError("모든 보드가 이미 이 버전입니다", "every board already runs this version")
            if first is None or first not in todo:
                if first is not None and first not in boards:
                    raise OtaError("그 보드는 등록되어 있지 않습니다", f"board {first} is not registered")
                first = first if first in todo else todo[0]
            now = self.clock()
            cur = self._db.execute("INSERT INTO rollouts (version, first_device, state, started_at) VALUES (?,?,?,?)",
                                   (version, first, "first", now))
            rid = cur.lastrowid
            for d in todo:
                self._db.execute("INSERT INTO rollout_boards (rollout, device, state, offered_at) VALUES (?,?,?,?)",
                                 (rid, d, "offered" if d == first else "waiting", now if d == first else None))
        log.info("rollout %d of %s: %s first, then %d more", rid, version, first, len(todo) - 1)
        return rid

    def stop_rollout(self, reason_en: str = "stopped by the operator") -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            r = self._active()
            if r is not None:
                self._stop(r[0], reason_en)

    def _active(self):
        return self._db.execute("SELECT id, version, first_device, state FROM rollouts "
                                "WHERE state IN ('first', 'rest') ORDER BY id DESC LIMIT 1").fetchone()

    def _stop(self, rid: int, reason: str) -> None:
        self._db.execute("UPDATE rollouts SET state='stopped', reason=?, ended_at=? WHERE id=?",
                         (reason, self.clock(), rid))
        self._db.execute("UPDATE rollout_boards SET state='stopped' WHERE rollout=? AND state='waiting'", (rid,))
        log.warning("rollout %d stopped: %s", rid, reason)

    def _board_done(self, rid: int, device: str, ok: bool, reason: str | None) -> None:
        r = self._db.execute("SELECT version, first_device, state FROM rollouts WHERE id=?", (rid,)).fetchone()
        rb = self._db.execute("SELECT state FROM rollout_boards WHERE rollout=? AND device=?", (rid, device)).fetchone()
        if r is None or rb is None or rb[0] not in ("offered", "waiting"):
            return
        now = self.clock()
        self._db.execute("UPDATE rollout_boards SET state=?, reason=?, done_at=? WHERE rollout=? AND device=?",
                         ("installed" if ok else "failed", reason, now, rid, device))
        if r[2] not in ("first", "rest"):
            return
        if not ok:
            self._stop(rid, f"{device}: {reason}")
            return
        if r[2] == "first" and device == r[1]:
            # The first board runs the new version and delivered a summary: the rest may follow.
            self._db.execute("UPDATE rollouts SET state='rest' WHERE id=?", (rid,))
            self._db.execute("UPDATE rollout_boards SET state='offered', offered_at=? WHERE rollout=? AND "
                             "state='waiting'", (now, rid))
        left = self._db.execute("SELECT COUNT(*) FROM rollout_boards WHERE rollout=? AND state IN "
                                "('offered', 'waiting')", (rid,)).fetchone()[0]
        if left == 0:
            self._db.execute("UPDATE rollouts SET state='done', ended_at=? WHERE id=?", (now, rid))

    def _expire(self) -> None:
        r = self._active()
        if r is None:
            return
        limit = self.clock() - self.rollout_timeout_s
        late = self._db.execute("SELECT device FROM rollout_boards WHERE rollout=? AND state='offered' AND "
                                "offered_at < ?", (r[0], limit)).fetchall()
        for (device,) in late:
            self._board_done(r[0], device, False,
                             f"no healthy report within {int(self.rollout_timeout_s // 60)} min")

    # -- configuration --------------------------------------------------------------------------

    def set_config(self, devices: list[str], values: dict[str, int]) -> str:
        """Offer `values` to `devices`; the board checks them with its own rules. Returns the id."""
        if not values:
            raise OtaError("바꿀 값을 하나 이상 적으세요", "give at least one value to change")
        for k, v in values.items():
            if k not in REMOTE_KEYS:
                raise OtaError(f"{k}은(는) 원격으로 바꿀 수 없습니다", f"{k} cannot be set over the air")
            if isinstance(v, bool) or not isinstance(v, int):
                raise OtaError("값은 정수여야 합니다", f"{k} must be a whole number")
        known = set(self.devices())
        for d in devices:
            if d not in known:
                raise OtaError("그 보드는 등록되어 있지 않습니다", f"board {d} is not registered")
        now = self.clock()
        cid = "c" + hashlib.sha256(json.dumps([sorted(values.items()), now]).encode()).hexdigest()[:10]
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for d in devices:
                self._db.execute("INSERT OR REPLACE INTO configs (device, id, vals, state, set_at) VALUES "
                                 "(?,?,?,?,?)", (d, cid, json.dumps(values, sort_keys=True), "offered", now))
        return cid

    # -- the boards' check ---------------------------------------------------------------------------

    def check(self, device: str, body: dict) -> Offer:
        """A board's report (versions, events) in, what it should run out."""
        fw, boot, cfg_id = body.get("firmware"), body.get("bootloader"), body.get("config")
        events = body.get("events") or []
        if not isinstance(fw, str) or not VERSION.fullmatch(fw) or isinstance(boot, bool) or not isinstance(boot, int) \
                or not isinstance(events, list) or len(events) > 32:
            raise OtaError("보드의 보고 형식이 맞지 않습니다", "the board's report is not in the expected form")
        now = self.clock()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self.counts["checks"] += 1
            self._db.execute(
                "INSERT INTO boards (device, firmware, bootloader, config_id, trial, last_check, checks) "
                "VALUES (?,?,?,?,?,?,1) ON CONFLICT(device) DO UPDATE SET firmware=excluded.firmware, "
                "bootloader=excluded.bootloader, config_id=excluded.config_id, trial=excluded.trial, "
                "last_check=excluded.last_check, checks=checks+1",
                (device, fw, boot, cfg_id if isinstance(cfg_id, str) else None, int(bool(body.get("trial"))), now))
            for ev in events:
                self._event(device, ev, now)
            active = self._active()
            if active is not None and fw == active[1] and not body.get("trial"):
                self._board_done(active[0], device, True, None)     # already on it (a lost event)
            self._expire()
            return self._offer(device)

    def _event(self, device: str, ev: object, now: float) -> None:
        if not isinstance(ev, dict) or ev.get("result") not in EVENT_RESULTS:
            # The rest of the report still counts; this one is only counted (a firmware's fault).
            self.counts["bad_events"] += 1
            return
        kind, version, rollout = ev.get("kind"), str(ev.get("version"))[:40], ev.get("rollout")
        reason = str(ev.get("reason") or "")[:300] or None
        self._db.execute("INSERT INTO events (device, at, kind, version, rollout, result, reason) VALUES "
                         "(?,?,?,?,?,?,?)", (device, now, str(kind)[:20], version, str(rollout)[:20], ev["result"],
                                             reason))
        if kind == "firmware" and isinstance(rollout, str) and rollout.isdigit():
            ok = ev["result"] == "installed"
            self._board_done(int(rollout), device, ok, None if ok else (reason or ev["result"]))
        elif kind == "config":
            state = {"installed": "applied", "refused": "refused", "rolled_back": "rolled_back"}[ev["result"]]
            self._db.execute("UPDATE configs SET state=?, reason=?, done_at=? WHERE device=? AND id=?",
                             (state, reason, now, device, version))

    def _offer(self, device: str) -> Offer:
        firmware = None
        active = self._active()
        if active is not None:
            rb = self._db.execute("SELECT state FROM rollout_boards WHERE rollout=? AND device=?",
                                  (active[0], device)).fetchone()
            if rb is not None and rb[0] == "offered":
                v = active[1]
                base = f"/ota/v1/releases/{v}/"
                firmware = {"version": v, "rollout": str(active[0]), "manifest": base + "manifest.json",
                            "signature": base + "manifest.sig", "files": base + "files/"}
        config = None
        row = self._db.execute("SELECT id, vals FROM configs WHERE device=? AND state='offered'", (device,)).fetchone()
        if row is not None:
            config = {"id": row[0], "values": json.loads(row[1])}
        return Offer(firmware, config)

    # -- the operator's view ---------------------------------------------------------------------------

    def view(self) -> dict:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._expire()
            boards = {r[0]: dict(zip(("device", "firmware", "bootloader", "config_id", "trial", "last_check",
                                      "checks", "bytes_served"), r))
                      for r in self._db.execute("SELECT device, firmware, bootloader, config_id, trial, last_check,"
                                                " checks, bytes_served FROM boards")}
            configs = {r[0]: dict(zip(("device", "id", "values", "state", "reason", "set_at", "done_at"), r))
                       for r in self._db.execute("SELECT device, id, vals, state, reason, set_at, done_at FROM configs")}
            r = self._db.execute("SELECT id, version, first_device, state, reason, started_at, ended_at FROM rollouts "
                                 "ORDER BY id DESC LIMIT 1").fetchone()
            rollout = None
            if r is not None:
                rollout = dict(zip(("id", "version", "first_device", "state", "reason", "started_at", "ended_at"), r))
                rollout["boards"] = [dict(zip(("device", "state", "reason", "offered_at", "done_at", "bytes"), b))
                                     for b in self._db.execute(
                                         "SELECT device, state, reason, offered_at, done_at, bytes FROM rollout_boards"
                                         " WHERE rollout=? ORDER BY device", (r[0],))]
        for c in configs.values():
            c["values"] = json.loads(c["values"])
        return {"boards": boards, "configs": configs, "rollout": rollout, "releases": self.releases(),
                "refusals": self.refusals(), "hub": self.hub_state(), "counts": dict(self.counts)}
