"""What each worker of the service costs in memory once serving has read everything it can:
RSS and PSS per worker at ready, after `/recommend` and `/similar` traffic, and after
requests that read whole tables (genre-filtered lists, which search every IVF list).

    python -m benchmarks.bench_memory --model-dir .bench/models-1m --workers 2

PSS (proportional set size) counts a page that N processes map as 1/N in each: the figure to
hold against a host's memory when the workers share the bundle's memory-mapped files. The
page cache holding those files is not counted in any process (it is reclaimable).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.bench_serving import (
    ROOT,
    free_port,
    lua_distinct,
    per_process,
    run_wrk,
    start,
    wait_ready,
    wait_workers,
)


def show(label: str, rows: list[dict[str, float]]) -> None:
    for row in rows:
        print(f"| {label} | {row['pid']} | {row['rss']:,.0f} | {row['pss']:,.0f} | "
              f"{row['pss_anon']:,.0f} | {row['pss_file']:,.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=30, help="seconds of each wrk phase")
    parser.add_argument("--filtered", type=int, default=40,
                        help="genre-filtered requests (each searches every IVF list)")
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    args = parser.parse_args()
    bundle = Path(os.path.realpath(args.model_dir / "current"))
    users = np.load(bundle / "user_ids.npy").tolist()
    movies = np.load(bundle / "item_ids.npy").tolist()
    genres = sorted({g for m in json.loads((bundle / "movies.json").read_text())[:1000]
                     for g in m["genres"]})
    env = dict(os.environ, MODEL_DIR=str(args.model_dir), WATCH_INTERVAL="0",
               PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="bench-metrics-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = start("app.main:app", port, env, args.workers)
    print("| after | pid | RSS MiB | PSS MiB | of it anonymous | of it files |")
    print("|---|---:|---:|---:|---:|---:|")
    try:
        started = time.perf_counter()
        wait_ready(f"{base}/ready", args.ready_timeout)
        wait_workers(f"{base}/metrics", args.workers, args.ready_timeout)
        print(f"<!-- all {args.workers} workers ready in {time.perf_counter() - started:.1f} s"
              " -->", flush=True)
        show("ready", per_process(service.pid))
        for name, prefix, ids, offsets in (("/recommend", "/recommend/", users, 999),
                                           ("/similar", "/similar/", movies, 89)):
            result = run_wrk(base, lua_distinct(prefix, ids, offsets), 16, args.duration)
            print(f"<!-- {name} every request new, 16 connections, {args.duration} s: "
                  f"{result['rps']:.0f} req/s, p99 {result['p99_ms']:.1f} ms -->", flush=True)
            show(f"{args.duration} s of {name}", per_process(service.pid))
        rng = np.random.default_rng(0)

        def filtered(user: int) -> float:
            genre = genres[int(rng.integers(len(genres)))]
            begun = time.perf_counter()
            with urllib.request.urlopen(  # noqa: S310 (loopback)
                    f"{base}/recommend/{user}?k=10&genres={genre}", timeout=120) as answer:
                answer.read()
            return time.perf_counter() - begun

        with ThreadPoolExecutor(4) as pool:
            seconds = sorted(pool.map(filtered, rng.choice(users, args.filtered).tolist()))
        print(f"<!-- {args.filtered} genre-filtered requests, 4 at a time: median "
              f"{1e3 * seconds[len(seconds) // 2]:.0f} ms -->", flush=True)
        show(f"{args.filtered} filtered", per_process(service.pid))
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=60)


if __name__ == "__main__":
    main()
