"""Hostile data files in every supported layout: each one stops training with one line that
names the file (and the line and field where there is one) before anything is written, or is
a documented, counted repair. ``models/current`` is never touched."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.movielens_files import WRITERS
from training.commands.cli import main
from training.data.dataset import load_dataset

# layout -> (ratings file, separator, movies file, encoding of the movies file)
FILES = {
    "ml-100k": ("u.data", "\t", "u.item", "latin-1"),
    "ml-1m": ("ratings.dat", "::", "movies.dat", "latin-1"),
    "ml-10m": ("ratings.dat", "::", "movies.dat", "utf-8"),
    "movielens-csv": ("ratings.csv", ",", "movies.csv", "utf-8"),
}


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def _line(layout: str, *fields: object) -> bytes:
    return (FILES[layout][1].join(str(f) for f in fields) + "\n").encode()


def _count_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines())


Mutation = Callable[[Path, str], None]


def truncated(root: Path, layout: str) -> None:
    path = root / FILES[layout][0]
    _append(path, _line(layout, 3, 1)[:-1])  # the last line cut off mid-record, no newline


def wrong_separator(root: Path, layout: str) -> None:
    path = root / FILES[layout][0]
    path.write_bytes(path.read_bytes().replace(FILES[layout][1].encode(), b";"))


def bad_encoding(root: Path, layout: str) -> None:
    _append(root / FILES[layout][0], b"3\xff\xfe" + _line(layout, "", 1, 4, 978300000)[0:])


def nan_rating(root: Path, layout: str) -> None:
    _append(root / FILES[layout][0], _line(layout, 3, 1, "nan", 978300000))


def negative_id(root: Path, layout: str) -> None:
    _append(root / FILES[layout][0], _line(layout, -4, 1, 4, 978300000))


def huge_id(root: Path, layout: str) -> None:
    _append(root / FILES[layout][0], _line(layout, 3, 99_999_999_999, 4, 978300000))


def huge_rating(root: Path, layout: str) -> None:
    _append(root / FILES[layout][0], _line(layout, 3, 1, "1e300", 978300000))


def empty_ratings(root: Path, layout: str) -> None:
    (root / FILES[layout][0]).write_bytes(b"")


def missing_movies_file(root: Path, layout: str) -> None:
    (root / FILES[layout][2]).unlink()


def garbage_movies_file(root: Path, layout: str) -> None:
    (root / FILES[layout][2]).write_bytes(b"\x00\x01\x02 not a movies file \xff\n")


# name -> (mutation, the text the one-line error must hold beyond the file name,
#          whether the error names a line)
ERRORS: dict[str, tuple[Mutation, str, bool]] = {
    "truncated line": (truncated, "fields", True),
    "wrong separator": (wrong_separator, "separator", True),
    "bad encoding": (bad_encoding, "", True),
    "NaN rating": (nan_rating, "rating", True),
    "negative id": (negative_id, "must be an id", True),
    "huge id": (huge_id, "must be an id", True),
    "huge rating": (huge_rating, "a number too large to represent must be a rating", True),
    "empty ratings file": (empty_ratings, "empty", False),
    "missing movies file": (missing_movies_file, "missing: ", False),
    "garbage movies file": (garbage_movies_file, "", False),
}

CASES = [(layout, kind) for layout in sorted(WRITERS) for kind in sorted(ERRORS)]


@pytest.mark.parametrize(("layout", "kind"), CASES)
def test_hostile_file_stops_training_and_keeps_current(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str, kind: str) -> None:
    mutate, text, names_line = ERRORS[kind]
    root = WRITERS[layout](tmp_path / "release")
    mutate(root, layout)
    models = tmp_path / "models"
    (models / "v1").mkdir(parents=True)
    (models / "current").symlink_to("v1")

    assert main(["-q", "train", "--data", str(root), "--out", str(models)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1, error
    message = error[0]
    named = FILES[layout][2] if "movies" in kind else FILES[layout][0]
    assert str(root / named) in message, message
    assert text in message, message
    if names_line:
        assert ", line " in message, message
    assert os.readlink(models / "current") == "v1"
    assert sorted(p.name for p in models.iterdir()) == ["current", "v1"]


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_counted_repairs(tmp_path: Path, layout: str) -> None:
    """Duplicate rows keep the latest, ratings of movies missing from the movies file are
    dropped; both are counted in the dataset's repairs (shown by `train` and `inspect`)."""
    root = WRITERS[layout](tmp_path / "release")
    path = root / FILES[layout][0]
    rows = path.read_bytes().splitlines(keepends=True)
    _append(path, rows[-1] + _line(layout, 3, 77, 4, 978300000))  # duplicate + unknown movie
    dataset = load_dataset(root, progress=False)
    assert len(dataset.ratings) == 6
    assert "2 duplicate (user, movie) ratings: kept the latest" in dataset.repairs
    assert any("1 ratings of 1 movies missing from" in r for r in dataset.repairs), \
        dataset.repairs


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_optional_files_may_be_missing(tmp_path: Path, layout: str) -> None:
    root = WRITERS[layout](tmp_path / "release")
    ratings, _, movies, _ = FILES[layout]
    for path in root.iterdir():
        if path.name not in (ratings, movies):
            path.unlink()
    dataset = load_dataset(root, progress=False)
    assert len(dataset.ratings) == 6 and len(dataset.movies) == 3
