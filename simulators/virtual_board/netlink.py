"""The board's Wi-Fi link in front of real TCP sockets.

While the link is down, what the firmware writes vanishes and what the broker sends is held
back, and a socket the firmware closes is not closed on the wire (its FIN would not get
through a dead radio link either). The broker therefore sees what it sees on a real outage:
silence, until its keepalive runs out or the board comes back with the same client id. Orphaned
sockets are reset once the link is back.
"""

from __future__ import annotations

import asyncio
import errno


class NetLink:
    def __init__(self, board) -> None:
        self._board = board
        self._orphans: list[asyncio.StreamWriter] = []
        self.dropped_bytes = 0
        self.connections = 0

    async def open_connection(self, open_real, host, port, **kwargs):
        if not self._board.link_up:
            await asyncio.sleep(0.05)
            raise OSError(errno.EHOSTUNREACH, "virtual Wi-Fi link is down")
        self._reap()
        r, w = await open_real(host, port, **kwargs)
        self.connections += 1
        reader, writer = LinkReader(r, self), LinkWriter(w, self)
        reader.writer = writer
        return reader, writer

    def _reap(self) -> None:
        for w in self._orphans:
            try:
                w.transport.abort()
            except Exception:
                pass
        self._orphans.clear()

    async def hold(self, closed: "LinkWriter") -> None:
        while not self._board.link_up:
            if closed.closed:
                raise OSError(errno.ECONNRESET, "connection closed by the board")
            await asyncio.sleep(0.05)


class LinkWriter:
    def __init__(self, writer: asyncio.StreamWriter, link: NetLink) -> None:
        self._w = writer
        self._link = link
        self.closed = False
        self._orphaned = False

    def write(self, data: bytes) -> None:
        if self._link._board.link_up:
            self._w.write(data)
        else:
            self._link.dropped_bytes += len(data)

    async def drain(self) -> None:
        if self._link._board.link_up and not self._orphaned:
            await self._w.drain()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._link._board.link_up:
            self._w.close()
        else:
            self._orphaned = True
            self._link._orphans.append(self._w)

    async def wait_closed(self) -> None:
        if not self._orphaned:
            try:
                await self._w.wait_closed()
            except OSError:
                pass

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name, default=None):
        return self._w.get_extra_info(name, default)


class LinkReader:
    def __init__(self, reader: asyncio.StreamReader, link: NetLink) -> None:
        self._r = reader
        self._link = link
        self.writer: LinkWriter | None = None

    async def readexactly(self, n: int) -> bytes:
        data = await self._r.readexactly(n)
        await self._hold()
        return data

    async def read(self, n: int = -1) -> bytes:
        data = await self._r.read(n)
        await self._hold()
        return data

    async def readline(self) -> bytes:
        data = await self._r.readline()
        await self._hold()
        return data

    async def _hold(self) -> None:
        if not self._link._board.link_up and self.writer is not None:
            await self._link.hold(self.writer)
