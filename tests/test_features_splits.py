"""Features and the quality protocol's splits."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender_core.bundle_format import context_features
from tests.movielens_files import write_csv_release, write_ml1m
from tests.paths import BUNDLED
from training.data.dataset import load_dataset
from training.data.features import movie_features, user_features
from training.data.splits import coldstart_split, last_fraction_mask, temporal_split
from training.errors import TrainingError


def test_movie_features(tmp_path: Path) -> None:
    dataset = load_dataset(write_csv_release(tmp_path), progress=False)
    features = movie_features(dataset.movies, dataset.tags)
    assert features.genre_names == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert features.genres.tolist()[2] == [0, 0, 0, 0, 0]
    assert features.genres[0].sum() == 4
    assert features.decades == [1990] and features.decade.tolist() == [1, 1, 1]
    tfidf = features.tfidf.toarray()
    vocabulary = features.vocabulary
    assert {"pixar", "funny, clever", "funny", "clever", "genre:comedy"} <= set(vocabulary)
    assert tfidf[0, vocabulary.index("pixar")] > 0 and tfidf[1, vocabulary.index("pixar")] == 0
    np.testing.assert_allclose(np.linalg.norm(tfidf[:2], axis=1), 1.0, rtol=1e-5)
    assert not tfidf[2].any()  # no genres, no tags: an empty document


def test_user_features_unknown_is_zero(tmp_path: Path) -> None:
    dataset = load_dataset(write_ml1m(tmp_path), progress=False)
    encoded = user_features(np.array([2, 1, 77], np.int32), dataset.users)
    age, gender, occupation = encoded.slots
    assert (age.name, gender.name, occupation.name) == ("age", "gender", "occupation")
    assert gender.vocabulary == ("F", "M")
    assert encoded.codes["gender"].tolist() == [2, 1, 0]
    assert [age.vocabulary[c - 1] for c in encoded.codes["age_group"][:2]] == ["56+",
                                                                              "Under 18"]
    assert age.code(60) == age.vocabulary.index("56+") + 1 and age.code(17) == 1
    assert encoded.known.tolist() == [True, True, False]
    absent = user_features(np.array([1, 2], np.int32), None)
    assert [slot.key for slot in absent.slots] == ["age_group", "gender", "occupation"]
    assert absent.codes["gender"].tolist() == [0, 0] and absent.slots[2].vocabulary == ()
    assert not absent.known.any() and absent.slots[0].code(30) == 0


def test_context_features() -> None:
    # 2024-01-06 is a Saturday; 2024-01-08 a Monday.
    saturday_night = pd.Timestamp("2024-01-06 02:30", tz="UTC").timestamp()
    monday_evening = pd.Timestamp("2024-01-08 19:00", tz="UTC").timestamp()
    daytime, weekend = context_features(np.array([saturday_night, monday_evening], np.int64))
    assert daytime.tolist() == [0, 3] and weekend.tolist() == [1, 0]


def test_temporal_split_holds_out_last_fifth_with_ties_by_movie() -> None:
    ratings = pd.DataFrame({
        "user_id": [1] * 6 + [2] * 2 + [3],
        "movie_id": [10, 11, 12, 13, 15, 14, 1, 2, 5],
        "rating": np.ones(9, np.float32),
        "timestamp": [1, 2, 3, 4, 6, 6, 9, 8, 1],
    })
    split = temporal_split(ratings)
    held = split.test.groupby("user_id").movie_id.apply(sorted).to_dict()
    # user 1: ceil(1.2) = 2 held: the two at t=6, both; user 2: ceil(.4) = 1, the latest (t=9)
    assert held == {1: [14, 15], 2: [1], 3: [5]}
    assert len(split.train) + len(split.test) == len(ratings)


def test_temporal_split_on_bundled_data() -> None:
    ratings = load_dataset(BUNDLED, progress=False).ratings
    split = temporal_split(ratings)
    per_user = ratings.groupby("user_id").size()
    expected_test = sum(max(1, math.ceil(0.2 * n)) for n in per_user)
    assert len(split.test) == expected_test
    last_train = split.train.groupby("user_id").timestamp.max()
    first_test = split.test.groupby("user_id").timestamp.min()
    assert (last_train <= first_test.reindex(last_train.index)).all()


def test_last_fraction_mask_validation_fraction() -> None:
    ratings = pd.DataFrame({"user_id": [1] * 20, "movie_id": range(20),
                            "timestamp": range(20)})
    assert last_fraction_mask(ratings, 0.1).nonzero()[0].tolist() == [18, 19]


def test_coldstart_split_is_seeded() -> None:
    ratings = load_dataset(BUNDLED, progress=False).ratings
    first, again, other = (coldstart_split(ratings, seed=s) for s in (0, 0, 1))
    assert len(first.candidates) == 365  # 10% of the 3,650 movies with 5+ ratings
    np.testing.assert_array_equal(first.candidates, again.candidates)
    assert not np.array_equal(first.candidates, other.candidates)
    assert not np.isin(first.train.movie_id, first.candidates).any()
    assert set(first.test.movie_id) == set(first.candidates)


def test_split_of_a_too_small_dataset() -> None:
    single = pd.DataFrame({"user_id": [1, 2], "movie_id": [1, 1], "rating": [4.0, 4.0],
                           "timestamp": [1, 2]})
    with pytest.raises(TrainingError, match="too small"):
        temporal_split(single)
    with pytest.raises(TrainingError, match="too small"):
        coldstart_split(single)
