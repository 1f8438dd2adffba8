"""One typed dataset object for every MovieLens release, whatever its on-disk layout."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.data import generic, readers
from training.data.features import DEFAULT_LIKE_THRESHOLD
from training.data.generic import IdKeys
from training.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layout:
    """How one family of releases lays its files out."""

    name: str
    ratings: str
    movies: str
    ratings_format: str  # readers.read_ratings layout
    scale: tuple[float, float]
    optional: tuple[str, ...] = ()


# Detection order matters: ml-1m and ml-10m share ratings.dat/movies.dat; users.dat tells them
# apart (ml-10m has tags.dat and half-star ratings instead).
LAYOUTS = (
    Layout("ml-100k", "u.data", "u.item", "tab", (1.0, 5.0), ("u.user",)),
    Layout("ml-1m", "ratings.dat", "movies.dat", "colons", (1.0, 5.0), ("users.dat",)),
    Layout("ml-10m", "ratings.dat", "movies.dat", "colons", (0.5, 5.0), ("tags.dat",)),
    Layout("movielens-csv", "ratings.csv", "movies.csv", "csv", (0.5, 5.0),
           ("tags.csv", "links.csv")),
)


@dataclass(frozen=True)
class Reading:
    """How a dataset's interactions are read."""

    #: "explicit" (ratings) or "implicit" (weights: every interaction above 0 is a like)
    feedback: str = "explicit"
    #: False where the data has no timestamps (pseudo-times, no context features)
    timed: bool = True
    #: a rating at or above this is a like
    like_threshold: float = DEFAULT_LIKE_THRESHOLD


@dataclass
class MovieLensDataset:
    """Ratings, movies and the optional tags, links and user demographics of one release.

    ``ratings``: user_id int32, movie_id int32, rating float32, timestamp int64 (Unix seconds).
    ``movies``: movie_id int32, title, year Int16 (missing when the title has none), genres
    (tuple of str). ``tags``: user_id, movie_id, tag, timestamp. ``links``: movie_id, imdb_id,
    tmdb_id. ``users``: user_id, age, age_group, gender, occupation — only where the release
    has them (ml-100k, ml-1m); never fabricated. A generic catalogue's ``users``: user_id
    and users.csv's features as categoricals (numeric ones binned: categories of intervals).

    A generic catalogue (training.data.generic) fills the same frames with dense codes for
    its string ids (``keys``), ``rating`` 1/0 and a ``weight`` column for implicit feedback,
    and, without timestamps, a seeded random order per user as pseudo-times (``timed``).
    """

    name: str
    path: Path
    layout: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    rating_scale: tuple[float, float]
    tags: pd.DataFrame | None = None
    links: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    files: dict[str, bool] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    reading: Reading = field(default_factory=lambda: Reading())
    #: the catalogue's own ids where they are strings (the generic layout); None: the ints
    keys: IdKeys | None = None

    @property
    def feedback(self) -> str:
        return self.reading.feedback

    @property
    def generic_users(self) -> bool:
        """``users`` holds a generic catalogue's users.csv (every column but user_id a
        feature), not the MovieLens demographics."""
        return self.layout == GENERIC

    @property
    def timed(self) -> bool:
        return self.reading.timed

    @property
    def like_threshold(self) -> float:
        return self.reading.like_threshold

    @property
    def movies_file(self) -> str:
        if self.layout == GENERIC:
            return generic.ITEMS
        return next(layout.movies for layout in LAYOUTS if layout.name == self.layout)

    @property
    def split_kind(self) -> str:
        """How "each user's last ratings" are chosen: by time, or at random without it."""
        return "time" if self.timed else "seeded random per user (no timestamps)"

    def fingerprint(self) -> str:
        """sha256 over the files that were read, in a fixed order: names a dataset version."""
        digest = hashlib.sha256()
        for name in sorted(n for n, found in self.files.items() if found):
            digest.update(name.encode())
            with open(self.path / name, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):  # noqa: B023
                    digest.update(block)
        return digest.hexdigest()


GENERIC = "generic"
GENERIC_LAYOUT = Layout(GENERIC, generic.INTERACTIONS, generic.ITEMS, GENERIC, (0.0, 0.0),
                        (generic.ITEMS, generic.USERS))


def detect_layout(directory: Path) -> tuple[Layout, Path]:
    """Find the release layout in ``directory`` or in its single release subfolder: the
    generic layout where there is an ``interactions.csv``, else a MovieLens one."""
    if not directory.exists():
        raise DataError(directory, "no such directory")
    if not directory.is_dir():
        raise DataError(directory, "not a directory")
    candidates = [directory] + sorted(p for p in directory.iterdir() if p.is_dir())
    for folder in candidates:
        if (folder / generic.INTERACTIONS).is_file():
            return GENERIC_LAYOUT, folder
    for folder in candidates:
        for layout in LAYOUTS:
            if (folder / layout.ratings).is_file() and (folder / layout.movies).is_file():
                if layout.name == "ml-1m" and not _looks_like_ml1m(folder):
                    continue
                return layout, folder
    for folder in candidates:
        for layout in LAYOUTS:
            if (folder / layout.ratings).is_file():
                raise DataError(folder / layout.movies,
                                f"missing: {layout.ratings} needs it for titles and genres")
    raise DataError(
        directory,
        "no data found: expected interactions.csv (the generic layout, docs/data-format.md), "
        "or a MovieLens release: ratings.csv + movies.csv, ratings.dat + movies.dat, or "
        "u.data + u.item",
    )


def _looks_like_ml1m(folder: Path) -> bool:
    """ml-1m has users.dat, ml-10m tags.dat; with neither, ml-1m's movies.dat is latin-1."""
    if (folder / "users.dat").is_file() or (folder / "tags.dat").is_file():
        return (folder / "users.dat").is_file()
    try:
        (folder / "movies.dat").read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def load_dataset(directory: str | Path, *, progress: bool = True,
                 like_threshold: float | None = None) -> MovieLensDataset:
    """Read a release directory; raises :class:`DataError` on any malformed file.
    ``like_threshold``: the lowest rating that is a like (default: 4 on MovieLens, see
    training.data.generic for the generic layout)."""
    layout, folder = detect_layout(Path(directory))
    if layout.name == GENERIC:
        return _load_generic(folder, progress, like_threshold)
    ratings = readers.read_ratings(
        folder / layout.ratings, layout=layout.ratings_format, scale=layout.scale,
        progress=progress,
    )
    files = {layout.ratings: True, layout.movies: True}
    for name in layout.optional:
        files[name] = (folder / name).is_file()

    tags = links = users = None
    if layout.name == "ml-100k":
        movies = readers.read_movies_item(folder / "u.item")
        if files["u.user"]:
            users = readers.read_users_100k(folder / "u.user")
    elif layout.name in ("ml-1m", "ml-10m"):
        movies = readers.read_movies_dat(
            folder / "movies.dat", "latin-1" if layout.name == "ml-1m" else "utf-8"
        )
        if files.get("users.dat"):
            users = readers.read_users_dat(folder / "users.dat")
        if files.get("tags.dat"):
            tags = readers.read_tags_dat(folder / "tags.dat")
    else:
        movies = readers.read_movies_csv(folder / "movies.csv")
        if files["tags.csv"]:
            tags = readers.read_tags_csv(folder / "tags.csv")
        if files["links.csv"]:
            links = readers.read_links_csv(folder / "links.csv")

    name = folder.name if folder.name.lower().startswith("ml-") else layout.name
    dataset = MovieLensDataset(
        name=name, path=folder, layout=layout.name, ratings=ratings, movies=movies,
        rating_scale=layout.scale, tags=tags, links=links, users=users, files=files,
        reading=Reading(like_threshold=DEFAULT_LIKE_THRESHOLD if like_threshold is None
                        else like_threshold),
    )
    _repair(dataset)
    return dataset


def _load_generic(folder: Path, progress: bool, like_threshold: float | None
                  ) -> MovieLensDataset:
    read = generic.read_generic(folder, like_threshold=like_threshold, progress=progress)
    dataset = MovieLensDataset(
        name=folder.name, path=folder, layout=GENERIC, ratings=read.ratings, movies=read.movies,
        rating_scale=read.rating_scale, tags=read.tags, users=read.users, files=read.files,
        repairs=read.repairs, keys=read.keys,
        reading=Reading(read.feedback, read.timed, read.like_threshold))
    _repair(dataset)
    return dataset


def _repair(dataset: MovieLensDataset) -> None:
    """Counted, logged repairs: duplicate ratings keep the latest; unknown movies are dropped."""
    ratings = dataset.ratings
    key = ratings["user_id"].to_numpy(np.int64) << 32 | ratings["movie_id"].to_numpy(np.int64)
    sorted_key = np.sort(key)
    has_duplicates = bool((sorted_key[1:] == sorted_key[:-1]).any())
    del sorted_key
    if has_duplicates:
        order = np.lexsort((ratings["timestamp"].to_numpy(), key))
        ordered_key = key[order]
        keep = np.empty(len(key), dtype=bool)
        keep[order] = np.r_[ordered_key[1:] != ordered_key[:-1], True]  # last = latest
        del order, ordered_key
        ratings = ratings[keep].reset_index(drop=True)
        dropped = int((~keep).sum())
        _note(dataset, f"{dropped:,} duplicate (user, movie) ratings: kept the latest")
    del key

    known = np.isin(ratings["movie_id"].to_numpy(), dataset.movies["movie_id"].to_numpy())
    if not known.all():
        missing = ratings.loc[~known, "movie_id"]
        _note(dataset, f"{int((~known).sum()):,} ratings of {missing.nunique():,} movies missing "
                       f"from {dataset.movies_file}: dropped")
        ratings = ratings[known].reset_index(drop=True)

    if dataset.tags is not None:
        tags = dataset.tags
        tag_known = np.isin(tags["movie_id"].to_numpy(), dataset.movies["movie_id"].to_numpy())
        empty = tags["tag"].str.len().to_numpy() == 0
        drop = ~tag_known | empty
        if drop.any():
            _note(dataset, f"{int(drop.sum()):,} tags that are empty or name unknown movies: "
                           "dropped")
            dataset.tags = tags[~drop].reset_index(drop=True)
    dataset.ratings = ratings


def _note(dataset: MovieLensDataset, message: str) -> None:
    log.warning("%s: %s", dataset.path, message)
    dataset.repairs.append(message)
