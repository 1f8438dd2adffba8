"""`python -m app` as an operator starts it: metrics summed over WORKERS=2 processes, and the
warning when writes are open on an address others can reach."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.bundles import trained_models_dir
from tests.paths import ROOT
from tests.servers import free_port, running_service, start_service, wait_ready


def _samples(text: str, name: str) -> list[tuple[str, float]]:
    return [(labels, float(value)) for labels, value in
            re.findall(rf"^{name}\{{(.*)\}} (\S+)$", text, flags=re.MULTILINE)]


@pytest.mark.slow
def test_metrics_count_every_workers_requests() -> None:
    """Each request opens its own connection, so the kernel spreads them over both workers;
    /metrics must count all N, whichever worker answers it, and show both workers' model."""
    n = 60
    with running_service(trained_models_dir(), WORKERS="2") as base:
        deadline = time.monotonic() + 120
        while True:  # both workers loaded the bundle (one model series per worker process)
            text = httpx.get(f"{base}/metrics").text
            loaded = [s for s in _samples(text, "recommender_model_info") if s[1] == 1.0]
            if len(loaded) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len({labels for labels, _ in loaded}) == 2, loaded
        for _ in range(n):
            with httpx.Client() as fresh:  # a new connection each time
                assert fresh.get(f"{base}/recommend/5").status_code == 200
        for _ in range(3):  # whichever worker answers, the same total
            text = httpx.get(f"{base}/metrics").text
            counted = sum(value for labels, value in
                          _samples(text, "recommender_requests_total")
                          if 'route="/recommend/{user_id}"' in labels)
            assert counted == n, text
            histogram = sum(value for labels, value in
                            _samples(text, "recommender_request_seconds_count")
                            if 'route="/recommend/{user_id}"' in labels)
            assert histogram == n
        loads = sum(value for labels, value in _samples(text, "recommender_reloads_total")
                    if 'outcome="loaded"' in labels)
        assert loads == 2  # one start-up load per worker


def test_open_writes_on_a_public_address_are_warned_about() -> None:
    """Writes without API_KEY on a non-loopback address: one clear warning at start; on
    127.0.0.1 (the default) or with API_KEY set, none."""
    def first_lines(**env: str) -> str:
        port = free_port()
        server = start_service(trained_models_dir(), port, **env)
        try:
            wait_ready(f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
            _, err = server.communicate(timeout=30)
        return err.decode()

    warned = first_lines(HOST="0.0.0.0", API_KEY="")  # noqa: S104  # nosec B104
    assert "writes are open: POST /feedback and DELETE /users/{id}/feedback accept any " \
           "caller on 0.0.0.0" in warned, warned
    assert "writes are open" not in first_lines(HOST="0.0.0.0", API_KEY="s3cret")  # nosec
    assert "writes are open" not in first_lines()


def test_default_address_is_loopback() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    code = "from app.settings import Settings; print(Settings().host)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=True)
    assert done.stdout.strip() == "127.0.0.1"
