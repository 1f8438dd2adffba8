"""Movie-to-movie similarity, what `GET /similar` serves: item-kNN cosine on the likes,
approximated by a truncated SVD so that FAISS can hold it, blended with the content cosine
(genres, year, tags through the autoencoder) so that movies nobody rated have neighbours too.
The SVD size and the content weight are chosen on the validation carve-out of the data being
trained on (the ``similar`` protocol, training.evaluation.similar)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender_core.vectors import unit_rows
from training.data.interactions import Interactions, carve_validation
from training.evaluation.similar import similar_queries, vector_similar_metrics


def blended_vectors(content: np.ndarray, collaborative: np.ndarray,
                    weight: float) -> np.ndarray:
    """Rows whose inner product is ``weight``·cos(content) + (1 − weight)·cos(collaborative).

    Concatenating √w·ĉ and √(1−w)·ê gives exactly that inner product; a movie with an empty
    content (or collaborative) part is rescaled to unit norm over the part it has.
    """
    joined = np.hstack([np.sqrt(weight) * unit_rows(content),
                        np.sqrt(1.0 - weight) * unit_rows(collaborative)]).astype(np.float32)
    return unit_rows(joined)


def unit_columns(likes: sp.csr_matrix) -> sp.csc_matrix:
    """The like matrix with every movie's column scaled to unit length (its Gram matrix is
    the item-kNN cosine; columns nobody liked stay zero)."""
    columns = likes.tocsc().astype(np.float32)
    norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0)).ravel())
    return (columns @ sp.diags(1.0 / np.maximum(norms, 1e-12))).tocsc()


def item_knn_scores(likes: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
    """(len(items), n_items) cosine between the like columns of ``items`` and every movie's
    (item-kNN on the train likes; a movie nobody liked scores 0)."""
    scaled = unit_columns(likes)
    return np.asarray((scaled[:, items].T @ scaled).todense(), dtype=np.float32)


def svd_item_vectors(likes: sp.csr_matrix, dim: int, seed: int = 0) -> np.ndarray:
    """(n_items, dim) movie vectors whose cosines approximate item-kNN cosine: the truncated
    SVD of the like matrix with unit columns (its Gram matrix is the item-kNN cosine), V·Σ.
    A movie nobody liked gets a zero row."""
    from sklearn.utils.extmath import randomized_svd

    scaled = unit_columns(likes).tocsr()
    dim = max(1, min(dim, min(scaled.shape) - 1))
    _, values, components = randomized_svd(scaled, n_components=dim, random_state=seed)
    return (components.T * values).astype(np.float32)


SVD_DIMS = (64, 128, 256)  # candidates, chosen on validation
# users whose queries decide the blend: the score and relevance matrices are users × movies
# (scored 512 at a time); ml-latest-small and ml-1m have fewer users than this
MAX_VALIDATION_QUERIES = 5_000
# Candidates for the content cosine's weight; never 0: a movie nobody liked has no SVD row,
# and its neighbours (and it as a neighbour) come from its content alone.
CONTENT_WEIGHTS = (0.05, 0.1, 0.25, 0.5)


@dataclass(frozen=True)
class SimilarityChoice:
    """How the bundle's similarity vectors are made, chosen on the validation carve-out."""

    svd_dim: int  # columns of svd_item_vectors
    content_weight: float  # weight of the content cosine in the blend
    validation: dict[str, float]  # "dim/weight" -> NDCG@10 of the similar protocol


def choose_similarity(data: Interactions, content: np.ndarray, seed: int = 0
                      ) -> SimilarityChoice:
    """The SVD size and content weight with the best NDCG@10 of the ``similar`` protocol on
    the validation carve-out of ``data`` (each user's last 10% of train ratings)."""
    sub, validation = carve_validation(data)
    queries, relevant = similar_queries(sub, validation, max_users=MAX_VALIDATION_QUERIES,
                                        seed=seed)
    scores: dict[str, float] = {}
    for dim in SVD_DIMS:
        collaborative = svd_item_vectors(sub.likes, dim, seed)
        for weight in CONTENT_WEIGHTS:
            vectors = blended_vectors(content, collaborative, weight)
            ranked = vector_similar_metrics(vectors, queries, relevant, with_auc=False)
            scores[f"{dim}/{weight}"] = round(float(ranked["ndcg@10"]), 6)
    best = max(scores, key=lambda key: scores[key])  # first of equals: smaller, less content
    dim_text, weight_text = best.split("/")
    return SimilarityChoice(int(dim_text), float(weight_text), scores)


def similarity_vectors(data: Interactions, content: np.ndarray, choice: SimilarityChoice,
                       seed: int = 0) -> np.ndarray:
    """The bundle's similarity vectors: the chosen blend over all of ``data``'s likes."""
    return blended_vectors(content, svd_item_vectors(data.likes, choice.svd_dim, seed),
                           choice.content_weight)
