"""The BPR loss on hand-computed differences s⁺ − s⁻."""

from __future__ import annotations

import numpy as np
from keras import ops

from training.models.losses import bpr_loss


def softplus(x: float) -> float:
    return float(np.log1p(np.exp(x)))


def test_bpr_loss_is_the_mean_negative_log_sigmoid_per_row() -> None:
    differences = np.array([[0.0, 2.0], [-1.0, 1.0]], np.float32)
    got = ops.convert_to_numpy(bpr_loss(None, ops.convert_to_tensor(differences)))
    np.testing.assert_allclose(got, [(softplus(0) + softplus(-2)) / 2,
                                     (softplus(1) + softplus(-1)) / 2], rtol=1e-6)


def test_bpr_loss_is_stable_for_large_differences() -> None:
    differences = np.array([[80.0], [-80.0]], np.float32)
    got = ops.convert_to_numpy(bpr_loss(None, ops.convert_to_tensor(differences)))
    np.testing.assert_allclose(got, [0.0, 80.0], atol=1e-6)
