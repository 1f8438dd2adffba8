"""The one contract every recommender honours (like `implicit`'s): fit, score, recommend and
similar_items. Models are not saved one by one: the trainer exports the hybrid as a bundle
(bundle_format), the only thing the service loads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from recommender_core.vectors import top_k, unit_rows
from training.data.interactions import Interactions, mask_seen


class Recommender(ABC):
    name: ClassVar[str]
    #: rating models predict stars (evaluated with MAE/RMSE too); the rest rank.
    predicts_ratings: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.history: dict[str, list[float]] = {}

    @abstractmethod
    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> Recommender:
        """Learn from ``data``; returns self."""

    @abstractmethod
    def score(self, users: np.ndarray) -> np.ndarray:
        """float32 scores (len(users), n_items) for user indices into ``data.user_ids``."""

    def item_vectors(self) -> np.ndarray | None:
        """One vector per item for cosine similarity, or None if the model has none."""
        return None

    def recommend(self, data: Interactions, users: np.ndarray, k: int = 10,
                  exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores per user, best first."""
        scores = self.score(users).astype(np.float32, copy=True)
        if exclude_seen:
            mask_seen(scores, data, users)
        items = top_k(scores, k)
        return items, np.take_along_axis(scores, items, axis=1)

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the highest cosine to each of ``items`` (itself excluded)."""
        vectors = self.item_vectors()
        if vectors is None:
            raise NotImplementedError(f"{self.name} has no item vectors")
        unit = unit_rows(vectors)
        cosine = unit[items] @ unit.T
        cosine[np.arange(len(items)), items] = -np.inf
        best = top_k(cosine, k)
        return best, np.take_along_axis(cosine, best, axis=1)
