"""A loaded, verified bundle (app.loading makes it): its arrays, the numpy scorer, the FAISS
index and the lookups a request needs, built once per bundle."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.retrieval import Shortlister
from recommender_core.scoring import FastScorer

NEIGHBOUR_CACHE = 101  # movies cached per /similar query movie (k up to 100)


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    movies: list[dict[str, Any]]
    scorer: FastScorer
    index: Any  # faiss.IndexFlatIP over the blended similarity vectors (HNSW when large)
    item_position: dict[int, int] = field(default_factory=dict)
    user_position: dict[int, int] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)  # as the movies file spells them
    genre_masks: dict[str, np.ndarray] = field(default_factory=dict)  # by lower-case name
    popularity_order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cold: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    neighbour_cache: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    movie_json: list[str] = field(default_factory=list)  # app.render.movie_fragments
    # users with feedback: (their events, context-free score row, rated indices), LRU
    fresh_users: OrderedDict[int, tuple[Any, np.ndarray, np.ndarray]] = field(
        default_factory=OrderedDict)
    version_json: str = '""'
    # two-stage retrieval (app.retrieval), for catalogues of RETRIEVAL_MIN_MOVIES or more
    shortlister: Shortlister | None = None
    shortlist_recall: dict[int, float] = field(default_factory=dict)  # nprobe -> recall@10
    stored_graphs: int = 0  # approximate indexes read from the bundle rather than built at load

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def history_length(self) -> int:
        return int(self.manifest["history_length"])

    @property
    def new_user_path(self) -> str:
        """How users the model never saw are served from demographics alone: "demographics"
        (the user tower) or "popularity", as the training validation chose (older bundles:
        demographics)."""
        return str(self.manifest["model"].get("new_user_path", "demographics"))

    @property
    def like_threshold(self) -> float:
        """Ratings at or above it are likes (the training data's threshold)."""
        return float(self.manifest["dataset"]["like_threshold"])

    def neighbours(self, index: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS inner-product search for one movie; the answers of up to NEIGHBOUR_CACHE
        neighbours are kept per movie (a bundle never changes, so they never go stale)."""
        cached = self.neighbour_cache.get(index)
        if cached is None or len(cached[0]) < n:
            width = min(self.index.ntotal, max(n, NEIGHBOUR_CACHE))
            query = self.arrays["similarity_vectors"][index:index + 1]
            distances, found = self.index.search(query, width)
            cached = (found[0], distances[0])
            if width <= NEIGHBOUR_CACHE:
                self.neighbour_cache[index] = cached
        return cached[0][:n], cached[1][:n]

    def seen(self, user: int) -> np.ndarray:
        indptr = self.arrays["seen_indptr"]
        return self.arrays["seen_indices"][indptr[user]:indptr[user + 1]]
