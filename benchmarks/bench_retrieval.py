"""Two-stage retrieval on a catalogue of a million synthetic movies: recall and latency.

    python -m benchmarks.bench_retrieval [--bundle models/current] [--movies 1000000]
    python -m benchmarks.bench_retrieval --bundle models/current --sweep

The million movie vectors and biases are drawn around a trained bundle's own (each synthetic
movie is a real movie's vector plus noise of the same spread, its bias the real one's plus
noise), so norms, biases and clusters are those of a trained model; the user vectors are the
bundle's users' (context-free part plus the weekday-evening context). The shortlist's search
effort is calibrated as the service does at load (on 50 other users); then, for each user:
the exact top 10 over every movie, and the two-stage top 10 (app.retrieval: IVF shortlist
of 100, exact re-score). Reports the build time of the IVF index, recall@10 of the two-stage
list against the exact one, and the latency of both paths per request (one thread, as each
API worker runs). /similar's HNSW index is measured the same way against the flat index on
unit vectors drawn around the bundle's similarity vectors.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _around(rng: np.random.Generator, real: np.ndarray, n: int) -> np.ndarray:
    picks = rng.integers(0, len(real), n)
    spread = real.std(axis=0, keepdims=True)
    return (real[picks] + 0.5 * spread * rng.standard_normal((n, real.shape[1]),
                                                              dtype=np.float32)).astype(np.float32)


def sweep(bundle_path: Path, n_users: int = 400) -> None:
    """Shortlist size × lists searched on the bundle's own catalogue, the users' rated movies
    removed as the service does: recall@10 against exact scoring, latency, and how many users
    would fall back to exact scoring (fewer than 10 found)."""
    import faiss
    from threadpoolctl import threadpool_limits

    from app.loading import load_bundle
    from app.retrieval import Shortlister, exact_top
    from recommender_core.vectors import top_k

    bundle = load_bundle(bundle_path.resolve())
    scorer = bundle.scorer
    shortlister = Shortlister(scorer.item_vectors, scorer.item_bias)
    threadpool_limits(1)
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(1)
    users = rng.choice(len(bundle.arrays["user_ids"]), n_users)
    truth = {}
    for user in users:
        scores = scorer.known_user_vector(int(user), 3, 0) @ scorer.item_vectors.T
        scores = scores + scorer.item_bias
        scores[bundle.seen(int(user))] = -np.inf
        truth[int(user)] = set(top_k(scores, 10).tolist())
    print("| shortlist / nprobe | recall@10 vs exact | p50 ms | p99 ms | fall back |")
    print("|---|---:|---:|---:|---:|")
    for n, nprobe in ((50, 4), (100, 4), (100, 8), (100, 16), (200, 16)):
        shortlister.nprobe = nprobe
        timings, recalls, fallback = [], [], 0
        for user in users:
            vector = scorer.known_user_vector(int(user), 3, 0)
            start = time.perf_counter()
            # rated movies skipped inside the search, as app.ranking.two_stage asks
            found = shortlister.search(vector, n, bundle.seen(int(user)))
            if len(found) < 10:
                fallback += 1
                continue
            ranked, _ = exact_top(scorer.item_vectors, scorer.item_bias, vector, found)
            timings.append(1000 * (time.perf_counter() - start))
            recalls.append(len(set(ranked[:10].tolist()) & truth[int(user)]) / 10)
        print(f"| {n} / {nprobe} | {np.mean(recalls):.3f} | {np.percentile(timings, 50):.2f} | "
              f"{np.percentile(timings, 99):.2f} | {fallback} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("models/current"))
    parser.add_argument("--movies", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--sweep", action="store_true",
                        help="instead: shortlist size × lists searched on the bundle's own "
                        "catalogue")
    args = parser.parse_args()
    if args.sweep:
        sweep(args.bundle)
        return
    import faiss
    from threadpoolctl import threadpool_limits

    from app.loading import load_bundle
    from app.retrieval import Shortlister, approximate_index, exact_top
    from recommender_core.vectors import top_k

    def stats(ms: list[float]) -> dict[str, float]:
        return {"p50_ms": round(float(np.percentile(ms, 50)), 2),
                "p99_ms": round(float(np.percentile(ms, 99)), 2)}

    bundle = load_bundle(args.bundle.resolve())
    scorer = bundle.scorer
    rng = np.random.default_rng(0)
    vectors = _around(rng, scorer.item_vectors, args.movies)
    bias = _around(rng, scorer.item_bias[:, None], args.movies)[:, 0]
    start = time.perf_counter()
    shortlister = Shortlister(vectors, bias)
    build_s = time.perf_counter() - start
    n_users = len(bundle.arrays["user_ids"])
    users = rng.choice(n_users, min(args.users + 50, n_users), replace=False)
    calibration, users = users[:50], users[50:]
    threadpool_limits(1)
    faiss.omp_set_num_threads(1)
    start = time.perf_counter()
    tried = shortlister.calibrate(vectors, bias, np.stack(
        [scorer.known_user_vector(int(u), 0, 0) for u in calibration]))
    calibrate_s = time.perf_counter() - start
    recalls, exact_ms, staged_ms = [], [], []
    for user in users:
        vector = scorer.known_user_vector(int(user), 3, 0)
        start = time.perf_counter()
        exact = top_k(vectors @ vector + bias, 10)
        exact_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        ranked, _ = exact_top(vectors, bias, vector, shortlister.search(vector, 200))
        staged_ms.append(1000 * (time.perf_counter() - start))
        recalls.append(len(set(ranked[:10].tolist()) & set(exact.tolist())) / 10)

    similar = _around(rng, bundle.arrays["similarity_vectors"], args.movies)
    similar /= np.maximum(np.linalg.norm(similar, axis=1, keepdims=True), 1e-12)
    faiss.omp_set_num_threads(2)
    start = time.perf_counter()
    hnsw = approximate_index(similar)
    similar_build_s = time.perf_counter() - start
    flat = faiss.IndexFlatIP(similar.shape[1])
    flat.add(similar)
    faiss.omp_set_num_threads(1)
    queries = similar[rng.choice(args.movies, 200, replace=False)]
    _, truth = flat.search(queries, 11)
    similar_rows = {}
    for ef in (100, 200, 400):
        hnsw.hnsw.efSearch = ef
        timings, found = [], []
        for query in queries:
            start = time.perf_counter()
            found.append(hnsw.search(query[None, :], 11)[1][0])
            timings.append(1000 * (time.perf_counter() - start))
        recall = float(np.mean([len(set(f) & set(t)) / 11 for f, t in zip(found, truth,
                                                                           strict=True)]))
        similar_rows[ef] = {"recall@10_vs_flat": round(recall, 4), **stats(timings)}

    print(json.dumps({
        "movies": args.movies, "dim": int(vectors.shape[1]), "users": len(users),
        "recommend": {"ivf_build_s": round(build_s, 1), "ivf_lists": int(shortlister.index.nlist),
                      "calibration": {"seconds": round(calibrate_s, 1),
                                      "recall_by_nprobe": tried,
                                      "nprobe_chosen": shortlister.nprobe},
                      "recall@10_vs_exact": round(float(np.mean(recalls)), 4),
                      "two_stage": stats(staged_ms), "exact": stats(exact_ms)},
        "similar": {"hnsw_build_s": round(similar_build_s, 1), "by_ef": similar_rows},
    }, indent=2))


if __name__ == "__main__":
    main()
