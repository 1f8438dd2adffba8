"""`python -m app`: serve MODEL_DIR/current with the host, port and shutdown grace of Settings.

On SIGTERM uvicorn stops accepting connections and lets requests in flight finish (up to
SHUTDOWN_GRACE seconds) before the process exits.
"""

from __future__ import annotations

import uvicorn

from app.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run("app.main:app", host=settings.host, port=settings.port,
                log_level=settings.log_level,
                timeout_graceful_shutdown=int(settings.shutdown_grace) or None)


if __name__ == "__main__":
    main()
