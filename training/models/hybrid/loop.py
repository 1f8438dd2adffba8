"""The hybrid's training loop: BPR triplets through the training graph, epoch by epoch, with
validation early stopping, a time budget cut inside an epoch, and Optuna pruning."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import keras
import numpy as np
import optuna
import pandas as pd
from tqdm.auto import tqdm

from training.data.interactions import Interactions
from training.evaluation.protocol import evaluate
from training.models.callbacks import Deadline, StepProgress
from training.models.config import HybridConfig
from training.models.distribution import distributed
from training.models.hybrid.frozen import FrozenParts
from training.models.hybrid.trained import TrainedTowers
from training.models.losses import bpr_loss
from training.models.optimizers import LazyAdam
from training.models.popularity import Popularity
from training.models.sampling import TripletDataset, TripletSampler

#: training steps (batches × epochs) from which a run compiles its step with XLA: compiling
#: costs ~3 s more than tracing, the compiled 512-triplet step saves ~22 ms (BENCHMARKS.md,
#: "XLA pays from"), so it pays from ~150 steps; ml-latest-small's runs take thousands
XLA_MIN_STEPS = 500


@dataclass
class Training:
    """What a run of the loop measured."""

    epochs: int  # the epoch whose weights the towers keep (the last one without validation)
    history: dict[str, list[float]] = field(default_factory=dict)  # loss, val NDCG, seconds
    metrics: dict[str, float] = field(default_factory=dict)  # the kept epoch's validation


@dataclass(frozen=True)
class Run:
    """Where a run stops: ``deadline`` (time.monotonic) cuts it at the first step that ends
    past it, inside an epoch too (one step always trains); ``trial`` is pruned by Optuna;
    ``stops`` collects where the time budget cut runs."""

    seed: int = 0
    progress: bool = False
    deadline: float | None = None
    distribute: Literal["none", "data", "model"] = "none"
    trial: optuna.Trial | None = None
    stops: list[str] = field(default_factory=list)


def train_towers(data: Interactions, config: HybridConfig, parts: FrozenParts,
                 codes: np.ndarray, epochs: int, run: Run,
                 validation: pd.DataFrame | None = None) -> tuple[TrainedTowers, Training]:
    """Towers of ``config`` trained on ``data`` for up to ``epochs`` epochs (fewer when the
    NDCG@10 on ``validation`` stops improving: the best epoch's weights are kept)."""
    with distributed(run.distribute, config.dim) as devices:
        return _train(data, config, parts, codes, epochs, run, validation, devices)


def _train(data: Interactions, config: HybridConfig, parts: FrozenParts, codes: np.ndarray,
           epochs: int, run: Run, validation: pd.DataFrame | None,
           devices: int) -> tuple[TrainedTowers, Training]:
    keras.utils.set_random_seed(run.seed)
    towers = TrainedTowers(data, config, parts, codes)
    trainer = towers.trainer
    sampler = TripletSampler(data, history=config.history, negatives=config.negatives,
                             user_dropout=config.user_dropout, seed=run.seed)
    batches = TripletDataset(sampler, config.batch_size, outputs=trainer.output.shape[-1],
                             multiple=devices)
    # XLA: 2.3x faster per epoch on the 2-core CPU (TensorFlow's "auto" leaves it off),
    # once the run has the steps to pay for its compilation; JAX always compiles.
    trainer.compile(optimizer=LazyAdam(config.learning_rate), loss=bpr_loss,
                    jit_compile=len(batches) * epochs >= XLA_MIN_STEPS)
    result = Training(epochs, {"loss": [], "val_ndcg@10": [], "seconds": []})
    history = result.history
    fallback = Popularity().fit(data)
    best, best_weights, waited = -1.0, None, 0
    stage = "validation" if validation is not None else "final"
    bar = tqdm(range(1, epochs + 1), desc=f"hybrid ({stage})", disable=not run.progress,
               leave=False)
    deadline = run.deadline
    deadline_stop = Deadline(deadline)
    for epoch in bar:
        if deadline is not None and epoch > 1 and time.monotonic() >= deadline:
            run.stops.append(f"{stage} after {epoch - 1} epochs")
            break
        start = time.perf_counter()
        steps = StepProgress(len(batches), f"epoch {epoch}", run.progress)
        fitted = trainer.fit(batches, epochs=1, verbose=0, callbacks=[deadline_stop, steps])
        if deadline_stop.cut:
            run.stops.append(f"{stage} in epoch {epoch} after "
                             f"{deadline_stop.steps} of {len(batches)} steps")
        history["loss"].append(float(fitted.history["loss"][-1]))
        history["seconds"].append(time.perf_counter() - start)
        towers.precompute()
        if validation is None:
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
            if deadline_stop.cut:
                break
            continue
        metrics = evaluate(towers, data, validation, fallback=fallback, with_auc=False)
        ndcg = metrics["ndcg@10"]
        history["val_ndcg@10"].append(ndcg)
        if run.trial is not None:
            run.trial.report(ndcg, epoch)
            if run.trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}: {ndcg:.4f}")
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", val_ndcg=f"{ndcg:.4f}")
        if ndcg > best:
            best, best_weights, waited, result.epochs = ndcg, trainer.get_weights(), 0, epoch
            result.metrics = metrics
        else:
            waited += 1
            # validation NDCG@10 is noisy early on: never stop before min_epochs
            if waited >= config.patience and epoch >= config.min_epochs:
                break
        if deadline_stop.cut:
            break
    if best_weights is not None:
        trainer.set_weights(best_weights)
        towers.precompute()
    return towers, result
