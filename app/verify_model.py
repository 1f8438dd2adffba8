"""``python -m app.verify_model MODEL REQUEST OUT``: the only place the service runs TensorFlow.

The loader (app.loading) starts this in a short-lived process for each bundle: it loads the
bundle's Keras model in safe mode, and writes to OUT (a .npz) the user tower's weights, which
the numpy scorer serves with, and the model's scores of the sample of users and movies in
REQUEST, which the loader compares with the numpy path before the bundle is served. The API
process itself never imports TensorFlow, so each worker stays small (BENCHMARKS.md).

Exit status 0 on success; 3 with one line on stderr when the model does not load.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from app.scoring import keras_scores, tower_weights
from bundle_format import FRESH_INPUT, USER_INPUTS, import_keras

EXIT_REFUSED = 3


def main(argv: Sequence[str] | None = None) -> int:
    model_path, request_path, out_path = (sys.argv[1:] if argv is None else list(argv))
    keras = import_keras()
    with np.load(request_path, allow_pickle=False) as request:
        inputs = {name: request[name] for name in (*USER_INPUTS, FRESH_INPUT)}
        items = request["items"]
    try:
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        weights = tower_weights(model)
        arrays = {"scores": keras_scores(model, inputs, items)}
    except Exception as exc:  # noqa: BLE001 (any failure to load means: refuse the bundle)
        print(f"the Keras model does not load in safe mode: {type(exc).__name__}: "
              f"{str(exc)[:300]}", file=sys.stderr)
        return EXIT_REFUSED
    for layer, values in weights.items():
        for position, value in enumerate(values):
            arrays[f"{layer}:{position}"] = value
    np.savez(out_path, **arrays)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
