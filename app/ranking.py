"""Turning scores into answers: exclusions, filters, top-k, and the JSON bodies (app.render).
Domain code: it raises app.errors, never HTTP exceptions."""

from __future__ import annotations

import json
from typing import Literal

import numpy as np

from app import render
from app.bundle import Bundle
from app.errors import InvalidRequest, UnknownMovie
from app.inputs import anonymous_inputs, known_user_scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first (ties: lower index first)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    best = np.argpartition(scores, len(scores) - k)[len(scores) - k:]
    best = best[np.isfinite(scores[best])]  # fewer than k candidates left after filtering
    return best[np.lexsort((best, -scores[best]))]


def ranked_json(bundle: Bundle, indices: np.ndarray, scores: np.ndarray) -> str:
    """The ``items`` array of the movies at ``indices`` with their entries of ``scores``."""
    return render.items_json(bundle.movie_json, indices, scores[indices])


def positions(bundle: Bundle, movie_ids: list[int]) -> tuple[list[int], list[int]]:
    """Known movie indices (in order) and the unknown raw ids."""
    known: list[int] = []
    unknown: list[int] = []
    for movie_id in movie_ids:
        index = bundle.item_position.get(movie_id)
        if index is None:
            unknown.append(movie_id)
        else:
            known.append(index)
    return known, unknown


def apply_filters(bundle: Bundle, scores: np.ndarray, *, seen: np.ndarray,
                  genres: list[str] | None, exclude: list[int] | None) -> np.ndarray:
    scores = scores.astype(np.float32, copy=False)  # every caller passes a fresh array
    scores[seen] = -np.inf
    if exclude:
        known, _ = positions(bundle, exclude)
        scores[known] = -np.inf
    if genres:
        wanted = [g.strip().lower() for g in genres if g.strip()]
        unknown = [g for g in wanted if g not in bundle.genre_masks]
        if unknown:
            raise InvalidRequest(f"unknown genre(s): {', '.join(unknown)}; known: "
                                 f"{', '.join(sorted(bundle.genre_masks))}")
        keep = np.zeros(len(scores), dtype=bool)
        for genre in wanted:
            keep |= bundle.genre_masks[genre]
        scores[~keep] = -np.inf
    return scores


def for_user(bundle: Bundle, user_id: int, k: int, *, genres: list[str] | None,
             exclude: list[int] | None, age: int | None, gender: str | None,
             occupation: str | None) -> bytes:
    user = bundle.user_position.get(user_id)
    if user is None:
        if age is None and gender is None and occupation is None:
            scores = bundle.arrays["popularity"].astype(np.float32, copy=True)
        else:  # the user tower takes demographics alone: popularity shaped by them
            inputs = anonymous_inputs(bundle, [], age, gender, occupation)
            scores = bundle.scorer.scores(inputs)[0]
        seen = np.zeros(0, dtype=np.int64)
        strategy: Literal["personalized", "cold_start"] = "cold_start"
    else:
        scores = known_user_scores(bundle, user)
        seen = bundle.seen(user)
        strategy = "personalized"
    scores = apply_filters(bundle, scores, seen=seen, genres=genres, exclude=exclude)
    best = top_k(scores, k)
    return render.recommendations_json(user_id=user_id, version_json=bundle.version_json,
                                       strategy=strategy, items=ranked_json(bundle, best, scores))


def for_visitor(bundle: Bundle, liked: list[int], k: int, *, age: int | None,
                gender: str | None, occupation: str | None, genres: list[str] | None,
                exclude: list[int] | None) -> bytes:
    known, unknown = positions(bundle, liked)
    inputs = anonymous_inputs(bundle, known, age, gender, occupation)
    scores = bundle.scorer.scores(inputs)[0]
    seen = np.asarray(known, dtype=np.int64)
    scores = apply_filters(bundle, scores, seen=seen, genres=genres, exclude=exclude)
    best = top_k(scores, k)
    return render.recommendations_json(user_id=None, version_json=bundle.version_json,
                                       strategy="history" if known else "cold_start",
                                       items=ranked_json(bundle, best, scores), unknown=unknown)


def similar(bundle: Bundle, movie_id: int, k: int) -> bytes:
    index = bundle.item_position.get(movie_id)
    if index is None:
        raise UnknownMovie(movie_id)
    neighbours, distances = bundle.neighbours(index, k + 1)
    keep = (neighbours != index) & (neighbours >= 0)  # FAISS pads with -1
    chosen, similarity = neighbours[keep][:k], distances[keep][:k]
    return render.similar_json(
        movie_id=movie_id, title_json=json.dumps(bundle.movies[index]["title"],
                                                 ensure_ascii=False),
        version_json=bundle.version_json,
        items=render.items_json(bundle.movie_json, chosen, similarity))
