"""The exact fast path: the hybrid's inference model computed in numpy.

Everything that depends only on movies is computed once at load (the movie tower's vectors
and biases are stored in the bundle, and so are the user tower's weights: the trainer reads
them from the Keras model with tower_weights), and the user tower is linear, so a known
user's vector is a fixed part plus a context part, both precomputed: a request is one lookup
and one vectorised pass over the catalogue. The trainer checks this path against the Keras
model before export, and the service against the Keras scores stored in the bundle
(recommender_core.verification), refusing a bundle where they disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender_core.bundle_format import FRESH_INPUT, Layers
from recommender_core.user_features import UserSlot

#: the Keras layers whose weights the numpy path reads, besides each user-feature slot's
TOWER_LAYERS = (Layers.USER_ID, Layers.DAYTIME, Layers.WEEKEND, Layers.USER_OUT,
                Layers.ITEM_ITEM_USER, Layers.ITEM_ITEM_IN)
TowerWeights = Mapping[str, list[np.ndarray]]


def tower_weights(model: Any, slots: Sequence[UserSlot]) -> dict[str, list[np.ndarray]]:
    """The user tower's weights by layer name, read from a Keras inference model."""
    names = (*TOWER_LAYERS, *(slot.layer for slot in slots))
    return {name: [np.asarray(w, dtype=np.float32) for w in model.get_layer(name).get_weights()]
            for name in names}


@dataclass(frozen=True)
class UserTower:
    """The user tower's weights the numpy path reads (TOWER_LAYERS and the slots'), float32."""

    ids: np.ndarray  # (users + 1, dim) row 0: the anonymous user
    features: tuple[tuple[str, np.ndarray], ...]  # (slot key, embedding) row 0: unknown
    daytime: np.ndarray  # context embeddings
    weekend: np.ndarray
    kernel: np.ndarray  # the dense layer over [history mean, demographics, context]
    bias: np.ndarray
    frozen_user: np.ndarray  # (users + 1, rank) each user's frozen part
    frozen_liked: np.ndarray  # (movies + 1, rank) a liked movie's frozen row (fresh likes)

    @classmethod
    def of(cls, weights: TowerWeights, slots: Sequence[UserSlot]) -> UserTower:
        kernel, bias = weights[Layers.USER_OUT]
        missing = [slot.layer for slot in slots if slot.layer not in weights]
        if missing:
            raise ValueError(f"no weights of the user feature layers {', '.join(missing)}")
        return cls(weights[Layers.USER_ID][0],
                   tuple((slot.key, weights[slot.layer][0]) for slot in slots),
                   weights[Layers.DAYTIME][0], weights[Layers.WEEKEND][0], kernel, bias,
                   weights[Layers.ITEM_ITEM_USER][0], weights[Layers.ITEM_ITEM_IN][0])

    def tables(self) -> list[np.ndarray]:
        """The weight tables (memory-mapped where read so: verification.read_tower)."""
        return [self.ids, *(table for _, table in self.features), self.frozen_user,
                self.frozen_liked]


class FastScorer:
    def __init__(self, weights: TowerWeights, item_vectors: np.ndarray, item_bias: np.ndarray,
                 slots: Sequence[UserSlot]) -> None:
        """``weights``: the user tower's (tower_weights of the bundle's Keras model); the movie
        side and the user-feature slots from the bundle."""
        self.item_vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self.item_bias = np.ascontiguousarray(item_bias, dtype=np.float32)
        self.tower = tower = UserTower.of(weights, slots)
        width = tower.kernel.shape[1]  # the towers' width; the frozen part follows
        rank = tower.frozen_liked.shape[1]
        if self.item_vectors.shape[1] != width + rank or tower.frozen_user.shape[1] != rank:
            raise ValueError(f"movie vectors of width {self.item_vectors.shape[1]}, but the "
                             f"towers give {width} and the item-item part {rank} "
                             f"(users: {tower.frozen_user.shape[1]})")
        side = sum(table.shape[1] for table in (*(table for _, table in tower.features),
                                                 tower.daytime, tower.weekend))
        inputs = width + side
        if tower.kernel.shape[0] != inputs:
            raise ValueError(f"the user tower takes {tower.kernel.shape[0]} inputs, but "
                             f"movie vectors of width {width} and the side features give "
                             f"{inputs}")
        self.user_base: np.ndarray | None = None  # precompute_users
        self.context = np.zeros(0, np.float32)
        self.user_scores: np.ndarray | None = None  # precompute_scores
        self.context_scores = np.zeros(0, np.float32)
        for name, array in (("item_vectors", self.item_vectors), ("item_bias", self.item_bias),
                            ("user_ids", tower.ids),
                            ("item_item_user", tower.frozen_user),
                            ("item_item_in", tower.frozen_liked)):
            # numpy 2 promotes float32 to float64 silently, which doubles the memory traffic.
            if array.dtype != np.float32:
                raise TypeError(f"{name}: dtype {array.dtype}, expected float32")

    @property
    def n_items(self) -> int:
        return len(self.item_vectors)

    @property
    def tower_dim(self) -> int:
        """Columns of the towers' part of a vector (the frozen block follows)."""
        return int(self.tower.kernel.shape[1])

    def user_vectors(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The user vectors (the user tower, then the item-item part) for a batch of inputs
        named as the Keras model's."""
        tower = self.tower
        history = inputs["history"]
        # movie index + 1, 0 pads: the history's movie vectors (towers' part), pads zeroed by
        # the mask (read from the movie matrix itself: no second copy of its columns)
        vectors = self.item_vectors[np.maximum(history - 1, 0), :self.tower_dim]
        mask = (history > 0)[..., None].astype(np.float32)
        mean = (vectors * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), np.float32(1.0))
        side = np.concatenate([
            mean, *(table[inputs[key]] for key, table in tower.features),
            tower.daytime[inputs["daytime"]], tower.weekend[inputs["weekend"]],
        ], axis=1)
        user = tower.ids[inputs["user"]] + side @ tower.kernel + tower.bias
        # movie index + 1, 0 pads: row 0 of the Keras table is zeros
        fresh_part = tower.frozen_liked[inputs[FRESH_INPUT]].sum(axis=1)
        frozen = tower.frozen_user[inputs["user"]] + fresh_part
        return np.hstack([user, frozen]).astype(np.float32, copy=False)

    def precompute_users(self, inputs: dict[str, np.ndarray]) -> None:
        """The user tower is linear, so a known user's vector is a fixed part plus a context
        part; precompute the fixed part of every user (``inputs`` holds all of them) and the
        context part of each (daytime, weekend), so a request is one lookup."""
        tower = self.tower
        dim = tower.kernel.shape[0]
        n_daytime, n_weekend = tower.daytime.shape[1], tower.weekend.shape[1]
        daytime_kernel = tower.kernel[dim - n_daytime - n_weekend:dim - n_weekend]
        weekend_kernel = tower.kernel[dim - n_weekend:]
        context = (tower.daytime @ daytime_kernel)[:, None, :] + (
            tower.weekend @ weekend_kernel)[None, :, :]
        # the context moves the towers' part only; the frozen part has none
        rank = tower.frozen_liked.shape[1]
        self.context = np.concatenate(
            [context, np.zeros((*context.shape[:2], rank), np.float32)], axis=-1
        ).astype(np.float32)
        zero = {**inputs, "daytime": np.zeros_like(inputs["daytime"]),
                "weekend": np.zeros_like(inputs["weekend"])}
        self.user_base = self.user_vectors(zero) - self.context[0, 0]
        # Each context's share of every movie's score, bias included (small: contexts x
        # movies): a context-free score row plus one of these is a user's scores.
        self.context_scores = (self.context @ self.item_vectors.T
                               + self.item_bias).astype(np.float32)

    def precompute_scores(self, budget_bytes: int) -> bool:
        """Score every known user against every movie once, if that fits ``budget_bytes``.

        A known user's score is ``user_base[u] · v + context[d, w] · v + bias`` for every movie
        vector ``v``: the first term is a (users × movies) table, the rest one row per context.
        A request then reads two rows (~40 KB on ml-latest-small) instead of streaming the whole
        movie matrix (2.5 MB, more than a core's L2 cache) through a matrix-vector product."""
        if self.user_base is None or len(self.user_base) * self.n_items * 4 > budget_bytes:
            return False
        self.user_scores = (self.user_base @ self.item_vectors.T).astype(np.float32)
        return True

    def context_free_vector(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """One user's vector (``inputs`` of batch 1) without its context part: add
        ``context[daytime, weekend]`` to get the user tower's output (after precompute_users)."""
        zero = {**inputs, "daytime": np.zeros(1, np.int32), "weekend": np.zeros(1, np.int32)}
        return (self.user_vectors(zero)[0] - self.context[0, 0]).astype(np.float32)

    def vector_scores(self, vector: np.ndarray, daytime: int, weekend: int) -> np.ndarray:
        """Every movie's score for a context-free user vector in a context (a new array)."""
        return self.item_vectors @ (vector + self.context[daytime, weekend]) + self.item_bias

    def base_scores(self, vector: np.ndarray) -> np.ndarray:
        """The context-free part of every movie's score for a context-free user vector: add
        ``context_scores[daytime, weekend]`` for the scores (the score table's arithmetic)."""
        return (self.item_vectors @ vector).astype(np.float32)

    def known_user_vector(self, user: int, daytime: int, weekend: int) -> np.ndarray:
        """The user tower's output for known user index ``user`` in a context."""
        if self.user_base is None:
            raise RuntimeError("precompute_users first")
        return self.user_base[user] + self.context[daytime, weekend]

    def known_user_scores(self, user: int, daytime: int, weekend: int) -> np.ndarray:
        """Scores of every movie for known user index ``user`` (after precompute_users); a new
        array that the caller may change."""
        if self.user_scores is not None:
            return self.user_scores[user] + self.context_scores[daytime, weekend]
        if self.user_base is None:
            raise RuntimeError("precompute_users first")
        return self.vector_scores(self.user_base[user], daytime, weekend)

    def scores(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """(batch, n_items) float32 scores of every movie."""
        users = self.user_vectors(inputs)
        if len(users) == 1:  # one request: a contiguous matrix-vector product
            return (self.item_vectors @ users[0] + self.item_bias)[None, :]
        return users @ self.item_vectors.T + self.item_bias


def keras_scores(model: Any, inputs: dict[str, np.ndarray], items: np.ndarray) -> np.ndarray:
    """The Keras inference model's scores of movie indices ``items`` (batch, m) — the truth the
    fast path is checked against."""
    outputs = model.predict_on_batch({**inputs, "items": (items + 1).astype(np.int32)})
    return np.asarray(outputs["score"], dtype=np.float32)


#: the numbers of likes a visitor's path is chosen for (the fewshot protocol's N)
VISITOR_SHOTS = (1, 3, 5, 10)


@dataclass(frozen=True)
class VisitorPath:
    """How a visitor's scores are made from the user tower's output, by how many liked movies
    they gave: the frozen (item-item) block of their vector times ``item_item[b]``, and
    ``popularity[b]`` × log(1 + train likes) added to every movie's score, or, where it is
    None, the popularity list itself; ``b`` is the place in VISITOR_SHOTS of the largest
    number not above the likes given. The trainer chooses both on validation visitors (the
    manifest's ``model.visitor_path``); the default leaves the tower's scores as they are."""

    item_item: tuple[float, ...] = (1.0,) * len(VISITOR_SHOTS)
    popularity: tuple[float | None, ...] = (0.0,) * len(VISITOR_SHOTS)

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> VisitorPath:
        """The path of a manifest's ``model.visitor_path`` (absent: the default)."""
        if not record:
            return cls()
        item_item = tuple(float(x) for x in record["item_item"])
        popularity = tuple(None if x is None else float(x) for x in record["popularity"])
        if len(item_item) != len(VISITOR_SHOTS) or len(popularity) != len(VISITOR_SHOTS):
            raise ValueError(f"visitor_path: {len(VISITOR_SHOTS)} weights each expected")
        return cls(item_item, popularity)

    def record(self) -> dict[str, Any]:
        return {"shots": list(VISITOR_SHOTS), "item_item": list(self.item_item),
                "popularity": list(self.popularity)}

    @staticmethod
    def place(likes: int) -> int:
        return max(0, sum(shot <= likes for shot in VISITOR_SHOTS) - 1)

    def adds_prior(self, likes: int) -> bool:
        """Whether a positive popularity weight is added for ``likes`` likes."""
        return bool(self.popularity[self.place(likes)])

    def popular_only(self, likes: int) -> bool:
        return self.popularity[self.place(likes)] is None

    def vectors(self, vectors: np.ndarray, tower_dim: int, likes: int) -> np.ndarray:
        """The user vectors (rows) with their frozen block scaled for ``likes`` likes."""
        factor = self.item_item[self.place(likes)]
        if factor == 1.0:
            return vectors
        scaled = np.array(vectors, dtype=np.float32, copy=True)
        scaled[..., tower_dim:] *= np.float32(factor)
        return scaled

    def prior(self, popularity: np.ndarray, likes: int) -> np.ndarray | None:
        """What the popularity weight adds to every movie's score (None: nothing)."""
        if not self.adds_prior(likes):
            return None
        weight = self.popularity[self.place(likes)]
        return np.float32(weight) * np.log1p(popularity).astype(np.float32)

    def scores(self, vectors: np.ndarray, item_vectors: np.ndarray, item_bias: np.ndarray,
               popularity: np.ndarray, likes: int, tower_dim: int) -> np.ndarray:
        """(rows, movies) scores of visitors who each gave ``likes`` likes, from their user
        vectors (the inference model's; the frozen block from column ``tower_dim``) and the
        movie side (``popularity``: train likes per movie)."""
        weight = self.popularity[self.place(likes)]
        if weight is None:
            return np.tile(popularity.astype(np.float32), (len(vectors), 1))
        scores = self.vectors(vectors, tower_dim, likes) @ item_vectors.T + item_bias
        prior = self.prior(popularity, likes)
        return (scores if prior is None else scores + prior).astype(np.float32, copy=False)
