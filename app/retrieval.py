"""Retrieval: the best movies for a user query, and a movie's nearest neighbours.

One interface (``Retrieval``) with two implementations, used by every ranking path:
``ExactRetrieval`` scores every movie; ``ShortlistRetrieval``, for large catalogues, scores an
approximate shortlist exactly (filtered requests still score every movie).

Two-stage retrieval for large catalogues: an approximate shortlist, then exact scores.

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

from typing import Any, Protocol

import numpy as np

from recommender_core.bundle_format import inner_product_graph, inner_product_ivf, recommend_rows
from recommender_core.vectors import top_k

SHORTLIST = 100  # movies the search returns beyond the page asked for (offset + k + SHORTLIST)
# lists searched, tried at load until the shortlist recalls RECALL_TARGET of the exact top 10;
# steps of about √2, as the search's cost grows with nprobe (doubling overshot: 60k movies
# recalled 0.968 at 8 and took 16, +80% of the search's time)
NPROBE_LADDER = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
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
        return self.scored(vector, n, blocked)[0]

    def scored(self, vector: np.ndarray, n: int, blocked: np.ndarray | None = None,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``search``'s movies and their scores ``vector·v + b``: the index stores the rows
        ``[v, b]`` uncompressed (IVF-Flat), so the inner products it ranks by are the exact
        scores (summed in another order than numpy's: equal to ~1e-6). ``allowed`` (a mask
        over the movies): only those, searched in every list, so the answer is the exact top
        ``n`` of them (a filtered request reads the index's rows, which the shortlists keep in
        memory anyway, rather than the whole movie matrix besides)."""
        import faiss

        query = np.zeros((1, len(vector) + 1), np.float32)
        query[0, :len(vector)] = vector
        query[0, len(vector)] = 1.0
        n = min(n, self.n_items)
        lists = int(self.index.nlist)
        # a deep page needs more movies than the calibrated lists hold: start with about
        # twice the lists that many movies fill on average rather than search twice
        nprobe = min(lists, max(self.nprobe, -(-2 * n * lists // self.n_items)))
        bitmap = None
        keep: Any = None
        if allowed is not None:
            mask = np.array(allowed, dtype=bool)
            if blocked is not None:
                mask[blocked] = False
            bitmap = np.packbits(mask, bitorder="little")  # referenced until the search returns
            keep = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
            nprobe = lists
        else:
            skip = (faiss.IDSelectorBatch(np.asarray(blocked, dtype=np.int64))
                    if blocked is not None and len(blocked) else None)
            keep = faiss.IDSelectorNot(skip) if skip is not None else None
        while True:  # lists holding fewer than n movies (a deep page): search more of them
            # per call, never on the shared index: requests run concurrently
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=keep)  # type: ignore[call-arg]
            distances, found = self.index.search(query, n, params=params)
            valid = found[0] >= 0
            if valid.sum() >= n or nprobe >= lists:
                return found[0][valid], distances[0][valid]
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


class Query(Protocol):
    """What retrieval needs of a user's request (app.queries makes one per request)."""

    def blocked(self) -> np.ndarray:
        """Movie indices that must not come back (those the user rated)."""

    def scores(self) -> np.ndarray:
        """Every movie's score (a new float32 array the caller may change)."""

    def vector(self) -> np.ndarray | None:
        """The user's vector in the context of now; None: rank by popularity."""

    @property
    def exact(self) -> bool:
        """Only every movie scored gives this query's ranking."""


class Retrieval(Protocol):
    def top(self, query: Query, k: int, offset: int, exclude: list[int],
            keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(movie indices, their scores) ranked ``offset`` to ``offset + k`` for ``query``,
        none of its blocked movies or ``exclude``; ``keep``: only movies where it is True."""


class ExactRetrieval:
    """Every movie scored; ties go to the lower index (recommender_core.vectors.top_k)."""

    def top(self, query: Query, k: int, offset: int, exclude: list[int],
            keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores = query.scores()
        scores[query.blocked()] = -np.inf
        if keep is not None:
            scores[~keep] = -np.inf
        if exclude:
            scores[exclude] = -np.inf
        best = top_k(scores, k, offset)
        return best, scores[best]


class ShortlistRetrieval:
    """An approximate shortlist (``shortlister``: the IVF lists nearest the user's vector),
    ranked by its exact scores (the index stores the rows uncompressed); a query without a
    vector ranks by ``popularity``. Filtered queries (``keep``) search every list for the
    kept movies; those whose ranking is not a vector's (``Query.exact``) score every movie."""

    def __init__(self, shortlister: Shortlister, item_vectors: np.ndarray,
                 item_bias: np.ndarray, popularity: np.ndarray, popularity_order: np.ndarray,
                 recall: dict[int, float]) -> None:
        """``popularity_order``: the movies most liked first, ties by index (Catalogue's)."""
        self.shortlister = shortlister
        self.item_vectors, self.item_bias = item_vectors, item_bias
        self.popularity, self.popularity_order = popularity, popularity_order
        self.recall = recall  # the calibration's recall@10 per nprobe
        self.everything = ExactRetrieval()

    def top(self, query: Query, k: int, offset: int, exclude: list[int],
            keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The search skips the blocked movies, so the shortlist holds as many others as the
        calibration measured (a heavy user's list would otherwise be mostly rated movies);
        when it holds fewer than ``offset + k``, every movie is scored instead. A filtered
        query (``keep``) searches every list for the kept movies: exact, from the index."""
        if query.exact:
            return self.everything.top(query, k, offset, exclude, keep)
        vector = query.vector()
        if keep is not None and vector is None:
            return self.everything.top(query, k, offset, exclude, keep)
        blocked = query.blocked()
        if exclude:
            blocked = np.union1d(blocked, np.asarray(exclude, dtype=np.int64))
        if vector is None:
            order = self.popularity_order[:offset + k + len(blocked)]
            order = order[~np.isin(order, blocked)][offset:offset + k]
            return order, self.popularity[order]
        if keep is not None:
            candidates, found = self.shortlister.scored(vector, offset + k, blocked, keep)
            order = np.lexsort((candidates, -found))[offset:offset + k]
            return candidates[order], found[order].astype(np.float32)
        candidates, found = self.shortlister.scored(vector, offset + k + SHORTLIST,
                                                    blocked)
        if len(candidates) < offset + k:
            scores = self.item_vectors @ vector + self.item_bias
            scores[blocked] = -np.inf
            best = top_k(scores, k, offset)
            return best, scores[best]
        # the shortlist's own scores are exact (IVF-Flat): no gather of its rows to re-score
        order = np.lexsort((candidates, -found))[offset:offset + k]
        return candidates[order], found[order].astype(np.float32)


NEIGHBOUR_CACHE = 101  # movies cached per /similar query movie (k up to 100)


class Neighbours:
    """GET /similar's search: inner product (cosine: the rows are unit length) over the
    similarity vectors in ``index`` (flat, or an HNSW graph for large catalogues); the
    answers of up to NEIGHBOUR_CACHE neighbours are kept per movie (a bundle never changes,
    so they never go stale)."""

    def __init__(self, index: Any, vectors: np.ndarray,
                 table: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``table``: the bundle's precomputed (neighbours, cosines) of every movie, searched
        in the same graph (bundle_format.similar_table); a page within its width is read from
        it."""
        self.index, self.vectors, self.table = index, vectors, table
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def of(self, index: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(neighbour indices, similarities) of movie ``index``, best first, ``n`` at most
        (FAISS pads with -1); the movie itself among them."""
        if self.table is not None and n <= self.table[0].shape[1]:
            return self.table[0][index, :n], self.table[1][index, :n]
        cached = self.cache.get(index)
        if cached is None or len(cached[0]) < n:
            width = min(self.index.ntotal, max(n, NEIGHBOUR_CACHE))
            distances, found = self.index.search(self.vectors[index:index + 1], width)
            cached = (found[0], distances[0])
            if width <= NEIGHBOUR_CACHE:
                self.cache[index] = cached
        return cached[0][:n], cached[1][:n]
