"""Turning a request into its answer: the user's query (app.queries), the movies to keep or
leave out, retrieval (app.retrieval), and the JSON body (app.render). Domain code: it raises
app.errors, never HTTP exceptions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from app import render
from app.bundle import Bundle
from app.errors import UnknownMovie
from app.inputs import anonymous_inputs
from app.queries import UserQuery, Visitor, newcomer, plan
from recommender_core.feedback_store import Event


def _ranked(bundle: Bundle, query: UserQuery, k: int, offset: int,
            genres: list[str] | None, exclude: Sequence[int | str] | None, new: bool) -> str:
    """The ``items`` array of ``query``'s list: ``genres`` and ``new`` (only movies nobody
    rated in training) keep movies, ``exclude`` (raw ids) leaves them out."""
    catalogue = bundle.catalogue
    keep = None
    if genres:
        keep = catalogue.genre_mask(genres)
    if new:
        keep = catalogue.unrated if keep is None else keep & catalogue.unrated
    excluded, _ = catalogue.positions(exclude or [])
    indices, scores = bundle.retrieval.top(query, k, offset, excluded, keep)
    return render.items_json(catalogue.fragments, indices, scores)


def for_user(bundle: Bundle, user_id: int | str, k: int, *, genres: list[str] | None,
             exclude: Sequence[int | str] | None, codes: Mapping[str, int],
             events: Sequence[Event] = (), offset: int = 0, new: bool = False) -> bytes:
    """``codes``: the user features given, by slot key (Bundle.feature_codes)."""
    query = plan(bundle, user_id, events, codes=codes)
    return render.recommendations_json(
        user_id=user_id, version_json=bundle.version_json, strategy=query.strategy,
        items=_ranked(bundle, query, k, offset, genres, exclude, new))


def for_visitor(bundle: Bundle, liked: Sequence[int | str], k: int, *,
                codes: Mapping[str, int], genres: list[str] | None,
                exclude: Sequence[int | str] | None, offset: int = 0,
                new: bool = False) -> bytes:
    known, unknown = bundle.catalogue.positions(liked)
    rated = np.asarray(known, dtype=np.int64)
    query = (Visitor(bundle, anonymous_inputs(bundle, known, codes), rated, "history",
                     len(known)) if known else newcomer(bundle, codes, rated))
    return render.recommendations_json(
        user_id=None, version_json=bundle.version_json, strategy=query.strategy,
        items=_ranked(bundle, query, k, offset, genres, exclude, new), unknown=unknown)


def similar(bundle: Bundle, movie_id: int | str, k: int, offset: int = 0) -> bytes:
    catalogue = bundle.catalogue
    index = catalogue.position.get(str(movie_id))
    if index is None:
        raise UnknownMovie(movie_id)
    neighbours, distances = bundle.neighbours.of(index, offset + k + 1)
    keep = (neighbours != index) & (neighbours >= 0)  # FAISS pads with -1
    chosen = neighbours[keep][offset:offset + k]
    similarity = distances[keep][offset:offset + k]
    return render.similar_json(
        movie_id=movie_id, title_json=catalogue.movies.title_json(index),
        version_json=bundle.version_json,
        items=render.items_json(catalogue.fragments, chosen, similarity))
