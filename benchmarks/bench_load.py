"""Load a generated ml-25m-sized ratings.csv (25M rows) and report time and peak memory.

    python benchmarks/bench_load.py [--rows 25000000] [--dir .bench/ml-25m-synthetic]

The file is written once (about 680 MB, in ml-25m's layout: userId,movieId,rating,timestamp
with half-star ratings) and reused. The load runs in a fresh child process so that its peak
resident memory (ru_maxrss) is the loader's alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def generate(directory: Path, rows: int, seed: int = 0) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ratings = directory / "ratings.csv"
    if ratings.is_file() and ratings.stat().st_size > rows * 20:
        return
    rng = np.random.default_rng(seed)
    n_users, n_movies = 162_541, 62_423  # ml-25m's sizes
    with open(ratings.with_suffix(".tmp"), "w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        chunk = 1_000_000
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            users = np.sort(rng.integers(1, n_users + 1, size))
            movies = rng.integers(1, n_movies + 1, size)
            stars = rng.integers(1, 11, size) / 2
            times = rng.integers(789_652_009, 1_574_327_703, size)
            lines = [f"{u},{m},{r},{t}\n" for u, m, r, t in
                     zip(users.tolist(), movies.tolist(), stars.tolist(), times.tolist(),
                         strict=True)]
            out.write("".join(lines))
    ratings.with_suffix(".tmp").rename(ratings)
    with open(directory / "movies.csv", "w") as out:
        out.write("movieId,title,genres\n")
        out.writelines(f"{m},Movie {m} (2000),Drama\n" for m in range(1, n_movies + 1))


def measure(directory: Path) -> dict[str, float]:
    from training.data.dataset import load_dataset

    start = time.perf_counter()
    dataset = load_dataset(directory, progress=False)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": len(dataset.ratings), "seconds": round(elapsed, 1),
            "peak_rss_gib": round(peak_kib / 2**20, 2),
            "ratings_frame_mib": round(dataset.ratings.memory_usage().sum() / 2**20, 1),
            "repairs": dataset.repairs}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=25_000_000)
    parser.add_argument("--dir", type=Path, default=Path(".bench/ml-25m-synthetic"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.dir)))
        return
    generate(args.dir, args.rows)
    result = subprocess.run([sys.executable, __file__, "--child", "--dir", str(args.dir)],
                            check=True, stdout=subprocess.PIPE, text=True)
    print(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
