"""Time and memory of the hybrid's item-item part (EASE + truncated SVD) on a release.

    python -m benchmarks.bench_item_item --data .bench/synthetic-60k

Fits the part the way ``train`` does: EASE's λ tuned on a carve-out (5 fits, then one on the
carve-out's train), then the fit on all ratings at that λ, each followed by the rank-256
randomized SVD; at most the 8,192 most-liked movies take part. Prints one JSON line: the
movies in the part, seconds of each stage, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a MovieLens release folder")
    args = parser.parse_args()

    from training.data.dataset import load_dataset
    from training.data.interactions import build_interactions
    from training.models.item_item import MAX_ITEMS, RANK, fit_item_item

    started = time.perf_counter()
    dataset = load_dataset(args.data, progress=False)
    data = build_interactions(dataset, dataset.ratings)
    loaded = time.perf_counter()
    tuned = fit_item_item(data, RANK)
    first = time.perf_counter()
    fit_item_item(data, RANK, l2=tuned.l2)
    second = time.perf_counter()
    liked = int((np.asarray(data.likes.sum(axis=0)).ravel() > 0).sum())
    print(json.dumps({
        "data": args.data, "users": data.n_users, "movies": data.n_items,
        "likes": int(data.likes.nnz), "liked_movies": liked,
        "movies_in_part": min(liked, MAX_ITEMS), "rank": tuned.rank, "l2": tuned.l2,
        "load_s": round(loaded - started, 1), "tuned_fit_s": round(first - loaded, 1),
        "fixed_fit_s": round(second - first, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
