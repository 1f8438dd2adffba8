"""The Keras model's user-side inputs (bundle_format.USER_INPUTS) for one request: a known
user's from the bundle's arrays (and their feedback since training), a visitor's from what they
sent, all with the context of now."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from app.bundle import Bundle
from recommender_core.bundle_format import FRESH_INPUT, context_features
from recommender_core.feedback_store import Event

AGE_GROUP_STARTS = {"Under 18": 1, "18-24": 18, "25-34": 25, "35-44": 35, "45-49": 45,
                    "50-55": 50, "56+": 56}


def context_now() -> dict[str, np.ndarray]:
    daytime, weekend = context_features(np.array([int(time.time())]))
    return {"daytime": daytime, "weekend": weekend}


def user_inputs(bundle: Bundle, user: int) -> dict[str, np.ndarray]:
    """Model inputs of a known user (index), with the context of now."""
    arrays = bundle.arrays
    return {
        "user": np.array([user + 1], np.int32),
        "history": arrays["user_history"][user:user + 1],
        "age_group": arrays["user_age_group"][user:user + 1],
        "gender": arrays["user_gender"][user:user + 1],
        "occupation": arrays["user_occupation"][user:user + 1],
        **context_now(),
        FRESH_INPUT: np.zeros((1, 1), np.int32),  # their training likes are in their row
    }


def feedback_inputs(bundle: Bundle, user: int, liked: Sequence[int]) -> dict[str, np.ndarray]:
    """Model inputs of known user index ``user`` whose liked movies, training history and
    feedback together, are ``liked`` (with_feedback): the history input rebuilt from them,
    and as fresh likes those the user had not rated in the training data (the item-item
    row holds the training likes; a training rating changed by feedback stays in it)."""
    likes = np.asarray(liked, dtype=np.int64)
    fresh = likes[~np.isin(likes, bundle.seen(user))]
    return {**user_inputs(bundle, user), "history": history_row(bundle, liked),
            FRESH_INPUT: fresh_row(fresh)}


def fresh_row(liked: Sequence[int] | np.ndarray) -> np.ndarray:
    """(1, n) FRESH_INPUT of liked movie indices (index + 1; one 0 when there are none)."""
    row = np.asarray(liked, dtype=np.int32) + 1
    return (row if len(row) else np.zeros(1, np.int32))[None, :]


def history_row(bundle: Bundle, liked: Sequence[int]) -> np.ndarray:
    """(1, history_length) model input of liked movie indices, oldest first: the last
    history_length of them, index + 1, zeros padding on the left."""
    history = np.zeros((1, bundle.history_length), np.int32)
    recent = np.asarray(liked[-bundle.history_length:], dtype=np.int32) + 1
    if len(recent):
        history[0, -len(recent):] = recent
    return history


def with_feedback(bundle: Bundle, user: int | None, events: Sequence[Event]
                  ) -> tuple[list[int], np.ndarray]:
    """(liked movie indices oldest first, every movie index rated in ``events``).

    The liked movies are the user's training history from the bundle (``user`` is their index,
    None for a user the bundle does not know) followed by ``events`` (oldest first): a later
    rating of a movie replaces the earlier one, so a dislike takes a movie out of the history
    and a like moves it to the most recent end. Movies the bundle does not know are skipped.
    The loop is over one user's events, at most FEEDBACK_MAX_PER_USER."""
    threshold = bundle.like_threshold
    liked: dict[int, None] = {}  # ordered set
    if user is not None:
        for code in bundle.arrays["user_history"][user].tolist():
            if code > 0:
                liked[code - 1] = None
    rated: list[int] = []
    for item in events:
        index = bundle.item_position.get(item.movie_id)
        if index is None:
            continue
        rated.append(index)
        liked.pop(index, None)
        if item.rating >= threshold:
            liked[index] = None
    return list(liked), np.asarray(rated, dtype=np.int64)


def anonymous_inputs(bundle: Bundle, liked: list[int], age: int | None, gender: str | None,
                     occupation: str | None) -> dict[str, np.ndarray]:
    """Inputs for a visitor: the anonymous user row, their liked movies (indices, oldest
    first) as history, their demographics where given."""
    vocab = bundle.manifest["user_features"]
    return {
        "user": np.zeros(1, np.int32), "history": history_row(bundle, liked),
        "age_group": np.array([_age_code(age, vocab["age_groups"])], np.int32),
        "gender": np.array([_code(gender, vocab["genders"])], np.int32),
        "occupation": np.array([_code(occupation, vocab["occupations"])], np.int32),
        **context_now(),
        FRESH_INPUT: fresh_row(liked),  # the anonymous row has no item-item part
    }


def known_user_scores(bundle: Bundle, user: int) -> np.ndarray:
    """Every movie's score for known user index ``user`` in the context of now (a new array)."""
    context = context_now()
    return bundle.scorer.known_user_scores(user, int(context["daytime"][0]),
                                           int(context["weekend"][0]))


def _code(value: str | None, vocabulary: list[str]) -> int:
    if value is None:
        return 0
    lowered = [v.lower() for v in vocabulary]
    return lowered.index(value.lower()) + 1 if value.lower() in lowered else 0


def _age_code(age: int | None, groups: list[str]) -> int:
    if age is None or not groups:
        return 0
    best = 0
    for code, label in enumerate(groups, start=1):
        if AGE_GROUP_STARTS.get(label, 1 << 30) <= age:
            best = code
    return best
