"""bench/bench_styles.py's load generator holds to what its figures claim: requests leave on
schedule whatever the server is doing (an open loop), a request's latency runs from its scheduled
send so time queued behind a slow server counts, and an answer is good only when it is a 200 with
the recommender's list. Against a small asyncio server whose one worker takes a fixed time a request."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_styles.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_styles", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def answer(status: int, body: bytes, close: bool = False) -> bytes:
    head = f"HTTP/1.1 {status} X\r\ncontent-length: {len(body)}\r\ncontent-type: application/json\r\n"
    return (head + ("connection: close\r\n" if close else "") + "\r\n").encode() + body


class OneWorker:
    """An HTTP/1.1 server with one worker: each request holds it `service_s`, so requests sent
    faster than 1 / service_s queue. `reply(path)` says what to answer."""

    def __init__(self, service_s: float, reply):
        self.service_s, self.reply = service_s, reply
        self.worker = asyncio.Lock()
        self.connections = 0
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                length = next((int(v) for k, _, v in (x.partition(":") for x in lines[1:])
                               if k.lower() == "content-length"), 0)
                await reader.readexactly(length)
                async with self.worker:
                    await asyncio.sleep(self.service_s)  # the work a request takes, one at a time
                    self.served += 1
                writer.write(self.reply(lines[0].split()[1]))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def plan(n: int, path: str = "/r") -> list[tuple[str, bytes]]:
    return [("recommendations", f"GET {path}{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) for i in range(n)]


GOOD = json.dumps({"model": "recommender", "items": [{"article_id": i} for i in range(12)]}).encode()


async def test_requests_leave_on_schedule_and_time_queued_behind_a_slow_server_counts(bench):
    # 50 requests at 50/s to a server that does 25/s: it ends 2 s after the first, so the last
    # (due at 0.98 s) waits about 1 s. A generator that waited for answers would send it at 2 s
    # and call it 40 ms.
    server = OneWorker(0.040, lambda path: answer(200, GOOD))
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        shots = await bench._open_loop("127.0.0.1", port, plan(50), rate=50.0)
    for shot in shots:
        bench._check(shot)
    assert server.served == 50 and all(s.error is None and s.items == 12 for s in shots)
    due = [s.scheduled - shots[0].scheduled for s in shots]
    assert due == pytest.approx([i / 50 for i in range(50)], abs=1e-6)
    # Sent on schedule, not after the answers before them (the server was 1 s behind by the end).
    assert max(s.lag for s in shots) < 0.5
    assert shots[-1].latency >= 2.0 - 0.98 - 0.05
    assert shots[0].latency < shots[-1].latency / 5
    # A request waiting for an answer cannot share its connection: more than one was opened.
    assert server.connections > 1


async def test_a_request_the_generator_sent_late_counts_its_lateness(bench):
    # The server shares the generator's event loop: its first answer stalls that loop 0.3 s, as a
    # busy generator would, so the requests due meanwhile leave late; their latency must hold it.
    stalled = []

    def reply(path: str) -> bytes:
        if not stalled:
            stalled.append(path)
            time.sleep(0.3)  # a stall of the generator's own loop, not a wait for a condition
        return answer(200, GOOD)

    server = OneWorker(0.0, reply)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        shots = await bench._open_loop("127.0.0.1", port, plan(20), rate=100.0)
    late = [s for s in shots if s.lag >= 0.1]
    assert late and all(s.latency >= s.lag for s in shots)


async def test_an_answer_is_good_only_as_the_recommenders_list(bench):
    replies = {
        "/ok": answer(200, GOOD),
        "/short": answer(200, json.dumps({"model": "recommender", "items": [{"article_id": 1}] * 5}).encode()),
        "/popular": answer(200, json.dumps({"model": "popularity", "items": [{"article_id": 1}] * 12}).encode()),
        "/limited": answer(429, b'{"error": "too_many"}', close=True),
        "/text": answer(200, b"<html>"),
        "/cut": b"HTTP/1.1 200 X\r\ncontent-length: 500\r\n\r\n{\"model\"",
    }
    server = OneWorker(0.0, lambda path: replies[path.rstrip("0123456789")])
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        shots = []
        for path in replies:
            # /cut never finishes its body: the generator's own deadline ends it.
            shots += await bench._open_loop("127.0.0.1", port, plan(1, path), rate=10.0, timeout_s=1.0)
    for shot in shots:
        bench._check(shot)
    assert [(s.error, s.items) for s in shots] == [
        (None, 12), (None, 5), ("popularity answered 12 items", 12), ("HTTP 429", 0),
        ("not the answer's JSON", 0), ("timed out", 0)]
    assert shots[-1].latency >= 1.0


def test_rates_and_sizes_from_the_command_line(bench):
    assert bench._rates("200,100.5,50") == [50.0, 100.5, 200.0]  # lowest first
    for bad in ("0", "200,-1"):
        with pytest.raises(Exception, match="above 0"):
            bench._rates(bad)
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--seconds", "0"])
