"""The hybrid model's towers, as Keras 3 layers (backend-agnostic: keras.ops only).

Index conventions shared with the sampler and the service: movie inputs are ``index + 1`` and
user inputs ``index + 1``; 0 is padding for movies and the anonymous user for users.

The training model and the inference model are two functional graphs over the *same* layer
objects, so nothing is copied between them. Layer and input names are the bundle's contract
(bundle_format).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from bundle_format import DAYTIME_BUCKETS, USER_INPUTS, Layers


@dataclass(frozen=True)
class TowerSizes:
    """Vocabulary and layer sizes of both towers."""

    n_users: int  # known users (row 0 of the id table is the anonymous user)
    n_items: int  # movies in the catalogue (row 0 pads)
    n_item_features: int  # width of a movie's frozen feature row
    n_age_groups: int  # demographic vocabularies (code 0: unknown)
    n_genders: int
    n_occupations: int
    history: int  # liked movies in the user tower's history input
    dim: int  # width of the user and movie vectors


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
        self.project = layers.Dense(sizes.dim, name="item_content")
        self.content_bias = layers.Dense(1, name="item_content_bias")
        self.regularise = layers.ActivityRegularization(l2=l2, name="item_l2")

    def __call__(self, items: keras.KerasTensor) -> tuple[keras.KerasTensor, ...]:
        features = self.features(items)
        vector = self.ids(items) + self.project(features)
        bias = (ops.squeeze(self.id_bias(items) + self.prior(items), axis=-1)
                + ops.squeeze(self.content_bias(features), axis=-1))
        return vector, bias

    def whole_catalogue(self) -> tuple[keras.KerasTensor, ...]:
        """``self(every row)``, read straight from the tables: calling the tower on every row
        instead made the training step 7–23% slower in paired runs."""
        features = self.features.embeddings
        vector = self.ids.embeddings + self.project(features)
        bias = (ops.squeeze(self.id_bias.embeddings + self.prior.embeddings, axis=-1)
                + ops.squeeze(self.content_bias(features), axis=-1))
        return vector, bias


Lookup = Callable[[keras.KerasTensor], tuple[keras.KerasTensor, keras.KerasTensor]]


class Catalogue(layers.Layer):
    """Every movie's vector and bias at once, from the item tower's own layers, for the
    training model to gather from: the feature projection then runs once per step over the
    catalogue rather than once per sampled movie.

    It also adds the L2 penalty that the sampled negatives' vectors would get, in expectation:
    ``l2 × negatives × Σ p(movie) ‖v(movie)‖²`` with ``p`` the sampler's distribution (a
    penalty on each sampled negative would need all their gradients; this one is the same
    penalty on average, at the cost of one pass over the table)."""

    def __init__(self, tower: ItemTower, expected_l2: float, weights: np.ndarray,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tower = tower
        # assigned as attributes so that Keras tracks them (ItemTower is not a Layer)
        self.tower_layers = [tower.features, tower.ids, tower.id_bias, tower.prior,
                             tower.project, tower.content_bias]
        self.expected_l2 = expected_l2
        self.negative_weights = np.asarray(weights, np.float32)

    def build(self, input_shape: Any) -> None:
        tower = self.tower
        for layer, shape in ((tower.features, (None,)), (tower.ids, (None,)),
                             (tower.id_bias, (None,)), (tower.prior, (None,)),
                             (tower.project, (None, tower.features.output_dim)),
                             (tower.content_bias, (None, tower.features.output_dim))):
            if not layer.built:
                layer.build(shape)
        self.built = True

    def call(self, anchor: Any) -> tuple[Any, Any]:  # anchor: any input, links the graph
        vectors, bias = self.tower.whole_catalogue()
        if self.expected_l2:
            weights = ops.convert_to_tensor(self.negative_weights)
            self.add_loss(self.expected_l2 * ops.sum(weights * ops.sum(vectors * vectors, -1)))
        return vectors, bias

    def compute_output_spec(self, anchor: Any) -> tuple[Any, Any]:
        rows = self.tower.features.input_dim
        return (keras.KerasTensor((rows, self.tower.ids.output_dim)),
                keras.KerasTensor((rows,)))


class UserTower:
    """User vector = id embedding (row 0: anonymous) + a linear map of [mean of the recent liked
    movies' vectors, demographics, context]."""

    def __init__(self, sizes: TowerSizes, l2: float) -> None:
        self.ids = layers.Embedding(
            sizes.n_users + 1, sizes.dim, name=Layers.USER_ID,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.age = layers.Embedding(sizes.n_age_groups + 1, 8, name=Layers.AGE)
        self.gender = layers.Embedding(sizes.n_genders + 1, 4, name=Layers.GENDER)
        self.occupation = layers.Embedding(sizes.n_occupations + 1, 8, name=Layers.OCCUPATION)
        self.daytime = layers.Embedding(len(DAYTIME_BUCKETS), 4, name=Layers.DAYTIME)
        self.weekend = layers.Embedding(2, 2, name=Layers.WEEKEND)
        self.out = layers.Dense(sizes.dim, name=Layers.USER_OUT)

    def __call__(self, inputs: dict[str, keras.KerasTensor],
                 lookup: Lookup) -> keras.KerasTensor:
        """``lookup``: the history movies' vectors (the item tower, or its catalogue)."""
        history = inputs["history"]
        history_vectors, _ = lookup(history)
        mask = ops.expand_dims(ops.cast(ops.greater(history, 0), "float32"), -1)
        mean = ops.sum(history_vectors * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        side = ops.concatenate([
            mean, self.age(inputs["age_group"]), self.gender(inputs["gender"]),
            self.occupation(inputs["occupation"]),
            self.daytime(inputs["daytime"]), self.weekend(inputs["weekend"]),
        ], axis=-1)
        return self.ids(inputs["user"]) + self.out(side)


def dot_scores(user: keras.KerasTensor, items: keras.KerasTensor) -> keras.KerasTensor:
    """(batch, d) · (batch, m, d) -> (batch, m)."""
    return ops.sum(ops.expand_dims(user, 1) * items, axis=-1)


class HybridNetwork:
    """Holds the shared layers and builds the two graphs over them."""

    def __init__(self, sizes: TowerSizes, *, l2: float) -> None:
        self.sizes = sizes
        self.items = ItemTower(sizes, l2)
        self.users = UserTower(sizes, l2)
        self.user_l2 = layers.ActivityRegularization(l2=l2, name="user_l2")
        self.l2 = l2

    def user_inputs(self) -> dict[str, keras.KerasTensor]:
        inputs = {name: keras.Input((), dtype="int32", name=name) for name in USER_INPUTS}
        inputs["history"] = keras.Input((self.sizes.history,), dtype="int32", name="history")
        return inputs

    def training_model(self, negatives: int,
                       negative_weights: np.ndarray | None = None) -> keras.Model:
        """s⁺ − s⁻ (batch, 1) for the hardest of the ``negatives`` sampled movies: BPR with
        adaptive negative sampling (Rendle & Freudenthaler 2014), which pushes on the top of
        the list. The negatives are scored without gradients and only the chosen one again
        with them (the gradient of a min reaches only its argmin): on the 2-core CPU a step of
        512 triplets with 64 negatives takes 17.5 ms instead of 50. The L2 penalty on the
        negatives' vectors is applied in expectation over ``negative_weights``, the sampler's
        distribution (Catalogue; uniform when None)."""
        inputs = self.user_inputs()
        positive = keras.Input((), dtype="int32", name="positive")
        sampled = keras.Input((negatives,), dtype="int32", name="negatives")
        rows = self.sizes.n_items + 1
        weights = np.zeros(rows, np.float32)
        weights[1:] = (np.full(self.sizes.n_items, 1.0 / self.sizes.n_items)
                       if negative_weights is None else negative_weights)
        catalogue = Catalogue(self.items, self.l2 * negatives, weights, name="catalogue")
        vectors, bias = catalogue(positive)

        def lookup(items: keras.KerasTensor) -> tuple[keras.KerasTensor, keras.KerasTensor]:
            return ops.take(vectors, items, axis=0), ops.take(bias, items, axis=0)

        user = self.user_l2(self.users(inputs, lookup))
        negative_vectors, negative_bias = lookup(sampled)
        negative_scores = ops.stop_gradient(dot_scores(user, negative_vectors) + negative_bias)
        choice = ops.expand_dims(ops.argmax(negative_scores, axis=-1), -1)
        hardest = ops.take_along_axis(sampled, choice, axis=1)
        positive_vector, positive_bias = lookup(ops.expand_dims(positive, 1))
        hardest_vector, hardest_bias = lookup(hardest)
        difference = (dot_scores(user, self.items.regularise(positive_vector)) + positive_bias
                      - dot_scores(user, hardest_vector) - hardest_bias)
        return keras.Model({**inputs, "positive": positive, "negatives": sampled}, difference,
                           name="hybrid_bpr_hardest")

    def inference_model(self) -> keras.Model:
        """Scores ``items`` (batch, m) for each user; also returns the towers' outputs, which
        the service uses to precompute the movie side once."""
        inputs = self.user_inputs()
        items = keras.Input((None,), dtype="int32", name="items")
        user = self.users(inputs, self.items)
        vectors, bias = self.items(items)
        outputs = {"score": dot_scores(user, vectors) + bias, "user_vector": user,
                   "item_vector": vectors, "item_bias": bias}
        return keras.Model({**inputs, "items": items}, outputs, name="hybrid")

    def set_item_features(self, table: np.ndarray) -> None:
        """Row 0 (padding) is zeros; rows 1.. are the movies' feature rows."""
        padded = np.vstack([np.zeros((1, table.shape[1]), np.float32), table])
        self.items.features.set_weights([padded.astype(np.float32)])
