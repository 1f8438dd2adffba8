"""NDCG@10 of the hybrid and EASE per group of users (by their number of train likes), and
how popular the movies in their top 10 are, on the temporal split of ml-latest-small:

    python -m benchmarks.by_user_activity '{"popularity_prior": 0.0}' [seed]

(the JSON holds hybrid settings, docs/configuration.md).
"""

from __future__ import annotations

import json
import sys

from recommender_core.bundle_format import import_keras

import_keras()

import numpy as np  # noqa: E402

from recommender_core.vectors import top_k  # noqa: E402
from training.data.dataset import load_dataset  # noqa: E402
from training.data.interactions import build_interactions  # noqa: E402
from training.data.splits import temporal_split  # noqa: E402
from training.evaluation.metrics import per_user_metrics  # noqa: E402
from training.evaluation.protocol import scores_of  # noqa: E402
from training.models.config import HybridConfig  # noqa: E402
from training.models.ease import EASE  # noqa: E402
from training.models.hybrid import Hybrid  # noqa: E402
from training.models.popularity import Popularity  # noqa: E402

GROUPS = ((0, 20), (20, 50), (50, 100), (100, 200), (200, None))


def main() -> None:
    config = HybridConfig.from_mapping(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    dataset = load_dataset("data/ml-latest-small", progress=False)
    split = temporal_split(dataset.ratings)
    data = build_interactions(dataset, split.train)
    relevant_rows = split.test[split.test["rating"].to_numpy() >= data.like_threshold]
    users = np.unique(relevant_rows["user_id"].to_numpy())
    index = data.user_index(users)
    relevant = np.zeros((len(users), data.n_items), dtype=bool)
    relevant[np.searchsorted(users, relevant_rows["user_id"].to_numpy()),
             data.item_index(relevant_rows["movie_id"].to_numpy())] = True
    fallback = Popularity().fit(data)
    models = {"ease": EASE().fit(data), "hybrid": Hybrid(config).fit(data, seed=seed)}
    scores = {name: scores_of(model, fallback, data, index) for name, model in models.items()}
    relevant &= np.isfinite(scores["ease"])  # movies rated in train are not candidates
    keep = relevant.any(axis=1)
    likes = np.asarray(data.likes.sum(axis=1)).ravel()[index][keep]
    popularity = data.item_popularity()
    ndcg = {name: per_user_metrics(s, relevant)[0]["ndcg@10"] for name, s in scores.items()}
    top = {name: top_k(s[keep], 10) for name, s in scores.items()}
    print(config.model_dump(), f"seed {seed}",
          f"popularity prior {models['hybrid'].popularity_prior}")
    print("| train likes | users | NDCG@10 EASE | NDCG@10 hybrid | median likes of the top 10:"
          " EASE | hybrid | relevant test movies |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for low, high in (*GROUPS, (0, None)):
        group = (likes >= low) & (likes < (high or np.inf))
        wanted = popularity[relevant[keep][group].nonzero()[1]]
        print(f"| {low}{'+' if high is None else f'–{high - 1}'} | {group.sum()} | "
              f"{ndcg['ease'][group].mean():.4f} | {ndcg['hybrid'][group].mean():.4f} | "
              f"{np.median(popularity[top['ease'][group]]):.0f} | "
              f"{np.median(popularity[top['hybrid'][group]]):.0f} | {np.median(wanted):.0f} |")


if __name__ == "__main__":
    main()
