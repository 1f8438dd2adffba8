from __future__ import annotations

import numpy as np

from training.data.interactions import Interactions, carve_validation
from training.evaluation.protocol import evaluate
from training.models.base import Recommender
from training.models.popularity import Popularity


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019): a closed-form item-item model,
    B = I - P / diag(P) with P = (XᵀX + λI)⁻¹ over the liked-items matrix X."""

    name = "ease"

    GRID = (50.0, 100.0, 200.0, 500.0, 1000.0)

    def __init__(self, l2: float | None = None, max_items: int | None = None) -> None:
        """``l2=None`` tunes λ over GRID on a validation carve-out of train (NDCG@10);
        ``max_items``: only the most-liked movies take part (the inverse is items², in memory
        and cubed in time); None: every movie someone liked."""
        super().__init__(l2=l2)
        self.l2 = l2
        self.max_items = max_items

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> EASE:
        if self.l2 is None:
            sub, validation = carve_validation(data)
            fallback = Popularity().fit(sub)
            scores = {l2: evaluate(EASE(l2, self.max_items).fit(sub), sub, validation,
                                   fallback=fallback)["ndcg@10"] for l2 in self.GRID}
            self.l2 = max(scores, key=lambda l2: scores[l2])
            self.params["l2"] = self.l2
            self.history = {"validation_ndcg@10": [scores[l2] for l2 in self.GRID]}
        likes = data.likes
        counts = np.asarray(likes.sum(axis=0)).ravel()
        self.active = np.flatnonzero(counts > 0)
        if self.max_items is not None and len(self.active) > self.max_items:
            # the most liked, ties to the lower index; kept in index order
            order = np.lexsort((self.active, -counts[self.active]))
            self.active = np.sort(self.active[order[:self.max_items]])
        x = likes[:, self.active]
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = inverse / (-np.diag(inverse))
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights = weights.astype(np.float32)
        self.likes = likes
        self.n_items = likes.shape[1]
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        scores = np.full((len(users), self.n_items), -1e9, dtype=np.float32)
        x = self.likes[users][:, self.active]
        scores[:, self.active] = np.asarray(x @ self.weights)
        return scores

    def item_vectors(self) -> np.ndarray:
        vectors = np.zeros((self.n_items, len(self.active)), dtype=np.float32)
        vectors[self.active] = self.weights
        return vectors
