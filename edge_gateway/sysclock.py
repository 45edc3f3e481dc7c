"""Is the gateway's own clock synchronised? Asked of the Linux kernel, as `timedatectl` does.

NTP daemons (systemd-timesyncd, chrony, ntpd) tell the kernel when they have set the clock; the
kernel answers adjtimex()/ntp_adjtime() with TIME_ERROR while the clock is unsynchronised
(STA_UNSYNC), for instance on a Raspberry Pi that booted without network: it has no battery
clock and starts from the last saved time (fake-hwclock) or from 1970.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

TIME_ERROR = 5
# struct timex is 208 bytes on 64-bit Linux and smaller on 32-bit; the kernel only reads `modes`
# (the first field, 0 = read-only query) and writes the rest, so a zeroed, larger buffer fits
# every architecture without spelling out the layout.
_TIMEX_BUFFER = 512

_libc = None


def kernel_clock_synced() -> bool | None:
    """True: synchronised; False: the kernel says unsynchronised; None: cannot tell here."""
    global _libc
    if not sys.platform.startswith("linux"):
        return None
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(_TIMEX_BUFFER)
        state = _libc.ntp_adjtime(buf)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR
