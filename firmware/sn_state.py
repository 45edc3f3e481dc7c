# sn_state: what must survive a reset: the boot counter (part of every summary's identity) and
# the lifetime stitch total. Each boot also draws a random nonce (kept in RAM only): with it a
# boot's identity cannot repeat even when this file is lost (flash erased, board replaced), when
# the counter starts at 1 again.
#
# Written as a whole new file then renamed over the old one: LittleFS renames atomically, so a
# power cut leaves either the old or the new state, never half of one. Writes are rare
# (boot, then at most once per state_save_ms) because flash sectors wear out.

import json
import os
import random

STATE_FILE = "sn_state.json"


class State:
    def __init__(self, path=STATE_FILE):
        self.path = path
        self.tmp = path + ".tmp"
        self.boot = 0
        self.nonce = 0
        self.total = 0
        self.saved_total = None
        self.writes = 0

    def load(self):
        for p in (self.path, self.tmp):
            try:
                with open(p) as f:
                    d = json.loads(f.read())
                boot, total = d["boot"], d["total"]
                if isinstance(boot, int) and isinstance(total, int) and boot >= 0 and total >= 0:
                    self.boot, self.total = boot, total
                    self.saved_total = total
                    return True
            except (OSError, ValueError, KeyError, TypeError):
                pass
        return False

    def start_boot(self):
        """Loads the state, counts this boot and saves at once: a summary's (boot, seq)
        identity must never repeat, even if the board resets again a second later."""
        self.load()
        self.boot += 1
        self.nonce = new_nonce()
        self.save(self.total)
        return self.boot

    def save(self, total):
        self.total = total
        data = json.dumps({"boot": self.boot, "total": total})
        with open(self.tmp, "w") as f:
            f.write(data)
        try:
            os.rename(self.tmp, self.path)
        except OSError:
            # FAT cannot rename over an existing file; load() falls back to the tmp copy
            # if the power goes between these two calls.
            try:
                os.remove(self.path)
            except OSError:
                pass
            os.rename(self.tmp, self.path)
        self.saved_total = total
        self.writes += 1

    def save_if_changed(self, total):
        if total != self.saved_total:
            self.save(total)
            return True
        return False


def new_nonce():
    """A random 1 .. 2^31-1. On the ESP32 os.urandom is the hardware RNG (true random with the
    radio on); random is seeded from it at boot where os.urandom is missing."""
    try:
        b = os.urandom(4)
        n = (b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24) & 0x7FFFFFFF
    except (AttributeError, OSError):
        n = random.getrandbits(31)
    return n or 1
