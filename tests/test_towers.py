"""The training model, which picks the hardest negative itself, against a reference graph that
scores every sampled negative with gradients (BPR over the hardest of them, written plainly)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from recommender_core.user_features import movielens_slots, user_inputs
from training.models.hybrid.towers import HybridNetwork, TowerSizes, dot_scores
from training.models.losses import bpr_loss

N_ITEMS, NEGATIVES, BATCH = 30, 8, 16
SLOTS = movielens_slots({"gender": ("F", "M"), "occupation": ("a", "b")})


def _network(l2: float) -> HybridNetwork:
    keras.utils.set_random_seed(3)
    sizes = TowerSizes(n_users=10, n_items=N_ITEMS, n_item_features=5, user_slots=SLOTS,
                       history=4, dim=8)
    network = HybridNetwork(sizes, l2=l2)
    rng = np.random.default_rng(0)
    network.training_model(NEGATIVES)  # builds the layers
    network.set_item_features(rng.normal(size=(N_ITEMS, 5)).astype(np.float32))
    # larger id vectors than the initialiser's, so that the hardest negative is clear-cut
    ids = network.items.ids
    ids.set_weights([rng.normal(size=ids.get_weights()[0].shape).astype(np.float32)])
    return network


def _every_negative_model(network: HybridNetwork) -> keras.Model:
    """s⁺ − s⁻ for each sampled negative, every one through the movie tower with gradients."""
    inputs = network.user_inputs()
    positive = keras.Input((), dtype="int32", name="positive")
    sampled = keras.Input((NEGATIVES,), dtype="int32", name="negatives")
    user = network.users(inputs, network.items)
    items = ops.concatenate([ops.expand_dims(positive, 1), sampled], axis=1)
    vectors, bias = network.items(items)
    scores = dot_scores(user, vectors) + bias
    return keras.Model({**inputs, "positive": positive, "negatives": sampled},
                       scores[:, :1] - scores[:, 1:])


def _hardest_loss(y_true: object, difference: object) -> object:
    return ops.softplus(-ops.min(difference, axis=-1))


def _batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    inputs = {name: rng.integers(0, 2, BATCH).astype(np.int32) for name in user_inputs(SLOTS)}
    inputs["age_group"] = np.zeros(BATCH, np.int32)  # no age groups: only "unknown"
    inputs["user"] = rng.integers(1, 11, BATCH).astype(np.int32)
    inputs["daytime"] = rng.integers(0, 4, BATCH).astype(np.int32)
    inputs["history"] = rng.integers(0, N_ITEMS + 1, (BATCH, 4)).astype(np.int32)
    inputs["positive"] = rng.integers(1, N_ITEMS + 1, BATCH).astype(np.int32)
    inputs["negatives"] = rng.integers(1, N_ITEMS + 1, (BATCH, NEGATIVES)).astype(np.int32)
    return inputs


def test_training_model_outputs_the_smallest_difference() -> None:
    network = _network(l2=0.0)
    reference = _every_negative_model(network)
    hardest = network.training_model(NEGATIVES)
    batch = _batch()
    all_differences = np.asarray(reference.predict_on_batch(batch))
    chosen = np.asarray(hardest.predict_on_batch(batch))
    assert chosen.shape == (BATCH, 1)
    np.testing.assert_allclose(chosen[:, 0], all_differences.min(axis=1), rtol=1e-5,
                               atol=1e-5)


def test_training_model_takes_the_same_step_as_bpr_on_the_hardest_negative() -> None:
    """One SGD step of plain BPR on the hardest of all negatives and of the training model
    lead to the same weights (without L2, which the training model applies in expectation)."""
    network = _network(l2=0.0)
    reference = _every_negative_model(network)
    hardest = network.training_model(NEGATIVES)
    batch = _batch()
    start = [w.copy() for w in hardest.get_weights()]
    after = []
    for model, loss, width in ((reference, _hardest_loss, NEGATIVES), (hardest, bpr_loss, 1)):
        hardest.set_weights(start)  # the two models share every layer
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
        model.train_on_batch(batch, np.zeros((BATCH, width), np.float32))
        after.append([w.copy() for w in hardest.get_weights()])
    moved = [not np.allclose(a, b) for a, b in zip(start, after[0], strict=True)]
    assert sum(moved) >= 4  # ids, biases, the projection and the user tower all moved
    for a, b in zip(after[0], after[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_training_model_penalises_the_first_sampled_negative_for_all_of_them() -> None:
    """L2 on the negatives: ``negatives`` × l2 × the mean ‖v‖² of each triplet's first sampled
    movie, which in expectation is the penalty of every sampled negative's vector."""
    l2 = 0.01
    network = _network(l2=l2)
    hardest = network.training_model(NEGATIVES)
    batch = _batch()
    hardest(batch)
    tables = network.items
    vectors = (tables.ids.get_weights()[0]
               + tables.features.get_weights()[0] @ tables.project.get_weights()[0]
               + tables.project.get_weights()[1])
    first = vectors[batch["negatives"][:, 0]]
    expected = l2 * NEGATIVES * float((first ** 2).sum(axis=1).mean())
    penalties = [float(keras.ops.convert_to_numpy(loss)) for loss in hardest.losses]
    assert any(p == pytest.approx(expected, rel=1e-4) for p in penalties), penalties


def test_a_training_step_does_not_touch_unsampled_movies() -> None:
    """The step's cost must not grow with the catalogue: the id rows of movies that no
    triplet sampled, and no history holds, get no gradient (SGD leaves them unchanged)."""
    network = _network(l2=0.01)
    model = network.training_model(NEGATIVES)
    batch = _batch()
    batch["negatives"] = np.minimum(batch["negatives"], 20)
    batch["positive"] = np.minimum(batch["positive"], 20)
    batch["history"] = np.minimum(batch["history"], 20)
    before = network.items.ids.get_weights()[0].copy()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=bpr_loss)
    model.train_on_batch(batch, np.zeros((BATCH, 1), np.float32))
    after = network.items.ids.get_weights()[0]
    np.testing.assert_array_equal(before[21:], after[21:])
    assert not np.allclose(before[1:21], after[1:21])
