"""The one builder of the model's user-side inputs, for the trainer and the service alike.

The Keras inference model takes ``bundle_format.USER_INPUTS`` and ``FRESH_INPUT``; the training
model takes the same user side plus ``positive`` and ``negatives``. Every dict of those inputs,
in training (triplet batches, validation scores, the feedback simulation, the new-user path)
and in serving (known users, users with feedback, visitors, the reference sample), is made by
``model_inputs``: one place to change when an input changes. ``UserTable`` holds the known
users' rows both sides read (the trainer from its data, the service from a bundle's arrays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender_core.bundle_format import FRESH_INPUT

#: the demographic age groups (MovieLens 1M's codes): the first age of each, and its label
AGE_GROUPS: dict[int, str] = {
    1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+",
}  # fmt: skip


def age_group(age: int) -> str:
    """The label of AGE_GROUPS that ``age`` falls in (below 18: "Under 18")."""
    return AGE_GROUPS[max((start for start in AGE_GROUPS if start <= age), default=1)]


def age_code(age: int | None, groups: Sequence[str]) -> int:
    """The code (1-based position in ``groups``, a bundle's vocabulary) of ``age``'s group;
    0 (unknown) when ``age`` is None or its group is not in ``groups``."""
    if age is None:
        return 0
    label = age_group(age)
    return list(groups).index(label) + 1 if label in groups else 0


def vocabulary_code(value: str | None, vocabulary: Sequence[str]) -> int:
    """The code (1-based, case-insensitive) of ``value`` in ``vocabulary``; 0 when unknown."""
    if value is None:
        return 0
    lowered = [v.lower() for v in vocabulary]
    return lowered.index(value.lower()) + 1 if value.lower() in lowered else 0


def model_inputs(*, user: np.ndarray, history: np.ndarray, age_group: np.ndarray,
                 gender: np.ndarray, occupation: np.ndarray, daytime: np.ndarray,
                 weekend: np.ndarray, fresh: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The user-side inputs of a batch, each int32: ``user`` the user row (index + 1; 0 the
    anonymous user), ``history`` (batch, length) liked movies (index + 1, 0 pads on the
    left), the demographic codes (0 unknown), the context (bundle_format.context_features)
    and ``fresh`` (batch, any) movies liked since training whose item-item rows are added
    (index + 1, 0 pads; None: none, a column of zeros)."""
    user = np.asarray(user, np.int32)
    if fresh is None:
        fresh = np.zeros((len(user), 1), np.int32)
    return {"user": user, "history": np.asarray(history, np.int32),
            "age_group": np.asarray(age_group, np.int32), "gender": np.asarray(gender, np.int32),
            "occupation": np.asarray(occupation, np.int32),
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
    and demographic codes. The trainer makes it from its data, the service from a bundle's
    ``user_history``, ``user_age_group``, ``user_gender`` and ``user_occupation``."""

    history: np.ndarray  # (users, length) recent liked movies, index + 1, 0 pads on the left
    age_group: np.ndarray  # (users,) codes, 0 unknown
    gender: np.ndarray
    occupation: np.ndarray

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
            age_group=self.age_group[users], gender=self.gender[users],
            occupation=self.occupation[users], daytime=daytime, weekend=weekend, fresh=fresh)


def visitors_inputs(liked: np.ndarray, history_length: int, *, daytime: np.ndarray,
                    weekend: np.ndarray) -> dict[str, np.ndarray]:
    """Inputs of visitors without demographics who each liked a row of ``liked`` (visitors,
    n) of movie indices, oldest first: visitor_inputs for many at once."""
    n = liked.shape[1]
    history = np.zeros((len(liked), history_length), np.int32)
    shown = min(n, history_length)
    if shown:
        history[:, history_length - shown:] = liked[:, n - shown:] + 1
    zeros = np.zeros(len(liked), np.int32)
    return model_inputs(user=zeros, history=history, age_group=zeros, gender=zeros,
                        occupation=zeros, daytime=daytime, weekend=weekend,
                        fresh=liked + 1 if n else None)


def visitor_inputs(liked: Sequence[int] | np.ndarray, history_length: int, *, age_group: int,
                   gender: int, occupation: int, daytime: int, weekend: int
                   ) -> dict[str, np.ndarray]:
    """Inputs of one user the model never saw: the anonymous user row, their liked movie
    indices (oldest first) as history and as fresh likes (the anonymous row has no
    item-item part), their demographic codes (0 unknown)."""
    return model_inputs(user=np.zeros(1, np.int32), history=history_row(liked, history_length),
                        age_group=np.array([age_group]), gender=np.array([gender]),
                        occupation=np.array([occupation]), daytime=np.array([daytime]),
                        weekend=np.array([weekend]), fresh=fresh_row(liked))
