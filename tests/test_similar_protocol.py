"""The `similar` protocol and item-kNN cosine, on hand-made data and the planted release."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.bundles import planted_release
from training.commands.cli import main
from training.data.dataset import load_dataset
from training.data.interactions import build_interactions
from training.data.splits import temporal_split
from training.evaluation.similar import similar_metrics, similar_queries, vector_scores
from training.models.similarity import blended_vectors, item_knn_scores


def test_item_knn_is_the_cosine_of_like_columns() -> None:
    likes = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0]], np.float32))
    scores = item_knn_scores(likes, np.array([0, 3]))
    dense = likes.toarray()
    norms = np.linalg.norm(dense, axis=0)
    expected = (dense.T @ dense)[0] / np.maximum(norms[0] * norms, 1e-12)
    np.testing.assert_allclose(scores[0], expected, rtol=1e-6)
    assert np.all(scores[1] == 0)  # nobody liked movie 3


def test_blend_is_the_weighted_sum_of_cosines() -> None:
    rng = np.random.default_rng(0)
    content, collaborative = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    blended = blended_vectors(content, collaborative, 0.3)
    cos = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (  # noqa: E731
        x / np.linalg.norm(x, axis=1, keepdims=True)).T
    np.testing.assert_allclose(blended @ blended.T, 0.3 * cos(content) + 0.7 * cos(
        collaborative), atol=1e-5)


def test_queries_are_the_last_liked_train_movie() -> None:
    dataset = load_dataset(planted_release(), progress=False)
    split = temporal_split(dataset.ratings)
    data = build_interactions(dataset, split.train)
    queries, relevant = similar_queries(data, split.test)
    train = split.train[split.train["rating"] >= data.like_threshold]
    last = train.sort_values(["timestamp", "movie_id"]).groupby("user_id").tail(1)
    expected = dict(zip(last["user_id"], last["movie_id"], strict=True))
    liked_test = split.test[split.test["rating"] >= data.like_threshold]
    users = np.unique(liked_test["user_id"])
    assert len(queries) == len(users) == relevant.shape[0]
    for row, user in enumerate(users):
        assert data.item_ids[queries[row]] == expected[user]
        wanted = set(liked_test[liked_test["user_id"] == user]["movie_id"]) - {expected[user]}
        assert set(data.item_ids[np.flatnonzero(relevant[row])]) == wanted
    # a perfect oracle scores 1; the query itself never counts
    oracle = relevant.astype(np.float32)
    assert similar_metrics(oracle, queries, relevant)["ndcg@10"] == pytest.approx(1.0)
    assert vector_scores(np.eye(data.n_items), queries).shape == relevant.shape


def test_evaluate_similar_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-q", "evaluate", "--data", str(planted_release()), "--protocol", "similar",
                 "--set", "epochs=2", "--set", "autoencoder_epochs=2", "--set", "trials=1",
                 "--report-dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    for method in ("served: svd item-kNN + content, chosen on validation", "content",
                   "hybrid collaborative vectors", "item-kNN cosine"):
        assert f"| {method} |" in out
    table = pd.read_csv(tmp_path / "ml-1m-similar.md", sep="|", skiprows=2).iloc[1:]
    assert len(table) == 4
