# sn_queue: bounded FIFO of unsent summaries in one preallocated buffer.
#
# One bytearray of fixed-size records: no allocation per summary and no heap fragmentation
# on the board, however long the broker stays away. When full, the oldest record is dropped
# (the newest data is the most useful to a planner) and counted for the status message.


class SummaryQueue:
    def __init__(self, capacity, record_size):
        if capacity < 1 or record_size < 1:
            raise ValueError("capacity and record_size must be positive")
        self.capacity = capacity
        self.record_size = record_size
        self._buf = bytearray(capacity * record_size)
        self._head = 0           # slot of the oldest record
        self._len = 0
        self._head_key = 0       # serial number of the oldest record
        self.dropped = 0

    def __len__(self):
        return self._len

    def push(self, record):
        if len(record) != self.record_size:
            raise ValueError("record must be %d bytes" % self.record_size)
        if self._len == self.capacity:
            self._advance()
            self.dropped += 1
        slot = (self._head + self._len) % self.capacity
        o = slot * self.record_size
        self._buf[o:o + self.record_size] = record
        self._len += 1

    def peek(self):
        """(key, record) of the oldest record, or None. Pass the key to pop() once the record
        is delivered: if it was dropped meanwhile, pop() leaves the newer records alone."""
        if not self._len:
            return None
        o = self._head * self.record_size
        return self._head_key, bytes(self._buf[o:o + self.record_size])

    def pop(self, key):
        if not self._len or key != self._head_key:
            return False
        self._advance()
        return True

    def _advance(self):
        self._head = (self._head + 1) % self.capacity
        self._len -= 1
        self._head_key += 1
