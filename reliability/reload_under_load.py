"""Switch bundles, good and bad, while many connections load the service.

    python -m reliability.reload_under_load --bundles models/current OTHER/current \
        --connections 32 --seconds 60 --switches 20

Copies the given good bundles (renamed v1, v2, ...) and three corrupted copies of the first
into a scratch models directory, starts `python -m app` on loopback, records every good
version's answer to a fixed set of /recommend and /similar URLs, then loads the service with
``--connections`` concurrent clients while `current` is switched ``--switches`` times through
POST /admin/reload. Every response must be a 200 that equals the recorded answer of the
version it names. Prints the counts; exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from tests.bundles import point_current, resign, set_version
from tests.servers import free_port, start_service, wait_ready

TOKEN = "reload-under-load"


def prepare(models: Path, sources: list[Path]) -> tuple[list[str], list[str]]:
    good = []
    for number, source in enumerate(sources, 1):
        name = f"v{number}"
        shutil.copytree(os.path.realpath(source), models / name)
        set_version(models / name, name)
        good.append(name)
    broken = {"bad-checksum": lambda b: (b / "item_bias.npy").write_bytes(b"\x93NUMPY junk"),
              "bad-keras": lambda b: ((b / "model.keras").write_bytes(b"PK junk"), resign(b)),
              "bad-faiss": lambda b: ((b / "similar.faiss").write_bytes(b"IxFI junk"),
                                      resign(b))}
    for name, corrupt in broken.items():
        shutil.copytree(models / good[0], models / name)
        set_version(models / name, name)
        corrupt(models / name)
    return good, list(broken)


def urls(n: int) -> list[str]:
    users = [f"/recommend/{u}?k=10" for u in range(1, n + 1)]
    movies = [f"/similar/{m}?k=10" for m in (1, 2, 3, 6, 10, 32, 47, 50, 110, 260, 296, 318,
                                             356, 480, 527, 589, 593, 1196, 2571, 4993)]
    return list(itertools.chain(*zip(users, itertools.cycle(movies), strict=False)))


def answer(body: dict) -> tuple[int, ...]:
    return tuple(item["movie_id"] for item in body["items"])


async def reload(client: httpx.AsyncClient) -> int:
    response = await client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"},
                                 timeout=120)
    return response.status_code


async def record(client: httpx.AsyncClient, models: Path, good: list[str],
                 paths: list[str]) -> dict[tuple[str, str], tuple[int, ...]]:
    expected = {}
    for name in good:
        point_current(models, name)
        assert await reload(client) in (200, 409)
        for path in paths:
            body = (await client.get(path)).json()
            assert body["model_version"] == name
            expected[name, path] = answer(body)
    return expected


async def load(base: str, models: Path, good: list[str], broken: list[str], args: argparse.
               Namespace) -> dict:
    paths = urls(200)
    async with httpx.AsyncClient(base_url=base, timeout=30) as control:
        expected = await record(control, models, good, paths)
        point_current(models, good[0])
        await reload(control)
        stats = {"requests": 0, "failed": [], "inconsistent": [], "versions": set(),
                 "latencies": [], "reloads": []}
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=args.connections,
                              max_keepalive_connections=args.connections)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

            async def worker(offset: int) -> None:
                for path in itertools.cycle(paths[offset:] + paths[:offset]):
                    if stop.is_set():
                        return
                    start = time.perf_counter()
                    try:
                        response = await client.get(path)
                    except httpx.HTTPError as exc:
                        stats["failed"].append(f"{path}: {type(exc).__name__}")
                        continue
                    stats["latencies"].append(time.perf_counter() - start)
                    stats["requests"] += 1
                    if response.status_code != 200:
                        stats["failed"].append(f"{path}: {response.status_code}")
                        continue
                    body = response.json()
                    version = body["model_version"]
                    stats["versions"].add(version)
                    if expected.get((version, path)) != answer(body):
                        stats["inconsistent"].append(f"{path} @ {version}")

            async def switcher() -> None:
                # v2, bad-checksum, v1, bad-keras, v2, bad-faiss, v1, ...
                schedule = itertools.chain.from_iterable(zip(
                    itertools.cycle(good[1:] + good[:1]), itertools.cycle(broken)))
                gap = args.seconds / (args.switches + 1)
                for _ in range(args.switches):
                    await asyncio.sleep(gap)
                    name = next(schedule)
                    point_current(models, name)
                    stats["reloads"].append((name, await reload(control)))
                await asyncio.sleep(gap)
                stop.set()

            await asyncio.gather(switcher(), *(worker(i * 7) for i in range(args.connections)))
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, nargs="+", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--switches", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reload-under-load-") as scratch:
        models = Path(scratch)
        good, broken = prepare(models, args.bundles)
        point_current(models, good[0])
        port = free_port()
        server = start_service(models, port, ADMIN_TOKEN=TOKEN)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base)
            stats = asyncio.run(load(base, models, good, broken, args))
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = np.array(stats["latencies"]) * 1000
    refused = sum(1 for name, code in stats["reloads"] if name in broken and code == 409)
    applied = sum(1 for name, code in stats["reloads"] if name in good and code == 200)
    print(f"{args.connections} connections, {args.seconds:.0f} s, {len(stats['reloads'])} "
          f"switches ({applied} good bundles loaded, {refused} broken ones refused)")
    print(f"requests: {stats['requests']}, failed: {len(stats['failed'])}, inconsistent with "
          f"their version: {len(stats['inconsistent'])}, versions served: "
          f"{sorted(stats['versions'])}")
    print(f"latency ms: p50 {np.percentile(latencies, 50):.1f}, p99 "
          f"{np.percentile(latencies, 99):.1f}, max {latencies.max():.1f}")
    print("reloads:", " ".join(f"{n}={c}" for n, c in stats["reloads"]))
    for line in (stats["failed"] + stats["inconsistent"])[:20]:
        print("  ", line)
    ok = (not stats["failed"] and not stats["inconsistent"]
          and refused + applied == len(stats["reloads"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
