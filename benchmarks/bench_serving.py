"""Serving benchmark: the real service on a bundle vs a trivial FastAPI app and a bare ASGI
app (benchmarks/bare_app.py), loaded by wrk.

    python benchmarks/bench_serving.py --model-dir models [--duration 10] [--connections 1,16,64]
        [--workers 1] [--endpoints recommend,similar]

Starts both with uvicorn (the trivial app with one worker, the service with ``--workers``;
access log off) on loopback, measures the service's startup (process start to /ready = 200,
every worker) and resident memory (the largest process's, the sum with the supervisor, and
the sum of proportional shares, which counts pages the workers share once),
then runs wrk against the trivial app's /recommend, the service's /recommend/{random known
user} and /similar/{random movie} at each connection count. Prints a markdown table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(app: str, port: int, env: dict[str, str], workers: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "--workers", str(workers)],
        cwd=ROOT, env=env, start_new_session=True,
    )


def processes(root: int) -> list[int]:
    """``root`` and its descendants (uvicorn's supervisor and workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def per_process(root: int) -> list[dict[str, float]]:
    """RSS, PSS and its anonymous and file-backed parts (MiB) of each live process of the
    tree, heaviest PSS first (a worker; uvicorn's supervisor, which loads nothing, last)."""
    rows = [{"pid": pid, "rss": proc_mib(pid, "status", "VmRSS"),
             "pss": proc_mib(pid, "smaps_rollup", "Pss"),
             "pss_anon": proc_mib(pid, "smaps_rollup", "Pss_Anon"),
             "pss_file": proc_mib(pid, "smaps_rollup", "Pss_File")}
            for pid in processes(root)]
    return sorted((r for r in rows if r["rss"] == r["rss"]), key=lambda r: -r["pss"])


def memory(root: int) -> dict[str, float]:
    """RSS and PSS of the heaviest process of the tree (a worker) and of all of them; PSS
    counts the pages the workers share (the bundle's memory-mapped files) once (MiB)."""
    rows = per_process(root)
    sizes, shares = [r["rss"] for r in rows], [r["pss"] for r in rows]
    return {"rss_max_process_mib": round(max(sizes), 1), "rss_total_mib": round(sum(sizes), 1),
            "pss_max_process_mib": round(max(shares), 1),
            "pss_total_mib": round(sum(shares), 1), "processes": len(rows)}


def wait_ready(url: str, timeout: float = 180.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def wait_workers(url: str, workers: int, timeout: float) -> None:
    """Until ``workers`` processes report a loaded bundle (``recommender_model_info`` has a
    ``pid`` label per live worker): a run of /ready answers can all come from the one worker
    that loaded first while another is still reading the bundle."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            text = response.read().decode()
        pids = set(re.findall(r'^recommender_model_info\{[^}]*pid="(\d+)"', text, re.M))
        if len(pids) >= workers or (workers == 1 and "recommender_model_info{" in text):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{url}: fewer than {workers} workers loaded the bundle")


def proc_mib(pid: int, file: str, field: str) -> float:
    """``field`` (a kB line) of ``/proc/<pid>/<file>`` in MiB; NaN when the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/{file}").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid: int) -> float:
    return proc_mib(pid, "status", "VmRSS")


def lua_distinct(prefix: str, ids: list[int], max_offset: int) -> str:
    """Requests that seldom repeat: a random id and a random offset 0..``max_offset`` each,
    so the service's answer cache (app.hot) rarely holds the answer."""
    body = ",".join(str(int(i)) for i in ids)
    return (f"local ids = {{{body}}}\nmath.randomseed(43)\n"
            "request = function() return wrk.format('GET', "
            f"'{prefix}' .. ids[math.random(#ids)] .. '?k=10&offset=' .. "
            f"math.random(0, {max_offset})) end\n")


def lua_script(paths: list[str]) -> str:
    body = ",".join(json.dumps(p) for p in paths)
    return (f"local paths = {{{body}}}\nmath.randomseed(42)\n"
            "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(url: str, script: str, connections: int, duration: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    threads = min(2, connections)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
                          "--latency", "-s", handle.name, url], capture_output=True, text=True,
                         check=True).stdout
    os.unlink(handle.name)
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        result[f"p{pct}_ms"] = float(value) * UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    result["errors"] = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(x) for x in socket_errors.groups()) if socket_errors else 0)
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--endpoints", default="recommend,similar")
    parser.add_argument("--ready-timeout", type=float, default=180.0,
                        help="seconds the service may take to answer /ready")
    args = parser.parse_args()
    bundle = Path(os.path.realpath(args.model_dir / "current"))
    users = np.load(bundle / "user_ids.npy")
    movies = np.load(bundle / "item_ids.npy")
    rng = np.random.default_rng(0)
    env = dict(os.environ, MODEL_DIR=str(args.model_dir), WATCH_INTERVAL="0",
               TF_CPP_MIN_LOG_LEVEL="3")
    if args.workers > 1:  # the workers' metrics in one folder, as `python -m app` sets up
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")

    trivial_port, service_port, bare_port = free_port(), free_port(), free_port()
    trivial = start("benchmarks.trivial_app:app", trivial_port, env)
    bare = start("benchmarks.bare_app:app", bare_port, env)
    launched = time.perf_counter()
    service = start("app.main:app", service_port, env, args.workers)
    try:
        wait_ready(f"http://127.0.0.1:{trivial_port}/recommend/1")
        wait_ready(f"http://127.0.0.1:{bare_port}/recommend/1")
        wait_ready(f"http://127.0.0.1:{service_port}/ready", args.ready_timeout)
        wait_workers(f"http://127.0.0.1:{service_port}/metrics", args.workers,
                     args.ready_timeout)
        startup = time.perf_counter() - launched
        rss_ready = memory(service.pid)
        targets = {
            "bare ASGI /recommend": (f"http://127.0.0.1:{bare_port}",
                                     [f"/recommend/{u}?k=10" for u in rng.choice(users, 500)]),
            "trivial /recommend": (f"http://127.0.0.1:{trivial_port}",
                                   [f"/recommend/{u}?k=10" for u in rng.choice(users, 500)]),
            "/recommend": (f"http://127.0.0.1:{service_port}",
                           [f"/recommend/{u}?k=10" for u in rng.choice(users, 500)]),
            "/similar": (f"http://127.0.0.1:{service_port}",
                         [f"/similar/{m}?k=10" for m in rng.choice(movies, 500)]),
        }
        wanted = {f"/{name}" for name in args.endpoints.split(",")} | {
            "trivial /recommend", "bare ASGI /recommend"}
        targets = {name: target for name, target in targets.items() if name in wanted}
        scripts = {name: (base, lua_script(paths)) for name, (base, paths) in targets.items()}
        service_base = f"http://127.0.0.1:{service_port}"
        if "/recommend" in wanted:
            scripts["/recommend, every request new"] = (
                service_base, lua_distinct("/recommend/", users.tolist(), 999))
        if "/similar" in wanted:
            scripts["/similar, every request new"] = (
                # offsets within the neighbour cache (app.bundle.NEIGHBOUR_CACHE)
                service_base, lua_distinct("/similar/", movies.tolist(), 89))
        rows = []
        for connections in [int(c) for c in args.connections.split(",")]:
            for name, (base, script) in scripts.items():
                run_wrk(base, script, connections, 2)  # warm-up
                result = run_wrk(base, script, connections, args.duration)
                rows.append({"endpoint": name, "connections": connections, **result})
                print(json.dumps(rows[-1]), flush=True)
        rss_after = memory(service.pid)
    finally:
        for process in (trivial, bare, service):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)

    floor = {r["connections"]: r["rps"] for r in rows if r["endpoint"].startswith("trivial")}
    bare_floor = {r["connections"]: r["rps"] for r in rows
                  if r["endpoint"].startswith("bare")}
    print(f"\nbundle {bundle.name}; {args.workers} worker(s); startup to /ready {startup:.1f} s; "
          f"RSS at ready {rss_ready}, after the load {rss_after}\n")
    print("| endpoint | connections | requests/s | vs trivial | vs bare ASGI | p50 ms | p99 ms "
          "| errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = r["rps"] / floor[r["connections"]]
        bare_share = r["rps"] / bare_floor[r["connections"]]
        print(f"| {r['endpoint']} | {r['connections']} | {r['rps']:.0f} | {share:.2f}× | "
              f"{bare_share:.2f}× | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |")
    print(json.dumps({"startup_s": startup, "rss_ready_mib": rss_ready,
                      "rss_after_mib": rss_after, "rows": rows}))


if __name__ == "__main__":
    main()
