"""One hybrid variant on the temporal split of ml-latest-small, seed 0, full procedure
(validation early stopping, then the refit), seed 0 unless given:

    python benchmarks/hybrid_variant.py '{"loss": "hardest", "negatives": 64}' [seed]

Prints the test metrics, the fit time, the chosen epoch and the validation NDCG@10 per epoch.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from training.dataset import load_dataset  # noqa: E402
from training.evaluation import evaluate  # noqa: E402
from training.interactions import Interactions, build_interactions  # noqa: E402
from training.recommenders.hybrid import Hybrid  # noqa: E402
from training.recommenders.popularity import Popularity  # noqa: E402
from training.splits import Split, temporal_split  # noqa: E402


def temporal_setup() -> tuple[dict[str, Any], int, Split, Interactions]:
    """The command line's hybrid parameters and seed, and ml-latest-small's temporal split."""
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    dataset = load_dataset("data/ml-latest-small", progress=False)
    split = temporal_split(dataset.ratings)
    return params, seed, split, build_interactions(dataset, split.train)


def main() -> None:
    params, seed, split, data = temporal_setup()
    start = time.perf_counter()
    model = Hybrid(**params).fit(data, seed=seed, progress=False)
    seconds = time.perf_counter() - start
    metrics = evaluate(model, data, split.test, fallback=Popularity().fit(data))
    print(params, f"seed {seed}", {k: round(v, 4) for k, v in metrics.items()},
          f"fit {seconds:.1f} s", f"best epoch {model.best_epoch}")
    print("validation ndcg@10:", [round(x, 4) for x in model.validation_history["val_ndcg@10"]])
    print("popularity prior:", model.popularity_prior,
          {k: round(v, 4) for k, v in getattr(model, "prior_validation", {}).items()})


if __name__ == "__main__":
    main()
