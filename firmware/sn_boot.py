# sn_boot: the board's boot layer (with main.py). Before the application starts it finishes a
# staged update (firmware files or sewnet.json), or rolls one back that did not prove itself.
#
# An update is a set of files; no filesystem renames a set at once, so a journal says how far the
# swap went and every step is a rename that can be redone after a power cut:
#
#   staged      ota/new/ holds every new file, hashes and signature checked by the app (sn_ota)
#   swapping    for each file: its old copy moves to ota/old/, the new one from ota/new/ to the
#               root; a cut here is finished forward on the next boot (the files are checked)
#   trial       the new version runs; it must report healthy (sn_ota.confirm: a summary got
#               through) within health_s, checked by a timer armed here, or within
#               MAX_TRIAL_BOOTS starts (a crash loop, a hang the watchdog ends, power cuts)
#   rolling_back  every old copy moves back, files the update added are removed
#
# LittleFS (the ESP32 port's default filesystem) commits a rename atomically, so after a cut a
# file is either still at its old name or already at its new one; the journal itself is written
# whole to a temporary file and renamed over. Nothing here is updated over the air (PROTECTED):
# the code that recovers from a bad update must not be what a bad update replaces; a manifest
# that needs a newer boot layer (min_bootloader) is refused by the app.
#
# Writes: the journal twice per update and once per trial start; nothing on a normal boot.

import json
import os

BOOTLOADER = 1
OTA_DIR = "ota"
NEW_DIR = "ota/new"
OLD_DIR = "ota/old"
JOURNAL = "ota/boot.json"
INSTALLED = "ota/installed.json"
EVENTS = "ota/events.json"
CONFIG_FILE = "sewnet.json"
MAX_TRIAL_BOOTS = 3
HEALTH_S_DEFAULT = 300
HEALTH_S_RANGE = (5, 3600)
MAX_EVENTS = 8
PROTECTED = ("main.py", "boot.py", "sn_boot.py", "release.pub", "sn_state.json", "sn_state.json.tmp")

_trial = None          # the journal while this boot is a trial, else None


def _log(msg):
    print("sewnet: " + msg)


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def mkdirs():
    for d in (OTA_DIR, NEW_DIR, OLD_DIR):
        if not exists(d):
            try:
                os.mkdir(d)
            except OSError:
                pass


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return default


def write_json(path, data):
    """Whole new file, then renamed over the old one (atomic on LittleFS)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(data))
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT cannot rename over an existing file.
        try:
            os.remove(path)
        except OSError:
            pass
        os.rename(tmp, path)


def journal():
    j = read_json(JOURNAL)
    if not isinstance(j, dict) or "phase" not in j:
        # A cut between removing the journal and renaming its temporary copy (FAT only).
        j = read_json(JOURNAL + ".tmp")
    if not isinstance(j, dict) or "phase" not in j:
        j = {"phase": "idle"}
    return j


def add_event(event):
    """Kept on flash until the gateway has it (sn_ota sends them with every check)."""
    mkdirs()
    events = read_json(EVENTS, [])
    if not isinstance(events, list):
        events = []
    events.append(event)
    write_json(EVENTS, events[-MAX_EVENTS:])


def remove_tree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            remove_tree(p)
            try:
                os.rmdir(p)
            except OSError:
                pass


def health_s(value):
    lo, hi = HEALTH_S_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        return HEALTH_S_DEFAULT
    return value


def stage_done(kind, files, removed, version, extra=None):
    """Called by the app once ota/new/ holds every file of the update, each checked: from here
    on the update happens at the next start, whatever cuts the power."""
    mkdirs()
    j = {"phase": "staged", "kind": kind, "files": list(files), "removed": list(removed),
         "version": version}
    if extra:
        for k in extra:
            j[k] = extra[k]
    write_json(JOURNAL, j)


def _swap(j):
    for name in j["files"]:
        new, old = NEW_DIR + "/" + name, OLD_DIR + "/" + name
        if exists(new):
            if exists(name) and not exists(old):
                os.rename(name, old)
            elif exists(name):
                # Both copies kept from an interrupted earlier attempt: the one at the root is
                # the running version's (the new one is still in ota/new/).
                os.remove(name)
            os.rename(new, name)
    for name in j["removed"]:
        if exists(name) and not exists(OLD_DIR + "/" + name):
            os.rename(name, OLD_DIR + "/" + name)


def _rollback(j):
    added = j.get("added", [])
    for name in j["files"] + j["removed"]:
        old = OLD_DIR + "/" + name
        if exists(old):
            if exists(name):
                os.remove(name)
            os.rename(old, name)
        elif name in added and exists(name):
            os.remove(name)


def _finish_rollback(j, reason):
    j["phase"] = "rolling_back"
    j["reason"] = reason
    write_json(JOURNAL, j)
    _rollback(j)
    remove_tree(OLD_DIR)
    remove_tree(NEW_DIR)
    ev = {"kind": j.get("kind"), "version": j.get("version"), "result": "rolled_back",
          "reason": reason}
    if j.get("rollout"):
        ev["rollout"] = j["rollout"]
    add_event(ev)
    write_json(JOURNAL, {"phase": "idle", "failed": [j.get("kind"), j.get("version"), j.get("rollout")]})
    _log("update %s %s rolled back: %s" % (j.get("kind"), j.get("version"), reason))


def _arm_guard(seconds):
    """A one-shot timer, independent of the new application's own code, that ends a trial which
    has not confirmed in time: it marks the journal and resets; the next start rolls back."""
    try:
        import machine
        t = machine.Timer(0)
    except (ImportError, AttributeError, ValueError, OSError):
        _log("no machine.Timer: the trial is bounded by starts only")
        return None

    def expire(_):
        global _trial
        if _trial is None:
            return
        j = journal()
        if j.get("phase") == "trial":
            j["expired"] = seconds
            write_json(JOURNAL, j)
            _log("update did not report healthy within %d s: resetting to roll back" % seconds)
            machine.reset()

    t.init(mode=machine.Timer.ONE_SHOT, period=seconds * 1000, callback=expire)
    return t


def boot():
    """Runs before the application. Returns the trial journal (dict) or None."""
    global _trial
    _trial = None
    j = journal()
    phase = j.get("phase")
    if phase == "idle":
        if exists(OLD_DIR) or exists(NEW_DIR):
            # An unfinished download or an old set kept after a confirm: not needed any more.
            remove_tree(NEW_DIR)
            remove_tree(OLD_DIR)
        return None
    mkdirs()
    if phase == "staged":
        j["added"] = [n for n in j["files"] if not exists(n)]
        j["phase"] = "swapping"
        write_json(JOURNAL, j)
        phase = "swapping"
    if phase == "swapping":
        try:
            _swap(j)
        except OSError as e:
            _finish_rollback(j, "could not swap files: %r" % (e,))
            return None
        remove_tree(NEW_DIR)
        j["phase"] = "trial"
        j["starts"] = 0
        write_json(JOURNAL, j)
        _log("update %s %s installed: on trial" % (j.get("kind"), j.get("version")))
        phase = "trial"
    if phase == "rolling_back":
        _finish_rollback(j, j.get("reason") or "rolled back")
        return None
    if phase == "trial":
        if j.get("expired"):
            _finish_rollback(j, "did not report healthy within %d s" % j["expired"])
            return None
        starts = j.get("starts", 0)
        if starts >= MAX_TRIAL_BOOTS:
            _finish_rollback(j, "did not report healthy in %d starts" % starts)
            return None
        j["starts"] = starts + 1
        write_json(JOURNAL, j)
        _trial = j
        _arm_guard(health_s(j.get("health_s")))
        return j
    # An unknown phase (a newer boot layer's journal?): leave the files as they are.
    _log("unknown update phase %r: ignored" % (phase,))
    return None


def on_trial():
    return _trial


def confirm():
    """The new version reported healthy: keep it. Called by the app (sn_ota)."""
    global _trial
    j = _trial
    if j is None:
        return False
    _trial = None
    if j.get("kind") == "firmware" and j.get("manifest") is not None:
        write_json(INSTALLED, j["manifest"])
    ev = {"kind": j.get("kind"), "version": j.get("version"), "result": "installed"}
    if j.get("rollout"):
        ev["rollout"] = j["rollout"]
    add_event(ev)
    write_json(JOURNAL, {"phase": "idle"})
    remove_tree(OLD_DIR)
    _log("update %s %s confirmed" % (j.get("kind"), j.get("version")))
    return True
