"""Losses (tasks): Bayesian Personalized Ranking on score differences s⁺ − s⁻."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops


def bpr_log_loss(y_true: Any, difference: Any) -> Any:
    """−log σ(s⁺ − s⁻), written as softplus(−d) for numerical stability."""
    return ops.mean(ops.softplus(-difference), axis=-1)


def bpr_sigmoid_loss(y_true: Any, difference: Any) -> Any:
    """1 − σ(s⁺ − s⁻): bounded, less sensitive to noisy triplets."""
    return ops.mean(1.0 - ops.sigmoid(difference), axis=-1)


def bpr_hardest_loss(y_true: Any, difference: Any) -> Any:
    """−log σ(s⁺ − s⁻) for the hardest of the sampled negatives (the one the model ranks
    highest): BPR with adaptive negative sampling, which pushes on the top of the list."""
    return ops.softplus(-ops.min(difference, axis=-1))


def bpr_adaptive_loss(y_true: Any, difference: Any) -> Any:
    """BPR over the sampled negatives, each triplet weighted by softmax(s⁻ − s⁺) (weights held
    constant): a soft version of picking the hardest negative."""
    weights = ops.stop_gradient(ops.softmax(-difference, axis=-1))
    return ops.sum(weights * ops.softplus(-difference), axis=-1)


LOSSES = {"log": bpr_log_loss, "sigmoid": bpr_sigmoid_loss, "hardest": bpr_hardest_loss,
          "adaptive": bpr_adaptive_loss}


def per_task(loss: Callable[[Any, Any], Any], tasks: int) -> Callable[[Any, Any], Any]:
    """``loss`` applied to each of ``tasks`` equal blocks of the differences, then averaged:
    for a model that trains several heads on the same triplets."""
    if tasks == 1:
        return loss

    def averaged(y_true: Any, difference: Any) -> Any:
        blocks = ops.reshape(difference, (-1, tasks, ops.shape(difference)[-1] // tasks))
        return ops.mean(loss(None, blocks), axis=-1)

    averaged.__name__ = f"{loss.__name__}_per_task"
    return averaged
