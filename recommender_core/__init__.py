"""What the trainer (``training``) and the service (``app``) share, and nothing else: the
bundle's on-disk contract and its numpy scorer, and the feedback database. Imports neither
side, nor TensorFlow or Keras at module level."""

#: the package's version (pyproject reads it from here; GET /health reports it)
__version__ = "0.2.0"
