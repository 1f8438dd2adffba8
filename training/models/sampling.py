"""BPR triplets (user, liked movie, sampled negatives), generated batch by batch in numpy.

Each positive is one liked rating. Its user-side inputs are what was known *before* it: the
user's previously liked movies (causal history, so a positive never sees itself) and the
context (daytime, weekend) of its timestamp. Negatives are drawn uniformly; draws that hit a
movie the user liked are redrawn once.
"""

from __future__ import annotations

import keras
import numpy as np

from recommender_core.bundle_format import FRESH_INPUT
from recommender_core.inputs import model_inputs
from training.data.interactions import Interactions


def history_before(data: Interactions, positions: np.ndarray, length: int) -> np.ndarray:
    """For global positions in the liked sequence: the ``length`` previous items of the same
    user (index + 1; 0 pads on the left)."""
    users = np.searchsorted(data.sequence.offsets, positions, side="right") - 1
    starts = data.sequence.offsets[users]
    window = positions[:, None] - np.arange(length, 0, -1)[None, :]
    valid = window >= starts[:, None]
    items = data.sequence.items[np.where(valid, window, 0)] + 1
    return np.where(valid, items, 0).astype(np.int32)


class TripletSampler:
    def __init__(self, data: Interactions, *, history: int, negatives: int,
                 user_dropout: float = 0.0, seed: int = 0) -> None:
        self.data = data
        self.history = history
        self.negatives = negatives
        self.user_dropout = user_dropout
        self.rng = np.random.default_rng(seed)
        n_positions = len(data.sequence.items)
        self.users = (np.searchsorted(data.sequence.offsets, np.arange(n_positions),
                                      side="right") - 1).astype(np.int32)
        self.daytime, self.weekend = data.context(data.sequence.times)
        likes = data.likes.tocoo()
        self.like_keys = np.sort(likes.row.astype(np.int64) << 32 | likes.col)
        self.features = data.user_features

    def __len__(self) -> int:
        return len(self.users)

    def _draw(self, size: tuple[int, ...]) -> np.ndarray:
        return self.rng.integers(0, self.data.n_items, size)

    def negatives_for(self, users: np.ndarray) -> np.ndarray:
        negatives = self._draw((len(users), self.negatives))
        keys = users[:, None].astype(np.int64) << 32 | negatives
        position = np.clip(np.searchsorted(self.like_keys, keys), 0, len(self.like_keys) - 1)
        clash = self.like_keys[position] == keys
        negatives[clash] = self._draw((int(clash.sum()),))
        return negatives.astype(np.int32)

    def batch(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        users = self.users[positions]
        user_input = users + 1  # 0 is the anonymous user
        if self.user_dropout > 0:
            user_input = np.where(self.rng.random(len(users)) < self.user_dropout, 0, user_input)
        inputs = model_inputs(
            user=user_input, history=history_before(self.data, positions, self.history),
            features=self.features.rows(users), daytime=self.daytime[positions],
            weekend=self.weekend[positions])
        del inputs[FRESH_INPUT]  # the training graph has no fresh likes
        return {**inputs, "positive": self.data.sequence.items[positions] + 1,
                "negatives": self.negatives_for(users) + 1}


class TripletDataset(keras.utils.PyDataset):
    """One epoch of shuffled triplet batches for ``model.fit`` (any Keras backend): every
    positive once per epoch."""

    def __init__(self, sampler: TripletSampler, batch_size: int,
                 outputs: int | None = None, multiple: int = 1) -> None:
        """``outputs``: width of the model's output (default: one column per negative);
        ``multiple``: every batch's size is a multiple of it (the devices a distributed step
        splits it over; the last batch drops its remainder, under ``multiple`` triplets)."""
        super().__init__()
        self.sampler = sampler
        self.batch_size = batch_size - batch_size % multiple or multiple
        self.multiple = multiple
        self.outputs = outputs or sampler.negatives
        self.order = sampler.rng.permutation(len(sampler))

    def __len__(self) -> int:
        usable = len(self.order) - len(self.order) % self.multiple
        return int(np.ceil(usable / self.batch_size))

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        positions = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        positions = positions[:len(positions) - len(positions) % self.multiple]
        inputs = self.sampler.batch(positions)
        return inputs, np.zeros((len(positions), self.outputs), dtype=np.float32)

    def on_epoch_end(self) -> None:
        self.order = self.sampler.rng.permutation(len(self.sampler))
