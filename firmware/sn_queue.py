# sn_queue: which spooled summaries are out, waiting for the gateway's acknowledgement.
#
# Pure (no clock of its own, no I/O), so it runs unchanged on the board, under CPython and on
# the MicroPython VM in the tests. The spool (sn_spool) holds the summaries; this window holds
# at most `size` of them "sent, not yet acknowledged": the broker's queue for an absent gateway
# then never holds more than `size` of a board's summaries, which bounds what a broker crash can
# take with it, and all of those are sent again.
#
# A summary is sent again (same identity; the gateway drops the copy and acknowledges it again):
# - after every new broker connection (the broker may have lost what it acknowledged), and
# - when no acknowledgement came for `timeout_ms` (the gateway may have stored the batch and died
#   before acknowledging it, or the broker may have dropped it with no subscriber to give it to),
#   the timeout doubling up to `timeout_max_ms` while nothing comes, so a gateway away for hours
#   costs a few copies, not a flood.


class AckWindow:
    def __init__(self, size=16, timeout_ms=30000, timeout_max_ms=1800000):
        if size < 1:
            raise ValueError("size must be positive")
        self.size = size
        self.base_timeout_ms = timeout_ms
        self.timeout_ms = timeout_ms
        self.timeout_max_ms = timeout_max_ms
        self.cursor = -1          # highest spool serial sent since the last restart
        self.resends = 0          # times the window was sent again
        self._items = []          # [serial, boot, nonce, seq, sent_at] oldest first
        self._progress = None     # ticks of the last send into an empty window or the last ack

    def __len__(self):
        return len(self._items)

    def full(self):
        # Full counts summaries not yet sent again after a restart too: those go first.
        return len(self._items) >= self.size and self.cursor >= self._items[-1][0]

    def sent(self, serial, boot, nonce, seq, now):
        if serial > self.cursor:
            self.cursor = serial
        for it in self._items:
            if it[0] == serial:
                it[4] = now
                return
        if not self._items:
            self._progress = now
        self._items.append([serial, boot, nonce, seq, now])

    def acked(self, boot, nonce, ranges):
        """Serials of the window's summaries that this acknowledgement covers (removed)."""
        done = []
        keep = []
        for it in self._items:
            hit = False
            if it[1] == boot and it[2] == nonce:
                q = it[3]
                for lo, hi in ranges:
                    if lo <= q <= hi:
                        hit = True
                        break
            if hit:
                done.append(it[0])
            else:
                keep.append(it)
        if done:
            self._items = keep
            self.timeout_ms = self.base_timeout_ms
            self._progress = None
        return done

    def retain(self, holds):
        """Forget summaries the spool no longer holds (dropped when it was full)."""
        self._items = [it for it in self._items if holds(it[0])]

    def restart(self):
        """Send everything not acknowledged again, oldest first (the items stay, so a late
        acknowledgement of one still counts)."""
        self.cursor = -1
        self.resends += 1

    def due(self, now, ticks_diff=None):
        """True (and restart()ed) when the window waited `timeout_ms` without an ack."""
        if not self._items:
            return False
        if self._progress is None:
            self._progress = self._items[0][4]
        if ticks_diff is None:
            import time
            ticks_diff = time.ticks_diff
        if ticks_diff(now, self._progress) < self.timeout_ms:
            return False
        self._progress = now
        self.timeout_ms = min(self.timeout_ms * 2, self.timeout_max_ms)
        self.restart()
        return True
