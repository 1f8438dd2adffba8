"""Item-item neighbourhood baselines for the temporal tables: item-kNN cosine, RP3beta (Paudel
et al. 2017) and SLIM-ElasticNet (Ning & Karypis 2011), each with its settings chosen on a
validation carve-out of train, as EASE's λ is. A user's score of a movie is the sum of the
movie's weights from the movies the user liked (Recommender.score); the weights keep each
movie's best.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from training.data.interactions import Interactions, carve_validation
from training.data.splits import MAX_VALIDATION_USERS, sample_users
from training.evaluation.protocol import evaluate
from training.models.base import Recommender
from training.models.popularity import Popularity
from training.models.similarity import unit_columns

NEIGHBOURS = 100  # weights kept per movie
BLOCK = 1_024  # movies whose weights are computed at once (a block × movies dense matrix)


def keep_best(rows: np.ndarray, k: int) -> sp.csr_matrix:
    """The ``k`` largest positive entries of each row of ``rows`` (the rest zero)."""
    k = min(k, rows.shape[1])
    columns = np.argpartition(-rows, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(rows, columns, axis=1)
    keep = values > 0
    row_index = np.repeat(np.arange(len(rows)), k).reshape(len(rows), k)
    return sp.csr_matrix((values[keep], (row_index[keep], columns[keep])), shape=rows.shape,
                         dtype=np.float32)


class NeighbourModel(Recommender):
    """What both share: the weights (movies × movies, sparse), scoring, and the choice of
    settings on a carve-out of train (``GRID``, NDCG@10 of the temporal protocol)."""

    GRID: Sequence[dict[str, float]] = ()

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.weights = sp.csr_matrix((0, 0), dtype=np.float32)
        self.likes = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False
            ) -> NeighbourModel:
        if any(value is None for value in self.params.values()):
            sub, validation = carve_validation(data)
            validation = sample_users(validation, MAX_VALIDATION_USERS, seed)
            fallback = Popularity().fit(sub)
            scores = {}
            for candidate in self.GRID:
                model = type(self)(**candidate)
                model.fit(sub, seed=seed, progress=progress)
                scores[tuple(candidate.items())] = evaluate(
                    model, sub, validation, fallback=fallback, with_auc=False)["ndcg@10"]
            best = max(scores, key=scores.__getitem__)
            self.params.update(dict(best))
            self.history = {"validation_ndcg@10": list(scores.values())}
        self.likes = data.likes.tocsr().astype(np.float32)
        self.weights = self.item_weights(self.likes, progress)
        return self

    def item_weights(self, likes: sp.csr_matrix, progress: bool) -> sp.csr_matrix:
        raise NotImplementedError

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.likes[users] @ self.weights).todense(), dtype=np.float32)


class ItemKNN(NeighbourModel):
    """Cosine between the movies' like columns, each movie keeping its ``neighbours`` most
    similar (the classic item-kNN of Sarwar et al. 2001)."""

    name = "item-knn"
    GRID = tuple({"neighbours": k} for k in (20, 50, 100, 200))

    def __init__(self, neighbours: int | None = None) -> None:
        super().__init__(neighbours=neighbours)

    def item_weights(self, likes: sp.csr_matrix, progress: bool) -> sp.csr_matrix:
        columns = unit_columns(likes)
        gram = (columns.T @ columns).tocsr()
        blocks = []
        for start in tqdm(range(0, likes.shape[1], BLOCK), desc="item-knn",
                          disable=not progress, leave=False):
            rows = np.asarray(gram[start:start + BLOCK].todense(), dtype=np.float32)
            rows[np.arange(len(rows)), np.arange(start, start + len(rows))] = 0.0
            blocks.append(keep_best(rows, int(self.params["neighbours"])))
        return sp.vstack(blocks).tocsr()


class RP3beta(NeighbourModel):
    """A three-step random walk movie → user → movie, its transition probabilities raised to
    α, each destination divided by its popularity^β (so that popular movies do not take
    every list)."""

    name = "rp3beta"
    GRID = tuple({"alpha": alpha, "beta": beta}
                 for alpha in (0.5, 1.0) for beta in (0.0, 0.3, 0.6))

    def __init__(self, alpha: float | None = None, beta: float | None = None) -> None:
        super().__init__(alpha=alpha, beta=beta)

    def item_weights(self, likes: sp.csr_matrix, progress: bool) -> sp.csr_matrix:
        alpha, beta = float(self.params["alpha"]), float(self.params["beta"])
        popularity = np.asarray(likes.sum(axis=0)).ravel()
        user_to_movie = sp.diags(1.0 / np.maximum(np.asarray(likes.sum(axis=1)).ravel(), 1)
                                 ) @ likes
        movie_to_user = (sp.diags(1.0 / np.maximum(popularity, 1)) @ likes.T).tocsr()
        user_to_movie.data **= alpha
        movie_to_user.data **= alpha
        penalty = 1.0 / np.maximum(popularity, 1) ** beta
        blocks = []
        for start in tqdm(range(0, likes.shape[1], BLOCK), desc="rp3beta", disable=not progress,
                          leave=False):
            rows = np.asarray((movie_to_user[start:start + BLOCK] @ user_to_movie).todense(),
                              dtype=np.float32) * penalty.astype(np.float32)
            rows[np.arange(len(rows)), np.arange(start, start + len(rows))] = 0.0
            blocks.append(keep_best(rows, NEIGHBOURS))
        return sp.vstack(blocks).tocsr()


class SLIMElasticNet(NeighbourModel):
    """Each movie's like column regressed on every other movie's (non-negative weights, an
    elastic-net penalty: ``alpha`` × (``l1_ratio`` L1 + (1 − ``l1_ratio``) L2 / 2)), fitted
    by coordinate descent on the Gram matrix."""

    name = "slim"
    GRID = tuple({"alpha": alpha, "l1_ratio": ratio}
                 for alpha in (1e-3, 1e-2) for ratio in (0.1, 0.5))

    def __init__(self, alpha: float | None = None, l1_ratio: float | None = None) -> None:
        super().__init__(alpha=alpha, l1_ratio=l1_ratio)

    def item_weights(self, likes: sp.csr_matrix, progress: bool) -> sp.csr_matrix:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import ElasticNet

        n_items = likes.shape[1]
        columns = likes.tocsc()
        active = np.flatnonzero(np.diff(columns.indptr) > 0)
        model = ElasticNet(alpha=float(self.params["alpha"]),
                           l1_ratio=float(self.params["l1_ratio"]), positive=True,
                           fit_intercept=False, copy_X=False, precompute=False,
                           selection="random", max_iter=100, tol=1e-4, random_state=0)
        x = columns[:, active]
        rows, cols, values = [], [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for position, item in enumerate(tqdm(active, desc="slim", disable=not progress,
                                                 leave=False)):
                target = x[:, position].toarray().ravel()
                start, stop = x.indptr[position], x.indptr[position + 1]
                saved = x.data[start:stop].copy()
                x.data[start:stop] = 0.0  # the movie does not explain itself
                model.fit(x, target)
                x.data[start:stop] = saved
                coef = model.coef_
                best = np.flatnonzero(coef > 0)
                if len(best) > NEIGHBOURS:
                    best = best[np.argpartition(-coef[best], NEIGHBOURS - 1)[:NEIGHBOURS]]
                rows.append(active[best])
                cols.append(np.full(len(best), item))
                values.append(coef[best])
        weights = sp.csr_matrix((np.concatenate(values or [np.zeros(0)]).astype(np.float32),
                                 (np.concatenate(rows or [np.zeros(0, int)]),
                                  np.concatenate(cols or [np.zeros(0, int)]))),
                                shape=(n_items, n_items))
        return weights

