from __future__ import annotations

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
    genres = sp.csr_matrix(normalize(features.genres)) * genre_weight
    stacked = sp.hstack([features.tfidf, genres, decades * 0.3], format="csr", dtype=np.float32)
    return normalize(stacked).astype(np.float32)


class ContentBased(Recommender):
    """A user's profile is the rating-weighted sum (ratings centred on the user's mean) of the
    content vectors of the movies they rated; the score is its cosine with each movie."""

    name = "content"

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> ContentBased:
        self.items = content_matrix(data)
        ratings = data.ratings.tocsr()
        counts = np.maximum(np.diff(ratings.indptr), 1)
        means = np.asarray(ratings.sum(axis=1)).ravel() / counts
        centred = ratings.copy()
        centred.data = centred.data - np.repeat(means, np.diff(ratings.indptr)) + 0.5
        self.profiles = normalize(centred @ self.items).astype(np.float32)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.profiles[users] @ self.items.T).todense(), dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.items.toarray()
