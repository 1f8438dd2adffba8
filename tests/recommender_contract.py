"""The shared contract tests every recommender's test class reuses (as `implicit` does)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from tests.movielens_files import write_planted_ml1m
from training.data.dataset import load_dataset
from training.data.interactions import Interactions, build_interactions
from training.data.splits import Split, temporal_split
from training.evaluation.protocol import evaluate
from training.models.base import Recommender
from training.models.popularity import Popularity
from training.models.registry import create


@cache
def planted() -> tuple[Interactions, Split]:
    import tempfile

    root = write_planted_ml1m(Path(tempfile.mkdtemp(prefix="planted-")))
    dataset = load_dataset(root, progress=False)
    split = temporal_split(dataset.ratings)
    return build_interactions(dataset, split.train), split


@cache
def fitted(name: str, params: tuple[tuple[str, object], ...] = ()) -> Recommender:
    data, _ = planted()
    return create(name, **dict(params)).fit(data, seed=0)


class RecommenderContract:
    """Subclasses set ``name`` (and ``params``, a tuple of pairs, for a fast configuration)."""

    name: str
    params: tuple[tuple[str, object], ...] = ()
    ranks: bool = True  # rating models are judged on MAE instead

    @pytest.fixture()
    def model(self) -> Recommender:
        return fitted(self.name, self.params)

    def test_scores_every_item(self, model: Recommender) -> None:
        data, _ = planted()
        scores = model.score(np.arange(5))
        assert scores.shape == (5, data.n_items)
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()

    def test_recommend_excludes_seen(self, model: Recommender) -> None:
        data, _ = planted()
        users = np.arange(data.n_users)
        items, scores = model.recommend(data, users, k=10)
        assert items.shape == (data.n_users, 10)
        for user in users:
            seen = set(data.ratings[user].indices.tolist())
            assert not seen & set(items[user].tolist())
        assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first

    def test_learns_planted_tastes(self, model: Recommender) -> None:
        data, split = planted()
        popularity = Popularity().fit(data)
        if self.ranks:
            ours = evaluate(model, data, split.test, fallback=popularity)["ndcg@10"]
            baseline = evaluate(popularity, data, split.test, fallback=popularity)["ndcg@10"]
            assert ours > baseline + 0.05, (ours, baseline)
        else:
            errors = evaluate(model, data, split.test, fallback=popularity)
            mean = float(data.ratings.data.mean())
            constant = float(np.abs(split.test.rating.to_numpy() - mean).mean())
            assert errors["mae"] < constant, (errors["mae"], constant)

    def test_recommendations_differ_across_users(self, model: Recommender) -> None:
        """The LightFM trap: a user tower that gives everyone the same list."""
        data, _ = planted()
        items, _ = model.recommend(data, np.arange(8), k=10)
        distinct = {tuple(sorted(row)) for row in items.tolist()}
        assert len(distinct) >= 4

    def test_similar_items_exclude_the_query(self, model: Recommender) -> None:
        if model.item_vectors() is None:
            pytest.skip(f"{self.name} has no item vectors")
        neighbours, scores = model.similar_items(np.array([0, 1]), k=5)
        assert neighbours.shape == (2, 5)
        assert 0 not in neighbours[0] and 1 not in neighbours[1]
        assert (np.diff(scores, axis=1) <= 1e-6).all()
