"""Stopping child processes the same way everywhere: the demo's boards, the tests' servers."""

from __future__ import annotations

import signal
import subprocess


def terminate(proc: subprocess.Popen | None, timeout: float, sig: int = signal.SIGTERM) -> None:
    """SIGTERM (or the server's own graceful signal, `sig`) so the process can save what it keeps,
    then SIGKILL if it has not exited in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
