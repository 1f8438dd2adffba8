"""Id parts for movies without ratings, regressed from their features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tests.recommender_contract import fitted, planted
from tests.test_recommenders import FAST_HYBRID
from training.models import unrated_movies
from training.models.unrated_movies import UnratedMovieRegression, unrated_feature_matrix


def predict_cold_parts(features: sp.csr_matrix, parts: np.ndarray, rated: np.ndarray,
                       alpha: float) -> np.ndarray:
    return UnratedMovieRegression(features, rated, alpha).predict(parts)


def linear_catalogue(n_movies: int = 400, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse features and id parts that are an exact linear function of them."""
    rng = np.random.default_rng(seed)
    tfidf = sp.random(n_movies, 30, density=0.2, random_state=seed, format="csr")
    table = rng.normal(size=(n_movies, 5))
    features = unrated_feature_matrix(tfidf, table)
    parts = features @ rng.normal(size=(features.shape[1], 9))
    return features, np.asarray(parts)


@pytest.mark.parametrize("max_dense", [8192, 0], ids=["normal-equations", "lsqr"])
def test_ridge_recovers_a_linear_map_for_unrated_movies(
    max_dense: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unrated_movies, "MAX_DENSE_FEATURES", max_dense)
    features, parts = linear_catalogue()
    rated = np.arange(len(parts)) % 5 != 0
    predicted = predict_cold_parts(features, parts, rated, alpha=1e-6)
    assert predicted.shape == (int((~rated).sum()), parts.shape[1])
    np.testing.assert_allclose(predicted, parts[~rated], atol=1e-3)


def test_stronger_ridge_shrinks_the_prediction() -> None:
    features, parts = linear_catalogue()
    rated = np.arange(len(parts)) % 5 != 0
    weak = predict_cold_parts(features, parts, rated, alpha=1e-3)
    strong = predict_cold_parts(features, parts, rated, alpha=1e4)
    assert np.linalg.norm(strong) < 0.5 * np.linalg.norm(weak)


def test_nothing_to_learn_from_or_nothing_to_predict() -> None:
    features, parts = linear_catalogue(20)
    assert predict_cold_parts(features, parts, np.ones(20, bool), 1.0).shape == (0, 9)
    np.testing.assert_array_equal(predict_cold_parts(features, parts, np.zeros(20, bool), 1.0),
                                  np.zeros((20, 9)))


def test_hybrid_gives_unrated_movies_predicted_id_parts_in_the_served_vectors() -> None:
    """With the ridge on, unrated movies' id rows are the prediction (not zero), and the
    inference model — what the bundle ships — agrees with the precomputed movie vectors."""
    data, _ = planted()
    cold = np.flatnonzero(np.diff(data.ratings.tocsc().indptr) == 0)
    mapped = fitted("hybrid", FAST_HYBRID)
    plain = fitted("hybrid", (*FAST_HYBRID, ("cold_alpha", 0.0)))
    towers = mapped.towers
    mapped_ids = towers.network.items.ids.get_weights()[0][1:]
    assert np.abs(mapped_ids[cold]).sum(axis=1).min() > 0
    np.testing.assert_array_equal(
        plain.towers.network.items.ids.get_weights()[0][1:][cold], 0.0)
    items = np.arange(1, data.n_items + 1, dtype=np.int32)[None, :]
    outputs = towers.model.predict_on_batch({**towers.inputs(np.array([0])), "items": items})
    np.testing.assert_allclose(np.asarray(outputs["item_vector"])[0], towers.item_vectors,
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(outputs["item_bias"])[0], towers.item_bias, atol=1e-5)
