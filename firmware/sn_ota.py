# sn_ota: over-the-air updates and remote configuration, the application's side (an asyncio
# task). Every ota_poll_s the board asks the workshop gateway (HTTP on the LAN, the gateway's
# operator-page port ota_port, the broker's host; Basic auth with the board's MQTT credentials)
# what it should run, and tells it what happened since (events kept on flash until the gateway
# has them):
#
#   POST /ota/v1/boards/{device}/check  {"firmware", "bootloader", "config", "trial", "events"}
#     -> {"firmware": {"version", "rollout", "manifest", "signature", "files"} | null,
#         "config": {"id", "values"} | null}
#
# A firmware offer: the manifest and its signature are fetched and checked (Ed25519 over the
# manifest's SHA-256 with the hub's release key in release.pub, sn_sig; then version, boot layer,
# file names and sizes), each changed file is streamed into ota/new/ and checked against its
# size and SHA-256, and only when all are there the boot layer is told (sn_boot.stage_done) and
# the board resets. Any failure leaves the running version alone and is reported with its reason.
#
# A configuration offer (interval, filters: REMOTE_KEYS) is merged into sewnet.json and checked
# by the firmware's own sn_config.check before it is staged the same way.
#
# After either, the new version is on trial: it confirms (sn_boot.confirm) once a summary has
# been delivered, else the boot layer rolls it back by itself.

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio
import binascii
import hashlib
import json
import os

import sn_boot
import sn_config
import sn_mqtt
import sn_sig

KEY_FILE = "release.pub"
REMOTE_KEYS = ("interval_ms", "filter_ns", "lockout_us", "state_save_ms", "keepalive_s")
CONFIG_ID_KEY = "_config"            # a comment key in sewnet.json: which remote config it holds
MANIFEST_MAX = 8192
FILE_MAX = 96 * 1024
FILES_MAX = 32
CHUNK = 1024
TIMEOUT_S = 20
FREE_MARGIN = 16 * 1024


class OtaError(Exception):
    pass


def _hex(b):
    return binascii.hexlify(b).decode()


async def file_sha256(path):
    """The file's SHA-256 (hex), or None when there is no such file. Yields after every chunk: a
    release is up to FILES_MAX files of FILE_MAX bytes, seconds of flash reads, and the sampler
    and MQTT run on meanwhile."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while True:
                b = f.read(CHUNK)
                if not b:
                    break
                h.update(b)
                await asyncio.sleep(0)
    except OSError:
        return None
    return _hex(h.digest())


def name_ok(name):
    if not isinstance(name, str) or not 1 <= len(name) <= 40 or name in sn_boot.PROTECTED:
        return False
    if name == sn_boot.CONFIG_FILE:
        return False
    base, dot, ext = name.rpartition(".")
    if not dot or ext not in ("py", "mpy", "json") or not base:
        return False
    for c in base:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


def check_manifest(data, bootloader=sn_boot.BOOTLOADER):
    """The manifest's bytes (already signature-checked) -> dict; OtaError says what is wrong."""
    try:
        m = json.loads(data)
    except ValueError:
        raise OtaError("manifest is not JSON")
    if not isinstance(m, dict) or m.get("format") != 1 or m.get("kind") != "sewnet-firmware":
        raise OtaError("not a SewNet firmware manifest (format 1)")
    v = m.get("version")
    if not isinstance(v, str) or not 1 <= len(v) <= 32:
        raise OtaError("manifest has no version")
    need = m.get("min_bootloader")
    if isinstance(need, bool) or not isinstance(need, int) or need < 1:
        raise OtaError("manifest has no min_bootloader")
    if need > bootloader:
        raise OtaError("needs boot layer %d, this board has %d (flash it by cable)" % (need, bootloader))
    files = m.get("files")
    if not isinstance(files, list) or not 1 <= len(files) <= FILES_MAX:
        raise OtaError("manifest must list 1..%d files" % FILES_MAX)
    seen = set()
    for f in files:
        if not isinstance(f, dict):
            raise OtaError("a file entry is not an object")
        n, size, sha = f.get("name"), f.get("size"), f.get("sha256")
        if not name_ok(n) or n in seen:
            raise OtaError("file name %r is not allowed" % (n,))
        seen.add(n)
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= FILE_MAX:
            raise OtaError("%s: size must be 0..%d" % (n, FILE_MAX))
        if not isinstance(sha, str) or len(sha) != 64:
            raise OtaError("%s: sha256 must be 64 hex digits" % n)
    return m


def release_key():
    try:
        with open(KEY_FILE) as f:
            key = binascii.unhexlify(f.read().strip())
    except (OSError, ValueError):
        raise OtaError("no release key on this board (release.pub)")
    if len(key) != 32:
        raise OtaError("release.pub is not a 32-byte Ed25519 key")
    return key


def merged_config(raw, values, config_id, default_device):
    """sewnet.json with the offered values, checked by sn_config; ConfigError/OtaError say why."""
    if not isinstance(values, dict) or not values:
        raise OtaError("the configuration offer holds no values")
    for k in values:
        if k not in REMOTE_KEYS:
            raise OtaError("%s cannot be set over the air (only %s)" % (k, ", ".join(REMOTE_KEYS)))
    new = {}
    for k in raw:
        new[k] = raw[k]
    for k in values:
        new[k] = values[k]
    new[CONFIG_ID_KEY] = config_id
    sn_config.check(new, default_device)
    return new


class Updater:
    def __init__(self, app, version, log=print):
        self.app = app
        cfg = app.cfg
        self.version = version
        self.device = cfg["device"]
        self.host = cfg["broker"]["host"]
        self.port = cfg.get("ota_port", 8080)
        self.poll_s = cfg.get("ota_poll_s", 600)
        self._auth = binascii.b2a_base64(("%s:%s" % (self.device, cfg["password"])).encode()).strip().decode()
        self._log = log
        self._skip = set()          # offers refused this boot: not fetched again
        self.bytes_in = 0
        self.bytes_out = 0
        self.checks = 0
        self.last_error = None
        self._addr = None           # the gateway's address, looked up once per check

    # -- HTTP/1.0, one request per connection -------------------------------------------------

    async def _request(self, method, path, body=None, sink=None, limit=MANIFEST_MAX):
        if self._addr is None:
            # MicroPython's open_connection looks a name up on the event loop, blocking the
            # sampler for as long as the DNS server takes: resolve() does it in a thread.
            self._addr = await sn_mqtt.resolve(self.host, self.port)
        r, w = await asyncio.wait_for(asyncio.open_connection(self._addr, self.port), TIMEOUT_S)
        try:
            head = "%s %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Basic %s\r\n" % (
                method, path, self.host, self._auth)
            if body is not None:
                head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
            data = head.encode() + b"\r\n" + (body or b"")
            w.write(data)
            await w.drain()
            self.bytes_out += len(data)
            line = await asyncio.wait_for(r.readline(), TIMEOUT_S)
            self.bytes_in += len(line)
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise OtaError("gateway answered without an HTTP status")
            status = int(parts[1])
            length = None
            while True:
                h = await asyncio.wait_for(r.readline(), TIMEOUT_S)
                self.bytes_in += len(h)
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode().partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            if length is None:
                raise OtaError("gateway answered without a Content-Length")
            if length > limit:
                raise OtaError("answer of %d bytes is over the %d allowed" % (length, limit))
            out = b""
            left = length
            while left > 0:
                chunk = await asyncio.wait_for(r.read(min(CHUNK, left)), TIMEOUT_S)
                if not chunk:
                    raise OtaError("connection closed after %d of %d bytes" % (length - left, length))
                left -= len(chunk)
                self.bytes_in += len(chunk)
                if sink is None:
                    out += chunk
                else:
                    sink(chunk)
            return status, out
        finally:
            try:
                w.close()
                await w.wait_closed()
            except Exception:
                pass

    async def _get(self, path, limit=MANIFEST_MAX):
        status, body = await self._request("GET", path, limit=limit)
        if status != 200:
            raise OtaError("GET %s: HTTP %d" % (path, status))
        return body

    # -- the loop -------------------------------------------------------------------------------

    async def run(self):
        if not self.port:
            return                       # ota_port 0: updates off
        await asyncio.sleep(2)
        wait = 0
        while True:
            if sn_boot.on_trial() is not None and self.app.acked > 0:
                sn_boot.confirm()        # the gateway stored a summary of the new version
                wait = 0
            if wait <= 0:
                wait = self.poll_s
                try:
                    await self.check()
                    self.last_error = None
                except Exception as e:   # the network, the gateway: try again at the next poll
                    self.last_error = repr(e)
                    self._log("ota: check failed: %r" % (e,))
            await asyncio.sleep(1)
            wait -= 1

    def _config_id(self):
        raw = sn_boot.read_json(sn_boot.CONFIG_FILE, {})
        return raw.get(CONFIG_ID_KEY) if isinstance(raw, dict) else None

    async def check(self):
        self._addr = None                # the gateway may have moved since the last check
        events = sn_boot.read_json(sn_boot.EVENTS, [])
        if not isinstance(events, list):
            events = []
        body = json.dumps({"firmware": self.version, "bootloader": sn_boot.BOOTLOADER,
                           "config": self._config_id(), "trial": sn_boot.on_trial() is not None,
                           "events": events}).encode()
        status, answer = await self._request("POST", "/ota/v1/boards/%s/check" % self.device, body)
        if status != 200:
            raise OtaError("check: HTTP %d" % status)
        self.checks += 1
        if events:
            now = sn_boot.read_json(sn_boot.EVENTS, [])
            sn_boot.write_json(sn_boot.EVENTS, now[len(events):] if isinstance(now, list) else [])
        offer = json.loads(answer)
        if sn_boot.on_trial() is not None:
            return                       # one change at a time
        failed = sn_boot.journal().get("failed")
        fw = offer.get("firmware")
        if fw and fw.get("version") != self.version:
            key = ("firmware", fw.get("version"), fw.get("rollout"))
            if key not in self._skip and list(key) != failed:
                await self._try(key, self.update_firmware(fw))
                return
        cf = offer.get("config")
        if cf and cf.get("id") != self._config_id():
            key = ("config", cf.get("id"), None)
            if key not in self._skip and list(key) != failed:
                await self._try(key, self.apply_config(cf))

    async def _try(self, key, job):
        try:
            await job
        except (OtaError, sn_config.ConfigError) as e:
            self._skip.add(key)
            sn_boot.remove_tree(sn_boot.NEW_DIR)
            ev = {"kind": key[0], "version": key[1], "result": "refused", "reason": str(e)}
            if key[2]:
                ev["rollout"] = key[2]
            sn_boot.add_event(ev)
            self._log("ota: %s %s refused: %s" % (key[0], key[1], e))
            await self.check()           # tell the gateway at once

    async def update_firmware(self, offer):
        version = offer.get("version")
        manifest = await self._get(offer["manifest"])
        sig_hex = await self._get(offer["signature"], limit=256)
        try:
            sig = binascii.unhexlify(sig_hex.strip())
        except ValueError:
            raise OtaError("signature is not hex")
        digest = hashlib.sha256(manifest).digest()
        check = sn_sig.Check(release_key(), digest, sig)
        for _ in check.steps():
            await asyncio.sleep(0)       # the sampler and MQTT run between the steps
        if not check.ok:
            raise OtaError("signature refused: %s" % check.why)
        m = check_manifest(manifest)
        if m["version"] != version:
            raise OtaError("offered %s but the signed manifest is %s" % (version, m["version"]))
        installed = sn_boot.read_json(sn_boot.INSTALLED)
        changed = []
        for f in m["files"]:
            if await file_sha256(f["name"]) != f["sha256"]:
                changed.append(f)
        need = 0
        for f in changed:
            need += f["size"]
        try:
            st = os.statvfs(".")
            free = st[1] * st[4]         # fragment size x blocks free
        except (OSError, AttributeError):
            free = None
        if free is not None and free < need + FREE_MARGIN:
            raise OtaError("not enough flash: %d bytes free, %d needed" % (free, need + FREE_MARGIN))
        sn_boot.remove_tree(sn_boot.NEW_DIR)
        sn_boot.mkdirs()
        for f in changed:
            await self._download(offer["files"] + f["name"], f)
        names = [f["name"] for f in m["files"]]
        removed = []
        if isinstance(installed, dict):
            for f in installed.get("files", []):
                n = f.get("name") if isinstance(f, dict) else None
                if name_ok(n) and n not in names:
                    removed.append(n)
        sn_boot.stage_done("firmware", [f["name"] for f in changed], removed, version,
                           {"rollout": offer.get("rollout"), "health_s": m.get("health_s"),
                            "manifest": m})
        self._log("ota: firmware %s staged (%d files changed): resetting" % (version, len(changed)))
        await self._reset()

    async def _download(self, path, f):
        part = sn_boot.NEW_DIR + "/" + f["name"] + ".part"
        h = hashlib.sha256()
        got = [0]
        with open(part, "wb") as out:
            def sink(chunk):
                h.update(chunk)
                out.write(chunk)
                got[0] += len(chunk)

            status, _ = await self._request("GET", path, sink=sink, limit=f["size"] + 1)
        if status != 200:
            raise OtaError("%s: HTTP %d" % (f["name"], status))
        if got[0] != f["size"]:
            raise OtaError("%s: %d bytes, the manifest says %d" % (f["name"], got[0], f["size"]))
        if _hex(h.digest()) != f["sha256"]:
            raise OtaError("%s: SHA-256 does not match the manifest" % f["name"])
        os.rename(part, sn_boot.NEW_DIR + "/" + f["name"])

    async def apply_config(self, offer):
        cid = offer.get("id")
        if not isinstance(cid, str) or not 1 <= len(cid) <= 40:
            raise OtaError("configuration offer has no id")
        raw = sn_boot.read_json(sn_boot.CONFIG_FILE)
        if not isinstance(raw, dict):
            raise OtaError("sewnet.json on the board cannot be read")
        new = merged_config(raw, offer.get("values"), cid, self.device)
        sn_boot.remove_tree(sn_boot.NEW_DIR)
        sn_boot.mkdirs()
        sn_boot.write_json(sn_boot.NEW_DIR + "/" + sn_boot.CONFIG_FILE, new)
        sn_boot.stage_done("config", [sn_boot.CONFIG_FILE], [], cid,
                           {"health_s": offer.get("health_s")})
        self._log("ota: configuration %s staged: resetting" % cid)
        await self._reset()

    async def _reset(self):
        await asyncio.sleep(0.2)         # let the log line out
        import machine
        machine.reset()
