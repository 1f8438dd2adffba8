"""Reading every MovieLens layout, and the errors malformed files give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.movielens_files import WRITERS, write_csv_release, write_ml1m, write_ml100k
from tests.paths import BUNDLED
from training.data.dataset import detect_layout, load_dataset
from training.errors import DataError


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_every_layout_reads_back(tmp_path: Path, layout: str) -> None:
    root = WRITERS[layout](tmp_path / "release")
    dataset = load_dataset(root, progress=False)
    assert dataset.layout == layout
    # 7 rows, one (user 2, movie 3) duplicate: the latest (timestamp 978299999) is kept
    assert len(dataset.ratings) == 6
    assert dataset.repairs == ["1 duplicate (user, movie) ratings: kept the latest"]
    kept = dataset.ratings[(dataset.ratings.user_id == 2) & (dataset.ratings.movie_id == 3)]
    assert kept.timestamp.tolist() == [978299999]
    assert dict(dataset.ratings.dtypes.astype(str)) == {
        "user_id": "int32", "movie_id": "int32", "rating": "float32", "timestamp": "int64"}
    assert dataset.movies.movie_id.tolist() == [1, 2, 3]
    assert dataset.movies.year.tolist() == [1995, 1995, 1995]
    assert "Children" in dataset.movies.genres[1]  # "Children's" of the older releases unified


def test_ml100k_details(tmp_path: Path) -> None:
    dataset = load_dataset(write_ml100k(tmp_path), progress=False)
    assert dataset.movies.title[0] == "Töy Story (1995)"  # latin-1 decoded
    assert dataset.movies.genres[0] == ("Animation", "Children", "Comedy")
    users = dataset.users
    assert users is not None
    assert users.age.tolist() == [24, 53, 23]
    assert users.age_group.tolist() == ["18-24", "50-55", "18-24"]
    assert users.occupation.tolist() == ["technician", "other", "writer"]
    assert dataset.tags is None and dataset.links is None


def test_ml1m_codes_are_decoded(tmp_path: Path) -> None:
    dataset = load_dataset(write_ml1m(tmp_path), progress=False)
    users = dataset.users
    assert users is not None
    assert users.gender.tolist() == ["F", "M", "M"]
    assert users.age_group.tolist() == ["Under 18", "56+", "25-34"]
    assert users.occupation.tolist() == ["K-12 student", "self-employed", "scientist"]
    assert dataset.rating_scale == (1.0, 5.0)


def test_ml10m_has_tags_and_half_stars(tmp_path: Path) -> None:
    dataset = load_dataset(WRITERS["ml-10m"](tmp_path), progress=False)
    assert dataset.users is None
    assert dataset.tags is not None
    assert dataset.tags.tag.tolist() == ["pixar", "old men: grumpy"]
    assert set(dataset.ratings.rating.tolist()) <= {0.5, 1.5, 2.5, 3.5, 4.5}


def test_csv_release_quotes_and_links(tmp_path: Path) -> None:
    dataset = load_dataset(write_csv_release(tmp_path), progress=False)
    assert dataset.movies.title[1] == "Jumanji, The Game (1995)"
    assert dataset.movies.genres[2] == ()  # "(no genres listed)"
    assert dataset.tags is not None and dataset.tags.tag.tolist() == ["pixar", "funny, clever"]
    assert dataset.links is not None
    assert dataset.links.tmdb_id.isna().tolist() == [False, True, False]
    assert dataset.users is None  # never fabricated


def test_release_in_a_subfolder_is_found(tmp_path: Path) -> None:
    write_ml1m(tmp_path / "ml-1m")
    layout, folder = detect_layout(tmp_path)
    assert layout.name == "ml-1m" and folder == tmp_path / "ml-1m"
    assert load_dataset(tmp_path, progress=False).name == "ml-1m"


def test_bundled_release_counts() -> None:
    dataset = load_dataset(BUNDLED, progress=False)
    assert len(dataset.ratings) == 100_836
    assert dataset.ratings.user_id.nunique() == 610
    assert len(dataset.movies) == 9_742
    assert dataset.tags is not None and len(dataset.tags) == 3_683
    assert dataset.repairs == []


def test_unknown_movies_are_dropped_and_counted(tmp_path: Path) -> None:
    root = write_csv_release(tmp_path)
    with open(root / "ratings.csv", "a") as handle:
        handle.write("4,99,3.0,978300000\n4,98,3.0,978300001\n")
    dataset = load_dataset(root, progress=False)
    assert "2 ratings of 2 movies missing from movies.csv: dropped" in dataset.repairs
    assert not np.isin([98, 99], dataset.ratings.movie_id).any()


# ------------------------------------------------------------------ malformed files

def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("line_text", "line", "field", "message"),
    [
        ("1,2,abc,978300760", 3, "rating", "expected a number, got 'abc'"),
        ("1,2,7.0,978300760", 3, "rating", "must be a rating in 0.5..5.0"),
        ("1,2,-1,978300760", 3, "rating", "must be a rating in 0.5..5.0"),
        ("1,2,,978300760", 3, "rating", "nan must be a rating"),
        ("x,2,3.0,978300760", 3, "userId", "expected an integer, got 'x'"),
        ("1,-5,3.0,978300760", 3, "movieId", "-5 must be an id"),
        ("1,99999999999,3.0,978300760", 3, "movieId", "must be an id in 1..2147483647"),
        ("1,2,3.0,978300760,extra", 3, None, "expected 4 separated fields, found 5"),
    ],
)
def test_bad_rating_lines_name_file_line_and_field(
    tmp_path: Path, line_text: str, line: int, field: str | None, message: str
) -> None:
    root = write_csv_release(tmp_path)
    _replace_line(root / "ratings.csv", line, line_text)
    with pytest.raises(DataError) as caught:
        load_dataset(root, progress=False)
    error = caught.value
    assert error.path == root / "ratings.csv"
    assert (error.line, error.field) == (line, field)
    assert message in str(error)
    assert str(error).startswith(f"{root / 'ratings.csv'}, line {line}")


def test_wrong_separator_is_named(tmp_path: Path) -> None:
    root = write_csv_release(tmp_path)
    path = root / "ratings.csv"
    path.write_text(path.read_text().replace(",", ";"))
    with pytest.raises(DataError, match=r"line 1, field 'userId': missing column 'userId'.*"
                                        r"is the separator a comma"):
        load_dataset(root, progress=False)


def test_wrong_separator_in_dat_file(tmp_path: Path) -> None:
    root = write_ml1m(tmp_path)
    _replace_line(root / "ratings.dat", 4, "2\t1\t4\t978298413")
    with pytest.raises(DataError) as caught:
        load_dataset(root, progress=False)
    assert caught.value.line == 4
    assert "ratings.dat" in str(caught.value)


def test_rating_outside_old_release_scale(tmp_path: Path) -> None:
    root = write_ml100k(tmp_path)
    _replace_line(root / "u.data", 2, "1\t2\t0.5\t978302109")  # ml-100k is 1..5 stars
    with pytest.raises(DataError, match=r"u.data, line 2, field 'rating': .*1.0..5.0"):
        load_dataset(root, progress=False)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    root = write_csv_release(tmp_path)
    path = root / "movies.csv"
    path.write_bytes(path.read_bytes().replace(b"Jumanji", b"Jum\xff\xfeanji"))
    with pytest.raises(DataError, match=r"movies.csv, line 3: bytes that are not valid utf-8"):
        load_dataset(root, progress=False)


def test_empty_file(tmp_path: Path) -> None:
    root = write_csv_release(tmp_path)
    (root / "ratings.csv").write_text("")
    with pytest.raises(DataError, match=r"ratings.csv, line 1: file is empty"):
        load_dataset(root, progress=False)


def test_header_only_file(tmp_path: Path) -> None:
    root = write_csv_release(tmp_path)
    (root / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 2: file has no ratings"):
        load_dataset(root, progress=False)


def test_missing_movies_column(tmp_path: Path) -> None:
    root = write_csv_release(tmp_path)
    (root / "movies.csv").write_text("movieId,name\n1,Toy Story\n")
    with pytest.raises(DataError, match=r"movies.csv, line 1, field 'title': missing column"):
        load_dataset(root, progress=False)


def test_duplicate_movie_id(tmp_path: Path) -> None:
    root = write_ml1m(tmp_path)
    with open(root / "movies.dat", "ab") as handle:
        handle.write(b"2::Again (1999)::Drama\n")
    with pytest.raises(DataError, match=r"movies.dat, line 4, field 'MovieID': duplicate id 2 "
                                        r"\(first on line 2\)"):
        load_dataset(root, progress=False)


def test_bad_user_codes(tmp_path: Path) -> None:
    root = write_ml1m(tmp_path)
    _replace_line(root / "users.dat", 2, "2::M::57::16::70072")
    with pytest.raises(DataError, match=r"users.dat, line 2, field 'Age': age code 57"):
        load_dataset(root, progress=False)


def test_not_a_release(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no data found: expected interactions.csv"):
        load_dataset(tmp_path, progress=False)
