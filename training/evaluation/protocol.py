"""The quality protocol: score every candidate for every test user, mask train items, rank."""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
import pandas as pd

from training.data.features import user_features
from training.data.interactions import Interactions, mask_seen
from training.errors import TrainingError
from training.evaluation.metrics import METRICS, per_user_metrics, rating_errors

BATCH_USERS = 512


class Scorer(Protocol):
    """What the protocol needs of a model: scores of every movie for user indices (every
    recommender of training.models is one)."""

    predicts_ratings: ClassVar[bool]

    def score(self, users: np.ndarray) -> np.ndarray: ...


def evaluate(
    model: Scorer,
    data: Interactions,
    test: pd.DataFrame,
    *,
    candidates: np.ndarray | None = None,
    fallback: Scorer | None = None,
    with_auc: bool = True,
) -> dict[str, float]:
    """Metrics over the test users with at least one relevant (>= like threshold) test rating.

    Ranking is over the full catalogue (or the raw movie ids in ``candidates``) minus what the
    user rated in train. Users unknown to the model are scored by ``fallback`` (popularity).
    """
    relevant_rows = test[test["rating"].to_numpy() >= data.like_threshold]
    test_users = np.unique(relevant_rows["user_id"].to_numpy())
    user_index = data.user_index(test_users)
    candidate_mask = None
    if candidates is not None:
        candidate_mask = np.zeros(data.n_items, dtype=bool)
        candidate_mask[data.item_index(candidates)] = True

    relevant_user = np.searchsorted(test_users, relevant_rows["user_id"].to_numpy())
    relevant_item = data.item_index(relevant_rows["movie_id"].to_numpy())
    values: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    shown: list[np.ndarray] = []
    for start in range(0, len(test_users), BATCH_USERS):
        batch = np.arange(start, min(start + BATCH_USERS, len(test_users)))
        scores = scores_of(model, fallback, data, user_index[batch])
        if candidate_mask is not None:
            scores[:, ~candidate_mask] = -np.inf
        relevant = np.zeros(scores.shape, dtype=bool)
        in_batch = (relevant_user >= batch[0]) & (relevant_user <= batch[-1])
        relevant[relevant_user[in_batch] - batch[0], relevant_item[in_batch]] = True
        relevant &= np.isfinite(scores)
        per_user, top_items = per_user_metrics(scores, relevant, with_auc=with_auc)
        for name in METRICS:
            values[name].append(per_user[name])
        shown.append(top_items)

    result = {name: float(np.nanmean(np.concatenate(v))) for name, v in values.items()
              if with_auc or name != "auc"}
    n_catalogue = int(candidate_mask.sum()) if candidate_mask is not None else data.n_items
    result["coverage@10"] = len(np.unique(np.concatenate(shown))) / n_catalogue
    result["users"] = float(len(test_users))
    if model.predicts_ratings:
        result.update(rating_errors_on(model, data, test))
    return result


def scores_of(model: Scorer, fallback: Scorer | None, data: Interactions,
            users: np.ndarray) -> np.ndarray:
    known = users >= 0
    scores = np.empty((len(users), data.n_items), dtype=np.float32)
    if known.any():
        # Items the user rated in train are never recommended.
        scores[known] = mask_seen(model.score(users[known]).astype(np.float32), data,
                                  users[known])
    if (~known).any():
        if fallback is None:
            raise ValueError("test users unknown to the model and no fallback given")
        scores[~known] = fallback.score(np.zeros(int((~known).sum()), dtype=np.int64))
    return scores


def rating_errors_on(model: Scorer, data: Interactions, test: pd.DataFrame) -> dict[str,
                                                                                       float]:
    """MAE and RMSE of a rating model on the test ratings of users and movies it knows."""
    users = data.user_index(test["user_id"].to_numpy())
    items = data.item_index(test["movie_id"].to_numpy())
    known = (users >= 0) & (items >= 0)
    predicted = model.predict(users[known], items[known])  # type: ignore[attr-defined]
    return rating_errors(predicted, test["rating"].to_numpy()[known])


def evaluate_new_users(model: Scorer, data: Interactions, test: pd.DataFrame,
                       fallback: Scorer) -> dict[str, float]:
    """The coldusers protocol: test users the model never saw, each scored from their user
    features alone (``model.score_demographics``; models without one answer with
    ``fallback``, popularity), over the whole catalogue; nothing is masked (they rated nothing
    in train)."""
    dataset = data.dataset
    if dataset.users is None:
        raise TrainingError("the coldusers protocol needs user features (demographics, or a "
                            "users.csv)")
    relevant_rows = test[test["rating"].to_numpy() >= data.like_threshold]
    test_users = np.unique(relevant_rows["user_id"].to_numpy())
    codes = user_features(test_users, dataset.users, generic=dataset.generic_users)
    scorer = getattr(model, "score_demographics", None)
    if scorer is None:
        scores = fallback.score(np.zeros(len(test_users), dtype=np.int64)).astype(np.float32)
    else:
        scores = scorer(codes.codes, len(test_users)).astype(np.float32)
    relevant = np.zeros(scores.shape, dtype=bool)
    rows = np.searchsorted(test_users, relevant_rows["user_id"].to_numpy())
    items = data.item_index(relevant_rows["movie_id"].to_numpy())
    relevant[rows[items >= 0], items[items >= 0]] = True
    per_user, top = per_user_metrics(scores, relevant)
    result = {name: float(np.nanmean(values)) for name, values in per_user.items()}
    result["coverage@10"] = len(np.unique(top)) / data.n_items
    result["users"] = float(len(test_users))
    return result
