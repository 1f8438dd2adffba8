"""The one builder of the model's user-side inputs, for the trainer and the service alike.

The Keras inference model takes ``user_features.user_inputs`` and ``FRESH_INPUT``; the training
model takes the same user side plus ``positive`` and ``negatives``. Every dict of those inputs,
in training (triplet batches, validation scores, the feedback simulation, the new-user path)
and in serving (known users, users with feedback, visitors, the reference sample), is made by
``model_inputs``: one place to change when an input changes. ``UserTable`` holds the known
users' rows both sides read (the trainer from its data, the service from a bundle's arrays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recommender_core.bundle_format import FRESH_INPUT


def model_inputs(*, user: np.ndarray, history: np.ndarray, features: Mapping[str, np.ndarray],
                 daytime: np.ndarray, weekend: np.ndarray,
                 fresh: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The user-side inputs of a batch, each int32: ``user`` the user row (index + 1; 0 the
    anonymous user), ``history`` (batch, length) liked movies (index + 1, 0 pads on the
    left), ``features`` each user-feature slot's codes by slot key (0 unknown;
    recommender_core.user_features), the context (bundle_format.context_features) and
    ``fresh`` (batch, any) movies liked since training whose item-item rows are added
    (index + 1, 0 pads; None: none, a column of zeros)."""
    user = np.asarray(user, np.int32)
    if fresh is None:
        fresh = np.zeros((len(user), 1), np.int32)
    return {"user": user, "history": np.asarray(history, np.int32),
            **{key: np.asarray(codes, np.int32) for key, codes in features.items()},
            "daytime": np.asarray(daytime, np.int32), "weekend": np.asarray(weekend, np.int32),
            FRESH_INPUT: np.asarray(fresh, np.int32)}


def history_row(liked: Sequence[int] | np.ndarray, length: int) -> np.ndarray:
    """(1, length) history input of liked movie indices, oldest first: the last ``length`` of
    them, index + 1, zeros padding on the left."""
    history = np.zeros((1, length), np.int32)
    recent = np.asarray(liked[-length:], dtype=np.int32) + 1
    if len(recent):
        history[0, -len(recent):] = recent
    return history


def fresh_row(liked: Sequence[int] | np.ndarray) -> np.ndarray:
    """(1, n) FRESH_INPUT of liked movie indices (index + 1; one 0 when there are none)."""
    row = np.asarray(liked, dtype=np.int32) + 1
    return (row if len(row) else np.zeros(1, np.int32))[None, :]


@dataclass(frozen=True)
class UserTable:
    """The known users' rows of the inputs (row i: user index i): their recent liked movies
    and user-feature codes. The trainer makes it from its data, the service from a bundle's
    ``user_history`` and each slot's array."""

    history: np.ndarray  # (users, length) recent liked movies, index + 1, 0 pads on the left
    features: Mapping[str, np.ndarray]  # slot key -> (users,) codes, 0 unknown

    @property
    def history_length(self) -> int:
        return int(self.history.shape[1])

    def inputs(self, users: np.ndarray, *, daytime: np.ndarray, weekend: np.ndarray,
               history: np.ndarray | None = None, fresh: np.ndarray | None = None,
               user: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Inputs of known user indices ``users`` in the given contexts; ``history`` replaces
        their stored rows (their likes since training folded in), ``fresh`` adds likes since
        training, ``user`` replaces their user rows (the sampler's dropout hides some)."""
        users = np.asarray(users)
        return model_inputs(
            user=users + 1 if user is None else user,
            history=self.history[users] if history is None else history,
            features={key: codes[users] for key, codes in self.features.items()},
            daytime=daytime, weekend=weekend, fresh=fresh)


def visitors_inputs(liked: np.ndarray, history_length: int, keys: Sequence[str], *,
                    daytime: np.ndarray, weekend: np.ndarray) -> dict[str, np.ndarray]:
    """Inputs of visitors without user features who each liked a row of ``liked`` (visitors,
    n) of movie indices, oldest first: visitor_inputs for many at once; ``keys`` the slots'."""
    n = liked.shape[1]
    history = np.zeros((len(liked), history_length), np.int32)
    shown = min(n, history_length)
    if shown:
        history[:, history_length - shown:] = liked[:, n - shown:] + 1
    zeros = np.zeros(len(liked), np.int32)
    return model_inputs(user=zeros, history=history, features=dict.fromkeys(keys, zeros),
                        daytime=daytime, weekend=weekend, fresh=liked + 1 if n else None)


def visitor_inputs(liked: Sequence[int] | np.ndarray, history_length: int, *,
                   features: Mapping[str, int], daytime: int, weekend: int
                   ) -> dict[str, np.ndarray]:
    """Inputs of one user the model never saw: the anonymous user row, their liked movie
    indices (oldest first) as history and as fresh likes (the anonymous row has no
    item-item part), their feature codes by slot key (0 unknown)."""
    return model_inputs(user=np.zeros(1, np.int32), history=history_row(liked, history_length),
                        features={key: np.array([code]) for key, code in features.items()},
                        daytime=np.array([daytime]), weekend=np.array([weekend]),
                        fresh=fresh_row(liked))
