"""NDCG@10 of the hybrid and EASE per group of users (by their number of train likes), and
how popular the movies in their top 10 are, on the temporal split of ml-latest-small:

    python benchmarks/by_user_activity.py '{"popularity_prior": 0.0}' [seed]

(the JSON holds hybrid parameters, as in hybrid_variant.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
from hybrid_variant import temporal_setup  # noqa: E402  (this folder is on sys.path)

from training.evaluation import _scores  # noqa: E402
from training.metrics import per_user_metrics, top_k  # noqa: E402
from training.recommenders.ease import EASE  # noqa: E402
from training.recommenders.hybrid import Hybrid  # noqa: E402
from training.recommenders.popularity import Popularity  # noqa: E402

GROUPS = ((0, 20), (20, 50), (50, 100), (100, 200), (200, None))


def main() -> None:
    params, seed, split, data = temporal_setup()
    relevant_rows = split.test[split.test["rating"].to_numpy() >= data.like_threshold]
    users = np.unique(relevant_rows["user_id"].to_numpy())
    index = data.user_index(users)
    relevant = np.zeros((len(users), data.n_items), dtype=bool)
    relevant[np.searchsorted(users, relevant_rows["user_id"].to_numpy()),
             data.item_index(relevant_rows["movie_id"].to_numpy())] = True
    fallback = Popularity().fit(data)
    models = {"ease": EASE().fit(data), "hybrid": Hybrid(**params).fit(data, seed=seed)}
    scores = {name: _scores(model, fallback, data, index) for name, model in models.items()}
    relevant &= np.isfinite(scores["ease"])  # movies rated in train are not candidates
    keep = relevant.any(axis=1)
    likes = np.asarray(data.likes.sum(axis=1)).ravel()[index][keep]
    popularity = data.item_popularity()
    ndcg = {name: per_user_metrics(s, relevant)[0]["ndcg@10"] for name, s in scores.items()}
    top = {name: top_k(s[keep], 10) for name, s in scores.items()}
    print(params, f"seed {seed}", f"popularity prior {models['hybrid'].popularity_prior}")
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
