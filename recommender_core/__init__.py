"""What the trainer (``training``) and the service (``app``) share, and nothing else: the
bundle's on-disk contract and its numpy scorer, and the feedback database. Imports neither
side, nor TensorFlow or Keras at module level."""
