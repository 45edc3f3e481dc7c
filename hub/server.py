"""Run the hub under uvicorn in a background thread: for the demo and for tests that want real
HTTP on a real port. Port 0 picks a free port; `url` tells which."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI


class BackgroundServer:
    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 keep_alive_s: float = 75):
        self.config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                                     access_log=False, server_header=False,
                                     timeout_keep_alive=int(keep_alive_s))
        self.server = uvicorn.Server(self.config)
        self.thread: threading.Thread | None = None
        self.url = ""

    def start(self, timeout: float = 20.0) -> "BackgroundServer":
        self.thread = threading.Thread(target=self.server.run, name="hub-uvicorn", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the hub server exited during start-up (see its log)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hub server did not start within {timeout:.0f}s")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
