"""JSON bodies of the hot routes, written from per-movie fragments made once per bundle.

Building ten pydantic models and serialising them cost more than ranking the catalogue; the
fragments come from the same fields, and tests check every body against the response models
(`Recommendations`, `SimilarMovies`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np


def movie_fragments(movies: Sequence[dict[str, Any]]) -> list[str]:
    """``{"movie_id":1,"title":"…","genres":[…],"score":`` per movie (the score follows)."""
    return [json.dumps({"movie_id": m["movie_id"], "title": m["title"], "genres": m["genres"]},
                       ensure_ascii=False, separators=(",", ":"))[:-1] + ',"score":'
            for m in movies]


def items_json(fragments: Sequence[str], indices: np.ndarray, scores: np.ndarray) -> str:
    """The ``items`` array: ``scores[j]`` is the score of movie ``indices[j]``."""
    return "[" + ",".join([fragments[i] + repr(s) + "}" for i, s in
                           zip(indices.tolist(), scores.tolist(), strict=True)]) + "]"


def recommendations_json(*, user_id: int | str | None, version_json: str, strategy: str,
                         items: str, unknown: Sequence[int | str] | None = None) -> bytes:
    """``user_id`` and ``unknown`` as the client gave them (numbers or strings)."""
    user = "null" if user_id is None else _id_json(user_id)
    missing = json.dumps(list(unknown or []), ensure_ascii=False)
    return (f'{{"user_id":{user},"model_version":{version_json},"strategy":"{strategy}",'
            f'"items":{items},"unknown_movie_ids":{missing}}}').encode()


def _id_json(value: int | str) -> str:
    return str(int(value)) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)


def similar_json(*, movie_id: int | str, title_json: str, version_json: str,
                 items: str) -> bytes:
    return (f'{{"movie_id":{_id_json(movie_id)},"title":{title_json},'
            f'"model_version":{version_json},"items":{items}}}').encode()
