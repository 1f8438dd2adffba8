"""Offline training: MovieLens data, features, Keras models, evaluation and bundle export."""
