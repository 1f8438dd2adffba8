"""Variants of a release that mimic the other MovieLens releases, so that settings chosen on
one dataset are checked on data shaped differently (docs/quality-protocol.md)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from recommender_core.user_features import AGE_GROUPS, age_group
from training.data.dataset import MovieLensDataset
from training.errors import TrainingError

DENSE_MOVIES = 1682  # as many movies as ml-100k
OCCUPATIONS = ("administrator", "artist", "doctor", "educator", "engineer", "entertainment",
               "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing",
               "none", "other", "programmer", "retired", "salesman", "scientist", "student",
               "technician", "writer")  # ml-100k's list
VARIANTS = ("original", "dense", "random-demographics", "taste-demographics",
            "dense-taste-demographics", "half-users")
TASTE_NOISE = 0.2  # share of users whose demographics are drawn at random instead


def make_variant(dataset: MovieLensDataset, name: str, seed: int = 0) -> MovieLensDataset:
    """``dataset`` reshaped: ``dense`` keeps the ratings of its DENSE_MOVIES most-rated movies
    and drops the tags (like ml-100k); ``random-demographics`` gives every user a random age,
    gender and occupation, carrying no signal (a new-user path must then do no worse than
    popularity); ``taste-demographics`` drops the tags and gives every user an age, gender and
    occupation that follow the genre they like most (TASTE_NOISE of them at random): no tags,
    demographics that carry taste, like ml-100k and ml-1m; ``dense-taste-demographics`` is
    ``dense``, then ``taste-demographics`` on what it kept (ml-100k's whole shape: 1,682
    movies, no tags, demographics that carry taste); ``half-users`` keeps a random half of
    the users."""
    rng = np.random.default_rng(seed)
    ratings = dataset.ratings
    if name == "original":
        return dataset
    if name == "dense":
        counts = ratings["movie_id"].value_counts()
        order = np.lexsort((counts.index.to_numpy(), -counts.to_numpy()))
        keep = counts.index.to_numpy()[order][:DENSE_MOVIES]
        links = dataset.links
        return dataclasses.replace(
            dataset, name=f"{dataset.name}-dense",
            ratings=ratings[ratings["movie_id"].isin(keep)].reset_index(drop=True),
            movies=dataset.movies[dataset.movies["movie_id"].isin(keep)].reset_index(drop=True),
            tags=None, links=None if links is None else links[
                links["movie_id"].isin(keep)].reset_index(drop=True))
    if name == "random-demographics":
        users = np.unique(ratings["user_id"].to_numpy())
        ages = rng.integers(7, 74, len(users))
        groups = [age_group(int(age)) for age in ages]
        frame = pd.DataFrame({
            "user_id": users.astype(np.int32), "age": ages.astype(np.int16),
            "age_group": pd.Categorical(groups, categories=list(AGE_GROUPS.values())),
            "gender": pd.Categorical(rng.choice(["F", "M"], len(users)), categories=["F", "M"]),
            "occupation": pd.Categorical(rng.choice(OCCUPATIONS, len(users)),
                                         categories=list(OCCUPATIONS)),
        })
        return dataclasses.replace(dataset, name=f"{dataset.name}-random-demographics",
                                   users=frame)
    if name == "dense-taste-demographics":
        dense = make_variant(dataset, "dense", seed)
        return dataclasses.replace(dense, name=f"{dataset.name}-dense-taste-demographics",
                                   users=taste_demographics(dense, rng))
    if name == "taste-demographics":
        return dataclasses.replace(dataset, name=f"{dataset.name}-taste-demographics",
                                   tags=None, users=taste_demographics(dataset, rng))
    if name == "half-users":
        users = np.unique(ratings["user_id"].to_numpy())
        keep = rng.choice(users, len(users) // 2, replace=False)
        return dataclasses.replace(
            dataset, name=f"{dataset.name}-half-users",
            ratings=ratings[ratings["user_id"].isin(keep)].reset_index(drop=True),
            users=None if dataset.users is None else dataset.users[
                dataset.users["user_id"].isin(keep)].reset_index(drop=True))
    raise TrainingError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")


def taste_demographics(dataset: MovieLensDataset, rng: np.random.Generator) -> pd.DataFrame:
    """Users whose demographics follow their favourite genre (the one they like most beyond
    its share of all likes, ties to the first by name): genre g of the sorted genres gives
    age group g mod 7, gender g mod 2 and occupation g mod 21; TASTE_NOISE of the users, and
    those without a like, get random ones."""
    ratings = dataset.ratings
    users = np.unique(ratings["user_id"].to_numpy())
    liked = ratings[ratings["rating"].to_numpy() >= 4.0][["user_id", "movie_id"]]
    genres = dataset.movies[["movie_id", "genres"]].explode("genres").dropna()
    pairs = liked.merge(genres, on="movie_id")
    counts = pairs.groupby(["user_id", "genres"]).size().reset_index(name="n")
    share = pairs["genres"].value_counts(normalize=True)
    totals = pairs.groupby("user_id").size()
    # the genre liked most beyond what its share of all likes predicts
    expected = (totals.reindex(counts["user_id"]).to_numpy()
                * share.reindex(counts["genres"]).to_numpy())
    counts["excess"] = counts["n"] - expected
    names = sorted(genres["genres"].unique())
    favourite = (counts.sort_values(["user_id", "excess", "genres"], ascending=[True, False, True])
                 .drop_duplicates("user_id").set_index("user_id")["genres"])
    code = np.array([names.index(favourite[u]) if u in favourite.index else -1
                     for u in users])
    noisy = (rng.random(len(users)) < TASTE_NOISE) | (code < 0)
    code = np.where(noisy, rng.integers(0, 7 * 2 * 21, len(users)), code)
    groups = list(AGE_GROUPS.values())
    return pd.DataFrame({
        "user_id": users.astype(np.int32),
        "age": np.array([list(AGE_GROUPS)[c % 7] for c in code], np.int16),
        "age_group": pd.Categorical([groups[c % 7] for c in code], categories=groups),
        "gender": pd.Categorical(["F" if c % 2 else "M" for c in code], categories=["F", "M"]),
        "occupation": pd.Categorical([OCCUPATIONS[c % 21] for c in code],
                                     categories=list(OCCUPATIONS)),
    })
