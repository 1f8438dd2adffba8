"""A synthetic MovieLens release of any size, in ml-latest's layout, for scale work.

There is no internet here to fetch ml-25m, and the large-scale paths (training time, memory,
serving a big catalogue) must still be measured on data of the real releases' *shape*. The
generator reproduces the long tails that make those paths hard, calibrated on
ml-latest-small: users have at least 20 ratings, then a log-normal tail (σ 1.6; Gini ≈ 0.6);
movies follow a Zipf-like rank–frequency curve (Gini ≈ 0.65, a fifth to a third of them
with 1–2 ratings); ratings are half stars, about half of them at 4 or more; a tenth of the
users tag. It also gives the data a learnable structure: each user has two favourite genres and
draws most movies from them, and a movie's rating rises with the user's taste for its genre
and with the movie's own quality. Vectorised numpy throughout; ml-25m's shape (162,541
users, 62,423 movies, 25M ratings) takes a few minutes, most of it writing the CSV.

    python -m training synthesize --out .bench/synthetic-60k --users 30000 --movies 60000 \\
        --ratings 1300000

``--implicit`` writes the same draws in the generic layout (docs/data-format.md) as a catalogue
of play counts without timestamps, the shape of a listening log (hetrec Last.fm: 1,892 users,
17,632 artists, 92,834 user–artist pairs): ``interactions.csv`` (user_id,item_id,weight),
``items.csv`` (item_id,title), string ids; a pair's count grows with what its rating would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from training.errors import TrainingError

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
# how often each genre is a movie's first genre (ml-latest-small's genre frequencies, rounded)
GENRE_WEIGHTS = np.array([18, 13, 6, 7, 39, 13, 4, 44, 8, 1, 10, 2, 3, 6, 17, 10, 20, 4, 2],
                         dtype=np.float64)
MIN_USER_RATINGS = 20  # every MovieLens release keeps users with at least 20 ratings
USER_ACTIVITY_SIGMA = 1.6  # log-normal σ of ratings per user above the minimum
MOVIE_POPULARITY_EXPONENT = 1.05  # rank–frequency slope of ratings per movie
FAVOURITE_SHARE, SECOND_SHARE = 0.45, 0.2  # a user's draws from their first and second genre
TAGGER_SHARE, TAGS_PER_RATING = 0.1, 0.036  # users who tag; tags per rating overall
FIRST_TIME, LAST_TIME = 946_684_800, 1_700_000_000  # 2000-01-01 .. 2023-11-14

#: named shapes: (users, movies, ratings)
SHAPES = {
    "ml-latest-small": (610, 9_742, 100_836),
    "scale-60k": (30_000, 60_000, 1_300_000),
    "ml-25m": (162_541, 62_423, 25_000_095),
    "lastfm": (1_892, 17_632, 92_834),
}
#: plays of a pair: log-normal around exp(PLAYS_SLOPE × (stars − 2.5)), σ PLAYS_SIGMA
PLAYS_SLOPE, PLAYS_SIGMA = 1.2, 1.0


@dataclass(frozen=True)
class SyntheticShape:
    users: int  # users, each with at least 20 ratings
    movies: int  # movies in movies.csv (some end up without ratings, as in the releases)
    ratings: int  # ratings to aim for (duplicates of a user and movie are dropped)

    def check(self) -> None:
        if self.users < 1 or self.movies < 50:
            raise TrainingError("a synthetic release needs at least 1 user and 50 movies")
        if self.ratings < self.users * MIN_USER_RATINGS:
            raise TrainingError(f"{self.ratings} ratings are too few for {self.users} users "
                                f"with at least {MIN_USER_RATINGS} each")
        if self.ratings > self.users * self.movies // 4:
            raise TrainingError(f"{self.ratings} ratings would fill more than a quarter of the "
                                f"{self.users} × {self.movies} matrix")


def user_activity(rng: np.random.Generator, shape: SyntheticShape) -> np.ndarray:
    """Ratings per user: 20 + a log-normal tail, scaled to the total, capped at a quarter of
    the catalogue."""
    tail = rng.lognormal(0.0, USER_ACTIVITY_SIGMA, shape.users)
    budget = shape.ratings - MIN_USER_RATINGS * shape.users
    cap = max(0, shape.movies // 4 - MIN_USER_RATINGS)
    extra = np.zeros_like(tail)
    for _ in range(20):  # what the cap cuts off the heaviest users goes to the others
        capped = extra >= cap
        extra = np.where(capped, cap, tail * (budget - cap * capped.sum())
                         / max(tail[~capped].sum(), 1e-12))
        if (extra <= cap).all():
            break
    return MIN_USER_RATINGS + np.floor(np.minimum(extra, cap)).astype(np.int64)


def movie_table(rng: np.random.Generator, n_movies: int) -> pd.DataFrame:
    """Sparse ids, a first genre, up to three more, a year, a popularity weight, a quality."""
    ids = np.cumsum(1 + rng.geometric(0.6, n_movies) - 1).astype(np.int64)
    first = rng.choice(len(GENRES), n_movies, p=GENRE_WEIGHTS / GENRE_WEIGHTS.sum())
    more = rng.integers(0, len(GENRES), (n_movies, 3))
    extra = rng.random((n_movies, 3)) < np.array([0.55, 0.3, 0.12])
    names = np.array(GENRES, dtype=object)
    genres = [
        "|".join(dict.fromkeys([names[f], *names[m[e]]]))
        for f, m, e in zip(first, more, extra, strict=True)
    ]
    years = np.clip(np.round(2023 - rng.gamma(2.0, 11.0, n_movies)), 1902, 2023).astype(int)
    rank = rng.permutation(n_movies) + 1
    return pd.DataFrame({
        "movieId": ids, "genre": first, "genres": genres, "year": years,
        "weight": rank.astype(np.float64) ** -MOVIE_POPULARITY_EXPONENT,
        "quality": rng.normal(0.0, 0.5, n_movies),
    })


def _draw_movies(rng: np.random.Generator, movies: pd.DataFrame, genre_of_draw: np.ndarray
                 ) -> np.ndarray:
    """One movie row per draw: popularity-weighted within ``genre_of_draw`` (−1: any genre)."""
    weight = movies["weight"].to_numpy()
    genre = movies["genre"].to_numpy()
    out = np.empty(len(genre_of_draw), np.int64)
    for g in range(-1, len(GENRES)):
        rows = np.flatnonzero(genre == g) if g >= 0 else np.arange(len(movies))
        draws = np.flatnonzero(genre_of_draw == g)
        if len(draws) == 0:
            continue
        if len(rows) == 0:  # a genre no movie has first: draw from all
            rows = np.arange(len(movies))
        cumulative = np.cumsum(weight[rows])
        picks = np.searchsorted(cumulative, rng.random(len(draws)) * cumulative[-1])
        out[draws] = rows[np.minimum(picks, len(rows) - 1)]
    return out


def _draw_pairs(rng: np.random.Generator, movies: pd.DataFrame, counts: np.ndarray,
                favourite: np.ndarray, progress: bool) -> pd.DataFrame:
    """(user, movie row) pairs, ``counts[user]`` distinct movies per user where the catalogue
    allows: draws in rounds, each round redrawing what repeats cost the users still short
    (later rounds lean on the whole catalogue, as a narrow genre runs out of movies)."""
    have = np.zeros(len(counts), np.int64)
    parts: list[pd.DataFrame] = []
    bar = tqdm(total=int(counts.sum()), desc="synthesize", disable=not progress, leave=False)
    for attempt in range(6):
        short = np.flatnonzero(have < counts)
        if len(short) == 0:
            break
        wanted = np.ceil((counts[short] - have[short]) * 1.3).astype(np.int64)
        users = np.repeat(short, wanted)
        source = rng.random(len(users)) * (1.0 if attempt == 0 else 2.0 ** attempt)
        genre_of_draw = np.where(source < FAVOURITE_SHARE, favourite[users, 0],
                                 np.where(source < FAVOURITE_SHARE + SECOND_SHARE,
                                          favourite[users, 1], -1))
        parts.append(pd.DataFrame({"user": users, "row": _draw_movies(rng, movies,
                                                                       genre_of_draw)}))
        pairs = pd.concat(parts, ignore_index=True).drop_duplicates()
        pairs = pairs[pairs.groupby("user").cumcount().to_numpy()
                      < counts[pairs["user"].to_numpy()]]
        parts = [pairs]
        before = int(have.sum())
        have = np.bincount(pairs["user"].to_numpy(), minlength=len(counts))
        bar.update(int(have.sum()) - before)
    bar.close()
    return parts[0]


def generate(shape: SyntheticShape, seed: int = 0, *, progress: bool = False
             ) -> dict[str, pd.DataFrame]:
    """The release's tables: ratings, movies, tags, links (ml-latest's columns)."""
    shape.check()
    rng = np.random.default_rng(seed)
    movies = movie_table(rng, shape.movies)
    counts = user_activity(rng, shape)
    favourite = rng.choice(len(GENRES), (shape.users, 2), p=GENRE_WEIGHTS / GENRE_WEIGHTS.sum())
    user_bias = rng.normal(0.0, 0.4, shape.users)
    start = rng.uniform(FIRST_TIME, LAST_TIME - 86_400, shape.users)
    span = np.minimum(rng.lognormal(17.0, 2.0, shape.users), LAST_TIME - start)
    pairs = _draw_pairs(rng, movies, counts, favourite, progress)
    users, rows = pairs["user"].to_numpy(), pairs["row"].to_numpy()
    genre = movies["genre"].to_numpy()[rows]
    taste = (0.5 * (genre == favourite[users, 0]) + 0.25 * (genre == favourite[users, 1]))
    stars = (3.2 + user_bias[users] + movies["quality"].to_numpy()[rows] + taste
             + 0.08 * np.log(movies["weight"].to_numpy()[rows] * shape.movies)
             + rng.normal(0.0, 0.8, len(rows)))
    times = (start[users] + rng.random(len(rows)) * span[users]).astype(np.int64)
    ratings = pd.DataFrame({
        "userId": (users + 1).astype(np.int32),
        "movieId": movies["movieId"].to_numpy()[rows].astype(np.int32),
        "rating": np.clip(np.round(stars * 2) / 2, 0.5, 5.0),
        "timestamp": times,
    }).sort_values(["userId", "timestamp"], kind="stable", ignore_index=True)
    return {"ratings": ratings, "movies": _movies_csv(movies), "tags": _tags(rng, ratings,
                                                                          movies),
            "links": _links(movies)}


def _movies_csv(movies: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "movieId": movies["movieId"],
        "title": [f"Synthetic Movie {i} ({y})" for i, y in zip(movies["movieId"], movies["year"],
                                                                strict=True)],
        "genres": movies["genres"],
    })


def _tags(rng: np.random.Generator, ratings: pd.DataFrame, movies: pd.DataFrame
          ) -> pd.DataFrame:
    """A tagging minority of users tags some of the movies they rated, with words of the
    movie's first genre (so that tags carry content signal) or generic ones."""
    users = ratings["userId"].to_numpy()
    taggers = rng.random(int(users.max()) + 1) < TAGGER_SHARE
    eligible = np.flatnonzero(taggers[users])
    n_tags = min(len(eligible), int(round(TAGS_PER_RATING * len(ratings))))
    chosen = np.sort(rng.choice(eligible, n_tags, replace=False)) if n_tags else eligible[:0]
    genre_by_id = pd.Series(movies["genre"].to_numpy(), index=movies["movieId"].to_numpy())
    genre = genre_by_id.reindex(ratings["movieId"].to_numpy()[chosen]).to_numpy()
    word = rng.integers(0, 12, n_tags)
    generic = rng.random(n_tags) < 0.2
    names = np.array([g.lower() for g in GENRES], dtype=object)
    tag = np.where(generic, "watched twice " + word.astype(str),
                   names[genre] + " theme " + word.astype(str))
    return pd.DataFrame({"userId": users[chosen], "movieId": ratings["movieId"].to_numpy()[chosen],
                         "tag": tag, "timestamp": ratings["timestamp"].to_numpy()[chosen] + 60})


def _links(movies: pd.DataFrame) -> pd.DataFrame:
    ids = movies["movieId"].to_numpy()
    return pd.DataFrame({"movieId": ids, "imdbId": [f"{100000 + i:07d}" for i in ids],
                         "tmdbId": ids + 1000})


def write_release(out: Path, shape: SyntheticShape, seed: int = 0, *,
                  progress: bool = False) -> Path:
    """Generate and write ratings.csv, movies.csv, tags.csv and links.csv into ``out``
    (each file written beside its final name, then renamed into place)."""
    tables = generate(shape, seed, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        path = out / f"{name}.csv"
        partial = path.with_name(path.name + ".partial")
        frame.to_csv(partial, index=False, float_format="%.1f" if name == "ratings" else None,
                     chunksize=1_000_000)
        partial.replace(path)
    return out


def write_implicit(out: Path, shape: SyntheticShape, seed: int = 0, *,
                   progress: bool = False) -> Path:
    """The draws of ``generate`` as play counts in the generic layout, without timestamps:
    ``interactions.csv`` (user_id,item_id,weight) and ``items.csv`` (item_id,title)."""
    tables = generate(shape, seed, progress=progress)
    ratings = tables["ratings"]
    rng = np.random.default_rng(seed + 1)
    stars = ratings["rating"].to_numpy(np.float64)
    plays = np.maximum(1, np.round(np.exp(PLAYS_SLOPE * (stars - 2.5)
                                          + rng.normal(0.0, PLAYS_SIGMA, len(stars)))))
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        "interactions": pd.DataFrame({
            "user_id": "listener-" + ratings["userId"].astype(str),
            "item_id": "artist-" + ratings["movieId"].astype(str),
            "weight": plays.astype(np.int64)}).sample(frac=1.0, random_state=seed),
        "items": pd.DataFrame({"item_id": "artist-" + tables["movies"]["movieId"].astype(str),
                               "title": "Artist " + tables["movies"]["movieId"].astype(str)}),
    }
    for name, frame in frames.items():
        path = out / f"{name}.csv"
        partial = path.with_name(path.name + ".partial")
        frame.to_csv(partial, index=False)
        partial.replace(path)
    return out
