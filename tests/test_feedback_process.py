"""The feedback store behind a real service process: acknowledged events survive `kill -9`, and
32 concurrent writers lose and duplicate nothing (SQLite on disk and a real PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time

import httpx
import pytest

from tests.bundles import trained_models_dir
from tests.servers import free_port, start_service, wait_ready

pytestmark = pytest.mark.slow
USERS = range(700_001, 700_005)  # new users: only their posted events exist


def _stored_ids(base: str) -> set[str]:
    found: set[str] = set()
    for user in USERS:
        offset = 0
        while True:
            page = httpx.get(f"{base}/users/{user}/feedback",
                             params={"offset": offset, "limit": 1000}).json()
            found.update(item["event_id"] for item in page["items"])
            offset += len(page["items"])
            if offset >= page["total"]:
                break
    return found


def test_acknowledged_events_survive_kill_9(store_url: str) -> None:
    """Four clients post events one by one; the service is killed with SIGKILL mid-stream,
    twice. After each restart every event that got a 201 is there."""
    models = trained_models_dir()
    acknowledged: set[str] = set()
    movie_ids = [1, 2, 3, 4, 5, 6, 7, 8]
    for round_ in range(2):
        port = free_port()
        server = start_service(models, port, FEEDBACK_URL=store_url)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        assert _stored_ids(base) >= acknowledged
        stop = threading.Event()

        def client(worker: int, base: str = base, round_: int = round_,
                   stop: threading.Event = stop) -> None:
            with httpx.Client(base_url=base, timeout=10) as http:
                for n in range(100_000):
                    if stop.is_set():
                        return
                    event_id = f"r{round_}-w{worker}-{n}"
                    try:
                        response = http.post("/feedback", json={
                            "user_id": USERS[worker], "movie_id": movie_ids[n % 8],
                            "rating": 4.0, "timestamp": 1_000_000 + n, "event_id": event_id})
                    except httpx.TransportError:
                        return  # killed mid-request: not acknowledged
                    if response.status_code == 201:
                        acknowledged.add(event_id)

        threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(1.0, 2.5))
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert len(acknowledged) > 20  # the clients did get going
    port = free_port()
    server = start_service(models, port, FEEDBACK_URL=store_url)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        stored = _stored_ids(base)
        assert acknowledged <= stored, sorted(acknowledged - stored)[:5]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_32_concurrent_writers_lose_and_duplicate_nothing(store_url: str) -> None:
    """32 connections each post 10 events one at a time, then post them all again (a client
    retrying): 320 stored, the first post of each a 201, every retry a 200 duplicate."""
    models = trained_models_dir()
    port = free_port()
    server = start_service(models, port, FEEDBACK_URL=store_url)
    base = f"http://127.0.0.1:{port}"

    async def writer(http: httpx.AsyncClient, worker: int) -> list[int]:
        codes = []
        events = [{"user_id": USERS[worker % 4], "movie_id": 1 + n % 8, "rating": 3.5,
                   "timestamp": 2_000_000 + n, "event_id": f"c{worker}-{n}"}
                  for n in range(10)]
        for event in events:
            codes.append((await http.post("/feedback", json=event)).status_code)
        retry = await http.post("/feedback", json=events)
        assert retry.json()["duplicates"] == 10, retry.text
        codes.append(retry.status_code)
        return codes

    async def run() -> list[list[int]]:
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            return await asyncio.gather(*(writer(http, w) for w in range(32)))

    try:
        wait_ready(base)
        results = asyncio.run(run())
        assert all(codes == [201] * 10 + [200] for codes in results), results
        stored = _stored_ids(base)
        assert stored == {f"c{w}-{n}" for w in range(32) for n in range(10)}
        totals = [httpx.get(f"{base}/users/{u}/feedback").json()["total"] for u in USERS]
        assert totals == [80, 80, 80, 80]  # nothing stored twice
    finally:
        server.terminate()
        server.wait(timeout=30)
