"""Feature engineering for movies, users and context; every function is vectorised."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

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
    """Categorical codes per user; 0 always means unknown (a user missing from the file, or a
    release without demographics)."""

    user_ids: np.ndarray  # int32
    age_group: np.ndarray  # int32
    gender: np.ndarray  # int32
    occupation: np.ndarray  # int32
    age_groups: list[str]
    genders: list[str]
    occupations: list[str]


def user_features(user_ids: np.ndarray, users: pd.DataFrame | None) -> UserFeatures:
    """Encode demographics for ``user_ids`` (in that order)."""
    n = len(user_ids)
    if users is None:
        zeros = np.zeros(n, dtype=np.int32)
        return UserFeatures(np.asarray(user_ids, np.int32), zeros, zeros.copy(), zeros.copy(),
                            [], [], [])
    frame = users.set_index("user_id").reindex(user_ids)
    codes = {}
    vocabularies = {}
    for column in ("age_group", "gender", "occupation"):
        categorical = pd.Categorical(frame[column], categories=users[column].cat.categories)
        codes[column] = (categorical.codes + 1).astype(np.int32)  # -1 (missing) becomes 0
        vocabularies[column] = [str(c) for c in categorical.categories]
    return UserFeatures(np.asarray(user_ids, np.int32), codes["age_group"], codes["gender"],
                        codes["occupation"], vocabularies["age_group"], vocabularies["gender"],
                        vocabularies["occupation"])
