"""`python -m training train --feedback STORE`: events posted to the service merged into the
ratings before training."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender_core.feedback_store import Event, FeedbackStore
from tests.bundles import planted_release
from training.commands.cli import main
from training.data.dataset import load_dataset
from training.data.posted_events import merge_feedback, read_events


def test_merge_latest_wins_and_unknown_movies_are_counted() -> None:
    dataset = load_dataset(planted_release(), progress=False)
    ratings = dataset.ratings
    first = ratings.iloc[0]
    user, movie, when = int(first.user_id), int(first.movie_id), int(first.timestamp)
    events = pd.DataFrame({
        "user_id": [user, user, 9001, 9001, 9001, user],
        "movie_id": [movie, movie, 1, 2, 10**8, 3],
        "rating": [1.0, 2.5, 5.0, 4.0, 5.0, 4.0],
        "timestamp": [when + 10, when + 20, 5, 6, 7, 0],
        "seq": [1, 2, 3, 4, 5, 6],
    })
    merged, stats = merge_feedback(dataset, events)
    out = merged.ratings.set_index(["user_id", "movie_id"])["rating"]
    assert out[(user, movie)] == 2.5  # the later of the two events, over the release's rating
    assert out[(9001, 1)] == 5.0 and out[(9001, 2)] == 4.0
    assert (9001, 10**8) not in out.index
    had_3 = ((ratings.user_id == user) & (ratings.movie_id == 3)).any()
    assert stats["events"] == 6 and stats["skipped_unknown_movies"] == 1
    assert stats["superseded_events"] == 1 and stats["new_users"] == 1
    assert stats["ratings_after"] == len(ratings) + 2 + (0 if had_3 else 1)
    if had_3:  # an event older than the release's rating loses to it
        old = ratings[(ratings.user_id == user) & (ratings.movie_id == 3)].rating.iloc[0]
        assert out[(user, 3)] == old
    assert merged.ratings.dtypes.equals(ratings.dtypes)
    assert len(dataset.ratings) == stats["ratings_before"]  # the input is left alone


@pytest.mark.slow
def test_train_with_feedback_knows_the_new_user(tmp_path: Path) -> None:
    store = tmp_path / "feedback.sqlite"
    feedback = FeedbackStore(f"sqlite:///{store}")
    feedback.add([Event(424242, movie, 5.0, 1_000 + movie) for movie in range(1, 13)]
                 + [Event(424242, 10**8, 5.0, 1)])
    feedback.close()
    out = tmp_path / "models"
    code = main(["-q", "train", "--data", str(planted_release()), "--out", str(out),
                 "--set", "epochs=2", "--set", "autoencoder_epochs=2", "--set", "trials=1",
                 "--feedback", str(store)])
    assert code == 0
    bundle = Path(os.path.realpath(out / "current"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["feedback"]["events"] == 13 and manifest["feedback"]["used"] == 12
    assert manifest["feedback"]["skipped_unknown_movies"] == 1
    assert manifest["feedback"]["new_users"] == 1
    assert manifest["feedback"]["store"] == f"sqlite:///{store}"
    assert 424242 in np.load(bundle / "user_ids.npy")
    assert len(read_events(f"sqlite:///{store}")) == 13  # the store is only read


@pytest.mark.parametrize(("source", "message"), [
    ("nowhere.sqlite", "--feedback nowhere.sqlite: no such SQLite file"),
    ("sqlite:////no/such/file.sqlite", "no such SQLite file"),
    ("mysql://u@h/db", "--feedback: FEEDBACK_URL: unsupported database 'mysql'"),
])
def test_bad_feedback_source_is_refused_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, message: str) -> None:
    out = tmp_path / "models"
    code = main(["-q", "train", "--data", str(planted_release()), "--out", str(out),
                 "--feedback", source])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_unreachable_feedback_store_stops_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.servers import free_port

    out = tmp_path / "models"
    code = main(["-q", "train", "--data", str(planted_release()), "--out", str(out),
                 "--feedback", f"postgresql://x@127.0.0.1:{free_port()}/db"])
    assert code == 2
    assert "--feedback postgresql://x@127.0.0.1" in capsys.readouterr().err
    assert not out.exists()
