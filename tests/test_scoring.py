"""The service's numpy user tower equals the Keras one, for each form the trainer can build."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from app.scoring import FastScorer, keras_scores
from training.towers import USER_INPUTS, HybridNetwork, TowerSizes

N_ITEMS, HISTORY, BATCH = 40, 6, 12


def _inference_model(recent: int, hidden: int) -> keras.Model:
    keras.utils.set_random_seed(5)
    sizes = TowerSizes(n_users=9, n_items=N_ITEMS, n_item_features=5, n_age_groups=2,
                       n_genders=2, n_occupations=3, history=HISTORY, dim=8, hidden=hidden,
                       separate_history=False, recent=recent)
    network = HybridNetwork(sizes, scorer="dot", l2=0.0, item_dropout=0.0)
    model = network.inference_model()
    rng = np.random.default_rng(0)
    for layer in model.layers:  # every weight random, so that each input matters
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    network.set_item_features(rng.normal(size=(N_ITEMS, 5)).astype(np.float32))
    return model


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    inputs = {name: rng.integers(0, 2, BATCH).astype(np.int32) for name in USER_INPUTS}
    inputs["user"] = rng.integers(0, 10, BATCH).astype(np.int32)
    inputs["occupation"] = rng.integers(0, 4, BATCH).astype(np.int32)
    inputs["daytime"] = rng.integers(0, 4, BATCH).astype(np.int32)
    history = rng.integers(1, N_ITEMS + 1, (BATCH, HISTORY)).astype(np.int32)
    lengths = rng.integers(0, HISTORY + 1, BATCH)
    history[np.arange(HISTORY)[None, :] < (HISTORY - lengths)[:, None]] = 0  # left padding
    inputs["history"] = history
    return inputs


@pytest.mark.parametrize(("recent", "hidden"), [(0, 0), (2, 0), (3, 16)])
def test_fast_path_equals_keras(recent: int, hidden: int) -> None:
    model = _inference_model(recent, hidden)
    items = np.arange(N_ITEMS)
    outputs = model.predict_on_batch({**_inputs(), "items": (items + 1)[None, :]})
    scorer = FastScorer(model, np.asarray(outputs["item_vector"])[0],
                        np.asarray(outputs["item_bias"])[0], recent=recent)
    inputs = _inputs()
    expected = keras_scores(model, inputs, np.broadcast_to(items, (BATCH, N_ITEMS)))
    np.testing.assert_allclose(scorer.scores(inputs), expected, rtol=1e-4, atol=1e-3)


def test_a_recent_length_the_model_was_not_built_with_is_refused() -> None:
    model = _inference_model(2, 0)
    vectors = np.zeros((N_ITEMS, 8), np.float32)
    with pytest.raises(ValueError, match="the user tower takes"):
        FastScorer(model, vectors, np.zeros(N_ITEMS, np.float32), recent=0)
