"""Tiny bundles trained once per test session on the planted dataset."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from movielens_files import write_planted_ml1m

from training.train import train_command


@cache
def planted_release() -> Path:
    return write_planted_ml1m(Path(tempfile.mkdtemp(prefix="planted-release-")))


@cache
def trained_models_dir(model: str = "hybrid") -> Path:
    """A models directory whose `current` is a freshly trained bundle."""
    out = Path(tempfile.mkdtemp(prefix=f"models-{model}-"))
    train_command(str(planted_release()), str(out), model_name=model, epochs=4, progress=False)
    return out
