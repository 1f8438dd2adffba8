"""Multi-device (and multi-host) training through the Keras 3 distribution API on JAX.

``--distribute data`` replicates the model on every device and splits each batch of triplets
between them (``keras.distribution.DataParallel``); ``--distribute model`` also shards the big
tables — the user and movie id embeddings, by their columns — over the devices
(``keras.distribution.ModelParallel`` with a layout map), for catalogues whose tables do not
fit one device. Nothing here is home-made: the engine is Keras' and XLA's. Across several
hosts, call ``jax.distributed.initialize()`` on each (docs/scale.md); the device list is then
every host's.

On CPU, several devices can be simulated with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (the tests do).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import keras

from training.errors import TrainingError

Distribute = Literal["none", "data", "model"]
#: variables sharded by ``--distribute model`` (by column: every device holds all rows)
SHARDED_TABLES = (".*user_id/embeddings", ".*item_id/embeddings")


def make_distribution(kind: Distribute, dim: int) -> keras.distribution.Distribution | None:
    """The Keras distribution for ``kind`` over every device, or None for ``none``."""
    if kind == "none":
        return None
    if keras.backend.backend() != "jax":
        raise TrainingError(f"--distribute {kind} runs on the Keras distribution API, which "
                            "needs KERAS_BACKEND=jax (pip install 'jax[cpu]', or jax[cuda])")
    devices = keras.distribution.list_devices()
    if kind == "data":
        return keras.distribution.DataParallel(devices=devices)
    if dim % len(devices):
        raise TrainingError(f"--distribute model shards the {dim}-wide embeddings by column "
                            f"over {len(devices)} devices: dim must be a multiple of it")
    mesh = keras.distribution.DeviceMesh((1, len(devices)), ("batch", "model"), devices)
    layout = keras.distribution.LayoutMap(mesh)
    for pattern in SHARDED_TABLES:
        layout[pattern] = (None, "model")
    return keras.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch")


@contextlib.contextmanager
def distributed(kind: Distribute, dim: int) -> Iterator[int]:
    """Build and train inside this block; yields the number of devices a batch is split
    over (batches must be a multiple of it)."""
    distribution = make_distribution(kind, dim)
    if distribution is None:
        yield 1
        return
    with distribution.scope():
        yield len(distribution.device_mesh.devices.flatten())
