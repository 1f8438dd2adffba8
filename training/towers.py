"""The hybrid model's towers and scorers, as Keras 3 layers (backend-agnostic: keras.ops only).

Index conventions shared with the sampler and the service: movie inputs are ``index + 1`` and
user inputs ``index + 1``; 0 is padding for movies and the anonymous user for users.

The training model and the inference model are two functional graphs over the *same* layer
objects, so nothing is copied between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers, ops

USER_INPUTS = ("user", "history", "age_group", "gender", "occupation", "daytime", "weekend")
DAYTIME_BUCKETS = 4
#: dot: towers' dot product; mlp: an MLP over both; rerank: both heads trained together, the dot
#: product ranks the catalogue and the MLP re-ranks its shortlist.
SCORERS = ("dot", "mlp", "rerank")


@dataclass(frozen=True)
class TowerSizes:
    n_users: int
    n_items: int
    n_item_features: int
    n_age_groups: int
    n_genders: int
    n_occupations: int
    history: int
    dim: int = 64
    hidden: int = 128
    separate_history: bool = True  # history movies get their own (input-side) embeddings
    n_tokens: int = 0  # content tokens (tags, genres) with their own learned embeddings
    tokens_per_item: int = 32
    # > 0: a second mean over the last ``recent`` of the ``history`` movies (short-term taste
    # next to the long-term mean)
    recent: int = 0


class ItemTower:
    """Movie vector = id embedding + projection of the frozen feature row (genres, year,
    content code); bias = id bias + a feature bias. A movie without ratings gets id parts
    predicted from its features after each epoch (training/cold_items.py)."""

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
        self.n_tokens = sizes.n_tokens
        if sizes.n_tokens:
            # LightFM-style: a movie's content vector includes the TF-IDF-weighted sum of its
            # tokens' embeddings (frozen token ids and weights per movie, learned token table).
            self.token_ids = layers.Embedding(sizes.n_items + 1, sizes.tokens_per_item,
                                              trainable=False, name="item_token_ids")
            self.token_weights = layers.Embedding(sizes.n_items + 1, sizes.tokens_per_item,
                                                  trainable=False, name="item_token_weights")
            self.tokens = layers.Embedding(
                sizes.n_tokens + 1, sizes.dim, name="item_tokens",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
            )
        self.content_bias = layers.Dense(1, name="item_content_bias")
        self.regularise = layers.ActivityRegularization(l2=l2, name="item_l2")

    def __call__(self, items: keras.KerasTensor,
                 id_dropout: layers.Layer | None = None) -> tuple[keras.KerasTensor, ...]:
        ids = self.ids(items)
        if id_dropout is not None:
            ids = id_dropout(ids)
        content, content_bias = self.content_only(items)
        vector = ids + content
        bias = ops.squeeze(self.id_bias(items) + self.prior(items), axis=-1) + content_bias
        return vector, bias

    def whole_catalogue(self) -> tuple[keras.KerasTensor, ...]:
        """``self(every row)``, read straight from the tables (no token embeddings): calling the
        tower on every row instead made the training step 7–23% slower in paired runs."""
        features = self.features.embeddings
        vector = self.ids.embeddings + self.project(features)
        bias = (ops.squeeze(self.id_bias.embeddings + self.prior.embeddings, axis=-1)
                + ops.squeeze(self.content_bias(features), axis=-1))
        return vector, bias

    def content_only(self, items: keras.KerasTensor) -> tuple[keras.KerasTensor, ...]:
        """What a movie without ratings gets: the feature part alone."""
        features = self.features(items)
        vector = self.project(features)
        if self.n_tokens:
            token_ids = ops.cast(self.token_ids(items), "int32")
            weights = ops.expand_dims(self.token_weights(items), -1)
            vector = vector + ops.sum(self.tokens(token_ids) * weights, axis=-2)
        return vector, ops.squeeze(self.content_bias(features), axis=-1)


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


def _masked_mean(vectors: keras.KerasTensor, mask: keras.KerasTensor) -> keras.KerasTensor:
    return ops.sum(vectors * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


class UserTower:
    """User vector = id embedding (row 0: anonymous) + MLP over [mean of the recent liked movies'
    vectors, demographics, context]."""

    def __init__(self, sizes: TowerSizes, l2: float) -> None:
        self.ids = layers.Embedding(
            sizes.n_users + 1, sizes.dim, name="user_id",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.age = layers.Embedding(sizes.n_age_groups + 1, 8, name="user_age")
        self.gender = layers.Embedding(sizes.n_genders + 1, 4, name="user_gender")
        self.occupation = layers.Embedding(sizes.n_occupations + 1, 8, name="user_occupation")
        self.daytime = layers.Embedding(DAYTIME_BUCKETS, 4, name="context_daytime")
        self.weekend = layers.Embedding(2, 2, name="context_weekend")
        self.hidden = (layers.Dense(sizes.hidden, activation="relu", name="user_hidden")
                       if sizes.hidden else None)
        self.out = layers.Dense(sizes.dim, name="user_out")
        self.separate_history = sizes.separate_history
        self.recent = sizes.recent
        if sizes.separate_history:
            self.history_ids = layers.Embedding(
                sizes.n_items + 1, sizes.dim, name="history_id",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
            )
            self.history_content = layers.Dense(sizes.dim, name="history_content")

    def __call__(self, inputs: dict[str, keras.KerasTensor], item_tower: ItemTower,
                 lookup: Lookup | None = None) -> keras.KerasTensor:
        """``lookup``: where the history movies' vectors come from (default: the item tower)."""
        history = inputs["history"]
        if self.separate_history:
            history_vectors = (self.history_ids(history)
                               + self.history_content(item_tower.features(history)))
        else:
            history_vectors, _ = (lookup or item_tower)(history)
        mask = ops.expand_dims(ops.cast(ops.greater(history, 0), "float32"), -1)
        means = [_masked_mean(history_vectors, mask)]
        if self.recent:
            # history is left-padded: its last columns are the most recent likes
            means.append(_masked_mean(history_vectors[:, -self.recent:], mask[:, -self.recent:]))
        side = ops.concatenate([
            *means,
            self.age(inputs["age_group"]), self.gender(inputs["gender"]),
            self.occupation(inputs["occupation"]),
            self.daytime(inputs["daytime"]), self.weekend(inputs["weekend"]),
        ], axis=-1)
        hidden = self.hidden(side) if self.hidden is not None else side
        return self.ids(inputs["user"]) + self.out(hidden)


class MLPScorer:
    """score = MLP([user vector, movie vector]) + movie bias (the seeds' form)."""

    def __init__(self, hidden: int = 256) -> None:
        self.hidden = layers.Dense(hidden, activation="relu", name="scorer_hidden")
        self.out = layers.Dense(1, name="scorer_out")

    def __call__(self, user: keras.KerasTensor, items: keras.KerasTensor) -> keras.KerasTensor:
        # (batch, d) -> (batch, m, d) without static shapes (m is unknown at build time)
        expanded = ops.expand_dims(user, 1) * ops.ones_like(items[..., :1])
        joined = ops.concatenate([expanded, items], axis=-1)
        return ops.squeeze(self.out(self.hidden(joined)), axis=-1)


def dot_scores(user: keras.KerasTensor, items: keras.KerasTensor) -> keras.KerasTensor:
    """(batch, d) · (batch, m, d) -> (batch, m)."""
    return ops.sum(ops.expand_dims(user, 1) * items, axis=-1)


class HybridNetwork:
    """Holds the shared layers and builds the two graphs over them."""

    def __init__(self, sizes: TowerSizes, *, scorer: str, l2: float, item_dropout: float,
                 content_loss: bool = False, mlp_hidden: int = 256) -> None:
        if scorer not in SCORERS:
            raise ValueError(f"scorer must be one of {', '.join(SCORERS)}, not {scorer!r}")
        self.sizes = sizes
        self.scorer = scorer
        self.items = ItemTower(sizes, l2)
        self.users = UserTower(sizes, l2)
        self.user_l2 = layers.ActivityRegularization(l2=l2, name="user_l2")
        self.mlp = MLPScorer(mlp_hidden) if scorer in ("mlp", "rerank") else None
        self.item_dropout = item_dropout
        self.content_loss = content_loss
        self.l2 = l2

    def _user_inputs(self) -> dict[str, keras.KerasTensor]:
        inputs = {name: keras.Input((), dtype="int32", name=name) for name in USER_INPUTS}
        inputs["history"] = keras.Input((self.sizes.history,), dtype="int32", name="history")
        return inputs

    def _score(self, user: keras.KerasTensor, vectors: keras.KerasTensor,
               bias: keras.KerasTensor) -> keras.KerasTensor:
        if self.mlp is not None and self.scorer == "mlp":
            return self.mlp(user, vectors) + bias
        return dot_scores(user, vectors) + bias

    @property
    def tasks(self) -> int:
        """How many s⁺ − s⁻ blocks (one per task) the training model outputs."""
        return 1 + int(self.content_loss) + int(self.scorer == "rerank")

    def selects_hardest(self, loss: str) -> bool:
        """Whether the training model picks the hardest negative itself (see
        ``training_model``): for the "hardest" loss with one dot-product task."""
        return (loss == "hardest" and self.scorer == "dot" and self.tasks == 1
                and not self.item_dropout and not self.sizes.n_tokens)

    def training_model(self, negatives: int, *, hardest: bool = False,
                       negative_weights: np.ndarray | None = None) -> keras.Model:
        """Outputs s⁺ − s⁻ for each of the ``negatives`` sampled movies; with ``hardest``
        (only where ``selects_hardest``), s⁺ − s⁻ for the hardest of them alone."""
        inputs = self._user_inputs()
        positive = keras.Input((), dtype="int32", name="positive")
        sampled = keras.Input((negatives,), dtype="int32", name="negatives")
        if hardest:
            return self._hardest_model(inputs, positive, sampled, negative_weights)
        dropout = (layers.Dropout(self.item_dropout, noise_shape=(None, negatives + 1, 1),
                                  name="item_id_dropout") if self.item_dropout else None)
        user = self.user_l2(self.users(inputs, self.items))
        items = ops.concatenate([ops.expand_dims(positive, 1), sampled], axis=1)
        vectors, bias = self.items(items, dropout)
        scores = self._score(user, self.items.regularise(vectors), bias)
        difference = scores[:, :1] - scores[:, 1:]
        if self.content_loss:
            # A second BPR task on the feature part alone teaches it to rank by itself, so
            # that movies without ratings (whose id part is zero) are ranked well too.
            content_vectors, content_bias = self.items.content_only(items)
            content_scores = self._score(user, content_vectors, content_bias)
            content_difference = content_scores[:, :1] - content_scores[:, 1:]
            difference = ops.concatenate([difference, content_difference], axis=1)
        if self.mlp is not None and self.scorer == "rerank":
            mlp_scores = self.mlp(user, vectors) + bias
            difference = ops.concatenate([difference, mlp_scores[:, :1] - mlp_scores[:, 1:]],
                                         axis=1)
        return keras.Model({**inputs, "positive": positive, "negatives": sampled}, difference,
                           name="hybrid_bpr")

    def _hardest_model(self, inputs: dict[str, keras.KerasTensor], positive: keras.KerasTensor,
                       sampled: keras.KerasTensor,
                       negative_weights: np.ndarray | None) -> keras.Model:
        """BPR on the hardest sampled negative: the same loss and gradients as the "hardest"
        loss over all ``negatives`` differences (the gradient of a min reaches only its
        argmin), but the negatives are scored without gradients and only the chosen one is
        scored again with them: on the 2-core CPU a step of 512 triplets with 64 negatives
        takes 17.5 ms instead of 50. The L2 penalty on the negatives' vectors is applied in
        expectation (Catalogue)."""
        rows = self.sizes.n_items + 1
        weights = np.zeros(rows, np.float32)
        weights[1:] = (np.full(self.sizes.n_items, 1.0 / self.sizes.n_items)
                       if negative_weights is None else negative_weights)
        catalogue = Catalogue(self.items, self.l2 * int(sampled.shape[1]), weights,
                              name="catalogue")
        vectors, bias = catalogue(positive)

        def lookup(items: keras.KerasTensor) -> tuple[keras.KerasTensor, keras.KerasTensor]:
            return ops.take(vectors, items, axis=0), ops.take(bias, items, axis=0)

        user = self.user_l2(self.users(inputs, self.items, lookup))
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
        inputs = self._user_inputs()
        items = keras.Input((None,), dtype="int32", name="items")
        user = self.users(inputs, self.items)
        vectors, bias = self.items(items)
        outputs = {"score": self._score(user, vectors, bias), "user_vector": user,
                   "item_vector": vectors, "item_bias": bias}
        if self.mlp is not None and self.scorer == "rerank":
            outputs["rerank_score"] = self.mlp(user, vectors) + bias
        return keras.Model({**inputs, "items": items}, outputs, name="hybrid")

    def set_item_features(self, table: np.ndarray, token_ids: np.ndarray | None = None,
                          token_weights: np.ndarray | None = None) -> None:
        """Row 0 (padding) is zeros; rows 1.. are the movies' feature rows (and token lists)."""
        def padded(rows: np.ndarray) -> np.ndarray:
            return np.vstack([np.zeros((1, rows.shape[1]), np.float32), rows]).astype(np.float32)

        self.items.features.set_weights([padded(table)])
        if self.items.n_tokens and token_ids is not None and token_weights is not None:
            self.items.token_ids.set_weights([padded(token_ids)])
            self.items.token_weights.set_weights([padded(token_weights)])
