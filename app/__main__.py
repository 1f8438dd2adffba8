"""`python -m app`: serve MODEL_DIR/current with the host, port, workers and shutdown grace of
Settings.

With WORKERS above 1, uvicorn's supervisor starts that many worker processes on the one port;
each loads and verifies the bundle, watches MODEL_DIR/current and polls the feedback store by
itself, and is restarted if it dies. A POST /admin/reload reaches one worker; the others pick
the new bundle up from the watcher. Their metrics go to files in PROMETHEUS_MULTIPROC_DIR (a
fresh private folder unless given), so that GET /metrics reports all of them (app.metrics).

On SIGTERM uvicorn stops accepting connections and lets requests in flight finish (up to
SHUTDOWN_GRACE seconds) before the process exits.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from app.settings import Settings, get_settings

log = logging.getLogger("app")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def open_writes_warning(settings: Settings) -> str | None:
    """The start-up warning when anyone who reaches the port may write feedback."""
    if settings.api_key is not None or is_loopback(settings.host):
        return None
    return (f"writes are open: POST /feedback and DELETE /users/{{id}}/feedback accept any "
            f"caller on {settings.host}:{settings.port} because API_KEY is not set "
            "(docs/configuration.md)")


@contextlib.contextmanager
def shared_metrics_folder(workers: int) -> Iterator[None]:
    """PROMETHEUS_MULTIPROC_DIR for ``workers`` > 1, set before any worker imports
    prometheus_client: a fresh private folder removed at exit, or the given one emptied of an
    earlier run's files."""
    if workers <= 1:
        yield
        return
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    folder = tempfile.mkdtemp(prefix="recommender-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper() if settings.log_level != "trace"
                        else "DEBUG", format="%(levelname)s:     %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which CPU build it tried
    warning = open_writes_warning(settings)
    if warning:
        log.warning(warning)
    with shared_metrics_folder(settings.workers):
        uvicorn.run("app.main:app", host=settings.host, port=settings.port,
                    log_level=settings.log_level, workers=settings.workers,
                    timeout_graceful_shutdown=int(settings.shutdown_grace) or None)


if __name__ == "__main__":
    main()
