"""Rating baselines trained on MAE: matrix factorisation and the entity embedding net."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from training.data.interactions import Interactions
from training.models.base import Recommender

RATING_DEFAULTS: dict[str, Any] = {"dim": 50, "epochs": 10, "batch_size": 256,
                                   "learning_rate": 5e-3, "l2": 1e-4}


class RatingModel(Recommender):
    predicts_ratings = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**{**RATING_DEFAULTS, **params})

    def build(self, n_users: int, n_items: int, scale: tuple[float, float]) -> keras.Model:
        raise NotImplementedError

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> RatingModel:
        p = self.params
        keras.utils.set_random_seed(seed)
        coo = data.ratings.tocoo()
        self.model = self.build(data.n_users, data.n_items, data.rating_scale)
        self.model.compile(optimizer=keras.optimizers.Adam(p["learning_rate"]), loss="mae")
        fitted = self.model.fit(
            {"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32)},
            coo.data.astype(np.float32), batch_size=p["batch_size"], epochs=p["epochs"],
            verbose=1 if progress else 0, shuffle=True,
        )
        self.history = {"loss": [float(v) for v in fitted.history["loss"]]}
        self.n_items = data.n_items
        return self

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = self.model.predict({"user": users.astype(np.int32), "item": items.astype(np.int32)},
                                 batch_size=8192, verbose=0)
        return np.asarray(out, dtype=np.float32).ravel()

    def score(self, users: np.ndarray) -> np.ndarray:
        grid_users = np.repeat(users, self.n_items)
        grid_items = np.tile(np.arange(self.n_items), len(users))
        return self.predict(grid_users, grid_items).reshape(len(users), self.n_items)


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    return keras.Input((), dtype="int32", name="user"), keras.Input((), dtype="int32", name="item")


class MatrixFactorisation(RatingModel):
    """rating ≈ μ + b_u + b_i + p_u · q_i."""

    name = "mf"

    def build(self, n_users: int, n_items: int, scale: tuple[float, float]) -> keras.Model:
        p = self.params
        user, item = _inputs()
        reg = keras.regularizers.L2(p["l2"])
        pu = layers.Embedding(n_users, p["dim"], embeddings_regularizer=reg)(user)
        qi = layers.Embedding(n_items, p["dim"], embeddings_regularizer=reg)(item)
        bu = layers.Embedding(n_users, 1, embeddings_initializer="zeros")(user)
        bi = layers.Embedding(n_items, 1, embeddings_initializer="zeros")(item)
        mean = (scale[0] + scale[1]) / 2
        rating = ops.sum(pu * qi, -1, keepdims=True) + bu + bi + mean
        return keras.Model({"user": user, "item": item}, rating, name="mf")


class EntityEmbeddingNet(RatingModel):
    """Concatenated user and movie embeddings → dense 150 → 50 → 1 with dropout, a sigmoid
    scaled to the rating range."""

    name = "entity"

    def build(self, n_users: int, n_items: int, scale: tuple[float, float]) -> keras.Model:
        p = self.params
        user, item = _inputs()
        x = ops.concatenate([layers.Embedding(n_users, p["dim"])(user),
                             layers.Embedding(n_items, p["dim"])(item)], -1)
        x = layers.Dropout(0.05)(x)
        x = layers.Dropout(0.5)(layers.Dense(150, activation="relu")(x))
        x = layers.Dropout(0.5)(layers.Dense(50, activation="relu")(x))
        low, high = scale
        # a little headroom so that the extreme ratings are reachable
        rating = layers.Dense(1, activation="sigmoid")(x) * (high - low + 1.0) + (low - 0.5)
        return keras.Model({"user": user, "item": item}, rating, name="entity")
