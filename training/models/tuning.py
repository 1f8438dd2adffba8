"""Settings chosen on the data being trained on: an Optuna search over the training settings
whose best values differ most between releases. Each trial is one validation run of the hybrid
on the validation carve-out, pruned by its per-epoch NDCG@10 against earlier trials.

Why these two: on ml-latest-small's dense variant (1,682 most-rated movies) the hardest of
64 negatives scores 0.108 on the temporal split and the hardest of 16 0.137, a weaker L2 0.121
(seed 0; BENCHMARKS.md, "Settings chosen per release"), while the full release prefers the
defaults. The first trial is always the configuration
as given; settings given explicitly (``--set``) are not searched.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import optuna

from training.models.config import HybridConfig

#: the searched settings and their ranges
SPACE: dict[str, Callable[[optuna.trial.BaseTrial], float | int]] = {
    "negatives": lambda trial: trial.suggest_int("negatives", 4, 128, log=True),
    "l2": lambda trial: trial.suggest_float("l2", 1e-6, 1e-3, log=True),
}
#: epochs every trial trains before it may be pruned (validation NDCG is noisy early on)
WARMUP_EPOCHS = 4


def searched(config: HybridConfig) -> list[str]:
    """The settings of SPACE that ``config`` leaves to the search (not given explicitly)."""
    return [name for name in SPACE if name not in config.model_fields_set]


def make_study(config: HybridConfig, seed: int) -> optuna.Study:
    """A maximising study whose first trial is ``config`` itself; then a scrambled Sobol
    sequence (few trials cover the ranges evenly); trials below the median of the earlier ones
    at the same epoch are pruned after WARMUP_EPOCHS."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.QMCSampler(seed=seed, scramble=True,
                                             warn_independent_sampling=False)
    study = optuna.create_study(
        direction="maximize", sampler=sampler,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=WARMUP_EPOCHS))
    names = searched(config)
    if names:
        study.enqueue_trial({name: getattr(config, name) for name in names})
    return study


def suggest(trial: optuna.trial.BaseTrial, config: HybridConfig) -> HybridConfig:
    """``config`` with the trial's values of the searched settings."""
    return config.model_copy(update={name: SPACE[name](trial) for name in searched(config)})


def trial_record(trial: optuna.trial.FrozenTrial) -> dict[str, object]:
    """What the manifest keeps of a trial."""
    return {"number": trial.number, "state": trial.state.name, "params": trial.params,
            "value": trial.value, "epochs": len(trial.intermediate_values),
            "seconds": round(trial.duration.total_seconds(), 1) if trial.duration else None}
