"""The generic catalogue layout (docs/data-format.md): string ids, ratings or weights, optional
timestamps and items.csv, read into the same dataset as the MovieLens releases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.to_generic import convert
from tests.paths import BUNDLED as ML_LATEST_SMALL
from training.data.dataset import load_dataset
from training.data.generic import MAX_ID_LENGTH, explicit_threshold
from training.data.interactions import build_interactions, carve_validation
from training.data.splits import make_split
from training.data.stats import dataset_statistics
from training.errors import DataError

ODD_IDS = ["Ana María", "007", "7", "x" * MAX_ID_LENGTH, "ünï cødé", "a,b"]


def write(folder: Path, interactions: str, items: str | None = None,
          users: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "interactions.csv").write_text(interactions, encoding="utf-8")
    if items is not None:
        (folder / "items.csv").write_text(items, encoding="utf-8")
    if users is not None:
        (folder / "users.csv").write_text(users, encoding="utf-8")
    return folder


def implicit_rows(users: list[str], items: list[str], seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    lines = ["user_id,item_id,weight"]
    for user in users:
        for item in rng.choice(items, size=4, replace=False):
            quoted = [f'"{v}"' if "," in v else v for v in (user, str(item))]
            lines.append(f"{quoted[0]},{quoted[1]},{int(rng.integers(1, 9))}")
    return "\n".join(lines) + "\n"


def test_string_ids_are_kept_as_given(tmp_path: Path) -> None:
    items = ODD_IDS + [f"item {i}" for i in range(10)]
    folder = write(tmp_path / "d", implicit_rows(ODD_IDS, items))
    dataset = load_dataset(folder, progress=False)
    assert dataset.layout == "generic" and dataset.feedback == "implicit"
    assert not dataset.timed and dataset.keys is not None
    assert set(dataset.keys.users) == set(ODD_IDS)  # "007" and "7" stay two users
    seen = set(dataset.keys.items[dataset.ratings["movie_id"].to_numpy() - 1])
    assert seen <= set(items)
    # every interaction is a like; its weight is kept as the confidence
    assert (dataset.ratings["rating"] == 1.0).all()
    data = build_interactions(dataset, dataset.ratings)
    assert data.likes.nnz == len(dataset.ratings)
    assert data.confidence is not None
    np.testing.assert_allclose(np.sort(data.confidence.data),
                               np.sort(np.log1p(dataset.ratings["weight"].to_numpy())), rtol=1e-6)


def test_the_movielens_reader_and_the_generic_reader_agree(tmp_path: Path) -> None:
    movielens = load_dataset(ML_LATEST_SMALL, progress=False)
    folder = convert(str(ML_LATEST_SMALL), tmp_path / "g")
    read = load_dataset(folder, progress=False)
    assert read.like_threshold == movielens.like_threshold == 4.0
    for column in ("user_id", "rating", "timestamp"):
        np.testing.assert_array_equal(read.ratings[column], movielens.ratings[column])
    # item codes follow items.csv; the keys give the release's ids back
    assert read.keys is not None
    keys = read.keys.items[read.ratings["movie_id"].to_numpy() - 1].astype(np.int64)
    np.testing.assert_array_equal(keys, movielens.ratings["movie_id"])
    assert list(read.movies["genres"]) == list(movielens.movies["genres"])
    assert list(read.movies["year"].fillna(0)) == list(movielens.movies["year"].fillna(0))
    assert len(read.tags) == len(movielens.tags)
    a = build_interactions(read, read.ratings).movie_features
    b = build_interactions(movielens, movielens.ratings).movie_features
    assert a.vocabulary == b.vocabulary
    np.testing.assert_allclose(a.tfidf.toarray(), b.tfidf.toarray(), atol=1e-6)


def test_without_timestamps_the_split_is_seeded_random_per_user(tmp_path: Path) -> None:
    folder = convert(str(ML_LATEST_SMALL), tmp_path / "g", implicit=True, timed=False)
    dataset = load_dataset(folder, progress=False)
    assert not dataset.timed and "random" in dataset.split_kind
    first = make_split(dataset.ratings, "temporal", seed=0, timed=False)
    again = make_split(dataset.ratings, "temporal", seed=0, timed=False)
    other = make_split(dataset.ratings, "temporal", seed=1, timed=False)
    key = ["user_id", "movie_id"]
    assert first.test[key].equals(again.test[key])
    assert not first.test[key].sort_values(key).reset_index(drop=True).equals(
        other.test[key].sort_values(key).reset_index(drop=True))
    # a fifth of each user's rows, as the temporal split takes by time
    counts = dataset.ratings.groupby("user_id").size()
    held = first.test.groupby("user_id").size()
    np.testing.assert_array_equal(held, np.maximum(1, np.ceil(0.2 * counts - 1e-9)))
    # the context carries nothing: every pseudo-time is the same daytime and weekday
    data = build_interactions(dataset, first.train)
    assert set(data.last_daytime) == {0} and set(data.last_weekend) == {0}
    inside, carved = carve_validation(data)
    assert len(carved) and inside.likes.nnz + len(carved) == data.likes.nnz


def test_explicit_ratings_threshold_and_duplicates(tmp_path: Path) -> None:
    rows = ("user_id,item_id,rating,timestamp\n"
            "u1,a,9,2020-01-01T10:00:00Z\nu1,a,3,2020-01-02\nu1,b,8,1577900000\n"
            "u2,a,10,1577900000.5\nu2,c,1,1577900001\n")
    dataset = load_dataset(write(tmp_path / "d", rows), progress=False)
    assert dataset.timed and dataset.feedback == "explicit"
    assert dataset.like_threshold == explicit_threshold(1, 10) == 8.0
    assert dataset.repairs == ["1 repeated (user, item) ratings: kept the latest"]
    assert len(dataset.ratings) == 4
    first = dataset.ratings.iloc[0]
    assert first["rating"] == 3 and first["timestamp"] == 1577923200  # 2020-01-02 UTC
    liked = build_interactions(dataset, dataset.ratings).likes.nnz
    assert liked == 2  # u1 b (8), u2 a (10)
    again = load_dataset(tmp_path / "d", progress=False, like_threshold=3)
    assert build_interactions(again, again.ratings).likes.nnz == 3


def test_items_file_features_and_unknown_items(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "d",
        "user_id,item_id\nu1,a\nu1,b\nu2,b\nu2,zzz\n",
        'item_id,title,year,genres,price,shelf,text\n'
        'a,Alpha,1999,Drama|War,10,top,a sad film about war\n'
        'b,,,Comedy,99,,\nc,Gamma,2001,,50,low,"funny, short"\n')
    dataset = load_dataset(folder, progress=False)
    assert list(dataset.movies["title"]) == ["Alpha", "b", "Gamma"]  # no title: the id
    assert list(dataset.movies["year"].fillna(0)) == [1999, 0, 2001]
    genres = list(dataset.movies["genres"])
    assert genres[0] == ("Drama", "War", "price:q1", "shelf=top")
    assert genres[1] == ("Comedy", "price:q4")
    assert dataset.repairs == ["1 interactions with 1 items missing from items.csv: dropped"]
    assert list(dataset.tags["tag"]) == ["a sad film about war", "funny, short"]


def test_users_file_features(tmp_path: Path) -> None:
    """Each users.csv column is a user-feature slot: categories as given (an empty cell
    unknown), a numeric column with more than 4 values binned at its quartiles; users missing
    from the file have every feature unknown, users without interactions are left out."""
    users = [f"u{i}" for i in range(12)]
    lines = ["user_id,plan,age,flag"] + [
        f"u{i},{'paid' if i % 2 else 'free'},{18 + 3 * i},{i % 3}" for i in range(10)]
    lines[3] = "u2,,,1"  # unknown plan and age
    folder = write(tmp_path / "d", implicit_rows(users, [f"i{k}" for k in range(9)]),
                   users="\n".join([*lines, "ghost,paid,40,1"]) + "\n")
    dataset = load_dataset(folder, progress=False)
    assert dataset.repairs == ["1 users without interactions: left out"]
    assert dataset_statistics(dataset)["user_features"] == ["plan", "age", "flag"]
    features = build_interactions(dataset, dataset.ratings).user_features
    plan, age, flag = features.slots
    assert [s.name for s in features.slots] == ["plan", "age", "flag"]
    assert [s.key for s in features.slots] == ["feature_1", "feature_2", "feature_3"]
    assert plan.vocabulary == ("free", "paid") and not plan.numeric and plan.width == 4
    assert flag.vocabulary == ("0", "1", "2") and not flag.numeric  # 3 values: categories
    assert age.numeric and len(age.edges) == 3 and age.width == 8
    position = {key: i for i, key in enumerate(dataset.keys.users)}
    by_user = {u: {slot.name: int(features.codes[slot.key][position[u]])
                   for slot in features.slots} for u in users}
    assert by_user["u1"]["plan"] == 2 and by_user["u0"]["plan"] == 1
    assert by_user["u2"] == {"plan": 0, "age": 0, "flag": 2}
    assert by_user["u11"] == {"plan": 0, "age": 0, "flag": 0}  # not in users.csv
    ages = [18 + 3 * i for i in range(10) if i != 2]
    for i, value in enumerate(ages):
        user = f"u{[j for j in range(10) if j != 2][i]}"
        assert by_user[user]["age"] == age.code(value)
    assert age.code(0) == 1 and age.code(1000) == 4 and plan.code("PAID") == 2
    assert {by_user[u]["age"] for u in users[:10]} - {0} == {1, 2, 3, 4}


@pytest.mark.parametrize(("interactions", "items", "where", "field", "message"), [
    ("user,item_id\nu,a\n", None, "interactions.csv, line 1", "user_id", "missing column"),
    ("user_id,item_id\nu,a\n,b\n", None, "interactions.csv, line 3", "user_id", "empty id"),
    ("user_id,item_id\nu,a\nu," + "y" * 257 + "\n", None, "line 3", "item_id",
     "id of 257 characters"),
    ("user_id,item_id,weight\nu,a,1\nu,b,-1\n", None, "line 3", "weight", "finite number"),
    ("user_id,item_id,weight\nu,a,inf\n", None, "line 2", "weight", "finite number"),
    ("user_id,item_id,weight\nu,a,lots\n", None, "line 2", "weight", "finite number"),
    ("user_id,item_id,rating\nu,a,4\nu,b,400\n", None, "line 3", "rating", "from -100 to 100"),
    ("user_id,item_id,timestamp\nu,a,1\nu,b,yesterday\n", None, "line 3", "timestamp",
     "neither Unix seconds"),
    ("user_id,item_id,rating,weight\nu,a,1,1\n", None, "line 1", None, "not both"),
    ("user_id,item_id\nu,a\n", "item_id,year\na,1999\na,2000\n", "items.csv, line 3",
     "item_id", "listed twice"),
    ("user_id,item_id\nu,a\n", "item_id,year\na,old\n", "items.csv, line 2", "year",
     "not a year"),
    ("user_id,item_id\nu,a\n", "id,title\na,A\n", "items.csv, line 1", "item_id",
     "missing column"),
])
def test_bad_input_names_file_line_and_field(tmp_path: Path, interactions: str,
                                             items: str | None, where: str, field: str | None,
                                             message: str) -> None:
    folder = write(tmp_path / "d", interactions, items)
    with pytest.raises(DataError) as caught:
        load_dataset(folder, progress=False)
    text = str(caught.value)
    assert where in text and message in text
    assert caught.value.field == field


@pytest.mark.parametrize(("users", "where", "field", "message"), [
    ("id,plan\nu,free\n", "users.csv, line 1", "user_id", "missing column"),
    ("user_id,plan\nu,free\nu,paid\n", "users.csv, line 3", "user_id", "listed twice"),
    ("user_id,plan\nu,free\n,paid\n", "users.csv, line 3", "user_id", "empty id"),
    ("user_id,plan\n" + "z" * 257 + ",free\n", "users.csv, line 2", "user_id",
     "id of 257 characters"),
    ("user_id,plan,plan\nu,a,b\n", "users.csv, line 1", None, "repeats the name 'plan'"),
    ("user_id\n", "users.csv, line 2", None, "no users"),
])
def test_bad_users_file_names_line_and_field(tmp_path: Path, users: str, where: str,
                                             field: str | None, message: str) -> None:
    folder = write(tmp_path / "d", "user_id,item_id\nu,a\n", users=users)
    with pytest.raises(DataError) as caught:
        load_dataset(folder, progress=False)
    text = str(caught.value)
    assert where in text and message in text
    assert caught.value.field == field


def test_posted_events_merge_by_the_catalogues_ids(tmp_path: Path) -> None:
    """`train --feedback` on a generic catalogue: events name users and items by their string
    ids; a new user gets a new code, an unknown item is skipped, an implicit event at or above
    the like threshold is a like of weight 1."""
    import pandas as pd

    from training.data.posted_events import merge_feedback

    folder = write(tmp_path / "d", "user_id,item_id,weight\nAna,x,2\nAna,y,1\n007,y,3\n",
                   "item_id,title\nx,X\ny,Y\nz,Z\n")
    dataset = load_dataset(folder, progress=False)
    events = pd.DataFrame({"user_id": ["7", "Ana", "7", "7"], "movie_id": ["z", "z", "nope", "x"],
                           "rating": [5.0, 5.0, 5.0, 0.5], "timestamp": [10, 11, 12, 13],
                           "seq": [1, 2, 3, 4]})
    merged, stats = merge_feedback(dataset, events)
    assert stats["skipped_unknown_movies"] == 1 and stats["new_users"] == 1
    assert merged.keys is not None and list(merged.keys.users) == ["Ana", "007", "7"]
    ratings = merged.ratings
    keys = merged.keys
    rows = {(keys.users[u - 1], keys.items[m - 1]): (r, w) for u, m, r, w in zip(
        ratings["user_id"], ratings["movie_id"], ratings["rating"], ratings["weight"],
        strict=True)}
    assert rows[("7", "z")] == (1.0, 1.0) and rows[("Ana", "z")] == (1.0, 1.0)
    assert rows[("7", "x")] == (0.0, 1.0)  # below the threshold: seen, not liked
    assert rows[("Ana", "x")] == (1.0, 2.0)  # the catalogue's own row stays


def test_a_catalogue_without_any_item_feature_trains(tmp_path: Path) -> None:
    """interactions.csv alone (no items.csv: no titles, categories or text): the content
    paths have nothing to read, and the hybrid still learns who likes what."""
    from training.models.config import HybridConfig
    from training.models.hybrid import Hybrid

    users = [f"listener {i}" for i in range(60)]
    items = [f"artist {i}" for i in range(30)]
    rng = np.random.default_rng(1)
    lines = ["user_id,item_id,weight"]
    for u, user in enumerate(users):  # two tastes: even and odd artists
        for item in rng.choice(items[u % 2::2], size=6, replace=False):
            lines.append(f"{user},{item},{int(rng.integers(1, 50))}")
    dataset = load_dataset(write(tmp_path / "d", "\n".join(lines) + "\n"), progress=False)
    assert dataset.movies["genres"].map(len).sum() == 0 and dataset.tags is None
    data = build_interactions(dataset, dataset.ratings)
    model = Hybrid(HybridConfig(epochs=20, autoencoder_epochs=2, trials=0, patience=20,
                                batch_size=128)).fit(data, seed=0, progress=False)
    scores = model.score(np.arange(data.n_users))
    assert np.isfinite(scores).all()
    assert dataset.keys is not None  # codes follow first appearance: the keys say the taste
    parity = np.array([int(k.split()[1]) % 2 for k in dataset.keys.items])
    user_parity = np.array([int(k.split()[1]) % 2 for k in dataset.keys.users])
    best = np.argsort(-scores, axis=1)[:, :3]
    assert (parity[best] == user_parity[:, None]).mean() > 0.9  # 0.96-1.0 at seeds 0-3
