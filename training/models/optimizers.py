"""Adam that updates only the embedding rows a step used (lazy Adam), so that a training step
costs the same whatever the size of the user and movie tables.

Keras 3's Adam turns an embedding's sparse gradient (TensorFlow's ``IndexedSlices``) into a
dense one and updates every row's moments and weights each step: with 250,000 movies that is
three quarters of the step. Here a sparse gradient's rows are summed per distinct row (static
shapes, so XLA compiles it: sort, segment sum, scatter-add of the changes, padding rows adding
zero) and only those rows' moments and weights move, as TensorFlow Addons' LazyAdam did. Dense
gradients — every gradient on the JAX backend, where the GPU updates a table in microseconds —
take Keras' own Adam step unchanged, and so does a table with fewer rows than the step's
gradient holds (there the dense update is the cheaper one): on ml-latest-small (9,742 movies,
610 users, 512 × 53 movie rows per step) the optimizer is exactly Adam.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def _sparse_parts(gradient: Any) -> tuple[Any, Any] | None:
    """(indices, values) of a TensorFlow IndexedSlices gradient; None for a dense one."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if isinstance(gradient, tf.IndexedSlices):
        return gradient.indices, gradient.values
    return None


def _rows(values: Any, indices: Any) -> Any:
    import tensorflow as tf

    return tf.IndexedSlices(values, indices)


def _sparse_is_cheaper(indices: Any, variable: Any) -> bool:
    """Whether the table has more rows than the gradient (known when the step is traced):
    below that, sorting the gradient's rows costs more than Keras' dense update of all rows,
    and the dense update is plain Adam."""
    entries = indices.shape[0]
    return entries is not None and variable.shape[0] > entries


class LazyAdam(keras.optimizers.Adam):
    """Adam whose sparse updates touch only the rows in the gradient (see the module)."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        parts = _sparse_parts(gradient)
        if parts is None or not _sparse_is_cheaper(parts[0], variable):
            super().update_step(gradient, variable, learning_rate)
            return
        indices, values = parts
        dtype = variable.dtype
        values = ops.cast(values, dtype)
        # one summed gradient row per distinct index: sort, mark the first of each run
        order = ops.argsort(indices)
        indices = ops.take(indices, order)
        values = ops.take(values, order, axis=0)
        size = ops.shape(indices)[0]
        first = ops.concatenate([ops.ones((1,), "int32"),
                                 ops.cast(ops.not_equal(indices[1:], indices[:-1]), "int32")])
        segment = ops.cumsum(first) - 1
        summed = ops.segment_sum(values, segment, num_segments=size)
        # segments past the last distinct index are padding: row 0, with zero changes
        valid = ops.cast(ops.less(ops.arange(size), ops.sum(first)), dtype)[:, None]
        unique = ops.segment_max(indices, segment, num_segments=size)
        unique = ops.where(ops.greater(valid[:, 0], 0), unique, ops.zeros_like(unique))

        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        alpha = (ops.cast(learning_rate, dtype) * ops.sqrt(1 - ops.power(beta_2, step))
                 / (1 - ops.power(beta_1, step)))
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        m_rows = ops.take(m, unique, axis=0)
        v_rows = ops.take(v, unique, axis=0)
        m_change = (summed - m_rows) * (1 - beta_1) * valid
        v_change = (ops.square(summed) - v_rows) * (1 - beta_2) * valid
        new_m, new_v = m_rows + m_change, v_rows + v_change
        self.assign_add(m, _rows(m_change, unique))
        self.assign_add(v, _rows(v_change, unique))
        self.assign_sub(variable, _rows(alpha * new_m / (ops.sqrt(new_v) + self.epsilon) * valid,
                                        unique))
