# sn_spool: the board's unacknowledged summaries, kept in flash until the gateway has them on
# its disk (docs/protocol.md, contract v2), so neither a broker crash nor a power cut loses one.
#
# Layout: a folder of segment files `NNNNNNNN.sp`, each up to SEG_RECORDS fixed-size records
# (64 records of 64 bytes = one 4 KiB flash block). A record is
#     magic (0xA5), kind, 2 bytes of kind data, 56 bytes of payload, CRC-32 of the first 60 bytes
# kinds: SUMMARY (payload: sn_summary record), ACKS (which records of which segments the gateway
# acknowledged), META (first record of every segment: segment number, summaries dropped so far,
# lifetime total then).
#
# - Power-loss safe: records are only ever appended (open "ab", write, close); a write cut short
#   leaves a short tail or a record whose CRC fails, which recovery skips; nothing else changes.
#   A segment with a damaged record is never appended to again.
# - Wear spread: the writing moves to a new file every 64 records and old files are deleted, so
#   LittleFS's block allocator walks the whole filesystem instead of rewriting one block.
# - Bounded: at most `capacity` summaries (whole segments); when a new segment would exceed it,
#   the oldest segment goes and its unacknowledged summaries are counted in `dropped`.
# - Acknowledgements live in RAM as a bitmap per segment and are written in batches (ACKS
#   records): one lost in a power cut only makes the board resend a summary the gateway
#   already has, which it drops as a copy.
# - Recovery at boot rebuilds the bitmaps, the dropped count and the lifetime total (the newest
#   summary's `total`), so a power cut costs at most the interval in progress.

import binascii
import os
import struct

RECORD_BYTES = 64
SEG_RECORDS = 64
PAYLOAD_BYTES = RECORD_BYTES - 8
MAGIC = 0xA5
SUMMARY = 1
ACKS = 2
META = 3
_META_FMT = "<IIQ"          # segment number, dropped so far, lifetime total
_ACK_FMT = "<IQ"            # segment number, bitmap of acknowledged records
_ACK_BYTES = 12
_ACKS_PER_RECORD = PAYLOAD_BYTES // _ACK_BYTES


class _Seg:
    # summaries: bitmap of SUMMARY records; acked: bitmap of those acknowledged; n: records in
    # the file; sealed: no more appends (full, or damaged by a cut write).
    __slots__ = ("no", "n", "summaries", "acked", "sealed")

    def __init__(self, no):
        self.no = no
        self.n = 0
        self.summaries = 0
        self.acked = 0
        self.sealed = False

    def unacked(self):
        return self.summaries & ~self.acked


def _popcount(x):
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


class Spool:
    def __init__(self, root="spool", capacity=2160, ack_batch=6, total_at=40):
        if capacity < SEG_RECORDS:
            capacity = SEG_RECORDS
        self.root = root
        # Whole segments of up to 63 summaries each (the first record is META): `capacity`
        # rounded up to whole segments (ACKS records take a little of the room).
        self.max_segments = (capacity + SEG_RECORDS - 2) // (SEG_RECORDS - 1)
        self.ack_batch = ack_batch   # acknowledgements gathered before they are written
        self.total_at = total_at     # where a summary record holds the lifetime total (<Q)
        self._segs = []              # oldest first
        self._dirty = {}             # segment number -> bits acknowledged but not yet written
        self._since_ack_write = 0
        self.dropped = 0
        self.last_total = 0
        self.corrupt = 0             # records recovery skipped (a cut write, a bad block)
        self.writes = 0              # flash writes (records appended, files created or removed)
        self.bytes_written = 0
        self._pending = 0
        self._buf = bytearray(RECORD_BYTES)

    # -- files ----------------------------------------------------------------------------------

    def _path(self, no):
        return "%s/%08d.sp" % (self.root, no)

    def _write(self, seg, kind, data, payload):
        b = self._buf
        b[0] = MAGIC
        b[1] = kind
        b[2] = data & 0xFF
        b[3] = (data >> 8) & 0xFF
        n = len(payload)
        b[4:4 + n] = payload
        for i in range(4 + n, RECORD_BYTES - 4):
            b[i] = 0
        struct.pack_into("<I", b, RECORD_BYTES - 4, binascii.crc32(memoryview(b)[:RECORD_BYTES - 4]) & 0xFFFFFFFF)
        with open(self._path(seg.no), "ab") as f:
            f.write(b)
        idx = seg.n
        seg.n += 1
        if seg.n >= SEG_RECORDS:
            seg.sealed = True
        self.writes += 1
        self.bytes_written += RECORD_BYTES
        return idx

    def _read(self, no, idx):
        with open(self._path(no), "rb") as f:
            f.seek(idx * RECORD_BYTES)
            return f.read(RECORD_BYTES)

    @staticmethod
    def _valid(rec):
        if len(rec) != RECORD_BYTES or rec[0] != MAGIC:
            return False
        crc = struct.unpack_from("<I", rec, RECORD_BYTES - 4)[0]
        return binascii.crc32(memoryview(rec)[:RECORD_BYTES - 4]) & 0xFFFFFFFF == crc

    def _remove(self, seg):
        try:
            os.remove(self._path(seg.no))
        except OSError:
            pass
        self.writes += 1
        self._dirty.pop(seg.no, None)

    # -- recovery -------------------------------------------------------------------------------

    def open(self):
        """Reads what the flash holds (after a reset or a power cut)."""
        try:
            os.mkdir(self.root)
        except OSError:
            pass
        nos = []
        for name in os.listdir(self.root):
            if name.endswith(".sp") and len(name) == 11:
                try:
                    nos.append(int(name[:8]))
                except ValueError:
                    pass
        nos.sort()
        segs = {}
        acks = []
        for no in nos:
            seg = _Seg(no)
            segs[no] = seg
            try:
                f = open(self._path(no), "rb")
            except OSError:
                continue
            try:
                while True:
                    rec = f.read(RECORD_BYTES)
                    if not rec:
                        break
                    idx = seg.n
                    seg.n += 1
                    if not self._valid(rec):
                        # A write cut short, or a worn block: skip it; never append here again.
                        self.corrupt += 1
                        seg.sealed = True
                        if len(rec) < RECORD_BYTES:
                            break
                        continue
                    kind = rec[1]
                    if kind == SUMMARY:
                        seg.summaries |= 1 << idx
                        self.last_total = max(self.last_total, struct.unpack_from("<Q", rec, 4 + self.total_at)[0])
                    elif kind == META:
                        _, dropped, total = struct.unpack_from(_META_FMT, rec, 4)
                        self.dropped = max(self.dropped, dropped)
                        self.last_total = max(self.last_total, total)
                    elif kind == ACKS:
                        for i in range(rec[2]):
                            acks.append(struct.unpack_from(_ACK_FMT, rec, 4 + i * _ACK_BYTES))
            finally:
                f.close()
            if seg.n >= SEG_RECORDS:
                seg.sealed = True
        for no, bits in acks:
            seg = segs.get(no)
            if seg is not None:
                seg.acked |= bits & seg.summaries
        self._segs = [segs[no] for no in nos]
        self._pending = 0
        for seg in self._segs:
            self._pending += _popcount(seg.unacked())
        # The newest segment may be half-written by a cut; appends always go to a fresh one
        # after a restart, so a torn tail is never followed by good records.
        if self._segs:
            self._segs[-1].sealed = True
        self._trim()

    # -- use ------------------------------------------------------------------------------------

    def __len__(self):
        return self._pending

    def append(self, payload, total):
        """Keeps one summary record (sn_summary.pack); returns its serial (segment, index)."""
        if len(payload) > PAYLOAD_BYTES:
            raise ValueError("record too long")
        seg = self._current(total)
        if self._dirty and self._since_ack_write >= self.ack_batch:
            self._write_acks(seg)
            seg = self._current(total)
        idx = self._write(seg, SUMMARY, 0, payload)
        seg.summaries |= 1 << idx
        self._pending += 1
        self._since_ack_write += 1
        self.last_total = total
        return seg.no * SEG_RECORDS + idx

    def ack(self, serial):
        """The gateway has this summary on its disk. False if it was not waiting (a copy)."""
        no, idx = divmod(serial, SEG_RECORDS)
        bit = 1 << idx
        for seg in self._segs:
            if seg.no == no:
                if not seg.unacked() & bit:
                    return False
                seg.acked |= bit
                self._dirty[no] = self._dirty.get(no, 0) | bit
                self._pending -= 1
                self._trim()
                return True
        return False

    def holds(self, serial):
        """Is this summary still waiting for its acknowledgement?"""
        no, idx = divmod(serial, SEG_RECORDS)
        for seg in self._segs:
            if seg.no == no:
                return bool(seg.unacked() & (1 << idx))
        return False

    def next_unacked(self, after=-1):
        """(serial, payload) of the oldest summary not acknowledged with a serial above `after`."""
        for seg in self._segs:
            base = seg.no * SEG_RECORDS
            if base + SEG_RECORDS <= after:
                continue
            bits = seg.unacked()
            start = after - base + 1 if after >= base else 0
            if start > 0:
                bits &= ~((1 << start) - 1)
            if not bits:
                continue
            idx = 0
            while not bits & (1 << idx):
                idx += 1
            rec = self._read(seg.no, idx)
            if not self._valid(rec):
                # The block went bad since recovery: this summary is lost; say so and go on.
                self.corrupt += 1
                seg.summaries &= ~(1 << idx)
                self._pending -= 1
                return self.next_unacked(after)
            return base + idx, rec[4:4 + PAYLOAD_BYTES]
        return None

    def flush(self):
        """Writes gathered acknowledgements now (an orderly moment, not on every ack)."""
        if self._dirty:
            self._write_acks(self._current(self.last_total))

    # -- inside ---------------------------------------------------------------------------------

    def _current(self, total):
        if self._segs and not self._segs[-1].sealed:
            return self._segs[-1]
        no = self._segs[-1].no + 1 if self._segs else 1
        while len(self._segs) >= self.max_segments:
            old = self._segs.pop(0)
            lost = _popcount(old.unacked())
            self.dropped += lost
            self._pending -= lost
            self._remove(old)
        seg = _Seg(no)
        self._segs.append(seg)
        self._write(seg, META, 0, struct.pack(_META_FMT, no, self.dropped, total))
        return seg

    def _write_acks(self, seg):
        items = list(self._dirty.items())
        self._dirty = {}
        self._since_ack_write = 0
        while items:
            part = items[:_ACKS_PER_RECORD]
            items = items[_ACKS_PER_RECORD:]
            payload = bytearray(len(part) * _ACK_BYTES)
            for i in range(len(part)):
                struct.pack_into(_ACK_FMT, payload, i * _ACK_BYTES, part[i][0], part[i][1])
            if seg.sealed:
                seg = self._current(self.last_total)
            self._write(seg, ACKS, len(part), payload)

    def _trim(self):
        # Segments whose every summary is acknowledged go, oldest first, except the one written to.
        while len(self._segs) > 1 and not self._segs[0].unacked():
            self._remove(self._segs.pop(0))
