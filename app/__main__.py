"""`python -m app`: serve MODEL_DIR/current with the host, port, workers and shutdown grace of
Settings.

With WORKERS above 1, uvicorn's supervisor starts that many worker processes on the one port;
each loads the bundle (verifying it in its own short-lived TensorFlow process), watches
MODEL_DIR/current and polls the feedback store by itself, and is restarted if it dies. A
POST /admin/reload reaches one worker; the others pick the new bundle up from the watcher.

On SIGTERM uvicorn stops accepting connections and lets requests in flight finish (up to
SHUTDOWN_GRACE seconds) before the process exits.
"""

from __future__ import annotations

import uvicorn

from app.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run("app.main:app", host=settings.host, port=settings.port,
                log_level=settings.log_level, workers=settings.workers,
                timeout_graceful_shutdown=int(settings.shutdown_grace) or None)


if __name__ == "__main__":
    main()
