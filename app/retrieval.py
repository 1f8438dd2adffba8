"""Two-stage retrieval for large catalogues: an approximate shortlist, then exact scores.

A movie's score for a user is ``u·v + b`` (the hybrid's dot product plus the movie's bias).
That is a maximum-inner-product search over ``[v, b]`` with the query ``[u, 1]``. FAISS's
inverted-file index (IVF-Flat, inner-product metric) answers it: the movies are clustered
once (k-means, about 2·√n lists), and a search scores the ``nprobe`` lists whose centroids
score highest, exactly. On a million movies grown from the ML-25M-shaped bundle it recalled
0.999 of the exact top 10 in 1.9 ms at nprobe 16, where the HNSW graph used before recalled
0.85 at efSearch 1,600 in 6.3 ms (BENCHMARKS.md). The shortlist is then scored exactly with the
bundle's own numbers, so the order inside it, and every score returned, are the exact path's;
only a movie that the search missed can differ.

Below ``RETRIEVAL_MIN_MOVIES`` (a setting) the service scores every movie exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender_core.bundle_format import inner_product_graph, inner_product_ivf, recommend_rows

SHORTLIST = 100  # movies the search returns before exact scoring (more for deep pages)
# lists searched, tried at load until the shortlist recalls RECALL_TARGET of the exact top 10
NPROBE_LADDER = (4, 8, 16, 32, 64, 128, 256)
RECALL_TARGET = 0.97
# /similar's graph: a million synthetic movies, recall@10 against the flat index 0.956 at 200
SIMILAR_EF_SEARCH = 200


class Shortlister:
    """IVF inner-product index over the movies' ``[v, b]`` rows: ``index`` (the bundle's
    stored one), or one built here."""

    def __init__(self, item_vectors: np.ndarray, item_bias: np.ndarray, *,
                 nprobe: int = NPROBE_LADDER[0], index: Any = None) -> None:
        self.index = (index if index is not None
                      else inner_product_ivf(recommend_rows(item_vectors, item_bias)))
        self.nprobe = nprobe
        self.n_items = len(item_vectors)

    def calibrate(self, item_vectors: np.ndarray, item_bias: np.ndarray, users: np.ndarray,
                  target: float = RECALL_TARGET) -> dict[int, float]:
        """Set ``nprobe`` to the smallest of NPROBE_LADDER whose shortlist of SHORTLIST,
        scored exactly, recalls ``target`` of the exact top 10 of ``users`` (sample user
        vectors); every list (an exact search) if none does. Returns the recall of each
        ``nprobe`` tried."""
        exact = [set(np.argpartition(-(item_vectors @ u + item_bias), 10)[:10].tolist())
                 for u in users]
        tried: dict[int, float] = {}
        lists = int(self.index.nlist)
        for nprobe in (*(p for p in NPROBE_LADDER if p < lists), lists):
            self.nprobe = nprobe
            hits = 0
            for user, truth in zip(users, exact, strict=True):
                ranked, _ = exact_top(item_vectors, item_bias, user,
                                      self.search(user, SHORTLIST))
                hits += len(truth & set(ranked[:10].tolist()))
            tried[nprobe] = hits / (10 * len(users))
            if tried[nprobe] >= target:
                break
        return tried

    def search(self, vector: np.ndarray, n: int,
               blocked: np.ndarray | None = None) -> np.ndarray:
        """Indices of up to ``n`` movies with (approximately) the highest ``vector·v + b``,
        none of ``blocked`` (skipped inside the search, so a user who rated thousands of
        movies costs what anyone else does)."""
        import faiss

        query = np.zeros((1, len(vector) + 1), np.float32)
        query[0, :len(vector)] = vector
        query[0, len(vector)] = 1.0
        n = min(n, self.n_items)
        lists, nprobe = int(self.index.nlist), self.nprobe
        skip = (faiss.IDSelectorBatch(np.asarray(blocked, dtype=np.int64))
                if blocked is not None and len(blocked) else None)
        keep = faiss.IDSelectorNot(skip) if skip is not None else None
        while True:  # lists holding fewer than n movies (a deep page): search more of them
            # per call, never on the shared index: requests run concurrently
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=keep)  # type: ignore[call-arg]
            _, found = self.index.search(query, n, params=params)
            found = found[0][found[0] >= 0]
            if len(found) >= n or nprobe >= lists:
                return found
            nprobe = min(lists, 4 * nprobe)


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
