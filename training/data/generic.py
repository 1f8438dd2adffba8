"""The generic catalogue layout (docs/data-format.md): ``interactions.csv`` with string ids,
ratings or implicit weights and optional timestamps, an optional ``items.csv`` and an optional
``users.csv``; read into the same dataset object as the MovieLens releases, ids mapped to dense
codes (IdKeys)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from training.data.readers import check_not_empty
from training.errors import DataError

log = logging.getLogger(__name__)

INTERACTIONS = "interactions.csv"
ITEMS = "items.csv"
USERS = "users.csv"
MAX_ID_LENGTH = 256
#: the range a generic ``rating`` must lie in (5-star, 10-point, thumbs -1/+1 all fit)
RATING_RANGE = (-100.0, 100.0)
#: where the like threshold of explicit ratings sits between the lowest and highest rating
#: seen when none is given: 4 on a 1..5 or 0.5..5 scale, 8 on 1..10, +1 on -1/+1
LIKE_POINT = 0.75
#: columns of items.csv whose text goes through the TF-IDF and autoencoder path: ``tags``
#: holds '|'-separated tags (as MovieLens tags), ``text`` free text
TEXT_COLUMNS = ("tags", "text")
#: numeric item columns other than ``year`` become categories of this many quantile bins
NUMERIC_BINS = 4
#: a users.csv column keeps its most frequent values as categories, the rest unknown
MAX_USER_CATEGORIES = 1000
CHUNK_ROWS = 1_000_000
#: the pseudo-time step of data without timestamps: a week, so that every pseudo-time has
#: the same context (Thursday, night) and the context inputs carry nothing
UNTIMED_STEP = 7 * 86_400
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class IdKeys:
    """The dataset's own ids of a generic catalogue: ``users[code - 1]`` is the id of user
    code ``code``, ``items[code - 1]`` of item code ``code`` (codes are dense from 1, in order
    of first appearance)."""

    users: np.ndarray  # object array of str
    items: np.ndarray  # object array of str


@dataclass
class GenericData:
    """What the generic reader hands the dataset: frames in the MovieLens columns."""

    ratings: pd.DataFrame  # user_id, movie_id, rating, timestamp[, weight]
    movies: pd.DataFrame  # movie_id, title, year, genres
    tags: pd.DataFrame | None
    users: pd.DataFrame | None  # user_id (code), then each users.csv feature as a categorical
    keys: IdKeys
    feedback: str  # "explicit" or "implicit"
    timed: bool
    rating_scale: tuple[float, float]
    like_threshold: float
    files: dict[str, bool]
    repairs: list[str]


def read_generic(folder: Path, *, like_threshold: float | None = None,
                 progress: bool = True) -> GenericData:
    """Read ``folder/interactions.csv`` and the optional ``items.csv`` and ``users.csv``;
    raises DataError naming the file, line and field of the first bad value."""
    path = folder / INTERACTIONS
    raw, feedback, timed = _read_interactions(path, progress)
    if like_threshold is not None and feedback == "implicit":
        raise DataError(path, "a like threshold applies to ratings; this file has weights "
                        "(every interaction with a weight above 0 is a like)", field="weight")
    repairs: list[str] = []
    items_path = folder / ITEMS
    files = {INTERACTIONS: True, ITEMS: items_path.is_file(), USERS: (folder / USERS).is_file()}
    catalogue = _read_items(items_path) if files[ITEMS] else None

    item_keys = (catalogue["item_id"].to_numpy(object) if catalogue is not None
                 else pd.unique(raw["item_id"].to_numpy(object)))
    item_code = pd.Index(item_keys)
    codes = item_code.get_indexer(raw["item_id"].to_numpy(object))
    unknown = codes < 0
    if unknown.any():
        message = (f"{int(unknown.sum()):,} interactions with {raw['item_id'][unknown].nunique():,}"
                   f" items missing from {ITEMS}: dropped")
        log.warning("%s: %s", folder, message)
        repairs.append(message)
        raw, codes = raw[~unknown].reset_index(drop=True), codes[~unknown]
    if raw.empty:
        raise DataError(path, "no interactions left with an item of items.csv", line=2)
    user_codes, user_keys = pd.factorize(raw["user_id"].to_numpy(object))
    ratings = pd.DataFrame({
        "user_id": (user_codes + 1).astype(np.int32),
        "movie_id": (codes + 1).astype(np.int32),
        "rating": raw["value"].to_numpy(np.float32),
        "timestamp": raw["timestamp"].to_numpy(np.int64),
    })
    ratings, repeated = (_sum_duplicates if feedback == "implicit" else _keep_latest)(ratings)
    if repeated:
        log.warning("%s: %s", path, repeated)
        repairs.append(repeated)
    if not timed:
        ratings["timestamp"] = untimed_order(ratings["user_id"].to_numpy(), seed=0)
    keys = IdKeys(np.asarray(user_keys, dtype=object), np.asarray(item_keys, dtype=object))
    movies, tags = _movies(catalogue, keys.items)
    users = None
    if files[USERS]:
        users, notes = read_users(folder / USERS, keys.users)
        for note in notes:
            log.warning("%s: %s", folder / USERS, note)
        repairs.extend(notes)
    if feedback == "implicit":
        ratings["weight"] = ratings["rating"]
        ratings["rating"] = (ratings["weight"] > 0).astype(np.float32)
        scale, threshold = (0.0, 1.0), 1.0
    else:
        low, high = float(ratings["rating"].min()), float(ratings["rating"].max())
        scale = (low, high)
        threshold = like_threshold if like_threshold is not None else explicit_threshold(low,
                                                                                        high)
    return GenericData(ratings, movies, tags, users, keys, feedback, timed, scale, threshold,
                       files, repairs)


def explicit_threshold(low: float, high: float) -> float:
    """The default like threshold of ratings seen between ``low`` and ``high``: LIKE_POINT of
    the way up, rounded to the nearest half (4 on 1..5 and on 0.5..5, 8 on 1..10)."""
    if high <= low:
        return high
    return float(np.floor((low + LIKE_POINT * (high - low)) * 2 + 0.5) / 2)


def untimed_order(users: np.ndarray, seed: int) -> np.ndarray:
    """Pseudo-timestamps of rows without time: a seeded random order within each user, one
    UNTIMED_STEP apart (every one the same context), so that "each user's last ratings" is a
    seeded random per-user split."""
    rng = np.random.default_rng(seed)
    noise = rng.random(len(users))
    order = np.lexsort((noise, users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_users)])
    rank = np.arange(len(users)) - np.repeat(starts, counts)
    times = np.empty(len(users), dtype=np.int64)
    times[order] = rank.astype(np.int64) * UNTIMED_STEP
    return times


# --------------------------------------------------------------------------- interactions


def _header(path: Path) -> list[str]:
    check_not_empty(path)
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8-sig").strip("\r\n")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"bytes that are not valid utf-8 at column {exc.start + 1}",
                        line=1) from None
    return [name.strip().strip('"') for name in text.split(",")]


def _read_interactions(path: Path, progress: bool) -> tuple[pd.DataFrame, str, bool]:
    """(user_id, item_id, value, timestamp frame, "explicit"/"implicit", timed)."""
    header = _header(path)
    for name in ("user_id", "item_id"):
        if name not in header:
            hint = " (is the separator a comma?)" if len(header) == 1 else ""
            raise DataError(path, f"missing column '{name}'; the header is "
                            f"{','.join(header)!r}{hint}", line=1, field=name)
    if "rating" in header and "weight" in header:
        raise DataError(path, "both 'rating' and 'weight': give ratings (explicit) or weights "
                        "(implicit), not both", line=1)
    value = "rating" if "rating" in header else "weight" if "weight" in header else None
    timed = "timestamp" in header
    wanted = ["user_id", "item_id"] + ([value] if value else []) + (["timestamp"] if timed
                                                                      else [])
    chunks: list[pd.DataFrame] = []
    rows_done = 0
    with (open(path, "rb") as handle,
          tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"reading {path.name}",
               disable=not progress, leave=False) as bar):
        try:
            reader = pd.read_csv(handle, dtype=str, keep_default_na=False, na_filter=False,
                                 skip_blank_lines=False, chunksize=CHUNK_ROWS,
                                 encoding="utf-8-sig", usecols=wanted)
            for chunk in reader:
                first_line = rows_done + 2
                chunks.append(_interaction_chunk(path, chunk, first_line, value, timed))
                rows_done += len(chunk)
                bar.update(handle.tell() - bar.n)
        except pd.errors.ParserError as exc:
            raise DataError(path, f"cannot parse: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DataError(path, f"bytes that are not valid utf-8 ({exc.reason})") from None
    if rows_done == 0:
        raise DataError(path, "file has no interactions", line=2)
    frame = pd.concat(chunks, ignore_index=True)
    return frame, "explicit" if value == "rating" else "implicit", timed


def _interaction_chunk(path: Path, chunk: pd.DataFrame, first_line: int, value: str | None,
                       timed: bool) -> pd.DataFrame:
    for name in ("user_id", "item_id"):
        check_ids(path, chunk[name], first_line, name)
    if value is None:
        values = np.ones(len(chunk), dtype=np.float64)
    else:
        values = pd.to_numeric(chunk[value], errors="coerce").to_numpy(np.float64)
        low, high = (0.0, np.inf) if value == "weight" else RATING_RANGE
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            rule = ("a weight must be a finite number >= 0" if value == "weight" else
                    f"a rating must be a number from {low:g} to {high:g}")
            raise DataError(path, f"{chunk[value].iloc[row]!r}: {rule}",
                            line=first_line + row, field=value)
    times = (parse_times(path, chunk["timestamp"], first_line) if timed
             else np.zeros(len(chunk), dtype=np.int64))
    return pd.DataFrame({"user_id": chunk["user_id"].to_numpy(object),
                         "item_id": chunk["item_id"].to_numpy(object),
                         "value": values, "timestamp": times})


def check_ids(path: Path, ids: pd.Series, first_line: int, field: str) -> None:
    """An id is a non-empty UTF-8 string of at most MAX_ID_LENGTH characters."""
    lengths = ids.str.len().to_numpy()
    bad = (lengths == 0) | (lengths > MAX_ID_LENGTH)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        message = ("empty id" if lengths[row] == 0 else
                   f"id of {lengths[row]} characters (at most {MAX_ID_LENGTH})")
        raise DataError(path, message, line=first_line + row, field=field)


def parse_times(path: Path, cells: pd.Series, first_line: int) -> np.ndarray:
    """Unix seconds (integers or decimals, floored) or ISO 8601 dates and times (UTC where no
    offset is given) → int64 Unix seconds; a cell that is neither names its line."""
    text = cells.to_numpy(object)
    numeric = np.array([bool(_NUMBER.match(t)) for t in text], dtype=bool)
    seconds = np.zeros(len(text), dtype=np.int64)
    good = np.ones(len(text), dtype=bool)
    if numeric.any():
        values = pd.to_numeric(cells[numeric]).to_numpy(np.float64)
        ok = np.isfinite(values) & (values >= 0) & (values < 2 ** 40)
        seconds[numeric] = np.floor(np.where(ok, values, 0)).astype(np.int64)
        good[numeric] = ok
    if (~numeric).any():
        parsed = pd.to_datetime(cells[~numeric], format="ISO8601", utc=True, errors="coerce")
        missing = parsed.isna().to_numpy()
        ns = parsed.to_numpy("datetime64[ns]").astype(np.int64)
        seconds[~numeric] = np.where(missing, 0, ns // 1_000_000_000)
        good[~numeric] = ~missing & (ns >= 0)
    if not good.all():
        row = int(np.flatnonzero(~good)[0])
        raise DataError(path, f"{text[row]!r} is neither Unix seconds from 1970 nor an ISO 8601 "
                        "date", line=first_line + row, field="timestamp")
    return seconds


def _sum_duplicates(ratings: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Implicit rows of the same (user, item): weights summed, the latest time kept."""
    grouped = ratings.groupby(["user_id", "movie_id"], sort=False, as_index=False).agg(
        rating=("rating", "sum"), timestamp=("timestamp", "max"))
    merged = len(ratings) - len(grouped)
    if not merged:
        return ratings, None
    grouped = grouped.astype({"rating": np.float32})
    return grouped, f"{merged:,} repeated (user, item) interactions: weights summed"


def _keep_latest(ratings: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Explicit rows of the same (user, item): the latest rating kept (by time, then by
    place in the file)."""
    order = ratings.sort_values("timestamp", kind="stable")
    kept = order.drop_duplicates(["user_id", "movie_id"], keep="last").sort_index()
    dropped = len(ratings) - len(kept)
    if not dropped:
        return ratings, None
    message = f"{dropped:,} repeated (user, item) ratings: kept the latest"
    return kept.reset_index(drop=True), message


# --------------------------------------------------------------------------- side files


def read_side_file(path: Path, key: str, noun: str) -> pd.DataFrame:
    """items.csv or users.csv as text cells: a header that holds ``key`` and names each column
    once, and a ``key`` on every row that is a valid id listed once; DataError naming the
    line and field otherwise."""
    header = _header(path)
    if key not in header:
        raise DataError(path, f"missing column {key!r}; the header is {','.join(header)!r}",
                        line=1, field=key)
    for position, name in enumerate(header):
        if not name or name in header[:position]:
            problem = "has no name" if not name else f"repeats the name {name!r}"
            raise DataError(path, f"column {position + 1} {problem}", line=1)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False, encoding="utf-8-sig")
    except pd.errors.ParserError as exc:
        raise DataError(path, f"cannot parse: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"bytes that are not valid utf-8 ({exc.reason})") from None
    if frame.empty:
        raise DataError(path, f"file has no {noun}s", line=2)
    frame.columns = header
    check_ids(path, frame[key], 2, key)
    repeated = frame[key].duplicated().to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise DataError(path, f"{noun} {frame[key].iloc[row]!r} is listed twice", line=row + 2,
                        field=key)
    return frame


# --------------------------------------------------------------------------- users


def read_users(path: Path, user_keys: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    """users.csv as the dataset's ``users`` frame: ``user_id`` the code of each user of
    ``user_keys`` (the interactions' users, code = position + 1) it lists, then every other
    column as a categorical feature: a numeric column (every non-empty cell a finite number,
    more than NUMERIC_BINS distinct values) binned at its quartiles into left-closed
    intervals, any other column its MAX_USER_CATEGORIES most frequent values; an empty cell
    is unknown. Also the notes of what was left out."""
    frame = read_side_file(path, "user_id", "user")
    notes = []
    codes = pd.Index(user_keys).get_indexer(frame["user_id"].to_numpy(object))
    if (codes < 0).any():
        notes.append(f"{int((codes < 0).sum()):,} users without interactions: left out")
    kept = codes >= 0
    users = pd.DataFrame({"user_id": (codes[kept] + 1).astype(np.int32)})
    for column in frame.columns:
        if column == "user_id":
            continue
        feature, note = _user_feature(column, frame[column].str.strip()[kept])
        users[column] = feature
        if note:
            notes.append(note)
    return users, notes


def _user_feature(column: str, cells: pd.Series) -> tuple[pd.Categorical, str | None]:
    """One users.csv column as a categorical (see read_users), and a note when values were
    left out."""
    present = (cells != "").to_numpy()
    numbers = pd.to_numeric(cells.where(present), errors="coerce").to_numpy(np.float64)
    numeric = present.any() and bool(np.isfinite(numbers[present]).all())
    if numeric and len(np.unique(numbers[present])) > NUMERIC_BINS:
        quartiles = np.quantile(numbers[present], np.arange(1, NUMERIC_BINS) / NUMERIC_BINS)
        edges = np.unique(quartiles)
        bins = pd.IntervalIndex.from_breaks([-np.inf, *edges, np.inf], closed="left")
        return pd.Categorical(pd.cut(numbers, bins, right=False)), None
    counts = cells[present].value_counts(sort=True)
    kept = sorted(counts.index[:MAX_USER_CATEGORIES])
    values = cells.where(cells.isin(kept))
    note = None
    if len(counts) > MAX_USER_CATEGORIES:
        note = (f"column {column!r}: {len(counts) - MAX_USER_CATEGORIES:,} rarest of "
                f"{len(counts):,} values read as unknown (at most {MAX_USER_CATEGORIES:,})")
    return pd.Categorical(values, categories=kept), note


# --------------------------------------------------------------------------- items


def _read_items(path: Path) -> pd.DataFrame:
    frame = read_side_file(path, "item_id", "item")
    if "year" in frame:
        years = pd.to_numeric(frame["year"].where(frame["year"].str.strip() != ""),
                              errors="coerce")
        bad = (frame["year"].str.strip() != "").to_numpy() & ~(
            years.notna() & (years % 1 == 0) & (years >= 1) & (years <= 9999)).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(path, f"{frame['year'].iloc[row]!r} is not a year", line=row + 2,
                            field="year")
    return frame


def _movies(catalogue: pd.DataFrame | None, keys: np.ndarray
            ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The movies frame (codes from 1 in ``keys`` order) and the tags frame of the text
    columns."""
    n = len(keys)
    ids = np.arange(1, n + 1, dtype=np.int32)
    if catalogue is None:
        return pd.DataFrame({"movie_id": ids, "title": pd.Series(list(keys), dtype=object),
                             "year": pd.array([None] * n, dtype="Int16"),
                             "genres": pd.Series([()] * n, dtype=object)}), None
    titles = (catalogue["title"].str.strip() if "title" in catalogue
              else pd.Series(list(keys), dtype=object))
    titles = titles.where(titles != "", pd.Series(list(keys), dtype=object))
    years = (pd.to_numeric(catalogue["year"].where(catalogue["year"].str.strip() != ""),
                           errors="coerce").astype("Int16") if "year" in catalogue
             else pd.array([None] * n, dtype="Int16"))
    feature_columns = [c for c in catalogue.columns
                       if c not in ("item_id", "title", "year", *TEXT_COLUMNS)]
    genres: list[list[str]] = [[] for _ in range(n)]
    for column in feature_columns:
        for row, tokens in enumerate(_category_tokens(column, catalogue[column])):
            genres[row].extend(tokens)
    movies = pd.DataFrame({"movie_id": ids, "title": titles.to_numpy(object),
                           "year": years,
                           "genres": pd.Series([tuple(g) for g in genres], dtype=object)})
    tag_rows: list[tuple[int, str]] = []
    for column in TEXT_COLUMNS:
        if column not in catalogue:
            continue
        for code, cell in zip(ids, catalogue[column], strict=True):
            parts = cell.split("|") if column == "tags" else [cell]
            tag_rows.extend((int(code), part.strip()) for part in parts if part.strip())
    tags = None
    if tag_rows:
        tags = pd.DataFrame({"user_id": np.zeros(len(tag_rows), np.int32),
                             "movie_id": np.array([m for m, _ in tag_rows], np.int32),
                             "tag": pd.Series([t for _, t in tag_rows], dtype=object),
                             "timestamp": np.zeros(len(tag_rows), np.int64)})
    return movies, tags


def _category_tokens(column: str, cells: pd.Series) -> list[list[str]]:
    """Each item's category tokens of one column: a numeric column's quantile bin
    (``column:q1``..), else its '|'-separated values (bare for ``genres``, else
    ``column=value``)."""
    filled = cells.str.strip()
    present = filled != ""
    numbers = pd.to_numeric(filled.where(present), errors="coerce")
    if present.any() and numbers[present].notna().all():
        ranks = numbers.rank(method="average")  # 1..n, missing cells NaN
        middle = (ranks - 0.5) / int(numbers.notna().sum())
        bins = np.ceil(middle.fillna(0).to_numpy() * NUMERIC_BINS).astype(int)
        return [[f"{column}:q{b}"] if b > 0 else [] for b in bins]
    out: list[list[str]] = []
    for cell in filled:
        values = [v.strip() for v in cell.split("|") if v.strip()]
        if column == "genres":
            values = [v for v in values if v != "(no genres listed)"]
            out.append(values)
        else:
            out.append([f"{column}={v}" for v in values])
    return out
