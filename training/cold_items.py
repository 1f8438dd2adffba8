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
from scipy.sparse.linalg import lsqr

#: Above this many feature columns the normal equations are not formed; lsqr iterates instead.
MAX_DENSE_FEATURES = 8192


def cold_feature_matrix(tfidf: sp.spmatrix, table: np.ndarray) -> sp.csr_matrix:
    """[TF-IDF | dense feature table | 1] per movie, as one sparse float64 matrix."""
    intercept = np.ones((table.shape[0], 1))
    return sp.hstack([sp.csr_matrix(tfidf, dtype=np.float64),
                      sp.csr_matrix(np.hstack([table, intercept]).astype(np.float64))],
                     format="csr")


def ridge_fit(features: sp.csr_matrix, targets: np.ndarray, alpha: float) -> np.ndarray:
    """Weights W minimising ||features·W − targets||² + alpha·||W||² (all columns at once)."""
    n_features = features.shape[1]
    if n_features <= MAX_DENSE_FEATURES:
        gram = (features.T @ features).toarray()
        gram[np.diag_indices(n_features)] += alpha
        return np.linalg.solve(gram, np.asarray(features.T @ targets))
    damp = float(np.sqrt(alpha))
    return np.column_stack([lsqr(features, targets[:, j], damp=damp, atol=1e-8, btol=1e-8)[0]
                            for j in range(targets.shape[1])])


def predict_cold_parts(features: sp.csr_matrix, id_parts: np.ndarray, rated: np.ndarray,
                       alpha: float) -> np.ndarray:
    """Id parts (vector columns, then bias) for the movies with ``rated`` False, regressed from
    the rated movies' features and learned ``id_parts`` (n_movies, d)."""
    if not rated.any() or rated.all():
        return np.zeros((int((~rated).sum()), id_parts.shape[1]), np.float32)
    weights = ridge_fit(features[rated], id_parts[rated].astype(np.float64), alpha)
    return np.asarray(features[~rated] @ weights, dtype=np.float32)
