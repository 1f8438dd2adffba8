"""Turning scores into answers: exclusions, filters, top-k, and the JSON bodies (app.render).
Domain code: it raises app.errors, never HTTP exceptions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from app import render
from app.bundle import Bundle
from app.errors import InvalidRequest, UnknownMovie
from app.inputs import (
    anonymous_inputs,
    context_now,
    feedback_inputs,
    known_user_scores,
    with_feedback,
)
from app.retrieval import SHORTLIST, exact_top
from recommender_core.feedback_store import Event

Strategy = Literal["personalized", "cold_start", "history"]
FRESH_BYTES = 64 << 20  # score rows of users with feedback a bundle keeps (LRU)


def top_k(scores: np.ndarray, k: int, offset: int = 0) -> np.ndarray:
    """Indices of the highest finite scores from rank ``offset`` (0 = best) to
    ``offset + k``, best first; ties go to the lower index, so pages of one ranking never
    overlap or skip."""
    if offset:
        return top_k(scores, offset + k)[offset:]
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    cut = scores[np.argpartition(scores, len(scores) - k)[len(scores) - k:]].min()
    # Every score at the cut competes, not the arbitrary subset argpartition picked: with
    # ties there, the lower index wins and a shorter list is a prefix of a longer one.
    best = np.flatnonzero(scores >= cut) if np.isfinite(cut) else np.flatnonzero(
        np.isfinite(scores))  # fewer than k candidates left after filtering
    return best[np.lexsort((best, -scores[best]))][:k]


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
                  genres: list[str] | None, exclude: list[int] | None,
                  new: bool = False) -> np.ndarray:
    """``scores`` with -inf where a movie must not come back: ``seen``, ``exclude``, outside
    ``genres``, and with ``new`` every movie someone rated in the training data."""
    scores = scores.astype(np.float32, copy=False)  # every caller passes a fresh array
    scores[seen] = -np.inf
    if new:
        scores[~bundle.cold] = -np.inf
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


@dataclass(frozen=True)
class Plan:
    """How a user's list is made, whether every movie is scored or a shortlist is."""

    strategy: Strategy
    seen: np.ndarray  # movie indices left out
    user: int | None = None  # a user the bundle knows: their precomputed parts
    events: Sequence[Event] = ()  # that known user's feedback since training
    inputs: dict[str, np.ndarray] | None = None  # an unknown user's tower inputs
    # (user and inputs both None: popularity)


def plan(bundle: Bundle, user_id: int, events: Sequence[Event], *, age: int | None,
         gender: str | None, occupation: str | None) -> Plan:
    """The path for ``user_id`` with their feedback ``events`` since training (oldest
    first; may be empty):

    - known to the bundle: the user tower's precomputed parts, its history input rebuilt from
      the training history and the events when there are any (``personalized``), every rated
      movie left out;
    - unknown, with liked movies among the events: the visitor path on them (``history``);
    - otherwise popularity, or the user tower on the demographics given (``cold_start``)."""
    user = bundle.user_position.get(user_id)
    if user is not None:
        return Plan("personalized", bundle.seen(user), user=user, events=events)
    seen = np.zeros(0, dtype=np.int64)
    if events:
        liked, seen = with_feedback(bundle, None, events)
        if liked:
            return Plan("history", seen,
                        inputs=anonymous_inputs(bundle, liked, age, gender, occupation))
    if (age is None and gender is None and occupation is None
            or bundle.new_user_path == "popularity"):
        return Plan("cold_start", seen)
    # the user tower takes demographics alone: popularity shaped by them
    return Plan("cold_start", seen, inputs=anonymous_inputs(bundle, [], age, gender, occupation))


def plan_scores(bundle: Bundle, chosen: Plan) -> np.ndarray:
    """Every movie's score on ``chosen``'s path (the user's fresh ratings at -inf)."""
    if chosen.user is not None and chosen.events:
        base, rated = fresh_user(bundle, chosen.user, chosen.events)
        context = context_now()
        scores = base + bundle.scorer.context_scores[int(context["daytime"][0]),
                                                     int(context["weekend"][0])]
        scores[rated] = -np.inf
        return scores
    if chosen.user is not None:
        return known_user_scores(bundle, chosen.user)
    if chosen.inputs is not None:
        return bundle.scorer.scores(chosen.inputs)[0]
    return bundle.arrays["popularity"].astype(np.float32, copy=True)


def plan_vector(bundle: Bundle, chosen: Plan) -> tuple[np.ndarray | None, np.ndarray]:
    """(the user tower's output in the context of now, or None for popularity; the movie
    indices to leave out) on ``chosen``'s path, for two-stage retrieval."""
    scorer = bundle.scorer
    if chosen.user is not None and chosen.events:
        liked, rated = with_feedback(bundle, chosen.user, chosen.events)
        inputs = feedback_inputs(bundle, chosen.user, liked)
        return scorer.user_vectors(inputs)[0], np.union1d(chosen.seen, rated)
    if chosen.user is not None:
        context = context_now()
        return scorer.known_user_vector(chosen.user, int(context["daytime"][0]),
                                        int(context["weekend"][0])), chosen.seen
    if chosen.inputs is not None:
        return scorer.user_vectors(chosen.inputs)[0], chosen.seen
    return None, chosen.seen


def fresh_user(bundle: Bundle, user: int, events: Sequence[Event]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(the context-free score row, the rated movie indices) of known user index ``user``
    with their feedback ``events``: the user tower on the rebuilt history, minus its context
    part, times every movie vector. Kept per user while the same events object comes back
    (app.feedback hands out one tuple per user until their events change), so a request
    costs what a score-table lookup costs: one row plus the context's row."""
    cached = bundle.fresh_users.get(user)
    if cached is not None and cached[0] is events:
        bundle.fresh_users.move_to_end(user)
        return cached[1], cached[2]
    liked, rated = with_feedback(bundle, user, events)
    inputs = feedback_inputs(bundle, user, liked)
    base = bundle.scorer.base_scores(bundle.scorer.context_free_vector(inputs))
    bundle.fresh_users[user] = (events, base, rated)
    if len(bundle.fresh_users) > max(64, FRESH_BYTES // (4 * bundle.scorer.n_items)):
        bundle.fresh_users.popitem(last=False)
    return base, rated


def two_stage(bundle: Bundle, vector: np.ndarray | None, blocked: np.ndarray, k: int,
              offset: int) -> str:
    """The ``items`` array from an approximate shortlist scored exactly (app.retrieval), or
    from the popularity order when ``vector`` is None; ``blocked`` never comes back: the
    search skips those movies, so the shortlist holds as many others as the calibration
    measured (a heavy user's list would otherwise be mostly rated movies); when it holds
    fewer than ``offset + k``, every movie is scored instead."""
    scorer = bundle.scorer
    if vector is None:
        order = bundle.popularity_order[:offset + k + len(blocked)]
        order = order[~np.isin(order, blocked)][offset:offset + k]
        popularity = bundle.arrays["popularity"]
        return render.items_json(bundle.movie_json, order, popularity[order])
    if bundle.shortlister is None:
        raise RuntimeError("two-stage retrieval without a shortlister")
    candidates = bundle.shortlister.search(vector, max(SHORTLIST, 2 * (offset + k)), blocked)
    if len(candidates) < offset + k:
        scores = scorer.item_vectors @ vector + scorer.item_bias
        scores[blocked] = -np.inf
        best = top_k(scores, k, offset)
        return render.items_json(bundle.movie_json, best, scores[best])
    ranked, scores = exact_top(scorer.item_vectors, scorer.item_bias, vector, candidates)
    return render.items_json(bundle.movie_json, ranked[offset:offset + k],
                             scores[offset:offset + k])


def _blocked(bundle: Bundle, seen: np.ndarray, exclude: list[int] | None) -> np.ndarray:
    known, _ = positions(bundle, exclude or [])
    return np.union1d(seen, np.asarray(known, dtype=np.int64))


def for_user(bundle: Bundle, user_id: int, k: int, *, genres: list[str] | None,
             exclude: list[int] | None, age: int | None, gender: str | None,
             occupation: str | None, events: Sequence[Event] = (), offset: int = 0,
             new: bool = False) -> bytes:
    chosen = plan(bundle, user_id, events, age=age, gender=gender, occupation=occupation)
    if bundle.shortlister is not None and not genres and not new:
        vector, seen = plan_vector(bundle, chosen)
        items = two_stage(bundle, vector, _blocked(bundle, seen, exclude), k, offset)
        return render.recommendations_json(user_id=user_id, version_json=bundle.version_json,
                                           strategy=chosen.strategy, items=items)
    scores = apply_filters(bundle, plan_scores(bundle, chosen), seen=chosen.seen,
                           genres=genres, exclude=exclude, new=new)
    best = top_k(scores, k, offset)
    return render.recommendations_json(user_id=user_id, version_json=bundle.version_json,
                                       strategy=chosen.strategy,
                                       items=ranked_json(bundle, best, scores))


def for_visitor(bundle: Bundle, liked: list[int], k: int, *, age: int | None,
                gender: str | None, occupation: str | None, genres: list[str] | None,
                exclude: list[int] | None, offset: int = 0, new: bool = False) -> bytes:
    known, unknown = positions(bundle, liked)
    inputs = anonymous_inputs(bundle, known, age, gender, occupation)
    seen = np.asarray(known, dtype=np.int64)
    if bundle.shortlister is not None and not genres and not new:
        vector = bundle.scorer.user_vectors(inputs)[0]
        items = two_stage(bundle, vector, _blocked(bundle, seen, exclude), k, offset)
        return render.recommendations_json(user_id=None, version_json=bundle.version_json,
                                           strategy="history" if known else "cold_start",
                                           items=items, unknown=unknown)
    scores = bundle.scorer.scores(inputs)[0]
    scores = apply_filters(bundle, scores, seen=seen, genres=genres, exclude=exclude, new=new)
    best = top_k(scores, k, offset)
    return render.recommendations_json(user_id=None, version_json=bundle.version_json,
                                       strategy="history" if known else "cold_start",
                                       items=ranked_json(bundle, best, scores), unknown=unknown)


def similar(bundle: Bundle, movie_id: int, k: int, offset: int = 0) -> bytes:
    index = bundle.item_position.get(movie_id)
    if index is None:
        raise UnknownMovie(movie_id)
    neighbours, distances = bundle.neighbours(index, offset + k + 1)
    keep = (neighbours != index) & (neighbours >= 0)  # FAISS pads with -1
    chosen = neighbours[keep][offset:offset + k]
    similarity = distances[keep][offset:offset + k]
    return render.similar_json(
        movie_id=movie_id, title_json=json.dumps(bundle.movies[index]["title"],
                                                 ensure_ascii=False),
        version_json=bundle.version_json,
        items=render.items_json(bundle.movie_json, chosen, similarity))
