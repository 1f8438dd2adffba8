"""A real uvicorn process serving a models directory, for tests that need real sockets."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.paths import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(models: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    """`python -m app` on 127.0.0.1:port (returns at once; see wait_ready)."""
    store = Path(tempfile.mkdtemp(prefix="feedback-")) / "feedback.sqlite"
    environment = dict(os.environ, MODEL_DIR=str(models), WATCH_INTERVAL="0", PORT=str(port),
                       HOST="127.0.0.1", LOG_LEVEL="warning", FEEDBACK_URL=f"sqlite:///{store}")
    environment.update(env)
    return subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=environment,
                            stderr=subprocess.PIPE)


def wait_ready(base: str, timeout: float = 120) -> float:
    """Seconds until GET /ready answered 200."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(f"{base}/ready").status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base} not ready after {timeout} s")


@contextlib.contextmanager
def running_service(models: Path, **env: str) -> Iterator[str]:
    """Serve ``models`` until the block ends; yields the base URL."""
    port = free_port()
    server = start_service(models, port, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
