"""What the benches of the gateway's bytes on the wire share (bench_uplink_bytes.py,
bench_offer_bytes.py, bench_release_fetch.py): a TCP proxy that counts every byte each way and can
model a slow link. (Their PostgreSQL is tests/servers.py's own_postgresql.) Not a bench itself:
`make bench` skips files whose name starts with `_`."""

from __future__ import annotations

import asyncio


class CountingProxy:
    """TCP proxy that counts the bytes each way: every byte of the HTTP requests and responses
    (TCP/IP and TLS not included). With `rtt_s` or `down_bps` it also models a link: each chunk
    waits half the round trip, and the server's bytes are paced at `down_bps` (the model is the
    proxy's; what goes through it is measured)."""

    def __init__(self, upstream_host: str, upstream_port: int, *, rtt_s: float = 0.0, down_bps: float | None = None):
        self.upstream = (upstream_host, upstream_port)
        self.half_rtt, self.down_bps = rtt_s / 2, down_bps
        self.up = 0  # client -> server
        self.down = 0  # server -> client
        self.connections = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def reset(self) -> None:
        self.up = self.down = self.connections = 0

    def _delay(self, n: int, down: bool) -> float:
        return self.half_rtt + (n * 8 / self.down_bps if down and self.down_bps else 0.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        ureader, uwriter = await asyncio.open_connection(*self.upstream)
        # Smaller reads on a modelled link, so the pacing follows the bytes and not a few big chunks.
        size = 16384 if self.half_rtt or self.down_bps else 65536

        async def pump(src, dst, attr):
            try:
                while data := await src.read(size):
                    setattr(self, attr, getattr(self, attr) + len(data))
                    if delay := self._delay(len(data), attr == "down"):
                        await asyncio.sleep(delay)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pump(reader, uwriter, "up"), pump(ureader, writer, "down"))
        except asyncio.CancelledError:
            pass  # the bench is over

    async def close(self) -> None:
        self.server.close()

