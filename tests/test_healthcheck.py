"""`python -m app.healthcheck` (the container's HEALTHCHECK) against a local server."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import httpx

from app.healthcheck import main
from tests.bundles import point_current, trained_models_dir
from tests.paths import ROOT
from tests.servers import free_port, start_service


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


def test_container_health_checks_mean_a_bundle_is_served(tmp_path: Path) -> None:
    """The Dockerfile's and compose's health checks ask /ready: a service that is alive but
    refuses its bundle (here one of an older schema) is unhealthy until a servable bundle
    becomes current."""
    checked = re.findall(r"http://127\.0\.0\.1:8000/\w+", (ROOT / "Dockerfile").read_text()
                         + (ROOT / "docker-compose.yml").read_text())
    assert checked and set(checked) == {"http://127.0.0.1:8000/ready"}
    source = Path(os.path.realpath(trained_models_dir() / "current"))
    models = tmp_path / "models"
    shutil.copytree(source, models / "new")
    shutil.copytree(source, models / "old")
    manifest = json.loads((models / "old" / "manifest.json").read_text())
    manifest["schema_version"] = 2
    (models / "old" / "manifest.json").write_text(json.dumps(manifest))
    point_current(models, "old")
    port = free_port()
    server = start_service(models, port, WATCH_INTERVAL="0.2")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while main(["healthcheck", f"{base}/health"]) != 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert main(["healthcheck", f"{base}/ready"]) == 1
        reason = httpx.get(f"{base}/ready").json()["reason"]
        assert "schema version 2, this version reads 3" in reason
        assert "python -m training train" in reason and "bundles use" in reason
        point_current(models, "new")
        while main(["healthcheck", f"{base}/ready"]) != 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
