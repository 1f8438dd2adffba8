"""Parsers for the files of every MovieLens release, in their native layouts.

Every reader returns a DataFrame with the project's column names and compact dtypes, or raises
:class:`DataError` naming the file, the line (1-based, as a text editor counts) and the field.
The large ratings files go through pandas' C parser in chunks (fast, bounded memory, a progress
bar); the small metadata files are parsed line by line so that any error has an exact line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from recommender_core.user_features import AGE_GROUPS, age_group
from training.errors import DataError

INT32_MAX = np.iinfo(np.int32).max
CHUNK_ROWS = 2_000_000
_YEAR_IN_TITLE = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")

# ml-100k's u.item genre flags, in file order (the release's u.genre lists the same).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
_GENRE_ALIASES = {"Children's": "Children", "unknown": None, "(no genres listed)": None}

RATING_COLUMNS = ("user_id", "movie_id", "rating", "timestamp")
CSV_RATING_FIELDS = ("userId", "movieId", "rating", "timestamp")
RATING_DTYPES = {"user_id": np.int32, "movie_id": np.int32, "rating": np.float32,
                 "timestamp": np.int64}


# --------------------------------------------------------------------------- low-level helpers


def iter_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, text without newline); undecodable bytes name their line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(
                    path, f"bytes that are not valid {encoding} at column {exc.start + 1}",
                    line=number,
                ) from None
            yield number, text.rstrip("\r\n")


def records(path: Path, encoding: str, separator: str, fields: int, *,
            at_least: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, fields) of each non-blank line of a separated file that is not
    empty; a line with another number of fields (fewer, with ``at_least``: the last field may
    hold the separator) is a DataError naming it."""
    check_not_empty(path)
    for line, text in iter_lines(path, encoding):
        if not text.strip():
            continue
        parts = text.split(separator)
        if len(parts) < fields if at_least else len(parts) != fields:
            raise DataError(path, f"expected {fields} '{separator}'-separated fields, found "
                            f"{len(parts)}", line=line)
        yield line, parts


def check_not_empty(path: Path) -> None:
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "file is empty", line=1)


def _parse_int(path: Path, line: int, field: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        message = f"expected an integer, got {text!r}"
        raise DataError(path, message, line=line, field=field) from None
    if not 0 < value <= INT32_MAX:
        raise DataError(path, f"id {value} is out of range 1..{INT32_MAX}", line=line, field=field)
    return value


def normalise_genres(names: list[str]) -> tuple[str, ...]:
    out = []
    for name in names:
        name = name.strip()
        name = _GENRE_ALIASES.get(name, name)  # type: ignore[assignment]
        if name:
            out.append(name)
    return tuple(out)


def year_from_title(title: str) -> int | None:
    match = _YEAR_IN_TITLE.search(title)
    return int(match.group(1)) if match else None


def _movies_frame(ids: list[int], titles: list[str], genres: list[tuple[str, ...]],
                  years: list[int | None]) -> pd.DataFrame:
    return pd.DataFrame({
        "movie_id": np.asarray(ids, dtype=np.int32),
        "title": pd.Series(titles, dtype=object),
        "year": pd.array(years, dtype="Int16"),
        "genres": pd.Series(genres, dtype=object),
    })


def _check_unique_ids(path: Path, ids: list[int], lines: list[int], field: str) -> None:
    seen: dict[int, int] = {}
    for movie_id, line in zip(ids, lines, strict=True):
        if movie_id in seen:
            raise DataError(
                path, f"duplicate id {movie_id} (first on line {seen[movie_id]})",
                line=line, field=field,
            )
        seen[movie_id] = line


# --------------------------------------------------------------------------- ratings


def read_ratings(
    path: Path,
    *,
    layout: str,
    scale: tuple[float, float],
    progress: bool = True,
) -> pd.DataFrame:
    """Read a ratings file: ``csv`` (header), ``tab`` (ml-100k u.data) or ``colons`` (``::``)."""
    check_not_empty(path)
    header_lines, read_kwargs, positions = _ratings_format(path, layout)
    field_names = CSV_RATING_FIELDS if layout == "csv" else RATING_COLUMNS
    columns: dict[str, list[np.ndarray]] = {name: [] for name in RATING_COLUMNS}
    rows_done = 0
    size = path.stat().st_size
    with (
        open(path, "rb") as handle,
        tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {path.name}",
             disable=not progress, leave=False) as bar,
    ):
        try:
            # No usecols: pandas would then ignore extra fields instead of reporting the line.
            reader = pd.read_csv(
                handle, header=None, skiprows=header_lines, chunksize=CHUNK_ROWS, engine="c",
                **read_kwargs,
            )
        except pd.errors.EmptyDataError:
            raise DataError(path, "file has no ratings", line=header_lines + 1) from None
        while True:
            first_line = header_lines + rows_done + 1
            try:
                chunk = next(reader)
            except StopIteration:
                break
            except pd.errors.ParserError as exc:
                raise _parser_error(path, exc, field_names) from None
            except (ValueError, OverflowError, UnicodeDecodeError):
                raise _locate_bad_field(path, layout, first_line, scale) from None
            if chunk.shape[1] <= max(positions):
                raise _field_count_error(path, layout, chunk.shape[1], first_line)
            chunk = chunk[list(positions)]
            chunk.columns = list(RATING_COLUMNS)
            _validate_ratings_chunk(path, chunk, first_line, scale, field_names)
            for name, dtype in RATING_DTYPES.items():
                columns[name].append(chunk[name].to_numpy().astype(dtype, copy=False))
            rows_done += len(chunk)
            del chunk
            bar.update(handle.tell() - bar.n)
    if rows_done == 0:
        raise DataError(path, "file has no ratings", line=header_lines + 1)
    frame = {}
    for name in RATING_COLUMNS:  # one column at a time keeps the peak near the final size
        frame[name] = np.concatenate(columns.pop(name))
    return pd.DataFrame(frame, copy=False)


def _ratings_format(path: Path, layout: str) -> tuple[int, dict, tuple[int, ...]]:
    dtypes = {"dtype": {0: np.int64, 1: np.int64, 2: np.float32, 3: np.int64}}
    if layout == "csv":
        with open(path, "rb") as handle:
            header = handle.readline().decode("utf-8", errors="replace").strip()
        expected = list(CSV_RATING_FIELDS)
        found = [name.strip().strip('"') for name in header.split(",")]
        for name in expected:
            if name not in found:
                hint = " (is the separator a comma?)" if len(found) == 1 else ""
                raise DataError(
                    path, f"missing column '{name}'; the header is {header!r}{hint}",
                    line=1, field=name,
                )
        positions = tuple(found.index(name) for name in expected)
        kinds = (np.int64, np.int64, np.float32, np.int64)
        return 1, {"sep": ",", "encoding": "utf-8",
                   "dtype": dict(zip(positions, kinds, strict=True))}, positions
    if layout == "tab":
        return 0, {"sep": "\t", **dtypes}, (0, 1, 2, 3)
    if layout == "colons":
        # "1::122::5::838985046" split on ':' gives empty fields between the values.
        colon_dtypes = {0: np.int64, 2: np.int64, 4: np.float32, 6: np.int64}
        return 0, {"sep": ":", "dtype": colon_dtypes}, (0, 2, 4, 6)
    raise ValueError(f"unknown ratings layout {layout!r}")


_SEPARATOR_NAMES = {"csv": "','", "tab": "a tab", "colons": "'::'"}


def _field_count_error(path: Path, layout: str, found: int, line: int) -> DataError:
    """"expected 4 fields separated by '::', found 1": in the file's terms, not pandas'.
    ``found`` counts pieces split on the parser's separator (':' for the '::' layouts)."""
    if layout == "colons":
        found = (found + 1) // 2
    hint = " (wrong separator?)" if found <= 1 else ""
    return DataError(path, f"expected 4 fields separated by {_SEPARATOR_NAMES[layout]}, "
                     f"found {found}{hint}", line=line)


_EXPECTED_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parser_error(path: Path, exc: Exception, field_names: tuple[str, ...]) -> DataError:
    match = _EXPECTED_FIELDS.search(str(exc))
    if match:
        expected, line, saw = match.groups()
        return DataError(
            path, f"expected {expected} separated fields, found {saw} (wrong separator?)",
            line=int(line),
        )
    return DataError(path, f"cannot parse: {exc}")


def _validate_ratings_chunk(
    path: Path, chunk: pd.DataFrame, first_line: int, scale: tuple[float, float],
    field_names: tuple[str, ...],
) -> None:
    low, high = scale
    checks: list[tuple[str, Callable[[np.ndarray], np.ndarray], str]] = [
        ("user_id", lambda v: (v > 0) & (v <= INT32_MAX), "must be an id in 1..2147483647"),
        ("movie_id", lambda v: (v > 0) & (v <= INT32_MAX), "must be an id in 1..2147483647"),
        ("rating", lambda v: (v >= low) & (v <= high), f"must be a rating in {low}..{high}"),
        ("timestamp", lambda v: v >= 0, "must be a non-negative Unix time"),
    ]
    for column, (name, ok, rule) in zip(field_names, checks, strict=True):
        values = chunk[name].to_numpy()
        good = ok(values)
        if not good.all():
            row = int(np.flatnonzero(~good)[0])
            value = values[row].item()
            shown = ("a number too large to represent" if isinstance(value, float)
                     and np.isinf(value) else value)
            raise DataError(path, f"{shown} {rule}", line=first_line + row, field=column)


def _locate_bad_field(
    path: Path, layout: str, first_line: int, scale: tuple[float, float]
) -> DataError:
    """pandas says only *that* a value did not convert; find which line and field, in Python."""
    header_lines, kwargs, positions = _ratings_format(path, layout)
    sep = kwargs["sep"]
    names = CSV_RATING_FIELDS if layout == "csv" else RATING_COLUMNS
    converters = (int, int, float, int)
    encoding = "utf-8" if layout == "csv" else "latin-1"
    for number, text in iter_lines(path, encoding):
        if number < max(first_line, header_lines + 1):
            continue
        fields = text.split(sep)
        if len(fields) <= max(positions):
            return _field_count_error(path, layout, len(fields), number)
        for name, position, convert in zip(names, positions, converters, strict=True):
            value = fields[position].strip()
            try:
                parsed = convert(value)
            except ValueError:
                kind = "an integer" if convert is int else "a number"
                return DataError(path, f"expected {kind}, got {value!r}", line=number, field=name)
            if convert is int and abs(parsed) > np.iinfo(np.int64).max:
                return DataError(path, f"{value} is too large", line=number, field=name)
    return DataError(path, "cannot parse the ratings (no single bad line found)")


# --------------------------------------------------------------------------- movies


def read_movies_csv(path: Path) -> pd.DataFrame:
    """``movies.csv``: movieId,title,genres with quoted titles (ml-latest*, ml-20m/25m/32m)."""
    check_not_empty(path)
    import csv

    ids: list[int] = []
    titles: list[str] = []
    genres: list[tuple[str, ...]] = []
    lines: list[int] = []
    rows = csv.reader(text for _, text in iter_lines(path, "utf-8"))
    header = next(rows)
    for name in ("movieId", "title", "genres"):
        if name not in header:
            raise DataError(path, f"missing column '{name}'; the header is {header!r}",
                            line=1, field=name)
    id_at, title_at, genres_at = (header.index(n) for n in ("movieId", "title", "genres"))
    for row in rows:
        line = rows.line_num
        if len(row) != len(header):
            raise DataError(path, f"expected {len(header)} fields, found {len(row)}", line=line)
        ids.append(_parse_int(path, line, "movieId", row[id_at]))
        titles.append(row[title_at].strip())
        genres.append(normalise_genres(row[genres_at].split("|")))
        lines.append(line)
    _check_unique_ids(path, ids, lines, "movieId")
    return _movies_frame(ids, titles, genres, [year_from_title(t) for t in titles])


def read_movies_dat(path: Path, encoding: str) -> pd.DataFrame:
    """``movies.dat``: MovieID::Title::Genres (ml-1m latin-1, ml-10m utf-8)."""
    ids, titles, genres, lines = [], [], [], []
    for line, parts in records(path, encoding, "::", 3, at_least=True):
        ids.append(_parse_int(path, line, "MovieID", parts[0]))
        titles.append("::".join(parts[1:-1]).strip())
        genres.append(normalise_genres(parts[-1].split("|")))
        lines.append(line)
    _check_unique_ids(path, ids, lines, "MovieID")
    return _movies_frame(ids, titles, genres, [year_from_title(t) for t in titles])


def read_movies_item(path: Path) -> pd.DataFrame:
    """ml-100k ``u.item``: id|title|release date|video date|IMDb URL|19 genre flags, latin-1."""
    ids, titles, genres, years, lines = [], [], [], [], []
    for line, parts in records(path, "latin-1", "|", 5 + len(ML100K_GENRES)):
        ids.append(_parse_int(path, line, "movie id", parts[0]))
        title = parts[1].strip()
        titles.append(title)
        flags = parts[5:]
        if any(flag not in ("0", "1") for flag in flags):
            bad = next(i for i, flag in enumerate(flags) if flag not in ("0", "1"))
            raise DataError(path, f"genre flag must be 0 or 1, got {flags[bad]!r}", line=line,
                            field=ML100K_GENRES[bad])
        genres.append(normalise_genres([g for g, f in zip(ML100K_GENRES, flags, strict=True)
                                        if f == "1"]))
        year = year_from_title(title)
        release = parts[2].strip()  # "01-Jan-1995"
        if year is None and release[-4:].isdigit():
            year = int(release[-4:])
        years.append(year)
        lines.append(line)
    _check_unique_ids(path, ids, lines, "movie id")
    return _movies_frame(ids, titles, genres, years)


# --------------------------------------------------------------------------- tags and links


def read_tags_csv(path: Path) -> pd.DataFrame:
    """``tags.csv``: userId,movieId,tag,timestamp (tags may hold quoted commas)."""
    check_not_empty(path)
    import csv

    rows = csv.reader(text for _, text in iter_lines(path, "utf-8"))
    header = next(rows)
    for name in ("userId", "movieId", "tag", "timestamp"):
        if name not in header:
            raise DataError(path, f"missing column '{name}'; the header is {header!r}",
                            line=1, field=name)
    at = [header.index(n) for n in ("userId", "movieId", "tag", "timestamp")]
    users, movies, tags, times = [], [], [], []
    for row in rows:
        line = rows.line_num
        if len(row) != len(header):
            raise DataError(path, f"expected {len(header)} fields, found {len(row)}", line=line)
        users.append(_parse_int(path, line, "userId", row[at[0]]))
        movies.append(_parse_int(path, line, "movieId", row[at[1]]))
        tags.append(row[at[2]].strip())
        times.append(_parse_timestamp(path, line, "timestamp", row[at[3]]))
    return _tags_frame(users, movies, tags, times)


def read_tags_dat(path: Path) -> pd.DataFrame:
    """ml-10m ``tags.dat``: UserID::MovieID::Tag::Timestamp."""
    users, movies, tags, times = [], [], [], []
    for line, parts in records(path, "utf-8", "::", 4, at_least=True):
        users.append(_parse_int(path, line, "UserID", parts[0]))
        movies.append(_parse_int(path, line, "MovieID", parts[1]))
        tags.append("::".join(parts[2:-1]).strip())
        times.append(_parse_timestamp(path, line, "Timestamp", parts[-1]))
    return _tags_frame(users, movies, tags, times)


def _parse_timestamp(path: Path, line: int, field: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise DataError(path, f"expected a Unix time, got {text!r}", line=line, field=field) \
            from None
    if value < 0:
        raise DataError(path, f"{value} must be a non-negative Unix time", line=line, field=field)
    return value


def _tags_frame(users: list[int], movies: list[int], tags: list[str],
                times: list[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": np.asarray(users, dtype=np.int32),
        "movie_id": np.asarray(movies, dtype=np.int32),
        "tag": pd.Series(tags, dtype=object),
        "timestamp": np.asarray(times, dtype=np.int64),
    })


def read_links_csv(path: Path) -> pd.DataFrame:
    """``links.csv``: movieId,imdbId,tmdbId (tmdbId may be empty)."""
    check_not_empty(path)
    ids, imdb, tmdb = [], [], []
    for line, text in iter_lines(path, "utf-8"):
        if line == 1:
            if not text.startswith("movieId"):
                raise DataError(path, f"expected header 'movieId,imdbId,tmdbId', got {text!r}",
                                line=1)
            continue
        parts = text.split(",")
        if len(parts) != 3:
            raise DataError(path, f"expected 3 fields, found {len(parts)}", line=line)
        ids.append(_parse_int(path, line, "movieId", parts[0]))
        imdb.append(parts[1].strip() or None)
        tmdb.append(_parse_int(path, line, "tmdbId", parts[2]) if parts[2].strip() else None)
    return pd.DataFrame({
        "movie_id": np.asarray(ids, dtype=np.int32),
        "imdb_id": pd.Series(imdb, dtype=object),
        "tmdb_id": pd.array(tmdb, dtype="Int32"),
    })


# --------------------------------------------------------------------------- users


def read_users_100k(path: Path) -> pd.DataFrame:
    """ml-100k ``u.user``: user id|age|gender|occupation|zip code."""
    ids, ages, genders, jobs = [], [], [], []
    for line, parts in records(path, "latin-1", "|", 5):
        ids.append(_parse_int(path, line, "user id", parts[0]))
        age = _parse_int(path, line, "age", parts[1])
        if age > 120:
            raise DataError(path, f"age {age} is not plausible", line=line, field="age")
        ages.append(age)
        genders.append(_parse_gender(path, line, parts[2]))
        jobs.append(parts[3].strip().lower() or "other")
    return _users_frame(ids, ages, [age_group(a) for a in ages], genders, jobs)


def read_users_dat(path: Path) -> pd.DataFrame:
    """ml-1m ``users.dat``: UserID::Gender::Age::Occupation::Zip-code, age and job as codes."""
    ids, ages, groups, genders, jobs = [], [], [], [], []
    for line, parts in records(path, "latin-1", "::", 5):
        ids.append(_parse_int(path, line, "UserID", parts[0]))
        genders.append(_parse_gender(path, line, parts[1]))
        age = _parse_int(path, line, "Age", parts[2])
        if age not in AGE_GROUPS:
            raise DataError(path, f"age code {age} is not one of {sorted(AGE_GROUPS)}",
                            line=line, field="Age")
        ages.append(age)
        groups.append(AGE_GROUPS[age])
        try:
            code = int(parts[3])
            jobs.append(ML1M_OCCUPATIONS[code])
        except (ValueError, IndexError):
            raise DataError(path, f"occupation code {parts[3]!r} is not 0..20", line=line,
                            field="Occupation") from None
    return _users_frame(ids, ages, groups, genders, jobs)


def _parse_gender(path: Path, line: int, text: str) -> str:
    value = text.strip().upper()
    if value not in ("M", "F"):
        raise DataError(path, f"gender must be M or F, got {text!r}", line=line, field="gender")
    return value


def _users_frame(ids: list[int], ages: list[int], groups: list[str], genders: list[str],
                 jobs: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": np.asarray(ids, dtype=np.int32),
        "age": np.asarray(ages, dtype=np.int16),
        "age_group": pd.Categorical(groups, categories=list(AGE_GROUPS.values())),
        "gender": pd.Categorical(genders, categories=["F", "M"]),
        "occupation": pd.Categorical(jobs),
    })
