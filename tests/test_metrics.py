"""Ranking metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender_core.vectors import top_k
from training.evaluation.metrics import auc, ranking_metrics, rating_errors


def test_perfect_ranking_scores_one() -> None:
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    relevant = np.array([[True, True, False, False, False]])
    metrics = ranking_metrics(scores, relevant)
    assert metrics["ndcg@10"] == pytest.approx(1.0)
    assert metrics["recall@20"] == pytest.approx(1.0)
    assert metrics["hr@10"] == 1.0 and metrics["mrr@10"] == 1.0
    assert metrics["auc"] == pytest.approx(1.0)


def test_known_ranking_values() -> None:
    # ranking: items 0,1,2,3,4; relevant at ranks 2 and 4
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    relevant = np.array([[False, True, False, True, False]])
    metrics = ranking_metrics(scores, relevant)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert metrics["ndcg@10"] == pytest.approx(dcg / idcg)
    assert metrics["mrr@10"] == pytest.approx(0.5)
    # AUC: pairs (relevant, irrelevant): item1 beats 2,4 (not 0); item3 beats 4 -> 3/6
    assert metrics["auc"] == pytest.approx(3 / 6)
    assert metrics["coverage@10"] == pytest.approx(1.0)


def test_excluded_items_do_not_count() -> None:
    scores = np.array([[np.inf * -1, 3.0, 2.0, 1.0]])
    relevant = np.array([[False, False, True, False]])
    metrics = ranking_metrics(scores, relevant)
    assert metrics["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert metrics["coverage@10"] == pytest.approx(3 / 4)
    assert auc(scores, relevant)[0] == pytest.approx(0.5)


def test_recall_denominator_is_capped_at_20() -> None:
    scores = np.arange(30, 0, -1, dtype=np.float64)[None, :]
    relevant = np.ones((1, 30), dtype=bool)
    assert ranking_metrics(scores, relevant)["recall@20"] == pytest.approx(1.0)


def test_users_without_relevant_items_are_skipped() -> None:
    scores = np.array([[1.0, 2.0], [1.0, 2.0]])
    relevant = np.array([[False, True], [False, False]])
    assert ranking_metrics(scores, relevant)["hr@10"] == 1.0


def test_top_k_breaks_ties_by_index() -> None:
    assert top_k(np.array([[1.0, 3.0, 3.0, 0.0]]), 3).tolist() == [[1, 2, 0]]


def test_rating_errors() -> None:
    errors = rating_errors(np.array([3.0, 4.0]), np.array([4.0, 4.0]))
    assert errors == {"mae": 0.5, "rmse": pytest.approx(math.sqrt(0.5))}


def test_top_k_of_a_row_and_of_a_matrix_agree_with_a_full_sort() -> None:
    """One top_k for the service (a row: -inf left out) and the metrics (a matrix): both are
    the stable sort by (score descending, index), ties at the cut included, pages included."""
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=(40, 30)).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    for k, offset in ((1, 0), (5, 0), (10, 3), (30, 0), (7, 25)):
        matrix = top_k(scores, k, offset)
        for row, got in zip(scores, matrix, strict=True):
            order = np.lexsort((np.arange(len(row)), -row))
            np.testing.assert_array_equal(got, order[offset:offset + k])
            finite = order[np.isfinite(row[order])]
            np.testing.assert_array_equal(top_k(row, k, offset), finite[offset:offset + k])
    assert top_k(scores[0], 0).size == 0 and top_k(scores, 0).shape == (40, 0)
