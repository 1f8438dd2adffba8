"""Feedback simulated on the validation carve-out: how much should likes posted after training
count? Each validation user's carved ratings are cut in time into a *fed* first half (as if
posted to ``POST /feedback``) and a *held* second half (relevant: its likes); the model ranks
with the fed ratings excluded, the history input rebuilt from the train and fed likes, and the
fed likes of movies not rated in train as its ``fresh`` input, the way the service scores a
user with feedback (app/inputs.py). The same cut as the replay benchmark
(benchmarks/feedback_replay.py), on validation data only. The model folds the fed likes in
itself (``FoldsIn``): nothing here knows how it scores."""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
import pandas as pd

from training.data.interactions import Interactions, build_interactions
from training.data.splits import last_fraction_mask


class FoldsIn(Protocol):
    """A model that scores known users with likes since training folded in."""

    @property
    def history_length(self) -> int: ...

    def fold_in(self, users: np.ndarray, history: np.ndarray,
                fresh: np.ndarray) -> np.ndarray: ...


class FeedbackSimulation:
    """``data``: what the model was trained on; ``validation``: later ratings of its users."""

    def __init__(self, data: Interactions, validation: pd.DataFrame) -> None:
        known = validation[np.isin(validation["user_id"].to_numpy(), data.user_ids)]
        known = known.reset_index(drop=True)
        is_held = last_fraction_mask(known, 0.5)
        fed = known[~is_held]
        self.held = known[is_held].reset_index(drop=True)
        self.view = build_interactions(data.dataset, pd.concat([data.train, fed],
                                                               ignore_index=True),
                                       like_threshold=data.like_threshold,
                                       features=data.movie_features)
        if not np.array_equal(self.view.user_ids, data.user_ids):
            raise AssertionError("the fed ratings must be of the model's own users")
        liked = fed[fed["rating"].to_numpy() >= data.like_threshold]
        liked = liked.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
        rows = data.user_index(liked["user_id"].to_numpy())
        cols = data.item_index(liked["movie_id"].to_numpy())
        rated = data.ratings[rows, cols] if len(rows) else np.zeros(0)  # (scipy: a matrix)
        new = np.asarray(rated).ravel() == 0  # not rated in train
        rows, cols = rows[new], cols[new]
        counts = np.bincount(rows, minlength=data.n_users)
        self.fresh = np.zeros((data.n_users, max(1, int(counts.max(initial=0)))), np.int32)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        self.fresh[rows, np.arange(len(rows)) - starts[rows]] = cols + 1
        relevant = self.held["rating"].to_numpy() >= data.like_threshold
        self.users = int(np.unique(self.held["user_id"].to_numpy()[relevant]).size)

    def scorer(self, model: FoldsIn) -> _WithFeedback:
        """``model``'s scores of ``view``'s users with their fed ratings as feedback."""
        return _WithFeedback(model, self.view.recent_likes(model.history_length), self.fresh)


class _WithFeedback:
    predicts_ratings: ClassVar[bool] = False

    def __init__(self, model: FoldsIn, history: np.ndarray, fresh: np.ndarray) -> None:
        self.model, self.history, self.fresh = model, history, fresh

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.model.fold_in(users, self.history[users], self.fresh[users])
