"""The synthetic release generator: the loaders read what it writes, and its data has the real
releases' shape (at least 20 ratings per user, long-tailed users and movies, half stars,
a tagging minority, learnable genre taste)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.commands.cli import main
from training.data.dataset import load_dataset
from training.data.synthetic import SyntheticShape, generate, write_release
from training.errors import TrainingError

SHAPE = SyntheticShape(users=400, movies=3000, ratings=40_000)


def gini(counts: np.ndarray) -> float:
    x = np.sort(counts).astype(np.float64)
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_release(tmp_path_factory.mktemp("synthetic"), SHAPE, seed=1)


def test_the_loader_reads_the_release_with_the_asked_sizes(release: Path) -> None:
    dataset = load_dataset(release, progress=False)
    assert dataset.layout == "movielens-csv"  # the layout of ml-latest, ml-20m, ml-25m
    assert dataset.ratings["user_id"].nunique() == SHAPE.users
    assert len(dataset.movies) == SHAPE.movies
    assert 0.95 * SHAPE.ratings <= len(dataset.ratings) <= SHAPE.ratings
    assert not dataset.ratings.duplicated(["user_id", "movie_id"]).any()
    assert dataset.tags is not None and len(dataset.tags) > 0
    assert dataset.repairs == []


def test_users_and_movies_have_long_tails(release: Path) -> None:
    ratings = load_dataset(release, progress=False).ratings
    per_user = ratings.groupby("user_id").size().to_numpy()
    per_movie = ratings.groupby("movie_id").size().to_numpy()
    assert per_user.min() >= 20  # as every MovieLens release
    assert per_user.max() > 10 * np.median(per_user) / 2  # a heavy tail of active users
    assert 0.45 < gini(per_user) < 0.8  # ml-latest-small: 0.60
    assert 0.5 < gini(per_movie) < 0.85  # ml-latest-small: 0.72
    assert (per_movie <= 2).mean() > 0.1  # many movies with one or two ratings
    top = np.sort(per_movie)[::-1]
    assert top[: len(top) // 100].sum() / top.sum() > 0.1  # the top 1% hold a large share


def test_ratings_are_half_stars_and_about_half_are_likes(release: Path) -> None:
    ratings = load_dataset(release, progress=False).ratings["rating"].to_numpy()
    assert set(np.unique(ratings * 2).astype(int)) <= set(range(1, 11))
    assert 0.35 < (ratings >= 4).mean() < 0.6  # ml-latest-small: 0.48


def test_tastes_are_learnable() -> None:
    """A user's favourite genre shows in their ratings: the genre a user rates most is rated
    higher by them than the same genre by the other users."""
    tables = generate(SyntheticShape(users=300, movies=2000, ratings=30_000), seed=2)
    ratings = tables["ratings"].merge(tables["movies"], on="movieId")
    ratings["genre"] = ratings["genres"].str.split("|").str[0]
    counts = ratings.groupby(["userId", "genre"]).size()
    favourite = counts.groupby(level=0).idxmax().map(lambda key: key[1])
    is_favourite = ratings["genre"].to_numpy() == favourite.reindex(ratings["userId"]).to_numpy()
    mean_favourite = ratings.loc[is_favourite, "rating"].mean()
    mean_other = ratings.loc[~is_favourite, "rating"].mean()
    assert mean_favourite > mean_other + 0.2


def test_the_same_seed_gives_the_same_release() -> None:
    shape = SyntheticShape(users=50, movies=400, ratings=3000)
    first, second = generate(shape, seed=5), generate(shape, seed=5)
    for name in first:
        assert first[name].equals(second[name]), name
    assert not generate(shape, seed=6)["ratings"].equals(first["ratings"])


def test_impossible_shapes_are_refused_with_the_reason() -> None:
    with pytest.raises(TrainingError, match="too few for 100 users"):
        generate(SyntheticShape(users=100, movies=500, ratings=1000))
    with pytest.raises(TrainingError, match="more than a quarter"):
        generate(SyntheticShape(users=100, movies=100, ratings=5000))


def test_the_cli_writes_a_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "release"
    assert main(["-q", "synthesize", "--out", str(out), "--users", "30", "--movies", "300",
                 "--ratings", "1200"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["links.csv", "movies.csv", "ratings.csv",
                                                     "tags.csv"]
    assert "error" in _refusal(tmp_path)


def _refusal(tmp_path: Path) -> str:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["-q", "synthesize", "--out", str(tmp_path / "x"), "--users", "10",
                     "--movies", "100", "--ratings", "50"]) == 2
    return err.getvalue()


def test_the_implicit_catalogue_is_play_counts_in_the_generic_layout(tmp_path: Path) -> None:
    """`synthesize --implicit`: string ids, counts without timestamps, more plays where the
    rating would have been higher."""
    assert main(["-q", "synthesize", "--implicit", "--users", "300", "--movies", "800",
                 "--ratings", "12000", "--out", str(tmp_path / "plays")]) == 0
    dataset = load_dataset(tmp_path / "plays", progress=False)
    assert dataset.layout == "generic" and dataset.feedback == "implicit"
    assert not dataset.timed and dataset.keys is not None
    assert all(key.startswith("listener-") for key in dataset.keys.users)
    assert sorted(dataset.movies["title"])[0].startswith("Artist ")
    weights = dataset.ratings["weight"].to_numpy()
    assert weights.min() >= 1 and np.median(weights) < np.percentile(weights, 99) / 5  # a tail
    stars = generate(SyntheticShape(300, 800, 12000), 0)["ratings"]
    assert len(stars) == len(dataset.ratings)
