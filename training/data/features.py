"""Feature engineering for movies, users and context; every function is vectorised."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender_core.user_features import MOVIELENS_SLOTS, UserSlot, movielens_slots, slot_width

DEFAULT_LIKE_THRESHOLD = 4.0
_WORD = re.compile(r"[\w']+")


@dataclass(frozen=True)
class MovieFeatures:
    """Row ``i`` of every matrix describes ``movie_ids[i]``."""

    movie_ids: np.ndarray  # int32
    genre_names: list[str]
    genres: np.ndarray  # float32 multi-hot (n_movies, n_genres)
    year: np.ndarray  # float32 standardised year; 0 where unknown
    year_known: np.ndarray  # float32 1/0
    decade: np.ndarray  # int32 index into ``decades``; 0 = unknown
    decades: list[int]
    tfidf: sp.csr_matrix  # float32 L2-normalised TF-IDF of tags and genre tokens
    vocabulary: list[str]


def genre_multi_hot(movies: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    names = sorted({g for genres in movies["genres"] for g in genres})
    index = {name: i for i, name in enumerate(names)}
    rows = np.repeat(np.arange(len(movies)), [len(g) for g in movies["genres"]])
    cols = np.fromiter((index[g] for genres in movies["genres"] for g in genres), dtype=np.int64,
                       count=len(rows))
    matrix = np.zeros((len(movies), len(names)), dtype=np.float32)
    matrix[rows, cols] = 1.0
    return matrix, names


def movie_documents(movies: pd.DataFrame, tags: pd.DataFrame | None) -> list[list[str]]:
    """Each movie's tokens: its normalised tags (whole and word by word) and ``genre:X``."""
    tokens: dict[int, list[str]] = {int(m): [f"genre:{g.lower()}" for g in genres]
                                    for m, genres in zip(movies["movie_id"], movies["genres"],
                                                         strict=True)}
    if tags is not None and len(tags):
        normalised = tags["tag"].astype(str).str.lower().str.strip()
        for movie_id, tag in zip(tags["movie_id"].to_numpy(), normalised, strict=True):
            words = _WORD.findall(tag)
            tokens[int(movie_id)].extend([tag, *words] if len(words) > 1 else [tag])
    return [tokens[int(m)] for m in movies["movie_id"]]


def tfidf_matrix(movies: pd.DataFrame, tags: pd.DataFrame | None,
                 min_df: int = 1) -> tuple[sp.csr_matrix, list[str]]:
    vectorizer = TfidfVectorizer(analyzer=_identity, min_df=min_df, sublinear_tf=True,
                                 dtype=np.float32)
    documents = movie_documents(movies, tags)
    if not any(documents):  # a catalogue without any item feature: one constant token
        documents = [["(no features)"] for _ in documents]
    matrix = vectorizer.fit_transform(documents)
    return sp.csr_matrix(matrix, dtype=np.float32), list(vectorizer.get_feature_names_out())


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def movie_features(movies: pd.DataFrame, tags: pd.DataFrame | None) -> MovieFeatures:
    genres, genre_names = genre_multi_hot(movies)
    years = movies["year"].to_numpy(dtype=np.float32, na_value=np.nan)
    known = ~np.isnan(years)
    mean = float(np.nanmean(years)) if known.any() else 0.0
    std = float(np.nanstd(years)) if known.sum() > 1 else 1.0
    standardised = np.where(known, (years - mean) / max(std, 1e-6), 0.0).astype(np.float32)
    decade_values = np.where(known, (np.nan_to_num(years) // 10) * 10, 0).astype(np.int32)
    decades = sorted(set(decade_values[known].tolist()))
    decade = np.where(known, np.searchsorted(decades, decade_values) + 1, 0).astype(np.int32)
    tfidf, vocabulary = tfidf_matrix(movies, tags)
    return MovieFeatures(
        movie_ids=movies["movie_id"].to_numpy(np.int32), genre_names=genre_names, genres=genres,
        year=standardised, year_known=known.astype(np.float32), decade=decade, decades=decades,
        tfidf=tfidf, vocabulary=vocabulary,
    )


@dataclass(frozen=True)
class UserFeatures:
    """Each user-feature slot's codes per user (recommender_core.user_features); 0 always
    means unknown (a user missing from the file, or a release without demographics)."""

    user_ids: np.ndarray  # int32
    slots: tuple[UserSlot, ...]
    codes: dict[str, np.ndarray]  # slot key -> (users,) int32

    @property
    def known(self) -> np.ndarray:
        """Which users have at least one feature."""
        known = np.zeros(len(self.user_ids), dtype=bool)
        for codes in self.codes.values():
            known |= codes > 0
        return known

    def rows(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """The codes of user indices ``users``, by slot key."""
        return {key: codes[users] for key, codes in self.codes.items()}


def user_features(user_ids: np.ndarray, users: pd.DataFrame | None, *,
                  generic: bool = False) -> UserFeatures:
    """Encode the user features of ``user_ids`` (in that order): the MovieLens demographics
    (age group, gender, occupation), or with ``generic`` a generic catalogue's ``users``
    frame, whose every column but user_id is a categorical feature (a numeric one's
    categories are left-closed intervals: its bins). Data without user features (``users``
    None, any layout) has the three MovieLens slots, empty: the same inputs whichever reader
    read the same data, so the same seed trains the same model."""
    ids = np.asarray(user_ids, np.int32)
    if users is None:
        empty = {key: np.zeros(len(ids), dtype=np.int32) for key, *_ in MOVIELENS_SLOTS}
        return UserFeatures(ids, movielens_slots({}), empty)
    columns = ([c for c in users.columns if c != "user_id"] if generic
               else [key for key, *_ in MOVIELENS_SLOTS])
    frame = users.set_index("user_id").reindex(user_ids)
    codes: dict[str, np.ndarray] = {}
    categories: dict[str, pd.Index] = {}
    for column in columns:
        categorical = pd.Categorical(frame[column], categories=users[column].cat.categories)
        codes[column] = (categorical.codes + 1).astype(np.int32)  # -1 (missing) becomes 0
        categories[column] = categorical.categories
    if not generic:
        return UserFeatures(ids, movielens_slots({c: tuple(str(v) for v in categories[c])
                                                  for c in columns}), codes)
    slots = []
    for i, column in enumerate(columns, start=1):
        values = categories[column]
        edges: tuple[float, ...] = ()
        if isinstance(values, pd.IntervalIndex):
            edges = tuple(float(e) for e in values.right[:-1])
        slots.append(UserSlot(key=f"feature_{i}", name=column,
                              vocabulary=tuple(str(v) for v in values),
                              width=slot_width(len(values)), edges=edges))
    return UserFeatures(ids, tuple(slots), {slot.key: codes[slot.name] for slot in slots})
