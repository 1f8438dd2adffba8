"""Popularity: every user gets the most liked movies (the baseline and the fallback)."""

from __future__ import annotations

import numpy as np

from training.data.interactions import Interactions
from training.models.base import Recommender


class Popularity(Recommender):
    """Every user gets the most-liked movies of the train period."""

    name = "popularity"

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> Popularity:
        self.counts = data.item_popularity()
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), len(self.counts))).copy()
