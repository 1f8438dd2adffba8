"""Feedback serving benchmark: POST /feedback on SQLite and on PostgreSQL, and /recommend for
users with fresh feedback, against the trivial app, loaded by wrk.

    python -m benchmarks.bench_feedback --model-dir models [--duration 10] [--connections 16]

Starts the trivial app and the service twice (a fresh SQLite store; a fresh PostgreSQL
cluster from Debian's package, started here), each with one uvicorn worker. Per store: wrk
posts single random events (known users and movies, random half-star ratings) for
``--duration`` seconds; then 500 known users get 5 fresh ratings each, and wrk asks
/recommend for those users (the exact path that rebuilds the history input) and for 500
users without feedback (the precomputed path). Prints a markdown table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.bench_serving import free_port, lua_script, rss_mib, run_wrk, start, wait_ready
from tests.postgres import create_server, remove_server


def post_script(users: np.ndarray, movies: np.ndarray) -> str:
    return (f"local users = {{{','.join(str(int(u)) for u in users)}}}\n"
            f"local movies = {{{','.join(str(int(m)) for m in movies)}}}\n"
            "math.randomseed(7)\n"
            "request = function()\n"
            "  local body = string.format('{\"user_id\":%d,\"movie_id\":%d,\"rating\":%.1f}',\n"
            "    users[math.random(#users)], movies[math.random(#movies)], "
            "math.random(1, 10) / 2)\n"
            "  return wrk.format('POST', '/feedback', {['Content-Type'] = 'application/json'},"
            " body)\n"
            "end\n")


def measure(store: str, url: str, env: dict[str, str], users: np.ndarray, movies: np.ndarray,
            args: argparse.Namespace, rng: np.random.Generator) -> list[dict[str, object]]:
    port = free_port()
    service = start("app.main:app", port, {**env, "FEEDBACK_URL": url})
    base = f"http://127.0.0.1:{port}"
    rows: list[dict[str, object]] = []
    try:
        wait_ready(f"{base}/ready")
        fresh, plain = users[:500], users[500:]
        posters = np.arange(10_000_000, 10_010_000)  # new users: the known ones stay as set
        with httpx.Client(base_url=base, timeout=60) as http:  # warm the store
            for user in fresh:
                events = [{"user_id": int(user), "movie_id": int(m), "rating": 4.5}
                          for m in rng.choice(movies, 5, replace=False)]
                assert http.post("/feedback", json=events).status_code == 201
        for connections in args.connections:
            cases = {
                f"POST /feedback ({store})": post_script(posters, movies),
                f"/recommend, fresh feedback ({store})": lua_script(
                    [f"/recommend/{u}?k=10" for u in fresh]),
                f"/recommend, no feedback ({store})": lua_script(
                    [f"/recommend/{u}?k=10" for u in plain]),
            }
            for name, script in cases.items():
                run_wrk(base, script, connections, 2)  # warm-up
                result = run_wrk(base, script, connections, args.duration)
                rows.append({"endpoint": name, "connections": connections, **result})
                print(json.dumps(rows[-1]), flush=True)
        for user in plain[:20]:  # the no-feedback users really had none
            assert httpx.get(f"{base}/users/{user}/feedback").json()["total"] == 0
        rows.append({"endpoint": f"service RSS ({store})", "rss_mib": rss_mib(service.pid)})
        stored = httpx.get(f"{base}/metrics").text
        rows.append({"endpoint": f"metrics ({store})", "lines": [
            line for line in stored.splitlines()
            if line.startswith("recommender_feedback_events_total")]})
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=lambda s: [int(c) for c in s.split(",")],
                        default=[16])
    args = parser.parse_args()
    bundle = Path(os.path.realpath(args.model_dir / "current"))
    rng = np.random.default_rng(0)
    users = rng.permutation(np.load(bundle / "user_ids.npy"))
    movies = np.load(bundle / "item_ids.npy")
    env = dict(os.environ, MODEL_DIR=str(args.model_dir), WATCH_INTERVAL="0",
               TF_CPP_MIN_LOG_LEVEL="3")
    rows: list[dict[str, object]] = []
    trivial_port = free_port()
    trivial = start("benchmarks.trivial_app:app", trivial_port, env)
    postgres = create_server()
    folder = Path(tempfile.mkdtemp(prefix="bench-feedback-"))
    try:
        wait_ready(f"http://127.0.0.1:{trivial_port}/recommend/1")
        for connections in args.connections:
            script = lua_script([f"/recommend/{u}?k=10" for u in users[:500]])
            base = f"http://127.0.0.1:{trivial_port}"
            run_wrk(base, script, connections, 2)
            rows.append({"endpoint": "trivial /recommend", "connections": connections,
                         **run_wrk(base, script, connections, args.duration)})
            print(json.dumps(rows[-1]), flush=True)
        rows += measure("SQLite", f"sqlite:///{folder}/feedback.sqlite", env, users, movies,
                        args, rng)
        rows += measure("PostgreSQL", postgres.url, env, users, movies, args, rng)
    finally:
        os.killpg(trivial.pid, signal.SIGTERM)
        trivial.wait(timeout=30)
        remove_server(postgres)
    floor = {r["connections"]: r["rps"] for r in rows if r["endpoint"] == "trivial /recommend"}
    print(f"\nbundle {bundle.name}, {time.strftime('%Y-%m-%d')}\n")
    print("| endpoint | connections | requests/s | vs trivial | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "rps" not in r:
            continue
        share = float(r["rps"]) / float(floor[r["connections"]])  # type: ignore[index]
        print(f"| {r['endpoint']} | {r['connections']} | {r['rps']:.0f} | {share:.2f}× | "
              f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")
    for r in rows:
        if "rps" not in r:
            print(r)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
