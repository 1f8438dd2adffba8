"""The service's numpy user tower and scores equal the Keras inference model's."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recommender_core.bundle_format import FRESH_INPUT
from recommender_core.scoring import FastScorer, keras_scores, tower_weights
from recommender_core.user_features import UserSlot, user_inputs
from training.models.hybrid.towers import HybridNetwork, TowerSizes

N_ITEMS, HISTORY, BATCH = 40, 6, 12
#: a MovieLens slot beside two of a generic catalogue (a numeric one binned)
SLOTS = (UserSlot("gender", "gender", ("F", "M"), 4),
         UserSlot("feature_1", "country", ("NZ", "FR", "JP", "BR"), 8),
         UserSlot("feature_2", "income", ("q1", "q2", "q3"), 4, edges=(10.0, 20.0)))


def _inference_model(dim: int = 8) -> keras.Model:
    keras.utils.set_random_seed(5)
    sizes = TowerSizes(n_users=9, n_items=N_ITEMS, n_item_features=5, user_slots=SLOTS,
                       history=HISTORY, dim=dim, frozen=3)
    network = HybridNetwork(sizes, l2=0.0)
    model = network.inference_model()
    rng = np.random.default_rng(0)
    for layer in model.layers:  # every weight random, so that each input matters
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    return model


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    inputs = {name: rng.integers(0, 2, BATCH).astype(np.int32) for name in user_inputs(SLOTS)}
    inputs["user"] = rng.integers(0, 10, BATCH).astype(np.int32)
    inputs["feature_1"] = rng.integers(0, 5, BATCH).astype(np.int32)
    inputs["feature_2"] = rng.integers(0, 4, BATCH).astype(np.int32)
    inputs["daytime"] = rng.integers(0, 4, BATCH).astype(np.int32)
    history = rng.integers(1, N_ITEMS + 1, (BATCH, HISTORY)).astype(np.int32)
    lengths = rng.integers(0, HISTORY + 1, BATCH)
    history[np.arange(HISTORY)[None, :] < (HISTORY - lengths)[:, None]] = 0  # left padding
    inputs["history"] = history
    inputs[FRESH_INPUT] = rng.integers(0, N_ITEMS + 1, (BATCH, 4)).astype(np.int32)
    return inputs


def _scorer(model: keras.Model) -> FastScorer:
    items = np.arange(N_ITEMS)
    outputs = model.predict_on_batch({**_inputs(), "items": (items + 1)[None, :]})
    return FastScorer(tower_weights(model, SLOTS), np.asarray(outputs["item_vector"])[0],
                      np.asarray(outputs["item_bias"])[0], SLOTS)


def test_fast_path_equals_keras() -> None:
    model = _inference_model()
    scorer = _scorer(model)
    inputs = _inputs()
    expected = keras_scores(model, inputs, np.broadcast_to(np.arange(N_ITEMS), (BATCH, N_ITEMS)))
    np.testing.assert_allclose(scorer.scores(inputs), expected, rtol=1e-4, atol=1e-3)
    one = {name: value[:1] for name, value in inputs.items()}  # the matrix-vector path
    np.testing.assert_allclose(scorer.scores(one), expected[:1], rtol=1e-4, atol=1e-3)


def test_precomputed_known_users_equal_keras_in_every_context() -> None:
    model = _inference_model()
    scorer = _scorer(model)
    inputs = _inputs()
    inputs["user"] = np.arange(1, BATCH + 1, dtype=np.int32) % 10
    scorer.precompute_users(inputs)
    assert scorer.precompute_scores(1 << 20)
    items = np.broadcast_to(np.arange(N_ITEMS), (BATCH, N_ITEMS))
    for daytime in range(4):
        for weekend in range(2):
            context = {**inputs, "daytime": np.full(BATCH, daytime, np.int32),
                       "weekend": np.full(BATCH, weekend, np.int32)}
            expected = keras_scores(model, context, items)
            got = np.stack([scorer.known_user_scores(u, daytime, weekend)
                            for u in range(BATCH)])
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_movie_vectors_of_another_width_are_refused() -> None:
    model = _inference_model(dim=8)
    with pytest.raises(ValueError, match="movie vectors of width 6, but the towers give 8 "
                       "and the item-item part 3"):
        FastScorer(tower_weights(model, SLOTS), np.zeros((N_ITEMS, 6), np.float32),
                   np.zeros(N_ITEMS, np.float32), SLOTS)


def test_fresh_likes_move_the_item_item_part_as_in_keras() -> None:
    model = _inference_model()
    scorer = _scorer(model)
    inputs = {name: value[:1] for name, value in _inputs().items()}
    items = np.arange(N_ITEMS)[None, :]
    none = {**inputs, FRESH_INPUT: np.zeros((1, 1), np.int32)}
    more = {**inputs, FRESH_INPUT: np.array([[3, 0, 17]], np.int32)}
    for case in (none, more):
        np.testing.assert_allclose(scorer.scores(case), keras_scores(model, case, items),
                                   rtol=1e-4, atol=1e-3)
    assert not np.allclose(scorer.scores(none), scorer.scores(more))
