"""Train ratings as index-based matrices: what every recommender is fitted on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender_core.bundle_format import context_features
from training.data.dataset import MovieLensDataset
from training.data.features import (
    MovieFeatures,
    UserFeatures,
    movie_features,
    user_features,
)
from training.data.splits import cold_movies, last_fraction_mask


@dataclass(frozen=True)
class LikeSequence:
    """Liked items per user in time order, CSR-style: user u's are
    ``items[offsets[u]:offsets[u + 1]]``, liked at ``times`` of the same positions."""

    items: np.ndarray  # int32 item indices
    times: np.ndarray  # int64 Unix seconds
    offsets: np.ndarray  # int64 (n_users + 1)


@dataclass
class Interactions:
    """Users are the raw ids seen in train (index = row); items are every movie in the movies
    file (index = column), so cold movies have columns too."""

    user_ids: np.ndarray  # int32 raw ids, sorted
    item_ids: np.ndarray  # int32 raw ids, movies-file order
    ratings: sp.csr_matrix  # float32 (n_users, n_items) explicit ratings of train
    likes: sp.csr_matrix  # float32 1.0 where rating >= threshold
    sequence: LikeSequence  # every user's likes in time order
    last_context: np.ndarray  # (users, 2) int32 daytime, weekend of each one's last rating
    movie_features: MovieFeatures
    user_features: UserFeatures
    rating_scale: tuple[float, float]
    like_threshold: float
    dataset: MovieLensDataset
    train: pd.DataFrame  # the train ratings these matrices were built from
    #: implicit data: log(1 + weight) of each like (where a model can weigh them); else None
    confidence: sp.csr_matrix | None = None

    @property
    def last_daytime(self) -> np.ndarray:
        return self.last_context[:, 0]

    @property
    def last_weekend(self) -> np.ndarray:
        return self.last_context[:, 1]

    def context(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return context_of(self.dataset, times)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_index(self, raw_ids: np.ndarray) -> np.ndarray:
        """Index of each raw user id; -1 where the user is unknown."""
        position = np.searchsorted(self.user_ids, raw_ids)
        position = np.clip(position, 0, len(self.user_ids) - 1)
        return np.where(self.user_ids[position] == raw_ids, position, -1)

    def item_index(self, raw_ids: np.ndarray) -> np.ndarray:
        """Index of each raw movie id; -1 where the movie is unknown."""
        order = np.argsort(self.item_ids)
        sorted_ids = self.item_ids[order]
        position = np.clip(np.searchsorted(sorted_ids, raw_ids), 0, len(sorted_ids) - 1)
        return np.where(sorted_ids[position] == raw_ids, order[position], -1)

    def item_popularity(self) -> np.ndarray:
        """Number of train likes per item."""
        return np.asarray(self.likes.sum(axis=0)).ravel().astype(np.float32)

    def recent_likes(self, length: int) -> np.ndarray:
        """Each user's last ``length`` liked items (index + 1; 0 pads on the left)."""
        history = np.zeros((self.n_users, length), dtype=np.int32)
        ends = self.sequence.offsets[1:]
        starts = self.sequence.offsets[:-1]
        steps = np.arange(length, 0, -1)
        positions = ends[:, None] - steps[None, :]
        valid = positions >= starts[:, None]
        safe = np.clip(positions, 0, max(0, len(self.sequence.items) - 1))
        if len(self.sequence.items):
            history[valid] = self.sequence.items[safe[valid]] + 1
        return history


def context_of(dataset: MovieLensDataset, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The context (daytime, weekend) of Unix ``times``; (0, 0) for all where the data has no
    timestamps (the service then gives every request that context)."""
    if dataset.timed:
        return context_features(times)
    zeros = np.zeros(len(times), dtype=np.int32)
    return zeros, zeros.copy()


def build_interactions(
    dataset: MovieLensDataset,
    train: pd.DataFrame,
    *,
    like_threshold: float | None = None,
    features: MovieFeatures | None = None,
) -> Interactions:
    """Index the train ratings; movie features are computed once and may be passed in.
    ``like_threshold``: the dataset's unless given."""
    if like_threshold is None:
        like_threshold = dataset.like_threshold
    user_ids = np.unique(train["user_id"].to_numpy()).astype(np.int32)
    item_ids = dataset.movies["movie_id"].to_numpy(np.int32)
    rows = np.searchsorted(user_ids, train["user_id"].to_numpy())
    order = np.argsort(item_ids)
    cols = order[np.searchsorted(item_ids[order], train["movie_id"].to_numpy())]
    values = train["rating"].to_numpy(np.float32)
    shape = (len(user_ids), len(item_ids))
    ratings = sp.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float32)
    liked = values >= like_threshold
    likes = sp.csr_matrix((np.ones(int(liked.sum()), np.float32), (rows[liked], cols[liked])),
                          shape=shape, dtype=np.float32)

    confidence = None
    if "weight" in train:
        weights = np.log1p(train["weight"].to_numpy(np.float32)[liked])
        confidence = sp.csr_matrix((weights, (rows[liked], cols[liked])), shape=shape,
                                   dtype=np.float32)
    times = train["timestamp"].to_numpy(np.int64)
    seq = np.lexsort((cols[liked], times[liked], rows[liked]))
    sequence_rows = rows[liked][seq]
    offsets = np.zeros(len(user_ids) + 1, dtype=np.int64)
    np.add.at(offsets, sequence_rows + 1, 1)
    offsets = np.cumsum(offsets)

    last = np.lexsort((times, rows))
    last_per_user = last[np.r_[rows[last][1:] != rows[last][:-1], True]]
    daytime, weekend = context_of(dataset, times[last_per_user])
    return Interactions(
        user_ids=user_ids, item_ids=item_ids, ratings=ratings, likes=likes,
        sequence=LikeSequence(cols[liked][seq].astype(np.int32), times[liked][seq], offsets),
        last_context=np.stack([daytime, weekend], axis=1).astype(np.int32),
        movie_features=features or movie_features(dataset.movies, dataset.tags),
        user_features=user_features(user_ids, dataset.users, generic=dataset.generic_users),
        rating_scale=dataset.rating_scale, like_threshold=like_threshold, dataset=dataset,
        train=train, confidence=confidence,
    )


def carve_validation(data: Interactions, fraction: float = 0.1) -> tuple[Interactions,
                                                                        pd.DataFrame]:
    """Hold out each user's last ``fraction`` of train ratings (early stopping, tuning)."""
    return split_off(data, last_fraction_mask(data.train, fraction))


def split_off(data: Interactions, held: np.ndarray) -> tuple[Interactions, pd.DataFrame]:
    """(``data`` rebuilt from the train ratings not ``held`` (a row mask), the held rows);
    the catalogue, like threshold and movie features stay."""
    inside = build_interactions(data.dataset, data.train[~held].reset_index(drop=True),
                                like_threshold=data.like_threshold, features=data.movie_features)
    return inside, data.train[held].reset_index(drop=True)


def hold_out_users(data: Interactions, fraction: float = 0.1, seed: int = 0,
                   minimum: int = 20) -> tuple[Interactions, pd.DataFrame | None]:
    """(``data`` without ``fraction`` of its users who have user features, their train
    ratings), or (``data``, None) when fewer than ``minimum`` users have features."""
    eligible = data.user_ids[data.user_features.known]
    n_out = int(round(fraction * len(eligible)))
    if len(eligible) < minimum or n_out == 0:
        return data, None
    out = np.random.default_rng(seed).choice(eligible, size=n_out, replace=False)
    return split_off(data, np.isin(data.train["user_id"].to_numpy(), out))


def hold_out_movies(data: Interactions, fraction: float = 0.1, seed: int = 0,
                    minimum: int = 10) -> tuple[Interactions, pd.DataFrame | None]:
    """(``data`` without any rating of ``fraction`` of its movies with 5+ ratings, those
    movies' train ratings) — the coldstart protocol's cut inside train — or (``data``, None)
    when that would hold out fewer than ``minimum`` movies."""
    out = cold_movies(data.train, fraction=fraction, seed=seed)
    if len(out) < minimum:
        return data, None
    return split_off(data, np.isin(data.train["movie_id"].to_numpy(), out))


def mask_seen(scores: np.ndarray, data: Interactions, users: np.ndarray) -> np.ndarray:
    """Set, in place, each row's scores of the movies that user rated in train to −inf."""
    seen = data.ratings[users]
    rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
    scores[rows, seen.indices] = -np.inf
    return scores
