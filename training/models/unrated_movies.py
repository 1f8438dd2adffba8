"""Id parts for movies without ratings, predicted from their features.

A rated movie's vector is its learned id embedding plus a projection of its features; a movie
nobody rated in train has no learned id part. Rather than leave it at zero (features alone,
through a projection trained mostly to complement the id parts), a ridge regression from the
movie's features (TF-IDF of tags and genres, genre multi-hot, year, content code) to the
learned id parts of the rated movies predicts one — the mapping idea of DropoutNet/"content to
collaborative" cold-start methods, in closed form.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse.linalg import lsqr

#: Above this many feature columns the normal equations are not formed; lsqr iterates instead.
MAX_DENSE_FEATURES = 8192


def unrated_feature_matrix(tfidf: sp.spmatrix, table: np.ndarray) -> sp.csr_matrix:
    """[TF-IDF | dense feature table | 1] per movie, as one sparse float64 matrix."""
    intercept = np.ones((table.shape[0], 1))
    return sp.hstack([sp.csr_matrix(tfidf, dtype=np.float64),
                      sp.csr_matrix(np.hstack([table, intercept]).astype(np.float64))],
                     format="csr")


class UnratedMovieRegression:
    """Ridge regression from movie features to learned id parts, fitted on the rated movies.

    The rated set is fixed for a training run, so the factorisation of the regularised Gram
    matrix is computed once and each epoch's prediction costs two sparse products and a
    triangular solve. Above ``MAX_DENSE_FEATURES`` columns the Gram matrix is not formed and
    lsqr iterates instead.
    """

    def __init__(self, features: sp.csr_matrix, rated: np.ndarray, alpha: float) -> None:
        self.rated = np.asarray(rated, dtype=bool)
        self.alpha = alpha
        self.train = features[self.rated]
        self.cold = features[~self.rated]
        self.factor: tuple[np.ndarray, bool] | None = None
        n_features = features.shape[1]
        if n_features <= MAX_DENSE_FEATURES and self.rated.any() and not self.rated.all():
            gram = (self.train.T @ self.train).toarray()
            gram[np.diag_indices(n_features)] += alpha
            self.factor = cho_factor(gram)

    def predict(self, id_parts: np.ndarray) -> np.ndarray:
        """Id parts (n_unrated, d) for the unrated movies, from all movies' ``id_parts``
        (n_movies, d), of which only the rated rows are used."""
        n_cold, width = self.cold.shape[0], id_parts.shape[1]
        if n_cold == 0 or not self.rated.any():
            return np.zeros((n_cold, width), np.float32)
        targets = id_parts[self.rated].astype(np.float64)
        if self.factor is not None:
            weights = cho_solve(self.factor, np.asarray(self.train.T @ targets))
        else:
            damp = float(np.sqrt(self.alpha))
            weights = np.column_stack([
                lsqr(self.train, targets[:, j], damp=damp, atol=1e-8, btol=1e-8)[0]
                for j in range(width)])
        return np.asarray(self.cold @ weights, dtype=np.float32)
