"""The embedded store's write path under bodies built to stall it, over real HTTP (uvicorn on a free
port): a small gzip body that inflates to megabytes of bad lines must be answered quickly, must
not hold up other requests while it is worked on, and must not flood the log."""

from __future__ import annotations

import gzip
import logging
import threading
import time

import httpx
import pytest

from hub.app import create_app
from hub.core.settings import load_settings
from hub.server import BackgroundServer

WRITE_TOKEN = "write-path-writer-token"
READ_TOKEN = "write-path-reader-token"
# The body: 15 KB of gzip, 10 MiB of lines that are not line protocol.
BAD_LINES = b"x\n" * (5 * 1024 * 1024)
BOMB = gzip.compress(BAD_LINES, compresslevel=9)
# Its cousin that passes the line cap: 10,000 lines of 1 KiB junk, every one parsed and refused.
AT_THE_CAP = gzip.compress((b"x" * 1023 + b"\n") * 10_000, compresslevel=9)


class LogBytes(logging.Handler):
    """Counts the bytes the hub's loggers would write, as a file handler would format them."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.bytes = 0
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        size = len(self.format(record).encode()) + 1
        with self.lock_:
            self.bytes += size


@pytest.fixture
def hub_log():
    handler = LogBytes()
    logger = logging.getLogger("sewnet")
    old_level = logger.level
    logger.setLevel(logging.INFO)  # `sewnet hub run` logs at info by default
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def hub(tmp_path):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[READ_TOKEN])
    with BackgroundServer(create_app(settings)) as server:
        yield server


def post(client: httpx.Client, body: bytes, gzipped: bool = True) -> httpx.Response:
    headers = {"Authorization": f"Token {WRITE_TOKEN}"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return client.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"}, content=body,
                       headers=headers)


def counts(client: httpx.Client) -> dict:
    return client.get("/api/v1/rejections", headers={"Authorization": f"Bearer {READ_TOKEN}"}).json()["counts"]


SENDERS, BOMBS_PER_SENDER = 4, 5


def test_a_small_bomb_of_bad_lines_is_refused_fast_while_health_stays_fast(hub, hub_log):
    assert len(BOMB) < 16 * 1024 and len(BAD_LINES) == 10 * 1024 * 1024
    answers: list[tuple[int, float, str]] = []
    senders_done = threading.Event()

    def send_bombs():
        # Four senders, each sending the bomb five times: the hub is busy with bombs for a second
        # or two (each is refused in 0.05-0.25 s here), long enough to measure /healthz meanwhile.
        # Before the fix one bomb took 44-51 s and these timeouts fail the test.
        with httpx.Client(base_url=hub.url, timeout=30) as client:
            for i in range(BOMBS_PER_SENDER):
                started = time.monotonic()
                try:
                    r = post(client, BOMB if i % 2 == 0 else AT_THE_CAP)
                    answers.append((r.status_code, time.monotonic() - started, r.text))
                except httpx.TimeoutException:
                    answers.append((0, time.monotonic() - started, "no answer within 30 s"))

    senders = [threading.Thread(target=send_bombs) for _ in range(SENDERS)]
    for t in senders:
        t.start()
    threading.Thread(target=lambda: ([t.join() for t in senders], senders_done.set()), daemon=True).start()

    health: list[float] = []
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        while not senders_done.is_set():
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            health.append(time.monotonic() - started)
            senders_done.wait(0.01)
        assert len(answers) == SENDERS * BOMBS_PER_SENDER
        for status, took, text in answers:
            assert status in (400, 413), text
            if status == 413:
                assert "the body has 5242880 lines, more than the 10000 lines a request may carry" in text
            else:
                assert "unable to parse 'xxx" in text and "missing fields" in text and "and 9980 more" in text
            assert took < 10, f"a bomb took {took:.1f} s"
        assert len(health) >= 5, "the bombs were answered before /healthz could be measured beside them"
        print(f"/healthz: {len(health)} answers beside the bombs, slowest {max(health):.3f} s; "
              f"bombs answered in {min(a[1] for a in answers):.2f}..{max(a[1] for a in answers):.2f} s")
        assert max(health) < 1.0, f"/healthz took up to {max(health):.2f} s while bombs were worked on"
        refused = counts(client)
        assert refused["write:too_many_lines"] == SENDERS * 3
        assert refused["write:line_protocol"] == SENDERS * 2 * 10_000
    # A few log lines per bomb, not one per bad line (222 MB of log before): at most the first
    # 20 lines of a request one by one, then the rest as one count, and at most 30 a minute.
    print(f"{hub_log.bytes} bytes of log for {SENDERS * BOMBS_PER_SENDER} bombs")
    assert hub_log.bytes < 64 * 1024, hub_log.bytes


def test_a_body_full_of_bad_lines_is_400_with_reasons_counted_and_a_small_log(hub, hub_log):
    bad = [f"sewing,machine=m{i} stitches={i}x {1763900000 + i}" for i in range(9_999)]
    good = "sewing,machine=m03,workshop=ws-changsin-01 interval_ms=10000i,run_ms=10i,stitches=1i 1763900000"
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        started = time.monotonic()
        r = post(client, gzip.compress("\n".join([good] + bad).encode()))
        took = time.monotonic() - started
        assert r.status_code == 400
        message = r.json()["message"]
        assert message.startswith("partial write: unable to parse 'sewing,machine=m0 stitches=0x 1763900000': "
                                  "invalid number")
        assert "\n... and 9979 more" in message and len(message) < 4096
        assert took < 10, took
        assert counts(client)["write:line_protocol"] == 9_999  # every bad line is counted
        assert r.json()["message"].endswith("dropped=0")
    # ... but only the first twenty are recorded one by one, and the log stays a few kilobytes.
    assert hub_log.bytes < 12 * 1024, hub_log.bytes
