"""The BPR triplet sampler and its epochs."""

from __future__ import annotations

import numpy as np

from tests.recommender_contract import planted
from training.models.sampling import TripletDataset, TripletSampler


def _sampler(negatives: int = 8) -> TripletSampler:
    data, _ = planted()
    return TripletSampler(data, history=5, negatives=negatives, user_dropout=0.0, seed=0)


def test_history_holds_only_earlier_likes_of_the_same_user() -> None:
    sampler = _sampler()
    data = sampler.data
    positions = np.arange(len(sampler))
    batch = sampler.batch(positions)
    for position, history in zip(positions[:200], batch["history"][:200], strict=True):
        user = sampler.users[position]
        start = data.sequence.offsets[user]
        earlier = data.sequence.items[max(start, position - 5):position] + 1
        np.testing.assert_array_equal(history[history > 0], earlier)


def test_negatives_avoid_the_users_likes() -> None:
    sampler = _sampler(negatives=32)
    batch = sampler.batch(np.arange(len(sampler)))
    liked = sampler.data.likes.toarray() > 0
    users = sampler.users
    hits = liked[users[:, None], batch["negatives"] - 1]
    # a clash is redrawn once, so a few may remain; uniform draws would hit far more often
    uniform_rate = liked[users].mean()
    assert hits.mean() < uniform_rate / 5


def test_an_epoch_draws_every_positive_once() -> None:
    sampler = _sampler()
    epoch = TripletDataset(sampler, batch_size=64)
    assert np.array_equal(np.sort(epoch.order), np.arange(len(sampler)))
    first = epoch.order.copy()
    epoch.on_epoch_end()
    assert not np.array_equal(first, epoch.order)
