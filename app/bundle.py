"""A loaded, verified bundle (app.loading makes it, whole): its arrays, the numpy scorer, the
catalogue's lookups, the known users' input rows, and the retrieval of both hot reads."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import InvalidRequest
from app.movies import Blobs, IntegerKeys, Movies
from app.retrieval import Neighbours, Retrieval
from recommender_core.inputs import UserTable
from recommender_core.scoring import FastScorer, VisitorPath
from recommender_core.user_features import UserSlot


@dataclass(frozen=True)
class Catalogue:
    """The movies of a bundle and the lookups a request needs, made once per bundle."""

    movies: Movies  # movies.json's records, in index order
    position: IntegerKeys | dict[str, int]  # movie id (as text) -> index
    genres: list[str]  # as the movies file spells them
    genre_masks: dict[str, np.ndarray]  # by lower-case name: which movies have the genre
    popularity: np.ndarray  # (movies,) train likes
    popularity_order: np.ndarray  # most liked first, ties by index
    unrated: np.ndarray  # (movies,) nobody rated the movie in the training data

    @property
    def fragments(self) -> Blobs:
        """app.render.movie_fragments of the movies, by index."""
        return self.movies.fragments

    def positions(self, movie_ids: Sequence[int | str]) -> tuple[list[int], list[int | str]]:
        """Known movie indices (in order) and the unknown ids, as given."""
        known: list[int] = []
        unknown: list[int | str] = []
        for movie_id in movie_ids:
            index = self.position.get(str(movie_id))
            if index is None:
                unknown.append(movie_id)
            else:
                known.append(index)
        return known, unknown

    def genre_mask(self, genres: list[str]) -> np.ndarray:
        """The movies of any of ``genres`` (case-insensitive); InvalidRequest naming the
        unknown ones."""
        wanted = [g.strip().lower() for g in genres if g.strip()]
        unknown = [g for g in wanted if g not in self.genre_masks]
        if unknown:
            raise InvalidRequest(f"unknown genre(s): {', '.join(unknown)}; known: "
                                 f"{', '.join(sorted(self.genre_masks))}")
        keep = np.zeros(len(self.movies), dtype=bool)
        for genre in wanted:
            keep |= self.genre_masks[genre]
        return keep


class FreshRows:
    """Score rows of known users with feedback, kept per user while their events object is
    the same (app.events hands out one tuple per user until their events change); up to
    ``budget`` bytes of rows (at least 64), least recently used out."""

    def __init__(self, n_items: int, budget: int = 64 << 20) -> None:
        self.rows: OrderedDict[int, tuple[Any, np.ndarray, np.ndarray]] = OrderedDict()
        self.most = max(64, budget // (4 * max(1, n_items)))

    def get(self, user: int, events: Any) -> tuple[np.ndarray, np.ndarray] | None:
        cached = self.rows.get(user)
        if cached is None or cached[0] is not events:
            return None
        self.rows.move_to_end(user)
        return cached[1], cached[2]

    def put(self, user: int, events: Any, row: np.ndarray, rated: np.ndarray) -> None:
        self.rows[user] = (events, row, rated)
        if len(self.rows) > self.most:
            self.rows.popitem(last=False)


@dataclass(frozen=True, eq=False)
class Bundle:
    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]  # memory-mapped, read only
    catalogue: Catalogue
    users: UserTable  # the known users' input rows
    user_position: dict[str, int]  # user id (as text) -> index
    scorer: FastScorer
    retrieval: Retrieval  # GET /recommend's: every movie scored, or a shortlist
    neighbours: Neighbours  # GET /similar's
    fresh_rows: FreshRows  # the score rows of users with feedback, least recently used out
    visitors: VisitorPath  # how visitors' likes are weighed (the manifest's model.visitor_path)
    slots: tuple[UserSlot, ...]  # the user tower's feature inputs (manifest user_features)

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @cached_property
    def version_json(self) -> str:
        return json.dumps(self.version)

    @property
    def history_length(self) -> int:
        return int(self.manifest["history_length"])

    @property
    def new_user_path(self) -> str:
        """How users the model never saw are served from demographics alone: "demographics"
        (the user tower) or "popularity", as the training validation chose."""
        return str(self.manifest["model"]["new_user_path"])

    @cached_property
    def catalogue_record(self) -> dict[str, Any]:
        """The manifest's ``catalogue`` (empty for schema-3 bundles: integer ids, timed)."""
        return dict(self.manifest.get("catalogue") or {})

    @cached_property
    def string_ids(self) -> bool:
        """The catalogue's ids are strings (the generic layout; ids.json), not integers."""
        return self.catalogue_record.get("ids") == "string"

    @cached_property
    def timed(self) -> bool:
        """Trained on data with timestamps: the context inputs (daytime, weekend) mean
        something; without, every request takes the context all training rows had."""
        return bool(self.catalogue_record.get("timed", True))

    def check_ids(self, ids: Sequence[int | str], field: str) -> None:
        """InvalidRequest where a catalogue of integer ids is given a string id (a catalogue
        of string ids takes a number as its decimal text)."""
        if self.string_ids:
            return
        for value in ids:
            if isinstance(value, str):
                raise InvalidRequest(f"`{field}`: {value!r} is not an id of this catalogue "
                                     "(its ids are integers)")

    def check_ratings(self, ratings: Sequence[float], field: str) -> None:
        """InvalidRequest naming the first rating off the catalogue's scale: half stars from
        0.5 to 5 for MovieLens bundles (integer ids), the manifest's rating_scale for other
        explicit catalogues, 0 to 100 for implicit ones."""
        catalogue = self.catalogue_record
        if not self.string_ids:
            low, high, step, scale = 0.5, 5.0, 0.5, "0.5 to 5 in half stars"
        elif catalogue.get("feedback") == "implicit":
            low, high, step, scale = 0.0, 100.0, 0.0, "0 to 100 (1 or more is a like)"
        else:
            low, high = (float(x) for x in catalogue.get("rating_scale", (-100.0, 100.0)))
            step, scale = 0.0, f"{low:g} to {high:g}"
        for position, rating in enumerate(ratings):
            if not low <= rating <= high or (step and (rating / step) % 1):
                raise InvalidRequest(f"`{field}[{position}].rating`: {rating:g} is not on this "
                                     f"catalogue's scale ({scale})")

    def feature_codes(self, features: Mapping[str, str | float | None], field: str
                      ) -> dict[str, int]:
        """Each slot's code (by slot key) of a visitor's ``features`` (by feature name: age,
        gender, occupation on MovieLens; users.csv's columns on a generic catalogue);
        InvalidRequest naming ``field``'s entry that is not a feature of this bundle or not a
        number where the feature is numeric. Features not given are unknown (0)."""
        by_name = {slot.name: slot for slot in self.slots}
        unknown = sorted(set(features) - set(by_name))
        if unknown:
            known = ", ".join(by_name) or "none"
            raise InvalidRequest(f"`{field}.{unknown[0]}`: not a user feature of this "
                                 f"catalogue (it has: {known})")
        codes = {}
        for slot in self.slots:
            try:
                codes[slot.key] = slot.code(features.get(slot.name))
            except (TypeError, ValueError):
                raise InvalidRequest(f"`{field}.{slot.name}`: {features[slot.name]!r} is not a "
                                     "finite number (this feature is numeric)") from None
        return codes

    @property
    def like_threshold(self) -> float:
        """Ratings at or above it are likes (the training data's threshold)."""
        return float(self.manifest["dataset"]["like_threshold"])

    def seen(self, user: int) -> np.ndarray:
        indptr = self.arrays["seen_indptr"]
        return self.arrays["seen_indices"][indptr[user]:indptr[user + 1]]
