"""The fewshot protocol: people the model never saw give their first likes, the way a visitor
gives them to ``POST /recommend``; their later likes are relevant.

A seeded 10% of the users are held out of training with every rating (splits.fewshot_split).
Each one's likes are sorted by (timestamp, movie id); for N in SHOTS the first N are given
(the visitor's ``liked``, oldest first, in the context of the N-th like's time), the later
likes are relevant, and the given movies are left out of the ranking. A user counts for an N
when they have a later like to find. Models answer ``score_visitors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from training.data.interactions import Interactions
from training.evaluation.metrics import METRICS, per_user_metrics

#: likes given per visitor
SHOTS = (1, 3, 5, 10)
BATCH_VISITORS = 512


@dataclass(frozen=True)
class Visitors:
    """The visitors of one N: the given likes and the later ones, as (visitors × movies)
    matrices, and the context of each one's last given like."""

    n: int
    liked: np.ndarray  # (visitors, n) the given movie indices, oldest first
    relevant: sp.csr_matrix  # (visitors, movies) 1 where liked later
    daytime: np.ndarray  # (visitors,) int32
    weekend: np.ndarray
    seen: sp.csr_matrix | None = None  # (visitors, movies) more movies left out of the ranking

    def __len__(self) -> int:
        return len(self.liked)

    def rows(self, start: int, stop: int) -> Visitors:
        return Visitors(self.n, self.liked[start:stop], self.relevant[start:stop],
                        self.daytime[start:stop], self.weekend[start:stop],
                        None if self.seen is None else self.seen[start:stop])

    def given(self) -> sp.csr_matrix:
        """(visitors, movies) 1 where given."""
        rows = np.repeat(np.arange(len(self)), self.n)
        return sp.csr_matrix((np.ones(rows.size, np.float32), (rows, self.liked.ravel())),
                             shape=self.relevant.shape)


def visitors(data: Interactions, held: pd.DataFrame, n: int) -> Visitors:
    """The visitors of ``held`` (ratings of users ``data`` does not have) giving ``n`` likes:
    those with at least one later like of a movie in ``data``'s catalogue."""
    likes = held[held["rating"].to_numpy() >= data.like_threshold]
    items = data.item_index(likes["movie_id"].to_numpy())
    likes, items = likes[items >= 0], items[items >= 0]
    order = np.lexsort((likes["movie_id"].to_numpy(), likes["timestamp"].to_numpy(),
                        likes["user_id"].to_numpy()))
    users = likes["user_id"].to_numpy()[order]
    items, times = items[order], likes["timestamp"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else users
    counts = np.diff(np.r_[starts, len(users)])
    group = np.repeat(np.arange(len(starts)), counts)  # each like's user, 0-based
    rank = np.arange(len(users)) - np.repeat(starts, counts)  # its place in the user's order
    eligible = counts > n
    row = (np.cumsum(eligible) - 1)[group]  # the visitor's row, where eligible
    given_mask = eligible[group] & (rank < n)
    later_mask = eligible[group] & (rank >= n)
    n_visitors = int(eligible.sum())
    shape = (n_visitors, data.n_items)
    liked = items[given_mask].reshape(n_visitors, n)  # sorted by time: oldest first
    relevant = sp.csr_matrix((np.ones(int(later_mask.sum()), np.float32),
                              (row[later_mask], items[later_mask])), shape=shape)
    relevant.data[:] = 1.0  # a movie liked twice later counts once
    daytime, weekend = data.context(times[starts[eligible] + n - 1])
    return Visitors(n, liked.astype(np.int64), relevant, daytime, weekend)


class ScoresVisitors(Protocol):
    def score_visitors(self, visitors: Visitors) -> np.ndarray:
        """(visitors, movies) scores of every movie for each visitor."""


def _metrics(scores: np.ndarray, batch: Visitors) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-visitor metrics of ``scores`` (a new array of ``batch``'s rows), the given movies
    left out, and the movies of the top-10 lists."""
    rows = np.repeat(np.arange(len(batch)), batch.n)
    scores[rows, batch.liked.ravel()] = -np.inf
    relevant = batch.relevant.toarray() > 0
    relevant[rows, batch.liked.ravel()] = False
    if batch.seen is not None:
        seen = batch.seen.tocoo()
        scores[seen.row, seen.col] = -np.inf
        relevant[seen.row, seen.col] = False
    return per_user_metrics(scores, relevant, with_auc=False)


def ndcg_of(scores: np.ndarray, visitors: Visitors) -> float:
    """The mean NDCG@10 of ``scores`` (every movie's, a row per visitor; changed in place)."""
    per_user, _ = _metrics(scores, visitors)
    return float(np.mean(per_user["ndcg@10"])) if len(per_user["ndcg@10"]) else 0.0


def evaluate_visitors(model: ScoresVisitors, visitors: Visitors) -> dict[str, float]:
    """The ranking metrics over the visitors, the given movies left out."""
    values: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    shown: list[np.ndarray] = []
    for start in range(0, len(visitors), BATCH_VISITORS):
        batch = visitors.rows(start, min(start + BATCH_VISITORS, len(visitors)))
        scores = np.array(model.score_visitors(batch), dtype=np.float32, copy=True)
        per_user, top = _metrics(scores, batch)
        for name in METRICS:
            values[name].append(per_user[name])
        shown.append(top)
    result = {name: float(np.nanmean(np.concatenate(v))) if any(len(x) for x in v) else 0.0
              for name, v in values.items() if name != "auc"}
    result["coverage@10"] = (len(np.unique(np.concatenate(shown))) / visitors.relevant.shape[1]
                             if shown else 0.0)
    result["users"] = float(len(visitors))
    return result
