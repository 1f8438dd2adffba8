"""A real uvicorn process keeps answering while bundles are switched, good and bad."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from bundles import trained_models_dir
from conftest import ROOT

TOKEN = "reload-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _point(models: Path, name: str) -> None:
    link = models / f".current-{name}"
    link.symlink_to(name)
    os.replace(link, models / "current")


@pytest.mark.slow
def test_reload_under_concurrent_requests(tmp_path: Path) -> None:
    source = Path(os.path.realpath(trained_models_dir() / "current"))
    models = tmp_path / "models"
    models.mkdir()
    for name in ("v1", "v2", "broken"):
        shutil.copytree(source, models / name)
    for name in ("v1", "v2"):
        manifest = json.loads((models / name / "manifest.json").read_text())
        manifest["version"] = name
        (models / name / "manifest.json").write_text(json.dumps(manifest))
    (models / "broken" / "item_bias.npy").write_bytes(b"\x93NUMPY garbage")
    _point(models, "v1")

    port = _free_port()
    env = dict(os.environ, MODEL_DIR=str(models), ADMIN_TOKEN=TOKEN, WATCH_INTERVAL="0")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        failures: list[str] = []
        versions: set[str] = set()
        count = [0]
        stop = threading.Event()

        def hammer(worker: int) -> None:
            with httpx.Client(base_url=base, timeout=10) as client:
                i = 0
                while not stop.is_set():
                    user, movie = 1 + (worker + i) % 80, 1 + i % 120
                    url = f"/recommend/{user}" if i % 2 else f"/similar/{movie}"
                    response = client.get(url)
                    i += 1
                    count[0] += 1
                    if response.status_code != 200:
                        failures.append(f"{url}: {response.status_code} {response.text[:100]}")
                    else:
                        versions.add(response.json()["model_version"])

        workers = [threading.Thread(target=hammer, args=(w,)) for w in range(8)]
        for worker in workers:
            worker.start()
        outcomes = []
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for name in ["v2", "broken", "v1", "broken", "v2", "v1"]:
            _point(models, name)
            response = httpx.post(f"{base}/admin/reload", headers=headers, timeout=60)
            outcomes.append(response.status_code)
            time.sleep(0.3)
        stop.set()
        for worker in workers:
            worker.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert outcomes == [200, 409, 200, 409, 200, 200]
    assert failures == []
    assert count[0] > 50
    assert versions == {"v1", "v2"}
