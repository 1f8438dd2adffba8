"""A request's user-side model inputs: a known user's from the bundle's arrays (and their
feedback since training), a visitor's from what they sent, all in the context of now. The
inputs themselves are built by recommender_core.inputs, as the trainer builds them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from app.bundle import Bundle
from recommender_core.bundle_format import context_features
from recommender_core.feedback_store import Event
from recommender_core.inputs import fresh_row, history_row, visitor_inputs

#: the last second context_now computed, and its context (a request asks up to three times)
_last_context: tuple[int, tuple[int, int]] = (-1, (0, 0))


def context_now(bundle: Bundle) -> tuple[int, int]:
    """(daytime bucket, weekend flag) of the current time; (0, 0) for a bundle trained on
    data without timestamps (whose every pseudo-time had that context). Computed once per
    second (bundle_format.context_features on one array costs ~10 µs)."""
    global _last_context
    if not bundle.timed:
        return 0, 0
    now = int(time.time())
    second, context = _last_context
    if second != now:
        daytime, weekend = context_features(np.array([now]))
        context = int(daytime[0]), int(weekend[0])
        _last_context = (now, context)
    return context


def user_inputs(bundle: Bundle, user: int, liked: Sequence[int] | None = None
                ) -> dict[str, np.ndarray]:
    """Model inputs of known user index ``user`` in the context of now. ``liked``: their liked
    movies, training history and feedback together (with_feedback): the history input is
    rebuilt from them, and the fresh likes are those the user had not rated in the training
    data (the item-item row holds the training likes; a training rating changed by feedback
    stays in it)."""
    daytime, weekend = context_now(bundle)
    users = np.array([user])
    if liked is None:
        return bundle.users.inputs(users, daytime=np.array([daytime]),
                                   weekend=np.array([weekend]))
    likes = np.asarray(liked, dtype=np.int64)
    fresh = likes[~np.isin(likes, bundle.seen(user))]
    return bundle.users.inputs(users, daytime=np.array([daytime]), weekend=np.array([weekend]),
                               history=history_row(liked, bundle.history_length),
                               fresh=fresh_row(fresh))


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
        for code in bundle.users.history[user].tolist():
            if code > 0:
                liked[code - 1] = None
    rated: list[int] = []
    for item in events:
        index = bundle.catalogue.position.get(item.movie_id)
        if index is None:
            continue
        rated.append(index)
        liked.pop(index, None)
        if item.rating >= threshold:
            liked[index] = None
    return list(liked), np.asarray(rated, dtype=np.int64)


def anonymous_inputs(bundle: Bundle, liked: list[int], codes: Mapping[str, int]
                     ) -> dict[str, np.ndarray]:
    """Inputs for a visitor: the anonymous user row, their liked movies (indices, oldest
    first) as history, their user-feature ``codes`` by slot key (Bundle.feature_codes; a slot
    missing is unknown)."""
    daytime, weekend = context_now(bundle)
    return visitor_inputs(liked, bundle.history_length,
                          features={slot.key: int(codes.get(slot.key, 0))
                                    for slot in bundle.slots},
                          daytime=daytime, weekend=weekend)
