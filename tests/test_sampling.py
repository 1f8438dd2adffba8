"""The BPR triplet sampler and its epochs."""

from __future__ import annotations

import numpy as np
from recommender_contract import planted

from training.sampling import TripletDataset, TripletSampler


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
        start = data.sequence_offsets[user]
        earlier = data.sequence_items[max(start, position - 5):position] + 1
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


def test_weighted_epochs_draw_positives_in_proportion() -> None:
    sampler = _sampler()
    n = len(sampler)
    weights = np.zeros(n)
    weights[: n // 2] = 1.0
    weights[: n // 10] = 3.0  # the first tenth three times as likely as the rest of the half
    epoch = TripletDataset(sampler, batch_size=64, weights=weights)
    draws = np.bincount(epoch.order, minlength=n)
    assert len(epoch.order) == n
    assert draws[n // 2:].sum() == 0
    ratio = draws[: n // 10].mean() / draws[n // 10: n // 2].mean()
    assert 2.5 < ratio < 3.5


def test_positive_weights_balance_users_and_favour_recent_likes() -> None:
    from training.recommenders.hybrid import positive_weights

    data, _ = planted()
    assert positive_weights(data, 0.0, 0.0) is None
    counts = np.diff(data.sequence_offsets)
    user = int(np.argmax(counts))
    start, stop = data.sequence_offsets[user], data.sequence_offsets[user + 1]
    recent = positive_weights(data, 0.0, 2.0)
    assert recent is not None
    mine = recent[start:stop]
    # the newest like weighs 1, the oldest exp(-2), in between they fall with age
    assert mine[-1] == 1.0 and np.isclose(mine[0], np.exp(-2.0))
    assert np.all(np.diff(mine) > 0)
    balanced = positive_weights(data, 1.0, 0.0)
    assert balanced is not None
    # every user's positives weigh 1 in total
    totals = np.add.reduceat(balanced, data.sequence_offsets[:-1][counts > 0])
    np.testing.assert_allclose(totals, 1.0)
