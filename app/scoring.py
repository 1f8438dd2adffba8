"""The exact fast path: the hybrid's inference model compiled to numpy.

Everything that depends only on movies is computed once at load (the movie tower's vectors and
biases; for an MLP scorer also the movie half of its first dense layer), so a request computes
the user tower and one vectorised pass over the catalogue. The loader checks this path against
the Keras model and refuses a bundle where they disagree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

USER_INPUTS = ("user", "history", "age_group", "gender", "occupation", "daytime", "weekend")
DAYTIME_BUCKETS = 4


def _weights(model: Any, name: str) -> list[np.ndarray]:
    return [np.asarray(w, dtype=np.float32) for w in model.get_layer(name).get_weights()]


def _has_layer(model: Any, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def _masked_mean(vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return (vectors * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), np.float32(1.0))


class FastScorer:
    def __init__(self, model: Any, item_vectors: np.ndarray, item_bias: np.ndarray,
                 recent: int = 0) -> None:
        """``recent``: the user tower also averages the last ``recent`` history movies."""
        self.item_vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self.item_bias = np.ascontiguousarray(item_bias, dtype=np.float32)
        self.user_ids = _weights(model, "user_id")[0]
        self.age = _weights(model, "user_age")[0]
        self.gender = _weights(model, "user_gender")[0]
        self.occupation = _weights(model, "user_occupation")[0]
        self.daytime = _weights(model, "context_daytime")[0]
        self.weekend = _weights(model, "context_weekend")[0]
        self.hidden = _weights(model, "user_hidden") if _has_layer(model, "user_hidden") else None
        self.out_kernel, self.out_bias = _weights(model, "user_out")
        self.recent = recent
        padding = np.zeros((1, self.item_vectors.shape[1]), np.float32)
        if _has_layer(model, "history_id"):
            features = _weights(model, "item_features")[0]
            kernel, bias = _weights(model, "history_content")
            self.history_table = _weights(model, "history_id")[0] + features @ kernel + bias
        else:
            self.history_table = np.vstack([padding, self.item_vectors])
        self.history_table[0] = 0.0
        side = sum(table.shape[1] for table in (self.age, self.gender, self.occupation,
                                                 self.daytime, self.weekend))
        width = (2 if recent else 1) * self.history_table.shape[1] + side
        takes = (self.hidden[0] if self.hidden is not None else self.out_kernel).shape[0]
        if takes != width:
            raise ValueError(f"the user tower takes {takes} inputs, but recent_length {recent} "
                             f"gives {width}")
        self.mlp = None
        self.user_base: np.ndarray | None = None
        self.context = np.zeros(0, np.float32)
        self.user_scores: np.ndarray | None = None  # precompute_scores
        self.context_scores = np.zeros(0, np.float32)
        if _has_layer(model, "scorer_hidden"):
            kernel, bias = _weights(model, "scorer_hidden")
            out_kernel, out_bias = _weights(model, "scorer_out")
            dim = self.item_vectors.shape[1]
            item_half = (self.item_vectors @ kernel[dim:] + bias).astype(np.float32)
            self.mlp = (kernel[:dim], item_half, out_kernel[:, 0], float(out_bias[0]))
        for name in ("item_vectors", "item_bias", "history_table", "user_ids"):
            # numpy 2 promotes float32 to float64 silently, which doubles the memory traffic.
            if getattr(self, name).dtype != np.float32:
                raise TypeError(f"{name}: dtype {getattr(self, name).dtype}, expected float32")

    @property
    def n_items(self) -> int:
        return len(self.item_vectors)

    @property
    def scorer(self) -> str:
        return "mlp" if self.mlp is not None else "dot"

    def user_vectors(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The user tower for a batch of inputs named as the Keras model's."""
        history = inputs["history"]
        vectors = self.history_table[history]
        mask = (history > 0)[..., None].astype(np.float32)
        means = [_masked_mean(vectors, mask)]
        if self.recent:  # history is left-padded: the last columns are the latest likes
            means.append(_masked_mean(vectors[:, -self.recent:], mask[:, -self.recent:]))
        side = np.concatenate([
            *means, self.age[inputs["age_group"]], self.gender[inputs["gender"]],
            self.occupation[inputs["occupation"]], self.daytime[inputs["daytime"]],
            self.weekend[inputs["weekend"]],
        ], axis=1)
        if self.hidden is not None:
            side = np.maximum(side @ self.hidden[0] + self.hidden[1], np.float32(0.0))
        user = self.user_ids[inputs["user"]] + side @ self.out_kernel + self.out_bias
        return user.astype(np.float32, copy=False)

    def precompute_users(self, inputs: dict[str, np.ndarray]) -> None:
        """For a linear user tower (no hidden layer), a known user's vector is a fixed part
        plus a context part; precompute the fixed part of every user (``inputs`` holds all of
        them) and the context part of each (daytime, weekend), so a request is one lookup."""
        if self.hidden is None and self.mlp is None:
            dim = self.out_kernel.shape[0]
            n_daytime, n_weekend = self.daytime.shape[1], self.weekend.shape[1]
            daytime_kernel = self.out_kernel[dim - n_daytime - n_weekend:dim - n_weekend]
            weekend_kernel = self.out_kernel[dim - n_weekend:]
            self.context = (self.daytime @ daytime_kernel)[:, None, :] + (
                self.weekend @ weekend_kernel)[None, :, :]
            zero = {**inputs, "daytime": np.zeros_like(inputs["daytime"]),
                    "weekend": np.zeros_like(inputs["weekend"])}
            self.user_base = self.user_vectors(zero) - self.context[0, 0]

    def precompute_scores(self, budget_bytes: int) -> bool:
        """Score every known user against every movie once, if that fits ``budget_bytes``.

        A known user's score is ``user_base[u] · v + context[d, w] · v + bias`` for every movie
        vector ``v``: the first term is a (users × movies) table, the rest one row per context.
        A request then reads two rows (~40 KB on ml-latest-small) instead of streaming the whole
        movie matrix (2.5 MB, more than a core's L2 cache) through a matrix-vector product."""
        if self.user_base is None or len(self.user_base) * self.n_items * 4 > budget_bytes:
            return False
        self.user_scores = (self.user_base @ self.item_vectors.T).astype(np.float32)
        self.context_scores = (self.context @ self.item_vectors.T
                               + self.item_bias).astype(np.float32)
        return True

    def known_user_scores(self, user: int, daytime: int, weekend: int) -> np.ndarray:
        """Scores of every movie for known user index ``user`` (after precompute_users); a new
        array that the caller may change."""
        if self.user_scores is not None:
            return self.user_scores[user] + self.context_scores[daytime, weekend]
        if self.user_base is None:
            raise RuntimeError("precompute_users first")
        vector = self.user_base[user] + self.context[daytime, weekend]
        return self.item_vectors @ vector + self.item_bias

    def scores(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """(batch, n_items) float32 scores of every movie."""
        users = self.user_vectors(inputs)
        if self.mlp is None:
            if len(users) == 1:  # one request: a contiguous matrix-vector product
                return (self.item_vectors @ users[0] + self.item_bias)[None, :]
            return users @ self.item_vectors.T + self.item_bias
        user_kernel, item_half, out_kernel, out_bias = self.mlp
        rows = []
        for user in users @ user_kernel:
            hidden = np.maximum(item_half + user, np.float32(0.0))
            rows.append(hidden @ out_kernel + out_bias + self.item_bias)
        return np.stack(rows).astype(np.float32, copy=False)


def keras_scores(model: Any, inputs: dict[str, np.ndarray], items: np.ndarray) -> np.ndarray:
    """The Keras inference model's scores of movie indices ``items`` (batch, m) — the truth the
    fast path is checked against."""
    outputs = model.predict_on_batch({**inputs, "items": (items + 1).astype(np.int32)})
    return np.asarray(outputs["score"], dtype=np.float32)
