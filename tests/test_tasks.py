"""The BPR losses on hand-computed differences s⁺ − s⁻."""

from __future__ import annotations

import numpy as np
from keras import ops

from training.tasks import LOSSES


def _loss(name: str, differences: list[list[float]]) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(LOSSES[name](None, ops.convert_to_tensor(
        np.array(differences, np.float32)))))


def softplus(x: float) -> float:
    return float(np.log1p(np.exp(x)))


def test_log_loss_is_mean_negative_log_sigmoid() -> None:
    got = _loss("log", [[0.0, 2.0], [-1.0, 1.0]])
    np.testing.assert_allclose(got, [(softplus(0) + softplus(-2)) / 2,
                                     (softplus(1) + softplus(-1)) / 2], rtol=1e-6)


def test_sigmoid_loss() -> None:
    np.testing.assert_allclose(_loss("sigmoid", [[0.0]]), [0.5], rtol=1e-6)


def test_hardest_takes_the_negative_ranked_highest() -> None:
    # differences 3, -0.5, 1: the hardest negative is the one scored above the positive
    np.testing.assert_allclose(_loss("hardest", [[3.0, -0.5, 1.0]]), [softplus(0.5)],
                               rtol=1e-6)


def test_adaptive_weights_hard_negatives_more() -> None:
    d = np.array([3.0, -0.5, 1.0])
    weights = np.exp(-d) / np.exp(-d).sum()
    expected = float((weights * np.log1p(np.exp(-d))).sum())
    np.testing.assert_allclose(_loss("adaptive", [d.tolist()]), [expected], rtol=1e-5)
    assert expected > _loss("log", [d.tolist()])[0]  # leans on the hard triplet


def test_per_task_applies_the_loss_to_each_block_and_averages() -> None:
    from training.tasks import per_task

    loss = per_task(LOSSES["hardest"], 2)
    # block 1: hardest difference -0.5; block 2: hardest difference 2.0
    got = ops.convert_to_numpy(loss(None, ops.convert_to_tensor(
        np.array([[3.0, -0.5, 2.0, 4.0]], np.float32))))
    np.testing.assert_allclose(got, [(softplus(0.5) + softplus(-2.0)) / 2], rtol=1e-6)
    assert per_task(LOSSES["log"], 1) is LOSSES["log"]
