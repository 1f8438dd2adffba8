"""benchmarks/expand_bundle.py grows a trained bundle into a real one the service loads and
verifies (its Keras model, user tower and reference sample rebuilt for the new movies)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.loading import load_bundle
from benchmarks.expand_bundle import expand
from tests.bundles import trained_models_dir


def test_a_grown_bundle_loads_and_keeps_the_old_movies(tmp_path: Path) -> None:
    source = Path(os.path.realpath(trained_models_dir() / "current"))
    folder = expand(source, tmp_path / "grown", 300, seed=1)
    grown = load_bundle(folder)  # checksums, shapes, the numpy scorer against Keras
    old = load_bundle(source)
    assert len(grown.catalogue.movies) == 300
    n_old = len(old.catalogue.movies)
    # recomputed here from the Keras tables (the tool refuses a drift above 1e-4)
    np.testing.assert_allclose(grown.arrays["item_vectors"][:n_old],
                               old.arrays["item_vectors"], atol=1e-5)
    assert [slot.key for slot in grown.slots] == [slot.key for slot in old.slots]
