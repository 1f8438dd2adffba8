"""Variants of a release that mimic the other MovieLens releases, so that settings chosen on
one dataset are checked on data shaped differently (docs/quality-protocol.md)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from recommender_core.inputs import AGE_GROUPS, age_group
from training.data.dataset import MovieLensDataset
from training.errors import TrainingError

DENSE_MOVIES = 1682  # as many movies as ml-100k
OCCUPATIONS = ("administrator", "artist", "doctor", "educator", "engineer", "entertainment",
               "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing",
               "none", "other", "programmer", "retired", "salesman", "scientist", "student",
               "technician", "writer")  # ml-100k's list
VARIANTS = ("original", "dense", "random-demographics", "half-users")


def make_variant(dataset: MovieLensDataset, name: str, seed: int = 0) -> MovieLensDataset:
    """``dataset`` reshaped: ``dense`` keeps the ratings of its DENSE_MOVIES most-rated movies
    and drops the tags (like ml-100k); ``random-demographics`` gives every user a random age,
    gender and occupation, carrying no signal (a new-user path must then do no worse than
    popularity); ``half-users`` keeps a random half of the users."""
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
    if name == "half-users":
        users = np.unique(ratings["user_id"].to_numpy())
        keep = rng.choice(users, len(users) // 2, replace=False)
        return dataclasses.replace(
            dataset, name=f"{dataset.name}-half-users",
            ratings=ratings[ratings["user_id"].isin(keep)].reset_index(drop=True),
            users=None if dataset.users is None else dataset.users[
                dataset.users["user_id"].isin(keep)].reset_index(drop=True))
    raise TrainingError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
