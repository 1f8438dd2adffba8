"""A real uvicorn process keeps answering while bundles are switched, good and bad."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.bundles import point_current, set_version, trained_models_dir
from tests.servers import free_port, start_service, wait_ready

TOKEN = "reload-token"


@pytest.mark.slow
def test_reload_under_concurrent_requests(tmp_path: Path) -> None:
    source = Path(os.path.realpath(trained_models_dir() / "current"))
    models = tmp_path / "models"
    models.mkdir()
    for name in ("v1", "v2", "broken"):
        shutil.copytree(source, models / name)
    for name in ("v1", "v2"):
        set_version(models / name, name)
    (models / "broken" / "item_bias.npy").write_bytes(b"\x93NUMPY garbage")
    point_current(models, "v1")

    port = free_port()
    server = start_service(models, port, ADMIN_TOKEN=TOKEN)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
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
            point_current(models, name)
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
