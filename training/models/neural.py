"""Collaborative Keras models trained with BPR on (user, liked movie, negatives): GMF, NeuMF."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops
from tqdm.auto import tqdm

from training.data.interactions import Interactions
from training.models.base import Recommender
from training.models.losses import bpr_loss
from training.models.sampling import TripletDataset, TripletSampler

PAIRWISE_DEFAULTS: dict[str, Any] = {"dim": 32, "epochs": 15, "batch_size": 512,
                                     "learning_rate": 2e-3, "negatives": 4, "l2": 1e-5,
                                     "mlp": (64, 32)}


class PairwiseKerasModel(Recommender):
    """Shared fit/score for models of the form score(user, items) trained on BPR triplets."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**{**PAIRWISE_DEFAULTS, **params})

    def build_scorer(self, n_users: int, n_items: int) -> Any:
        raise NotImplementedError

    def fit(self, data: Interactions, *, seed: int = 0,
            progress: bool = False) -> PairwiseKerasModel:
        p = self.params
        keras.utils.set_random_seed(seed)
        scorer = self.build_scorer(data.n_users + 1, data.n_items + 1)
        user = keras.Input((), dtype="int32", name="user")
        positive = keras.Input((), dtype="int32", name="positive")
        negatives = keras.Input((p["negatives"],), dtype="int32", name="negatives")
        scores = scorer(user, ops.concatenate([ops.expand_dims(positive, 1), negatives], 1))
        trainer = keras.Model({"user": user, "positive": positive, "negatives": negatives},
                              scores[:, :1] - scores[:, 1:])
        trainer.compile(optimizer=keras.optimizers.Adam(p["learning_rate"]),
                        loss=bpr_loss)
        items = keras.Input((None,), dtype="int32", name="items")
        self.model = keras.Model({"user": user, "items": items}, scorer(user, items))
        sampler = TripletSampler(data, history=1, negatives=p["negatives"], user_dropout=0.0,
                                 seed=seed)
        batches = _UserItemBatches(sampler, p["batch_size"])
        self.history = {"loss": []}
        for _ in tqdm(range(p["epochs"]), desc=self.name, disable=not progress, leave=False):
            fitted = trainer.fit(batches, epochs=1, verbose=0)
            self.history["loss"].append(float(fitted.history["loss"][-1]))
        self.n_items = data.n_items
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        items = np.broadcast_to(np.arange(1, self.n_items + 1, dtype=np.int32),
                                (len(users), self.n_items))
        out = self.model.predict_on_batch({"user": (users + 1).astype(np.int32), "items": items})
        return np.asarray(out, dtype=np.float32)


class _UserItemBatches(TripletDataset):
    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        inputs, target = super().__getitem__(index)
        return {name: inputs[name] for name in ("user", "positive", "negatives")}, target


def _embedding(rows: int, dim: int, name: str, l2: float) -> layers.Embedding:
    return layers.Embedding(rows, dim, name=name,
                            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
                            embeddings_regularizer=keras.regularizers.L2(l2))


class GMF(PairwiseKerasModel):
    """Generalised matrix factorisation: h · (p_u ⊙ q_i) + b_i."""

    name = "gmf"

    def build_scorer(self, n_users: int, n_items: int) -> Any:
        p = self.params
        users = _embedding(n_users, p["dim"], "gmf_user", p["l2"])
        items = _embedding(n_items, p["dim"], "gmf_item", p["l2"])
        bias = layers.Embedding(n_items, 1, embeddings_initializer="zeros", name="gmf_bias")
        weights = layers.Dense(1, use_bias=False, name="gmf_out")

        def scorer(user: Any, item: Any) -> Any:
            product = ops.expand_dims(users(user), 1) * items(item)
            return ops.squeeze(weights(product) + bias(item), -1)

        return scorer


class NeuMF(PairwiseKerasModel):
    """NeuMF (He et al. 2017): a GMF branch and an MLP branch over concatenated embeddings,
    merged by a final dense layer."""

    name = "neumf"

    def build_scorer(self, n_users: int, n_items: int) -> Any:
        p = self.params
        gmf_users = _embedding(n_users, p["dim"], "neumf_gmf_user", p["l2"])
        gmf_items = _embedding(n_items, p["dim"], "neumf_gmf_item", p["l2"])
        mlp_users = _embedding(n_users, p["dim"], "neumf_mlp_user", p["l2"])
        mlp_items = _embedding(n_items, p["dim"], "neumf_mlp_item", p["l2"])
        hidden = [layers.Dense(size, activation="relu") for size in p["mlp"]]
        merge = layers.Dense(1, name="neumf_out")

        def scorer(user: Any, item: Any) -> Any:
            gmf = ops.expand_dims(gmf_users(user), 1) * gmf_items(item)
            item_vectors = mlp_items(item)
            user_vectors = ops.expand_dims(mlp_users(user), 1) * ops.ones_like(item_vectors)
            x = ops.concatenate([user_vectors, item_vectors], -1)
            for layer in hidden:
                x = layer(x)
            return ops.squeeze(merge(ops.concatenate([gmf, x], -1)), -1)

        return scorer
