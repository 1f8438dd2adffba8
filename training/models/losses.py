"""The training task: Bayesian Personalized Ranking on score differences s⁺ − s⁻."""

from __future__ import annotations

from typing import Any

from keras import ops


def bpr_loss(y_true: Any, difference: Any) -> Any:
    """−log σ(s⁺ − s⁻) averaged over the columns of ``difference`` (the hybrid's training
    model outputs one column, the hardest negative's; GMF and NeuMF one per sampled negative),
    written as softplus(−d) for numerical stability. ``y_true`` is unused (Keras passes it)."""
    return ops.mean(ops.softplus(-difference), axis=-1)
