"""Replay benchmark of real-time feedback: does posting fresh ratings improve the next list?

    python -m benchmarks.feedback_replay --data ml-latest-small --seeds 3 [--retrain]

Per seed, on the temporal split of the quality protocol (docs/quality-protocol.md):

1. train the default hybrid on the train part and serve it (a real `python -m app` process,
   a fresh SQLite feedback store);
2. split each test user's test ratings in time: the first half is *fed*, the second half is
   *held*; users with a like (>= the like threshold) among the held ratings are evaluated;
3. ask `GET /recommend/{user}` before feeding (plain, and with the fed movies filtered out of
   the list client-side: what mere exclusion gives), post the fed ratings through
   `POST /feedback`, and ask again;
4. NDCG@10 against the held likes, for each, next to EASE fitted on train scoring from the
   train likes alone vs the train likes plus the fed likes (no refit; the same exclusions),
   and (``--retrain``) the hybrid refitted on train + fed ratings.

Prints a markdown table (mean ± std over seeds) and a JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm import tqdm

from recommender_core.bundle_format import import_keras
from tests.servers import running_service
from training.data.dataset import load_dataset
from training.data.download import resolve_data
from training.data.interactions import build_interactions
from training.data.splits import last_fraction_mask, temporal_split
from training.evaluation.metrics import per_user_metrics

K = 10


def ndcg(ranked: list[int], relevant: set[int]) -> float:
    gains = [1.0 / np.log2(position + 2) for position, movie in enumerate(ranked[:K])
             if movie in relevant]
    ideal = sum(1.0 / np.log2(position + 2) for position in range(min(len(relevant), K)))
    return float(sum(gains) / ideal)


def halves(test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fed, held): per user the earlier and the later half of the test ratings in time."""
    held = last_fraction_mask(test, 0.5)
    return test[~held].reset_index(drop=True), test[held].reset_index(drop=True)


def service_ndcg(base: str, users: np.ndarray, fed: pd.DataFrame, held_likes: dict[int, set],
                 progress: bool) -> dict[str, float]:
    fed_by_user = {int(u): group for u, group in fed.groupby("user_id")}
    before, filtered, after = [], [], []
    with httpx.Client(base_url=base, timeout=60) as http:
        for user in tqdm(users, desc="before feedback", disable=not progress):
            movies = set(fed_by_user.get(int(user), pd.DataFrame(
                {"movie_id": []}))["movie_id"].tolist())
            body = http.get(f"/recommend/{user}", params={"k": min(1000, K + len(movies))})
            ranked = [item["movie_id"] for item in body.json()["items"]]
            before.append(ndcg(ranked, held_likes[int(user)]))
            filtered.append(ndcg([m for m in ranked if m not in movies],
                                 held_likes[int(user)]))
        for user, group in tqdm(fed_by_user.items(), desc="posting", disable=not progress):
            events = [{"user_id": user, "movie_id": int(row.movie_id),
                       "rating": float(row.rating), "timestamp": int(row.timestamp)}
                      for row in group.itertuples()]
            for start in range(0, len(events), 1000):
                response = http.post("/feedback", json=events[start:start + 1000])
                assert response.status_code in (200, 201), response.text
        strategies: dict[str, int] = {}
        for user in tqdm(users, desc="after feedback", disable=not progress):
            body = http.get(f"/recommend/{user}", params={"k": K}).json()
            strategies[body["strategy"]] = strategies.get(body["strategy"], 0) + 1
            after.append(ndcg([item["movie_id"] for item in body["items"]],
                              held_likes[int(user)]))
    return {"hybrid, no feedback": float(np.mean(before)),
            "hybrid, no feedback, fed movies filtered out": float(np.mean(filtered)),
            "hybrid + feedback (served, no retraining)": float(np.mean(after)),
            "strategies_after": strategies}  # type: ignore[dict-item]


def ease_ndcg(data, fed: pd.DataFrame, held: pd.DataFrame, users: np.ndarray,
              seed: int) -> dict[str, float]:
    from training.models.ease import EASE

    model = EASE().fit(data, seed=seed)
    rows = data.user_index(users)
    fed_rows = data.user_index(fed["user_id"].to_numpy())
    fed_items = data.item_index(fed["movie_id"].to_numpy())
    known = (fed_rows >= 0) & (fed_items >= 0)
    shape = (data.n_users, data.n_items)
    fed_rated = sp.csr_matrix((np.ones(known.sum(), np.float32),
                               (fed_rows[known], fed_items[known])), shape=shape)
    liked = fed["rating"].to_numpy()[known] >= data.like_threshold
    fed_likes = sp.csr_matrix((np.ones(liked.sum(), np.float32),
                               (fed_rows[known][liked], fed_items[known][liked])), shape=shape)
    held_rows = np.searchsorted(users, held["user_id"].to_numpy())
    held_items = data.item_index(held["movie_id"].to_numpy())
    like = held["rating"].to_numpy() >= data.like_threshold
    relevant = np.zeros((len(users), data.n_items), bool)
    relevant[held_rows[like], held_items[like]] = True
    train_rated = data.ratings[rows].toarray() > 0
    excluded = (data.ratings[rows] + fed_rated[rows]).toarray() > 0
    result = {}
    for name, likes, leave_out in (
            ("EASE, no feedback", data.likes, train_rated),
            ("EASE, no feedback, fed movies filtered out", data.likes, excluded),
            ("EASE + fed likes (no refit)", data.likes + fed_likes, excluded)):
        x = likes[rows][:, model.active]
        scores = np.full((len(users), data.n_items), -np.inf, np.float32)
        scores[:, model.active] = np.asarray(x @ model.weights)
        scores[leave_out] = -np.inf
        values, _ = per_user_metrics(scores, relevant)
        result[name] = float(np.mean(values["ndcg@10"]))
    return result


def retrained_ndcg(dataset, train: pd.DataFrame, fed: pd.DataFrame, held: pd.DataFrame,
                   seed: int, progress: bool) -> float:
    from training.evaluation.protocol import evaluate
    from training.models.hybrid import Hybrid
    from training.models.popularity import Popularity

    ratings = pd.concat([train, fed], ignore_index=True)
    data = build_interactions(dataset, ratings)
    model = Hybrid().fit(data, seed=seed, progress=progress)
    return float(evaluate(model, data, held, fallback=Popularity().fit(data))["ndcg@10"])


def run_seed(dataset, seed: int, *, retrain: bool, progress: bool) -> dict[str, object]:
    from training.commands.train import train_bundle

    split = temporal_split(dataset.ratings)
    fed, held = halves(split.test)
    data = build_interactions(dataset, split.train)
    like = held["rating"].to_numpy() >= data.like_threshold
    held_likes: dict[int, set] = {}
    for user, movie in zip(held["user_id"].to_numpy()[like], held["movie_id"].to_numpy()[like],
                           strict=True):
        held_likes.setdefault(int(user), set()).add(int(movie))
    users = np.array(sorted(held_likes), dtype=np.int64)
    fed = fed[fed["user_id"].isin(users)].reset_index(drop=True)
    held = held[held["user_id"].isin(users)].reset_index(drop=True)

    folder = Path(tempfile.mkdtemp(prefix="feedback-replay-"))
    started = time.perf_counter()
    train_bundle(dataclasses.replace(dataset, ratings=split.train), folder / "models",
                 seed=seed, progress=progress)
    fit_seconds = time.perf_counter() - started
    with running_service(folder / "models",
                         FEEDBACK_URL=f"sqlite:///{folder}/feedback.sqlite") as base:
        row: dict[str, object] = service_ndcg(base, users, fed, held_likes, progress)
    row.update(ease_ndcg(data, fed, held, users, seed))
    if retrain:
        row["hybrid refitted on train + fed (reference)"] = retrained_ndcg(
            dataset, split.train, fed, held, seed, progress)
    row.update({"seed": seed, "users": len(users), "fed_ratings": len(fed),
                "fed_likes": int((fed["rating"] >= data.like_threshold).sum()),
                "fit_seconds": round(fit_seconds, 1)})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="ml-latest-small")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args()
    import_keras()
    dataset = load_dataset(resolve_data(args.data), progress=not args.quiet)
    rows = []
    for seed in range(args.seeds):
        rows.append(run_seed(dataset, seed, retrain=args.retrain, progress=not args.quiet))
        print(json.dumps(rows[-1]), flush=True)
    names = [k for k, v in rows[0].items() if isinstance(v, float) and k != "fit_seconds"]
    print(f"\n{dataset.name}, temporal split, {len(rows)} seed(s), {rows[0]['users']} users, "
          f"{rows[0]['fed_ratings']} fed ratings ({rows[0]['fed_likes']} likes)\n")
    print("| ranking of the held likes | NDCG@10 | per seed |")
    print("|---|---:|---|")
    for name in names:
        values = np.array([row[name] for row in rows], dtype=float)
        print(f"| {name} | {values.mean():.4f} ± {values.std():.4f} | "
              f"{', '.join(f'{v:.4f}' for v in values)} |")
    print(json.dumps({"data": dataset.name, "rows": rows}))


if __name__ == "__main__":
    main()
