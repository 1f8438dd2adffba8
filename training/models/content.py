"""Content-based recommending: a user's profile of the movies' content, scored by cosine.

``ContentBased`` is the baseline. ``fit_content_part`` gives the hybrid the same score as one
more frozen block of its vectors, on the movies nobody had rated when it was trained: on the
coldstart protocol of the dense variant (genres and years only) the content cosine ranked new
movies better than the towers' cold path, and their sum better than either (BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from training.data.interactions import Interactions
from training.models.base import Recommender


def content_matrix(data: Interactions, genre_weight: float = 0.5) -> sp.csr_matrix:
    """Each movie's L2-normalised [TF-IDF(tags + genres) | weighted genre multi-hot | decade]."""
    features = data.movie_features
    known = np.flatnonzero(features.decade > 0)  # an unknown decade carries no similarity
    decades = sp.csr_matrix(
        (np.ones(len(known), np.float32), (known, features.decade[known])),
        shape=(len(features.decade), len(features.decades) + 1),
    )
    genres = (sp.csr_matrix(normalize(features.genres)) * genre_weight
              if features.genres.shape[1] else sp.csr_matrix(features.genres))  # none at all
    stacked = sp.hstack([features.tfidf, genres, decades * 0.3], format="csr", dtype=np.float32)
    return normalize(stacked).astype(np.float32)


def content_profiles(data: Interactions, items: Any) -> Any:
    """(users, width) L2-normalised rating-weighted sums of the rated movies' ``items`` rows,
    the ratings centred on the user's mean (+0.5: a user who rates everything alike still
    gets a profile); sparse where ``items`` is."""
    ratings = data.ratings.tocsr()
    counts = np.maximum(np.diff(ratings.indptr), 1)
    means = np.asarray(ratings.sum(axis=1)).ravel() / counts
    centred = ratings.astype(np.float32, copy=True)
    centred.data = centred.data - np.repeat(means, np.diff(ratings.indptr)) + 0.5
    profiles = normalize(centred @ items)
    return profiles.astype(np.float32) if sp.issparse(profiles) else np.asarray(profiles,
                                                                                 np.float32)


#: columns of the hybrid's content part (the content matrix's truncated SVD when it is wider)
CONTENT_RANK = 64
#: shares of the content cosine in the new movies' scores tried on the movies held out of the
#: validation run (0: the towers' cold path alone; 1: the content cosine alone)
CONTENT_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


@dataclass(frozen=True)
class ContentPart:
    """The content cosine as a block of the user and movie vectors: ``users[u] · movies[j]``
    is user u's profile (content_profiles) times movie j's content row, centred on the mean
    row of the movies without ratings (it reorders the new movies among themselves and leaves
    their mean score as it was), and zero for rated movies (their collaborative evidence is in
    the towers and the item-item part). The hybrid scales the movie side (Hybrid._blend_content)."""

    users: np.ndarray  # (n_users, rank) content profiles of the users' rated movies
    movies: np.ndarray  # (n_items, rank) centred content rows of unrated movies, zero otherwise

    @property
    def rank(self) -> int:
        return int(self.users.shape[1])


def fit_content_part(data: Interactions, rank: int = CONTENT_RANK, seed: int = 0) -> ContentPart:
    """The content part of ``data`` (content_matrix reduced to ``rank`` columns by a truncated
    SVD when it has more)."""
    from sklearn.utils.extmath import randomized_svd

    items = content_matrix(data)
    if items.shape[1] > rank:
        left, values, _ = randomized_svd(items, n_components=rank, random_state=seed)
        rows = (left * values).astype(np.float32)
    else:
        rows = items.toarray()
    unrated = np.diff(data.ratings.tocsc().indptr) == 0
    movies = np.zeros_like(rows)
    if unrated.any():
        movies[unrated] = rows[unrated] - rows[unrated].mean(axis=0)
    return ContentPart(content_profiles(data, rows), movies)


class ContentBased(Recommender):
    """A user's profile is the rating-weighted sum (ratings centred on the user's mean) of the
    content vectors of the movies they rated; the score is its cosine with each movie."""

    name = "content"

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> ContentBased:
        self.items = content_matrix(data)
        self.profiles = content_profiles(data, self.items)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.profiles[users] @ self.items.T).todense(), dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.items.toarray()
