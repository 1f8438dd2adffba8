"""Training throughput of the default model's step against the catalogue's size.

    python -m benchmarks.bench_training_step [--items 10000,60000,250000] [--steps 200]

Builds the hybrid's training model with the default sizes (dim 128, history 50, 64 negatives,
batch 512, 86 frozen feature columns as on ml-latest-small) for each catalogue size, and
times ``--steps`` Adam steps on random triplets after a warm-up (XLA compiled, as in
training; ``--xla off|both`` without it, and the first step's time, compilation included).
Prints triplets per second and milliseconds per step for each size: the step should cost
the same whatever the catalogue holds. Runs on whichever Keras backend ``KERAS_BACKEND``
selects (TensorFlow by default; JAX on the GPU machine).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from recommender_core.bundle_format import import_keras
from recommender_core.user_features import AGE_GROUPS, movielens_slots


def measure(n_items: int, n_users: int, steps: int, batch: int = 512,
            jit: bool = True) -> dict[str, float]:
    from training.models.config import HybridConfig
    from training.models.hybrid.towers import HybridNetwork, TowerSizes
    from training.models.losses import bpr_loss

    config = HybridConfig()
    slots = movielens_slots({"age_group": tuple(AGE_GROUPS.values()), "gender": ("F", "M"),
                             "occupation": tuple(f"job {i}" for i in range(21))})
    sizes = TowerSizes(n_users=n_users, n_items=n_items, n_item_features=86, user_slots=slots,
                       history=config.history, dim=config.dim)
    network = HybridNetwork(sizes, l2=config.l2)
    model = network.training_model(config.negatives)
    from training.models.optimizers import LazyAdam

    model.compile(optimizer=LazyAdam(config.learning_rate), loss=bpr_loss,
                  jit_compile=jit)
    rng = np.random.default_rng(0)

    def random_batch() -> dict[str, np.ndarray]:
        return {
            "user": rng.integers(0, n_users + 1, batch).astype(np.int32),
            "history": rng.integers(0, n_items + 1, (batch, config.history)).astype(np.int32),
            "age_group": rng.integers(0, 8, batch).astype(np.int32),
            "gender": rng.integers(0, 3, batch).astype(np.int32),
            "occupation": rng.integers(0, 22, batch).astype(np.int32),
            "daytime": rng.integers(0, 4, batch).astype(np.int32),
            "weekend": rng.integers(0, 2, batch).astype(np.int32),
            "positive": rng.integers(1, n_items + 1, batch).astype(np.int32),
            "negatives": rng.integers(1, n_items + 1, (batch, config.negatives)).astype(np.int32),
        }

    batches = [random_batch() for _ in range(16)]
    target = np.zeros((batch, 1), np.float32)
    start = time.perf_counter()
    model.train_on_batch(batches[0], target)  # traces (and compiles with XLA)
    first_s = time.perf_counter() - start
    for inputs in batches[1:3]:
        model.train_on_batch(inputs, target)
    start = time.perf_counter()
    for step in range(steps):
        model.train_on_batch(batches[step % len(batches)], target)
    elapsed = time.perf_counter() - start
    return {"items": n_items, "users": n_users, "xla": jit, "first_step_s": round(first_s, 2),
            "ms_per_step": round(1000 * elapsed / steps, 2),
            "triplets_per_s": round(steps * batch / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", default="10000,60000,250000")
    parser.add_argument("--users", type=int, default=30_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--xla", default="on", choices=("on", "off", "both"),
                        help="compile the step with XLA (the trainer does from XLA_MIN_STEPS)")
    args = parser.parse_args()
    keras = import_keras()
    print(json.dumps({"backend": keras.backend.backend()}))
    for n_items in (int(x) for x in args.items.split(",")):
        for jit in {"on": (True,), "off": (False,), "both": (True, False)}[args.xla]:
            print(json.dumps(measure(n_items, args.users, args.steps, jit=jit)), flush=True)


if __name__ == "__main__":
    main()
