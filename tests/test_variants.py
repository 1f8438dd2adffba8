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
    result = evaluate_new_users(popularity, data, split.test, popularity)
    assert 0 < result["ndcg@10"] <= 1 and result["users"] == len(held)
    with pytest.raises(TrainingError, match="needs user features"):
        coldusers_split(dataset.ratings, None)
    assert np.isfinite(result["auc"])


def test_hold_out_users_only_where_there_are_demographics() -> None:
    from training.data.interactions import hold_out_users

    dataset = load_dataset(planted_release(), progress=False)
    data = build_interactions(dataset, dataset.ratings)
    inside, held = hold_out_users(data, seed=0)
    assert held is not None and held["user_id"].nunique() == 8  # 10% of 80
    assert not set(held["user_id"]) & set(inside.user_ids.tolist())
    assert len(inside.train) + len(held) == len(data.train)
    plain = build_interactions(dataset, dataset.ratings.assign())  # same data...
    for codes in plain.user_features.codes.values():  # ...as if the release had no
        codes[:] = 0  # demographics
    assert hold_out_users(plain)[1] is None


def test_hold_out_movies_takes_every_rating_of_a_tenth_of_the_rated_movies() -> None:
    from training.data.interactions import hold_out_movies

    dataset = load_dataset(planted_release(), progress=False)
    data = build_interactions(dataset, dataset.ratings)
    inside, held = hold_out_movies(data, seed=0)
    assert held is not None and held["movie_id"].nunique() == 12  # 10% of the 120 rated
    assert not set(held["movie_id"]) & set(inside.train["movie_id"])
    assert len(inside.train) + len(held) == len(data.train)
    assert inside.n_items == data.n_items  # still in the catalogue, now without ratings
    assert hold_out_movies(data, seed=1)[1]["movie_id"].tolist() != held["movie_id"].tolist()
    assert hold_out_movies(data, minimum=13)[1] is None  # too few to choose anything on


def test_the_trained_model_records_its_new_user_choice() -> None:
    import json
    import os
    from pathlib import Path

    from tests.bundles import trained_models_dir

    bundle = Path(os.path.realpath(trained_models_dir() / "current"))
    model = json.loads((bundle / "manifest.json").read_text())["model"]
    scores = model["new_user_validation"]
    assert set(scores) == {"demographics", "popularity"}
    best = "demographics" if scores["demographics"] > scores["popularity"] else "popularity"
    assert model["new_user_path"] == best


def test_taste_demographics_follow_the_favourite_genre_and_drop_the_tags() -> None:
    from training.data.variants import make_variant

    dataset = load_dataset(planted_release(), progress=False)
    variant = make_variant(dataset, "taste-demographics", seed=0)
    assert variant.tags is None and variant.name.endswith("-taste-demographics")
    users = variant.users.set_index("user_id")
    # planted: user u loves the genre of group u % 4; users of one group mostly share a code
    for group in range(4):
        members = [u for u in users.index if u % 4 == group]
        genders = users.loc[members, "gender"].value_counts()
        assert genders.iloc[0] >= 0.6 * len(members)
    assert set(users.index) == set(dataset.ratings["user_id"])


def test_dense_taste_demographics_is_dense_with_demographics_that_carry_taste() -> None:
    from training.data.variants import DENSE_MOVIES, make_variant

    dataset = load_dataset(planted_release(), progress=False)
    variant = make_variant(dataset, "dense-taste-demographics", seed=0)
    dense = make_variant(dataset, "dense", seed=0)
    assert variant.name.endswith("-dense-taste-demographics") and variant.tags is None
    assert variant.ratings.equals(dense.ratings) and len(variant.movies) <= DENSE_MOVIES
    users = variant.users.set_index("user_id")
    assert set(users.index) == set(variant.ratings["user_id"])
    for group in range(4):  # planted: user u loves the genre of group u % 4
        members = [u for u in users.index if u % 4 == group]
        assert users.loc[members, "gender"].value_counts().iloc[0] >= 0.6 * len(members)
