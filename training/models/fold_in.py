"""Visitors' baselines (the fewshot protocol): popularity, and the likes a visitor gives folded
into item-kNN cosine and into EASE, each a score of every movie from those likes alone."""

from __future__ import annotations

import numpy as np

from training.data.interactions import Interactions, split_off
from training.data.splits import fewshot_users
from training.evaluation.fewshot import SHOTS, Visitors, evaluate_visitors, visitors
from training.models.ease import EASE
from training.models.similarity import unit_columns


class PopularVisitors:
    """Every visitor gets the most liked movies."""

    name = "popularity"

    def fit(self, data: Interactions, *, seed: int = 0) -> PopularVisitors:
        self.popularity = data.item_popularity()
        return self

    def score_visitors(self, visitors: Visitors) -> np.ndarray:
        return np.tile(self.popularity, (len(visitors), 1))


class ItemKNNFoldIn:
    """A movie's score is the sum of its cosines (over the train like columns) with the
    visitor's liked movies."""

    name = "item-kNN cosine fold-in"

    def fit(self, data: Interactions, *, seed: int = 0) -> ItemKNNFoldIn:
        self.columns = unit_columns(data.likes)  # (users, movies), unit columns
        return self

    def score_visitors(self, visitors: Visitors) -> np.ndarray:
        given = visitors.given()
        return np.asarray(((given @ self.columns.T) @ self.columns).todense(), np.float32)


class EASEFoldIn:
    """EASE's weights summed over the visitor's liked movies; λ chosen on the protocol's own
    validation visitors: a seeded tenth of the training users, held out of EASE's fit, each
    giving their first likes (the mean NDCG@10 over SHOTS)."""

    name = "EASE fold-in"

    def __init__(self, l2: float | None = None) -> None:
        self.l2 = l2
        self.validation: dict[float, float] = {}

    def fit(self, data: Interactions, *, seed: int = 0) -> EASEFoldIn:
        if self.l2 is None:
            held_users = fewshot_users(data.train, seed=seed)
            inside, held = split_off(data, np.isin(data.train["user_id"].to_numpy(), held_users))
            groups = [visitors(inside, held, n) for n in SHOTS]
            for l2 in EASE.GRID:
                candidate = EASEFoldIn(l2).fit(inside)
                self.validation[l2] = float(np.mean([
                    evaluate_visitors(candidate, group)["ndcg@10"] for group in groups
                    if len(group)]))
            self.l2 = max(self.validation, key=self.validation.__getitem__)
        self.ease = EASE(self.l2).fit(data)
        return self

    def score_visitors(self, visitors: Visitors) -> np.ndarray:
        ease = self.ease
        scores = np.full((len(visitors), ease.n_items), -1e9, dtype=np.float32)
        scores[:, ease.active] = np.asarray(visitors.given()[:, ease.active] @ ease.weights)
        return scores
