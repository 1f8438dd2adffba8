"""Ratings posted to the service (the feedback store) merged into a release before training,
so that the next bundle knows the users and likes that arrived since the last one."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from recommender_core.feedback_store import (
    FeedbackStore,
    StoreError,
    StoreUnavailable,
    normalise_url,
)
from training.data.dataset import MovieLensDataset
from training.data.generic import IdKeys
from training.errors import TrainingError

log = logging.getLogger(__name__)


def store_url(source: str) -> str:
    """``--feedback`` as a database URL: a URL as is, a path as the SQLite file it names
    (which must exist: a new, empty store would silently merge nothing)."""
    if "://" in source:
        url = source
        if source.startswith("sqlite:///") and not Path(source[len("sqlite:///"):]).is_file():
            raise TrainingError(f"--feedback {source}: no such SQLite file")
    else:
        path = Path(source)
        if not path.is_file():
            raise TrainingError(f"--feedback {source}: no such SQLite file (or give a "
                                f"postgresql:// URL)")
        url = f"sqlite:///{path.resolve()}"
    try:
        normalise_url(url)
    except StoreError as exc:
        raise TrainingError(f"--feedback: {exc}") from None
    return url


def read_events(url: str) -> pd.DataFrame:
    """Every stored event: user_id, movie_id (ids as text), rating, timestamp, seq (arrival
    order)."""
    store = FeedbackStore(url)
    try:
        events = store.all_events()
    except (StoreError, StoreUnavailable) as exc:
        raise TrainingError(f"--feedback {store.description}: {exc}") from None
    finally:
        store.close()
    return pd.DataFrame({
        "user_id": np.array([e.user_id for e in events], object),
        "movie_id": np.array([e.movie_id for e in events], object),
        "rating": np.array([e.rating for e in events], np.float32),
        "timestamp": np.array([e.timestamp for e in events], np.int64),
        "seq": np.array([e.seq for e in events], np.int64),
    })


def merge_feedback(dataset: MovieLensDataset, events: pd.DataFrame
                   ) -> tuple[MovieLensDataset, dict[str, int]]:
    """``dataset`` with ``events`` merged into its ratings, and what the merge did.

    Per user and movie the latest rating wins: among events the latest by timestamp, then by
    arrival; between an event and the release's rating the later timestamp (the event on a
    tie). Events for movies the release does not have are counted and skipped. The events'
    ids (text) become the dataset's: integers for a MovieLens release, the codes of its
    string ids (new users get new codes) for a generic catalogue; on implicit data an event
    at or above the like threshold is an interaction of weight 1, one below it a rating 0."""
    dataset, events = _as_codes(dataset, events)
    known = events["movie_id"].isin(dataset.movies["movie_id"]).to_numpy()
    usable = events[known].sort_values(["timestamp", "seq"], kind="stable")
    latest = usable.drop_duplicates(["user_id", "movie_id"], keep="last")
    ratings = dataset.ratings
    if "weight" in ratings:
        liked = latest["rating"].to_numpy() >= dataset.like_threshold
        latest = latest.assign(rating=liked.astype(np.float32), weight=np.float32(1.0))
    merged = pd.concat([
        ratings.assign(_event=0),
        latest.drop(columns="seq").assign(_event=1).astype(
            {"user_id": ratings["user_id"].dtype, "movie_id": ratings["movie_id"].dtype,
             "rating": ratings["rating"].dtype, "timestamp": ratings["timestamp"].dtype}),
    ], ignore_index=True)
    merged = merged.sort_values(["user_id", "movie_id", "timestamp", "_event"], kind="stable")
    winners = merged.drop_duplicates(["user_id", "movie_id"], keep="last")
    replaced = int(winners["_event"].sum()) - (len(winners) - len(ratings))
    new_users = np.setdiff1d(latest["user_id"].unique(), ratings["user_id"].unique())
    final = winners.drop(columns="_event").sort_values(["user_id", "timestamp"], kind="stable")
    stats = {"events": len(events), "used": len(latest), "skipped_unknown_movies":
             int((~known).sum()), "superseded_events": len(usable) - len(latest),
             "replaced_ratings": replaced, "new_users": len(new_users),
             "ratings_before": len(ratings), "ratings_after": len(final)}
    log.info("feedback: %(events)d events, %(used)d used (%(replaced_ratings)d replace a "
             "rating, %(new_users)d new users), %(skipped_unknown_movies)d for unknown movies "
             "skipped", stats)
    return dataclasses.replace(dataset, ratings=final.reset_index(drop=True)), stats


def _as_codes(dataset: MovieLensDataset, events: pd.DataFrame
              ) -> tuple[MovieLensDataset, pd.DataFrame]:
    """(the dataset, its keys extended by the events' new users; the events with the
    dataset's integer ids, -1 for a movie id it cannot have)."""
    users = events["user_id"].astype(str).to_numpy(object)
    movies = events["movie_id"].astype(str).to_numpy(object)
    keys = dataset.keys
    if keys is None:  # MovieLens: the ids are integers
        def integers(values: np.ndarray) -> np.ndarray:
            numeric = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            good = numeric.notna() & (numeric >= 1) & (numeric <= np.iinfo(np.int32).max)
            return np.where(good, numeric.fillna(-1), -1).astype(np.int64)

        movie_codes, user_codes = integers(movies), integers(users)
        keep = user_codes > 0
        return dataset, events.assign(user_id=user_codes, movie_id=movie_codes)[keep]
    item_index = pd.Index(keys.items)
    movie_codes = item_index.get_indexer(movies) + 1  # 0: unknown
    movie_codes[movie_codes == 0] = -1
    user_index = pd.Index(keys.users)
    user_codes = user_index.get_indexer(users) + 1
    new = pd.unique(users[user_codes == 0])
    if len(new):
        new_codes = pd.Index(new).get_indexer(users[user_codes == 0]) + len(keys.users) + 1
        user_codes[user_codes == 0] = new_codes
        keys = IdKeys(np.concatenate([keys.users, np.asarray(new, object)]), keys.items)
        dataset = dataclasses.replace(dataset, keys=keys)
    return dataset, events.assign(user_id=user_codes.astype(np.int64),
                                  movie_id=movie_codes.astype(np.int64))
