"""The quality protocol's splits (docs/quality-protocol.md), deterministic for a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.data.generic import untimed_order
from training.errors import TrainingError


@dataclass(frozen=True)
class Split:
    """Train and test ratings; ``candidates`` limits ranking to those movies (coldstart)."""

    protocol: str
    train: pd.DataFrame
    test: pd.DataFrame
    candidates: np.ndarray | None = None


def last_fraction_mask(ratings: pd.DataFrame, fraction: float) -> np.ndarray:
    """True for each user's last ``ceil(fraction * n)`` (at least 1) ratings by (time, movie)."""
    users = ratings["user_id"].to_numpy()
    order = np.lexsort((ratings["movie_id"].to_numpy(), ratings["timestamp"].to_numpy(), users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_users)])
    position = np.arange(len(sorted_users)) - np.repeat(starts, counts)
    held = np.maximum(1, np.ceil(fraction * counts - 1e-9)).astype(np.int64)
    mask_sorted = position >= np.repeat(counts - held, counts)
    mask = np.empty(len(users), dtype=bool)
    mask[order] = mask_sorted
    return mask


def temporal_split(ratings: pd.DataFrame, test_fraction: float = 0.2) -> Split:
    """Per user, the last 20% of ratings (ceil, at least 1) by (timestamp, movie id) are test."""
    if len(ratings) == 0:
        raise TrainingError("the dataset has no ratings to split")
    test = last_fraction_mask(ratings, test_fraction)
    if test.all():
        raise TrainingError("every user has a single rating: too small to split into train/test")
    return Split("temporal", ratings[~test].reset_index(drop=True),
                 ratings[test].reset_index(drop=True))


def cold_movies(ratings: pd.DataFrame, *, fraction: float = 0.1, min_ratings: int = 5,
                seed: int = 0) -> np.ndarray:
    """Sorted ids of a seeded ``fraction`` of the movies with >= ``min_ratings`` ratings
    (empty when that rounds to none)."""
    counts = ratings["movie_id"].value_counts()
    eligible = np.sort(counts.index[counts >= min_ratings].to_numpy())
    n_cold = int(round(fraction * len(eligible)))
    return np.sort(np.random.default_rng(seed).choice(eligible, size=n_cold, replace=False))


def coldstart_split(
    ratings: pd.DataFrame, *, fraction: float = 0.1, min_ratings: int = 5, seed: int = 0
) -> Split:
    """A seeded ``fraction`` of the movies with >= ``min_ratings`` ratings lose all of them to
    test; only those cold movies are ranking candidates."""
    cold = cold_movies(ratings, fraction=fraction, min_ratings=min_ratings, seed=seed)
    if len(cold) == 0:
        raise TrainingError(
            f"no movie has {min_ratings}+ ratings in enough number to hold out {fraction:.0%}: "
            "too small for the coldstart protocol"
        )
    is_cold = np.isin(ratings["movie_id"].to_numpy(), cold)
    return Split("coldstart", ratings[~is_cold].reset_index(drop=True),
                 ratings[is_cold].reset_index(drop=True), candidates=cold.astype(np.int32))


def coldusers_split(ratings: pd.DataFrame, users: pd.DataFrame | None, *,
                    fraction: float = 0.1, seed: int = 0) -> Split:
    """10% of the users with demographics (drawn with the seed) lose all their ratings to the
    test set: users the model never saw, asked for with their demographics only."""
    if users is None:
        raise TrainingError("the coldusers protocol needs user features (ml-100k, ml-1m, a "
                            "generic catalogue's users.csv, or --variant random-demographics)")
    eligible = np.intersect1d(np.unique(ratings["user_id"].to_numpy()),
                              users["user_id"].to_numpy())
    n_cold = int(round(fraction * len(eligible)))
    if n_cold == 0 or n_cold == len(eligible):
        raise TrainingError(f"{len(eligible)} users with demographics: too few for the "
                            f"coldusers protocol")
    cold = np.random.default_rng(seed).choice(eligible, size=n_cold, replace=False)
    is_cold = np.isin(ratings["user_id"].to_numpy(), cold)
    return Split("coldusers", ratings[~is_cold].reset_index(drop=True),
                 ratings[is_cold].reset_index(drop=True))


def fewshot_users(ratings: pd.DataFrame, *, fraction: float = 0.1, seed: int = 0
                  ) -> np.ndarray:
    """A seeded ``fraction`` of the users of ``ratings`` (sorted ids)."""
    users = np.unique(ratings["user_id"].to_numpy())
    n_held = int(round(fraction * len(users)))
    return np.sort(np.random.default_rng(seed).choice(users, size=n_held, replace=False))


def fewshot_split(ratings: pd.DataFrame, *, fraction: float = 0.1, seed: int = 0) -> Split:
    """A seeded ``fraction`` of the users lose every rating to the test set: visitors who
    give their first likes (training.evaluation.fewshot)."""
    held = fewshot_users(ratings, fraction=fraction, seed=seed)
    if len(held) == 0 or len(held) == len(np.unique(ratings["user_id"].to_numpy())):
        raise TrainingError("too few users for the fewshot protocol")
    is_held = np.isin(ratings["user_id"].to_numpy(), held)
    return Split("fewshot", ratings[~is_held].reset_index(drop=True),
                 ratings[is_held].reset_index(drop=True))


def make_split(ratings: pd.DataFrame, protocol: str, seed: int = 0,
               users: pd.DataFrame | None = None, *, timed: bool = True) -> Split:
    """The ``protocol``'s split of ``ratings``; without timestamps (``timed`` False) every
    seed first draws its own random order within each user (generic.untimed_order), so the
    temporal and fewshot splits become seeded random per-user splits."""
    if not timed:
        ratings = ratings.assign(timestamp=untimed_order(ratings["user_id"].to_numpy(), seed))
    if protocol == "temporal":
        return temporal_split(ratings)
    if protocol == "coldstart":
        return coldstart_split(ratings, seed=seed)
    if protocol == "coldusers":
        return coldusers_split(ratings, users, seed=seed)
    if protocol == "fewshot":
        return fewshot_split(ratings, seed=seed)
    raise TrainingError(f"unknown protocol {protocol!r}; use temporal, coldstart, coldusers "
                        f"or fewshot")


#: users whose validation ratings decide early stopping, the prior and EASE's λ (a pass scores
#: each of them against every movie: on 30,000 users × 60,000 movies that was a third of an
#: epoch, and an EASE λ tried took 6 minutes)
MAX_VALIDATION_USERS = 5_000


def sample_users(ratings: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """The rows of a seeded sample of ``n`` of the users in ``ratings`` (all when fewer)."""
    users = np.unique(ratings["user_id"].to_numpy())
    if len(users) <= n:
        return ratings
    chosen = np.random.default_rng(seed).choice(users, n, replace=False)
    return ratings[np.isin(ratings["user_id"].to_numpy(), chosen)].reset_index(drop=True)
