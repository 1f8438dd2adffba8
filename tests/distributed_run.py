"""Run by tests/test_distribution.py in a JAX process with two simulated CPU devices:
prints one JSON line with the loss trajectory of a few training steps on one device, data
parallel and model parallel, and the folder of a bundle trained with ``distribute=model``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def trajectory(kind: str) -> list[float]:
    import keras

    from recommender_core.user_features import movielens_slots
    from training.models.distribution import distributed
    from training.models.hybrid.towers import HybridNetwork, TowerSizes
    from training.models.losses import bpr_loss
    from training.models.optimizers import LazyAdam

    slots = movielens_slots({"gender": ("F", "M"), "occupation": ("a", "b")})
    sizes = TowerSizes(n_users=40, n_items=60, n_item_features=6, user_slots=slots, history=5,
                       dim=8)
    with distributed(kind, sizes.dim):  # type: ignore[arg-type]
        keras.utils.set_random_seed(7)
        network = HybridNetwork(sizes, l2=1e-3)
        model = network.training_model(8)
        network.set_item_features(np.random.default_rng(1).normal(size=(60, 6)).astype("f4"))
        model.compile(optimizer=LazyAdam(0.05), loss=bpr_loss)
        rng = np.random.default_rng(2)
        losses = []
        for _ in range(6):
            batch = {
                "user": rng.integers(0, 41, 32), "history": rng.integers(0, 61, (32, 5)),
                "age_group": np.zeros(32, int), "gender": rng.integers(0, 3, 32),
                "occupation": rng.integers(0, 3, 32), "daytime": rng.integers(0, 4, 32),
                "weekend": rng.integers(0, 2, 32), "positive": rng.integers(1, 61, 32),
                "negatives": rng.integers(1, 61, (32, 8)),
            }
            batch = {name: value.astype("int32") for name, value in batch.items()}
            losses.append(float(model.train_on_batch(batch, np.zeros((32, 1), "float32"))))
    return losses


def main() -> None:
    import keras

    from tests.movielens_files import write_planted_ml1m
    from training.commands.train import train_command
    from training.models.config import HybridConfig, RunOptions

    result = {"backend": keras.backend.backend(),
              "devices": len(keras.distribution.list_devices()),
              "losses": {kind: trajectory(kind) for kind in ("none", "data", "model")}}
    out = Path(sys.argv[1])
    release = write_planted_ml1m(out.with_name(f"{out.name}-release"))  # beside it: pytest's
    result["bundle"] = str(train_command(
        str(release), str(out), progress=False,
        config=HybridConfig(epochs=2, trials=0, autoencoder_epochs=2, dim=16),
        run=RunOptions(distribute="model")))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
