"""Real controltower processes on loopback: ``serve`` and ``worker`` started as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli_env(**settings: str) -> dict[str, str]:
    """The environment for a controltower process with the given CONTROLTOWER_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLTOWER_")}
    env.update({f"CONTROLTOWER_{k.upper()}": v for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m controltower ARGS`` to completion and return its result."""
    return subprocess.run(
        [sys.executable, "-m", "controltower", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Process:
    """A running controltower process, its log file and (for ``serve``) its URL."""

    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait (graceful shutdown), SIGKILL if it hangs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start(args: list[str], env: dict[str, str], log: Path) -> Process:
    """Start ``python -m controltower ARGS`` in the background, output to ``log``."""
    handle = log.open("ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", "controltower", *args], env=env, stdout=handle, stderr=handle
    )
    return Process(popen, log)


def start_server(env: dict[str, str], log: Path, *extra: str, port: int | None = None) -> Process:
    """Start ``serve`` on a free port and wait until ``/healthz`` answers."""
    port = port or free_port()
    process = start(["serve", "--port", str(port), *extra], env, log)
    process.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    # One client for every poll: a new one per poll would build a TLS context each time,
    # on the CPU the starting server needs.
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
            try:
                if client.get(f"{process.url}/healthz").status_code == 200:
                    return process
            except httpx.HTTPError:
                time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not answer in time: {log.read_text()[-3000:]}")


@contextmanager
def server(env: dict[str, str], log: Path, *extra: str) -> Iterator[Process]:
    """A server for the duration of a ``with`` block."""
    process = start_server(env, log, *extra)
    try:
        yield process
    finally:
        process.stop()


def wait_until(predicate: object, timeout: float = 60, interval: float = 0.1) -> None:
    """Poll ``predicate()`` until true; ``AssertionError`` after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
