"""`python -m app.healthcheck` (the container's HEALTHCHECK) against a local server."""

from __future__ import annotations

import http.server
import threading

from app.healthcheck import main


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_healthcheck_exit_codes() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert main(["healthcheck", f"{base}/health"]) == 0
        assert main(["healthcheck", f"{base}/broken"]) == 1
    finally:
        server.shutdown()
        server.server_close()
    assert main(["healthcheck", f"{base}/health"]) == 1  # nothing listens any more


def test_healthcheck_refuses_other_schemes() -> None:
    assert main(["healthcheck", "file:///etc/passwd"]) == 2
