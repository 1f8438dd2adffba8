"""Multi-device training on the Keras distribution API (JAX, two simulated CPU devices): the
same loss trajectory as one device, and a bundle that the service loads and verifies (its
numpy path against the reference scores Keras computed on JAX at export)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.loading import load_bundle
from tests.paths import BUNDLED, ROOT

pytest.importorskip("jax", reason="the distributed path runs on JAX (pip install 'jax[cpu]')")


@pytest.mark.slow
def test_two_devices_train_as_one_and_export_a_servable_bundle(tmp_path: Path) -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tests.distributed_run", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax" and result["devices"] == 2
    one = np.array(result["losses"]["none"])
    assert one[-1] < one[0]  # it learns
    for kind in ("data", "model"):
        np.testing.assert_allclose(result["losses"][kind], one, rtol=1e-4, atol=1e-5,
                                   err_msg=kind)
    bundle = load_bundle(Path(result["bundle"]))  # numpy path vs the JAX-computed reference
    assert bundle.manifest["model"]["run"]["distribute"] == "model"
    # the towers' 16 columns, then the item-item part
    rank = bundle.manifest["model"]["item_item"]["rank"]
    assert bundle.scorer.item_vectors.shape[1] == 16 + rank


def test_distributing_on_tensorflow_is_refused_before_any_data_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.commands.cli import main

    assert main(["-q", "train", "--data", str(BUNDLED), "--out",
                 str(tmp_path / "models"), "--distribute", "data"]) == 2
    assert "needs KERAS_BACKEND=jax" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()
