"""The hybrid model's towers, as Keras 3 layers (backend-agnostic: keras.ops only).

Index conventions shared with the sampler and the service: movie inputs are ``index + 1`` and
user inputs ``index + 1``; 0 is padding for movies and the anonymous user for users.

The training model and the inference model are two functional graphs over the *same* layer
objects, so nothing is copied between them. Layer and input names are the bundle's contract
(bundle_format).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from recommender_core.bundle_format import DAYTIME_BUCKETS, FRESH_INPUT, Layers
from recommender_core.user_features import UserSlot, user_inputs


@dataclass(frozen=True)
class TowerSizes:
    """Vocabulary and layer sizes of both towers."""

    n_users: int  # known users (row 0 of the id table is the anonymous user)
    n_items: int  # movies in the catalogue (row 0 pads)
    n_item_features: int  # width of a movie's frozen feature row
    user_slots: tuple[UserSlot, ...]  # the user features (code 0: unknown)
    history: int  # liked movies in the user tower's history input
    dim: int  # width of the towers' user and movie vectors
    frozen: int = 1  # columns of the frozen parts (item-item, then content) appended to both


class ItemTower:
    """Movie vector = id embedding + projection of the frozen feature row (genres, year,
    content code); bias = id bias + a feature bias + a frozen prior. A movie without ratings
    gets id parts predicted from its features after each epoch (models/cold_items.py)."""

    def __init__(self, sizes: TowerSizes, l2: float) -> None:
        self.features = layers.Embedding(sizes.n_items + 1, sizes.n_item_features,
                                         trainable=False, name="item_features")
        self.ids = layers.Embedding(
            sizes.n_items + 1, sizes.dim, name="item_id",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.id_bias = layers.Embedding(sizes.n_items + 1, 1, name="item_id_bias",
                                        embeddings_initializer="zeros")
        # a fixed per-movie bias, zero while training, set afterwards (popularity prior)
        self.prior = layers.Embedding(sizes.n_items + 1, 1, name="item_prior",
                                      embeddings_initializer="zeros", trainable=False)
        # the frozen parts (hybrid/frozen.py), zero until set after training: a liked movie's
        # row, summed over a user's fresh likes (the item-item part's P), and each movie's
        # row appended to its vector (P's partner Q, then the content part's movie side).
        # The layer names are the bundle's (schema 3), from when only the item-item part
        # was frozen.
        self.frozen_liked = layers.Embedding(sizes.n_items + 1, sizes.frozen,
                                             name=Layers.ITEM_ITEM_IN,
                                             embeddings_initializer="zeros", trainable=False)
        self.frozen_movie = layers.Embedding(sizes.n_items + 1, sizes.frozen,
                                             name="item_item_out",
                                             embeddings_initializer="zeros", trainable=False)
        self.project = layers.Dense(sizes.dim, name="item_content")
        self.content_bias = layers.Dense(1, name="item_content_bias")
        self.regularise = layers.ActivityRegularization(l2=l2, name="item_l2")

    def __call__(self, items: keras.KerasTensor) -> tuple[keras.KerasTensor, ...]:
        features = self.features(items)
        vector = self.ids(items) + self.project(features)
        bias = (ops.squeeze(self.id_bias(items) + self.prior(items), axis=-1)
                + ops.squeeze(self.content_bias(features), axis=-1))
        return vector, bias

    def history_mean(self, history: keras.KerasTensor) -> keras.KerasTensor:
        """The mean vector of the non-padding movies of ``history`` (batch, length); zeros
        when there are none. The projection is linear, so it runs once on the mean feature
        row rather than on every history movie: exactly ``mean(self(history))``."""
        mask = ops.expand_dims(ops.cast(ops.greater(history, 0), "float32"), -1)
        count = ops.sum(mask, axis=1)
        share = mask / ops.maximum(count, 1.0)[:, None, :]
        any_movie = ops.minimum(count, 1.0)
        ids = ops.sum(self.ids(history) * share, axis=1)
        features = ops.sum(self.features(history) * share, axis=1)
        return ids + self.project(features) * any_movie


class HardestNegative(layers.Layer):
    """For each user vector, the sampled movie it scores highest, found without gradients and
    without running the movie tower on the samples: a movie's score is
    ``u·id + (Wᵀu)·features + u·b + biases`` with ``W, b`` the content projection, so the
    projection is applied once per user instead of once per sampled movie. A training step
    then costs the same whatever the catalogue's size."""

    def __init__(self, tower: ItemTower, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tower = tower
        # assigned as an attribute so that Keras tracks them (ItemTower is not a Layer)
        self.tower_layers = [tower.features, tower.ids, tower.id_bias, tower.prior,
                             tower.project, tower.content_bias]

    def build(self, input_shape: Any) -> None:
        tower = self.tower
        width = tower.features.output_dim
        for layer, shape in ((tower.features, (None,)), (tower.ids, (None,)),
                             (tower.id_bias, (None,)), (tower.prior, (None,)),
                             (tower.project, (None, width)), (tower.content_bias, (None, width))):
            if not layer.built:
                layer.build(shape)
        self.built = True

    def call(self, user: Any, sampled: Any) -> Any:
        tower = self.tower
        user = ops.stop_gradient(user)
        features = ops.take(tower.features.embeddings, sampled, axis=0)  # (b, m, f)
        ids = ops.take(tower.ids.embeddings, sampled, axis=0)  # (b, m, d)
        through = ops.matmul(user, ops.transpose(tower.project.kernel))  # (b, f)
        scores = (dot_scores(user, ids) + dot_scores(through, features)
                  + ops.sum(user * tower.project.bias, axis=-1, keepdims=True)
                  + ops.squeeze(ops.take(tower.id_bias.embeddings, sampled, axis=0)
                                + ops.take(tower.prior.embeddings, sampled, axis=0), -1)
                  + ops.squeeze(ops.matmul(features, tower.content_bias.kernel), -1))
        choice = ops.expand_dims(ops.argmax(ops.stop_gradient(scores), axis=-1), -1)
        return ops.take_along_axis(sampled, choice, axis=1)

    def compute_output_spec(self, user: Any, sampled: Any) -> Any:
        return keras.KerasTensor((sampled.shape[0], 1), dtype=sampled.dtype)


class UserTower:
    """User vector = id embedding (row 0: anonymous) + a linear map of [mean of the recent liked
    movies' vectors, user features (demographics, users.csv's columns), context]."""

    def __init__(self, sizes: TowerSizes, l2: float) -> None:
        self.ids = layers.Embedding(
            sizes.n_users + 1, sizes.dim, name=Layers.USER_ID,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.features = [(slot.key, layers.Embedding(len(slot.vocabulary) + 1, slot.width,
                                                     name=slot.layer))
                         for slot in sizes.user_slots]
        self.daytime = layers.Embedding(len(DAYTIME_BUCKETS), 4, name=Layers.DAYTIME)
        self.weekend = layers.Embedding(2, 2, name=Layers.WEEKEND)
        self.out = layers.Dense(sizes.dim, name=Layers.USER_OUT)
        # each known user's frozen part (the sum of P over their train likes, their content
        # profile; row 0, the anonymous user, zeros): set after training
        self.frozen_user = layers.Embedding(sizes.n_users + 1, sizes.frozen,
                                          name=Layers.ITEM_ITEM_USER,
                                          embeddings_initializer="zeros", trainable=False)

    def __call__(self, inputs: dict[str, keras.KerasTensor],
                 items: ItemTower) -> keras.KerasTensor:
        mean = items.history_mean(inputs["history"])
        side = ops.concatenate([
            mean, *(embedding(inputs[key]) for key, embedding in self.features),
            self.daytime(inputs["daytime"]), self.weekend(inputs["weekend"]),
        ], axis=-1)
        return self.ids(inputs["user"]) + self.out(side)


def dot_scores(user: keras.KerasTensor, items: keras.KerasTensor) -> keras.KerasTensor:
    """(batch, d) · (batch, m, d) -> (batch, m)."""
    return ops.sum(ops.expand_dims(user, 1) * items, axis=-1)


class SampledPenalty(layers.Layer):
    """Passes ``output`` through and adds ``l2 × mean over the batch of ‖vector‖²``."""

    def __init__(self, l2: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l2 = l2

    def call(self, output: Any, vectors: Any) -> Any:
        if self.l2:
            self.add_loss(self.l2 * ops.mean(ops.sum(vectors * vectors, axis=-1)))
        return output

    def compute_output_spec(self, output: Any, vectors: Any) -> Any:
        return keras.KerasTensor(output.shape, dtype=output.dtype)


class HybridNetwork:
    """Holds the shared layers and builds the two graphs over them."""

    def __init__(self, sizes: TowerSizes, *, l2: float) -> None:
        self.sizes = sizes
        self.items = ItemTower(sizes, l2)
        self.users = UserTower(sizes, l2)
        self.user_l2 = layers.ActivityRegularization(l2=l2, name="user_l2")
        self.l2 = l2

    def user_inputs(self) -> dict[str, keras.KerasTensor]:
        inputs = {name: keras.Input((), dtype="int32", name=name)
                  for name in user_inputs(self.sizes.user_slots)}
        inputs["history"] = keras.Input((self.sizes.history,), dtype="int32", name="history")
        return inputs

    def training_model(self, negatives: int) -> keras.Model:
        """s⁺ − s⁻ (batch, 1) for the hardest of the ``negatives`` sampled movies: BPR with
        adaptive negative sampling (Rendle & Freudenthaler 2014), which pushes on the top of
        the list. The negatives are scored without gradients (HardestNegative) and only the
        chosen one again with them (the gradient of a min reaches only its argmin). The L2
        penalty that each sampled negative's vector would get is applied to the first sample
        with ``negatives`` times the weight: the same penalty in expectation, on one movie
        per triplet. Nothing in a step touches the whole catalogue."""
        inputs = self.user_inputs()
        positive = keras.Input((), dtype="int32", name="positive")
        sampled = keras.Input((negatives,), dtype="int32", name="negatives")
        user = self.user_l2(self.users(inputs, self.items))
        hardest = HardestNegative(self.items, name="hardest_negative")(user, sampled)
        vectors, bias = self.items(ops.concatenate(
            [ops.expand_dims(positive, 1), hardest, sampled[:, :1]], axis=1))
        positive_vector = self.items.regularise(vectors[:, :1])
        scores = dot_scores(user, ops.concatenate([positive_vector, vectors[:, 1:2]], axis=1))
        scores = scores + bias[:, :2]
        difference = SampledPenalty(self.l2 * negatives, name="negative_l2")(
            scores[:, :1] - scores[:, 1:2], vectors[:, 2])
        return keras.Model({**inputs, "positive": positive, "negatives": sampled}, difference,
                           name="hybrid_bpr_hardest")

    def inference_model(self) -> keras.Model:
        """Scores ``items`` (batch, m) for each user; also returns the towers' outputs, which
        the service uses to precompute the movie side once."""
        inputs = self.user_inputs()
        # movies liked since training that the user's item-item row does not hold yet (index
        # + 1, 0 pads): the service's fresh feedback; a visitor's likes
        fresh = keras.Input((None,), dtype="int32", name=FRESH_INPUT)
        items = keras.Input((None,), dtype="int32", name="items")
        tower = self.users(inputs, self.items)
        fresh_part = ops.sum(self.items.frozen_liked(fresh), axis=1)
        user = ops.concatenate([tower, self.users.frozen_user(inputs["user"]) + fresh_part],
                               axis=-1)
        tower_vectors, bias = self.items(items)
        vectors = ops.concatenate([tower_vectors, self.items.frozen_movie(items)], axis=-1)
        outputs = {"score": dot_scores(user, vectors) + bias, "user_vector": user,
                   "item_vector": vectors, "item_bias": bias}
        return keras.Model({**inputs, FRESH_INPUT: fresh, "items": items}, outputs,
                           name="hybrid")

    def set_frozen(self, liked: np.ndarray, movies: np.ndarray, users: np.ndarray) -> None:
        """The frozen tables (rows 1..; row 0 stays zero): ``liked`` a liked movie's row,
        ``movies`` each movie's, ``users`` each known user's."""
        for layer, rows in ((self.items.frozen_liked, liked), (self.items.frozen_movie, movies),
                            (self.users.frozen_user, users)):
            table = np.zeros(layer.embeddings.shape, np.float32)
            table[1:] = rows
            layer.set_weights([table])

    def set_item_features(self, table: np.ndarray) -> None:
        """Row 0 (padding) is zeros; rows 1.. are the movies' feature rows."""
        padded = np.vstack([np.zeros((1, table.shape[1]), np.float32), table])
        self.items.features.set_weights([padded.astype(np.float32)])
