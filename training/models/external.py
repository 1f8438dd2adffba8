"""Baselines from other libraries (the optional `bench` extra): implicit's ALS and BPR,
LightFM WARP pure and with features. Imported only when asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from training.data.interactions import Interactions
from training.errors import TrainingError
from training.models.base import Recommender
from training.models.content import content_matrix


def _require(module: str, extra_hint: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise TrainingError(f"the {module} baseline needs {extra_hint}") from None


class _Implicit(Recommender):
    user_factors: np.ndarray
    item_factors: np.ndarray

    def score(self, users: np.ndarray) -> np.ndarray:
        return (self.user_factors[users] @ self.item_factors.T).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors


class ImplicitALS(_Implicit):
    name = "implicit-als"

    def __init__(self, factors: int = 128, regularization: float = 10.0, iterations: int = 15,
                 alpha: float = 1.0) -> None:
        super().__init__(factors=factors, regularization=regularization, iterations=iterations,
                         alpha=alpha)

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> ImplicitALS:
        als = _require("implicit.als", "pip install -e '.[bench]'")
        p = self.params
        model = als.AlternatingLeastSquares(
            factors=p["factors"], regularization=p["regularization"],
            iterations=p["iterations"], alpha=p["alpha"], random_state=seed,
            calculate_training_loss=False, num_threads=0, use_gpu=False,
        )
        # implicit weights (the generic layout) are its confidences: log(1 + weight)
        likes = data.likes if data.confidence is None else data.confidence
        model.fit(likes, show_progress=progress)
        self.user_factors = np.asarray(model.user_factors)
        self.item_factors = np.asarray(model.item_factors)
        return self


class ImplicitBPR(_Implicit):
    name = "implicit-bpr"

    def __init__(self, factors: int = 64, learning_rate: float = 0.01,
                 regularization: float = 0.01, iterations: int = 100) -> None:
        super().__init__(factors=factors, learning_rate=learning_rate,
                         regularization=regularization, iterations=iterations)

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> ImplicitBPR:
        bpr = _require("implicit.bpr", "pip install -e '.[bench]'")
        p = self.params
        model = bpr.BayesianPersonalizedRanking(
            factors=p["factors"], learning_rate=p["learning_rate"],
            regularization=p["regularization"], iterations=p["iterations"], random_state=seed,
            use_gpu=False,
        )
        # implicit weights (the generic layout) are its confidences: log(1 + weight)
        likes = data.likes if data.confidence is None else data.confidence
        model.fit(likes, show_progress=progress)
        self.user_factors = np.asarray(model.user_factors)
        self.item_factors = np.asarray(model.item_factors)
        return self


class LightFMWarp(Recommender):
    """LightFM with the WARP loss; ``features=True`` adds movie content (genres, decade, tags)
    and user demographics (where the release has them) to the identity features."""

    name = "lightfm"

    def __init__(self, features: bool = False, components: int = 64, epochs: int = 30,
                 learning_rate: float = 0.05, item_alpha: float = 1e-6) -> None:
        super().__init__(features=features, components=components, epochs=epochs,
                         learning_rate=learning_rate, item_alpha=item_alpha)
        if features:
            self.name = "lightfm-features"  # type: ignore[misc]

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> LightFMWarp:
        lightfm = _require("lightfm", "benchmarks/install_lightfm.sh")
        p = self.params
        self.item_features = self.user_features = None
        if p["features"]:
            identity = sp.identity(data.n_items, dtype=np.float32, format="csr")
            self.item_features = sp.hstack([identity, content_matrix(data)], format="csr")
            self.user_features = _user_feature_matrix(data)
        model = lightfm.LightFM(no_components=p["components"], loss="warp",
                                learning_rate=p["learning_rate"], item_alpha=p["item_alpha"],
                                random_state=seed)
        model.fit(data.likes.tocoo(), item_features=self.item_features,
                  user_features=self.user_features, epochs=p["epochs"], num_threads=2,
                  verbose=progress)
        self.model = model
        self.n_items = data.n_items
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        user_ids = np.repeat(users, self.n_items).astype(np.int32)
        item_ids = np.tile(np.arange(self.n_items, dtype=np.int32), len(users))
        scores = self.model.predict(user_ids, item_ids, item_features=self.item_features,
                                    user_features=self.user_features, num_threads=2)
        return scores.reshape(len(users), self.n_items).astype(np.float32)


def _user_feature_matrix(data: Interactions) -> sp.csr_matrix | None:
    features = data.user_features
    n = data.n_users
    blocks = [sp.identity(n, dtype=np.float32, format="csr")]
    for slot in features.slots:
        codes, size = features.codes[slot.key], len(slot.vocabulary)
        if size:
            blocks.append(sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), codes)),
                                        shape=(n, size + 1)))
    return sp.hstack(blocks, format="csr") if len(blocks) > 1 else None
