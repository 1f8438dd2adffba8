"""Ranking metrics of the quality protocol, vectorised over users.

Inputs are a score matrix (users × items) with ``-inf`` where an item is not a candidate (seen in
train, or outside the coldstart candidates), and a boolean relevance matrix of the same shape.
"""

from __future__ import annotations

import numpy as np

from recommender_core.vectors import top_k

METRICS = ("ndcg@10", "recall@20", "hr@10", "mrr@10", "auc")


def per_user_metrics(scores: np.ndarray, relevant: np.ndarray, *, with_auc: bool = True
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each metric per row, for rows with at least one relevant item, and the set of items in
    those rows' top-10 lists (for coverage). ``with_auc=False`` leaves AUC out (NaN): it ranks
    every candidate, the only metric that sorts whole rows (most of a validation pass's time
    on a 60,000-movie catalogue)."""
    keep = relevant.any(axis=1)
    scores, relevant = scores[keep], relevant[keep]
    if len(scores) == 0:
        return {name: np.zeros(0) for name in METRICS}, np.zeros(0, dtype=np.int64)
    n_relevant = relevant.sum(axis=1)
    top = top_k(scores, 20)
    hits = np.take_along_axis(relevant, top, axis=1)
    hits10 = hits[:, :10]
    discounts = 1.0 / np.log2(np.arange(2, 12))
    dcg = (hits10 * discounts[: hits10.shape[1]]).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, 10) - 1]
    first_hit = np.where(hits10.any(axis=1), hits10.argmax(axis=1) + 1, 0)
    top10 = top[:, :10]
    shown = top10[np.take_along_axis(np.isfinite(scores), top10, axis=1)]
    return {
        "ndcg@10": dcg / ideal,
        "recall@20": hits.sum(axis=1) / np.minimum(n_relevant, 20),
        "hr@10": hits10.any(axis=1).astype(np.float64),
        "mrr@10": np.where(first_hit > 0, 1.0 / np.maximum(first_hit, 1), 0.0),
        "auc": auc(scores, relevant) if with_auc else np.full(len(scores), np.nan),
    }, np.unique(shown)


def ranking_metrics(scores: np.ndarray, relevant: np.ndarray, *, with_auc: bool = True
                    ) -> dict[str, float]:
    """NDCG@10, Recall@20 (hits / min(20, relevant)), HR@10, MRR@10, AUC and the catalogue
    coverage of the top-10 lists, averaged over the rows with at least one relevant item."""
    values, shown = per_user_metrics(scores, relevant, with_auc=with_auc)
    result = {name: float(np.nanmean(v)) if len(v) and not np.isnan(v).all() else float("nan")
              for name, v in values.items()}
    result["coverage@10"] = len(shown) / scores.shape[1]
    return result


def auc(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Per row: the probability that a relevant candidate outscores a non-relevant one (ties
    count half); NaN for rows without both kinds."""
    candidates = np.isfinite(scores)
    ranks = _average_ranks(np.where(candidates, scores, -np.inf))
    n_candidates = candidates.sum(axis=1)
    n_excluded = (~candidates).sum(axis=1)
    positives = relevant & candidates
    n_pos = positives.sum(axis=1)
    n_neg = n_candidates - n_pos
    # ranks among candidates only: excluded items all sit at the bottom with the lowest ranks
    rank_sum = np.where(positives, ranks - n_excluded[:, None], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks per row, ties sharing their average rank (as scipy.stats.rankdata)."""
    from scipy.stats import rankdata

    return rankdata(values, axis=1, method="average")


def rating_errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    error = predicted.astype(np.float64) - actual.astype(np.float64)
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}
