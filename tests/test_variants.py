"""Dataset variants and the coldusers protocol."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bundles import planted_release
from training.data.dataset import load_dataset
from training.data.interactions import build_interactions
from training.data.splits import coldusers_split
from training.data.variants import DENSE_MOVIES, make_variant
from training.errors import TrainingError
from training.evaluation.protocol import evaluate_new_users
from training.models.popularity import Popularity


def test_variants_reshape_the_data() -> None:
    dataset = load_dataset(planted_release(), progress=False)
    assert make_variant(dataset, "original") is dataset
    half = make_variant(dataset, "half-users", seed=1)
    assert half.ratings["user_id"].nunique() == dataset.ratings["user_id"].nunique() // 2
    assert set(half.users["user_id"]) == set(half.ratings["user_id"])
    random = make_variant(dataset, "random-demographics", seed=3)
    assert set(random.users["user_id"]) == set(dataset.ratings["user_id"])
    assert random.users["occupation"].nunique() > 5 and random.users["gender"].nunique() == 2
    # signal-free: the planted release ties gender to taste; the random one must not
    merged = random.ratings.merge(random.users, on="user_id")
    likes = merged[merged["rating"] >= 4]
    assert likes.groupby("gender", observed=True)["movie_id"].apply(
        lambda m: (m <= 30).mean()).std() < 0.2
    dense = make_variant(dataset, "dense")
    rated = dataset.ratings["movie_id"].nunique()  # the 8 unrated movies go
    assert dense.tags is None and len(dense.movies) == min(DENSE_MOVIES, rated) == 120
    with pytest.raises(TrainingError, match="unknown variant 'x'"):
        make_variant(dataset, "x")


def test_coldusers_holds_out_whole_users_and_scores_them_by_demographics() -> None:
    dataset = load_dataset(planted_release(), progress=False)
    split = coldusers_split(dataset.ratings, dataset.users, seed=0)
    held = set(split.test["user_id"])
    assert len(held) == 8 and not held & set(split.train["user_id"])
    data = build_interactions(dataset, split.train)
    popularity = Popularity().fit(data)
    result = evaluate_new_users(popularity, data, split.test, dataset.users, popularity)
    assert 0 < result["ndcg@10"] <= 1 and result["users"] == len(held)
    with pytest.raises(TrainingError, match="needs user demographics"):
        coldusers_split(dataset.ratings, None)
    assert np.isfinite(result["auc"])
