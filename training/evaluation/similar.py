"""The ``similar`` protocol: does "movies like this one" lead to the movies a user likes next?

On the temporal split, each test user with a liked test movie asks for the movies similar to
their last liked train movie (by time, then movie id), as a client of ``GET /similar`` would;
the relevant movies are their test likes. Every movie but the query is a candidate (the
endpoint knows nothing of the user). A method is a score matrix over (queries, movies): cosine
of movie vectors, or item-kNN on the train likes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender_core.vectors import unit_rows
from training.data.interactions import Interactions
from training.evaluation.metrics import per_user_metrics, ranking_metrics


def similar_queries(data: Interactions, test: pd.DataFrame, *, max_users: int | None = None,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(query movie index per evaluated user, relevance matrix (users, movies)); with
    ``max_users``, a seeded sample of that many users (the matrices are users × movies)."""
    liked = test[test["rating"].to_numpy() >= data.like_threshold]
    users = data.user_index(np.unique(liked["user_id"].to_numpy()))
    ends = data.sequence.offsets[1:]
    starts = data.sequence.offsets[:-1]
    users = users[(users >= 0) & (ends[np.maximum(users, 0)] > starts[np.maximum(users, 0)])]
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    queries = data.sequence.items[ends[users] - 1].astype(np.int64)
    rows = np.searchsorted(data.user_ids[users], liked["user_id"].to_numpy())
    keep = (rows < len(users)) & (data.user_ids[users][np.minimum(rows, len(users) - 1)]
                                  == liked["user_id"].to_numpy())
    items = data.item_index(liked["movie_id"].to_numpy()[keep])
    relevant = np.zeros((len(users), data.n_items), dtype=bool)
    relevant[rows[keep][items >= 0], items[items >= 0]] = True
    relevant[np.arange(len(users)), queries] = False
    return queries, relevant


def vector_scores(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Cosine between each query movie's vector and every movie's."""
    unit = unit_rows(vectors)
    return (unit[queries] @ unit.T).astype(np.float32)


def vector_similar_metrics(vectors: np.ndarray, queries: np.ndarray, relevant: np.ndarray, *,
                           with_auc: bool = True, batch: int = 512) -> dict[str, float]:
    """similar_metrics of the cosine of ``vectors``, computed ``batch`` queries at a time (a
    large catalogue's full queries × movies matrix would not fit)."""
    values: dict[str, list[np.ndarray]] = {}
    shown: list[np.ndarray] = []
    for start in range(0, len(queries), batch):
        rows = slice(start, start + batch)
        scores = vector_scores(vectors, queries[rows])
        scores[np.arange(len(scores)), queries[rows]] = -np.inf
        per_user, top = per_user_metrics(scores, relevant[rows], with_auc=with_auc)
        for name, value in per_user.items():
            values.setdefault(name, []).append(value)
        shown.append(top)
    result = {}
    for name, parts in values.items():
        joined = np.concatenate(parts)
        result[name] = float(np.nanmean(joined)) if len(joined) and not np.isnan(
            joined).all() else float("nan")
    result["coverage@10"] = len(np.unique(np.concatenate(shown))) / relevant.shape[1]
    result["users"] = float(relevant.any(axis=1).sum())
    return result


def similar_metrics(scores: np.ndarray, queries: np.ndarray, relevant: np.ndarray, *,
                    with_auc: bool = True) -> dict[str, float]:
    """Ranking metrics of ``scores`` (queries × movies), the query itself left out."""
    scores = scores.copy()
    scores[np.arange(len(queries)), queries] = -np.inf
    result = ranking_metrics(scores, relevant, with_auc=with_auc)
    result["users"] = float(relevant.any(axis=1).sum())
    return result
