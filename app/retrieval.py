"""Two-stage retrieval for large catalogues: an approximate shortlist, then exact scores.

A movie's score for a user is ``u·v + b`` (the hybrid's dot product plus the movie's bias).
That is a maximum-inner-product search over ``[v, b]`` with the query ``[u, 1]``, which
FAISS's HNSW graph with the inner-product metric answers in about a millisecond for a million
movies. (The usual reduction to L2 — appending ``√(R² − ‖[v, b]‖²)`` to each movie — recalled
0.46 of the exact top 10 at the same search effort on long-tailed norms, against 0.998 for
the inner-product graph: tests/test_retrieval.py's catalogue.) The shortlist is then
scored exactly with the bundle's own numbers, so the order inside it, and every score
returned, are the exact path's; only a movie that the graph search missed can differ
(recall in BENCHMARKS.md).

Below ``RETRIEVAL_MIN_MOVIES`` (a setting) the service scores every movie exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bundle_format import inner_product_graph, recommend_rows

SHORTLIST = 100  # movies the graph search returns before exact scoring (more for deep pages)
EF_SEARCH = 100  # 60k movies: recall@10 0.991 in 0.25 ms (ef 200: 0.998, 0.43 ms)
# search efforts tried at load until the shortlist recalls RECALL_TARGET of the exact top 10
EF_LADDER = (100, 200, 400, 800, 1600)
RECALL_TARGET = 0.97
# /similar's graph: a million synthetic movies, recall@10 against the flat index 0.956 at 200
SIMILAR_EF_SEARCH = 200


class Shortlister:
    """HNSW inner-product index over the movies' ``[v, b]`` rows: ``index`` (the bundle's
    stored graph), or one built here."""

    def __init__(self, item_vectors: np.ndarray, item_bias: np.ndarray, *,
                 ef_search: int = EF_SEARCH, index: Any = None) -> None:
        self.index = (index if index is not None
                      else inner_product_graph(recommend_rows(item_vectors, item_bias)))
        self.ef_search = ef_search
        self.n_items = len(item_vectors)

    def calibrate(self, item_vectors: np.ndarray, item_bias: np.ndarray, users: np.ndarray,
                  target: float = RECALL_TARGET) -> dict[int, float]:
        """Set ``ef_search`` to the smallest of EF_LADDER whose shortlist of SHORTLIST, scored
        exactly, recalls ``target`` of the exact top 10 of ``users`` (sample user vectors);
        the largest if none does. Returns the recall of each effort tried."""
        exact = [set(np.argpartition(-(item_vectors @ u + item_bias), 10)[:10].tolist())
                 for u in users]
        tried: dict[int, float] = {}
        for ef in EF_LADDER:
            self.ef_search = ef
            hits = 0
            for user, truth in zip(users, exact, strict=True):
                ranked, _ = exact_top(item_vectors, item_bias, user,
                                      self.search(user, SHORTLIST))
                hits += len(truth & set(ranked[:10].tolist()))
            tried[ef] = hits / (10 * len(users))
            if tried[ef] >= target:
                break
        return tried

    def search(self, vector: np.ndarray, n: int) -> np.ndarray:
        """Indices of up to ``n`` movies with (approximately) the highest ``vector·v + b``."""
        import faiss

        query = np.zeros((1, len(vector) + 1), np.float32)
        query[0, :len(vector)] = vector
        query[0, len(vector)] = 1.0
        n = min(n, self.n_items)
        # per call, never on the shared index: requests run concurrently
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, n))  # type: ignore[attr-defined]
        _, found = self.index.search(query, n, params=params)
        found = found[0]
        return found[found >= 0]


def approximate_index(vectors: np.ndarray, index: Any = None) -> Any:
    """An HNSW inner-product index over ``vectors`` (the unit-length similarity vectors of
    GET /similar, so inner product is cosine), in place of the bundle's flat index for
    catalogues of RETRIEVAL_MIN_MOVIES or more: ``index`` (the bundle's stored graph) or one
    built here; recall against the flat one in BENCHMARKS.md."""
    index = index if index is not None else inner_product_graph(vectors)
    index.hnsw.efSearch = SIMILAR_EF_SEARCH
    return index


def exact_top(item_vectors: np.ndarray, item_bias: np.ndarray, vector: np.ndarray,
              candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidates, their exact scores), best first (ties: lower index)."""
    scores = item_vectors[candidates] @ vector + item_bias[candidates]
    order = np.lexsort((candidates, -scores))
    return candidates[order], scores[order].astype(np.float32)
