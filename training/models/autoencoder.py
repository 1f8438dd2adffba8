"""Content embeddings: an autoencoder that compresses each movie's TF-IDF(tags + genres) row."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
import scipy.sparse as sp
from keras import layers

from training.models.callbacks import Deadline, EpochProgress


@dataclass
class ContentEmbeddings:
    codes: np.ndarray  # float32 (n_movies, dim)
    history: dict[str, list[float]] = field(default_factory=dict)  # loss / val_loss per epoch


def train_autoencoder(tfidf: sp.csr_matrix, *, dim: int = 64, hidden: int = 256,
                      epochs: int = 30, seed: int = 0, verbose: int = 0,
                      deadline: float | None = None, progress: bool = False) -> ContentEmbeddings:
    """Encoder Dense(hidden) → Dense(dim); decoder mirrors it; MSE; 10% of movies validate.
    Movies with an empty document get a zero code. ``deadline`` (time.monotonic): training
    stops at the first step that ends after it; ``progress``: a bar over the epochs."""
    keras.utils.set_random_seed(seed)
    dense = tfidf.toarray().astype(np.float32)
    n_features = dense.shape[1]
    inputs = keras.Input((n_features,), name="tfidf")
    code = layers.Dense(dim, name="code")(layers.Dense(hidden, activation="relu")(inputs))
    decoded = layers.Dense(n_features)(layers.Dense(hidden, activation="relu")(code))
    model = keras.Model(inputs, decoded)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    has_content = np.flatnonzero(dense.any(axis=1))
    order = np.random.default_rng(seed).permutation(has_content)
    n_val = max(1, len(order) // 10)
    validation, train = dense[order[:n_val]], dense[order[n_val:]]
    fitted = model.fit(train, train, validation_data=(validation, validation), epochs=epochs,
                       batch_size=256, verbose=verbose, shuffle=True,
                       callbacks=[Deadline(deadline),
                                  EpochProgress(epochs, "content autoencoder", progress)])
    encoder = keras.Model(inputs, code)
    codes = np.zeros((len(dense), dim), dtype=np.float32)
    if len(has_content):
        codes[has_content] = encoder.predict(dense[has_content], batch_size=1024, verbose=0)
    # Scale codes to unit RMS so that they sit beside the genre and year features.
    scale = float(np.sqrt(np.mean(codes[has_content] ** 2))) if len(has_content) else 1.0
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    return ContentEmbeddings(codes / max(scale, 1e-6), history)
