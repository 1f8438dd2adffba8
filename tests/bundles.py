"""Tiny bundles trained once per test session on the planted dataset."""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from app.bundle import Bundle
from recommender_core.bundle_format import MODEL_FILE, import_keras, sha256_file
from tests.movielens_files import write_planted_ml1m
from training.commands.train import train_command
from training.models.config import HybridConfig


@cache
def planted_release() -> Path:
    return write_planted_ml1m(Path(tempfile.mkdtemp(prefix="planted-release-")))


@cache
def trained_models_dir() -> Path:
    """A models directory whose `current` is a freshly trained bundle."""
    out = Path(tempfile.mkdtemp(prefix="models-hybrid-"))
    train_command(str(planted_release()), str(out), config=HybridConfig(epochs=4, trials=1),
                  progress=False)
    return out


def point_current(models: Path, name: str) -> None:
    """Switch ``models/current`` to ``name`` atomically, as the trainer does."""
    link = models / f".current-{name}"
    link.unlink(missing_ok=True)
    link.symlink_to(name)
    os.replace(link, models / "current")


def set_version(bundle: Path, version: str) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["version"] = version
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def resign(bundle: Path) -> None:
    """Rewrite the manifest's sha256 list, as a buggy trainer (or an attacker) would."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = {name: sha256_file(bundle / name)
                         for name in manifest["files"] if (bundle / name).exists()}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def keras_model_of(bundle: Bundle) -> Any:
    """The bundle's Keras inference model, loaded here (the service never loads it: it checks
    its numpy path against the Keras scores the trainer stored in the bundle)."""
    keras = import_keras()
    return keras.saving.load_model(bundle.path / MODEL_FILE, safe_mode=True, compile=False)
