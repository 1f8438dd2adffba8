"""`python -m training train`: the bundle it writes, and the errors that write nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from recommender_core import __version__
from tests.bundles import planted_release, trained_models_dir
from tests.movielens_files import write_csv_release
from tests.paths import ROOT
from training.commands.cli import main
from training.errors import TrainingError
from training.models.config import HybridConfig


def test_train_publishes_a_verified_bundle() -> None:
    models = trained_models_dir()
    current = models / "current"
    assert current.is_symlink()
    bundle = Path(os.path.realpath(current))
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["schema_version"] == 4
    assert manifest["trainer_version"] == __version__
    assert manifest["model"]["name"] == "hybrid"
    assert manifest["dataset"]["name"] == planted_release().name or manifest["dataset"]["layout"]
    assert manifest["dataset"]["layout"] == "ml-1m"
    assert len(manifest["dataset"]["fingerprint"]) == 64
    assert "ndcg@10" in manifest["metrics"]["validation"]
    assert len(manifest["model"]["autoencoder_history"]["loss"]) > 0
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest
    assert {"model.keras", "similar.faiss", "item_vectors.npy", "movies.json",
            "user_tower.npz", "reference.npz"} <= set(manifest["files"])
    assert not [p for p in models.iterdir() if p.name.startswith(".") and p.is_dir()]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_data_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models"
    assert main(["-q", "train", "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "no such directory" in _one_line_error(capsys)
    assert not out.exists()


def test_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models"
    code = main(["-q", "train", "--data", "ml-latest-small", "--out", str(out), "--model", "x"])
    assert code == 2
    assert "unknown --model 'x'" in _one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize(("setting", "message"), [
    ("dim=0", "dim: Input should be greater than or equal to 1"),
    ("learning_rate=-1", "learning_rate: Input should be greater than 0"),
    ("user_dropout=1", "user_dropout: Input should be less than 1"),
    ("trials=maybe", "trials: Input should be a valid integer"),
    ("history=5.5", "history: Input should be a valid integer"),
    ("loss=log", "loss: Extra inputs are not permitted"),
    ("dim", "expected NAME=VALUE"),
])
def test_a_wrong_setting_is_refused_before_any_data_is_read(
        setting: str, message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models"
    # the data path does not exist either: the setting is checked first
    code = main(["-q", "train", "--data", str(tmp_path / "nowhere"), "--out", str(out),
                 "--set", setting])
    assert code == 2
    assert message in _one_line_error(capsys)
    assert not out.exists()


def test_every_hybrid_setting_refuses_a_wrong_value() -> None:
    """Each field of HybridConfig has a documented meaning and a value it refuses."""
    wrong: dict[str, object] = {
        "dim": 0, "history": 0, "epochs": 0, "batch_size": 0, "learning_rate": 0.0,
        "negatives": 0, "l2": -1.0, "user_dropout": 1.0, "content_dim": 0,
        "autoencoder_epochs": 0, "patience": 0, "min_epochs": 0, "trials": -1,
        "cold_alpha": -1.0, "popularity_prior": -0.5, "item_item_weight": -1.0,
    }
    assert set(wrong) == set(HybridConfig.model_fields)
    assert len(HybridConfig.model_fields) <= 16
    for name, field in HybridConfig.model_fields.items():
        assert field.description, name
        with pytest.raises(TrainingError, match=f"invalid hybrid setting: {name}:"):
            HybridConfig.from_mapping({name: wrong[name]})
    config = HybridConfig.from_assignments(["dim=64", "popularity_prior=null", "trials=0"])
    assert (config.dim, config.popularity_prior, config.trials) == (64, None, 0)
    with pytest.raises(ValidationError, match="frozen"):
        config.dim = 32  # type: ignore[misc]


def test_missing_data_prints_one_line_and_no_tensorflow_noise(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "training", "train", "--data", str(tmp_path / "missing"),
         "--out", str(tmp_path / "models")], capture_output=True, text=True, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("TF_")}, check=False)
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --data"), lines


def test_tensorflow_start_up_lines_are_silenced(tmp_path: Path) -> None:
    """What import_keras hides: without it the same import prints TensorFlow's native lines
    (so this test would notice if they stopped being emitted or started leaking through)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    code = ("import sys; from recommender_core import bundle_format; "
            "keras = bundle_format.import_keras(); "
            "print(keras.ops.convert_to_numpy(keras.ops.ones(2)).sum())")
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=ROOT, env=env, check=True)
    assert quiet.stdout.strip() == "2.0" and quiet.stderr.strip() == "", quiet.stderr
    loud = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True,
                          text=True, cwd=ROOT, env=env, check=True)
    noise = ("oneDNN", "cuda", "cuInit", "absl")
    if not any(word in loud.stderr for word in noise):
        pytest.skip("this TensorFlow build prints no start-up lines to hide")


def test_tensorflow_cpu_tensors_come_from_its_pool() -> None:
    """import_keras selects TensorFlow's BFC allocator for CPU tensors before TensorFlow is
    imported (a training step's XLA buffers would otherwise be mapped and unmapped at every
    step), and that pool serves tensors: its peak grows with what was allocated. An explicit
    TF_CPU_ALLOCATOR_USE_BFC is left as given. (Whether malloc's allocator keeps stats too
    changed between TensorFlow releases, so that is not what is checked.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    code = ("import os; from recommender_core import bundle_format; "
            "bundle_format.import_keras(); import tensorflow as tf\n"
            "print(os.environ['TF_CPU_ALLOCATOR_USE_BFC'])\n"
            "x = tf.ones((512, 512)); y = x @ x\n"
            "print(tf.config.experimental.get_memory_info('CPU:0')['peak'] >= 2 * 512 * 512 * 4)")
    pooled = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=env, check=True)
    assert pooled.stdout.split() == ["true", "True"], pooled.stdout + pooled.stderr
    code = ("import os; os.environ['TF_CPU_ALLOCATOR_USE_BFC'] = 'false'\n"
            "from recommender_core import bundle_format; bundle_format.import_keras()\n"
            "print(os.environ['TF_CPU_ALLOCATOR_USE_BFC'])")
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=ROOT, env=env, check=True)
    assert plain.stdout.strip() == "false", plain.stdout + plain.stderr


def test_dataset_too_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models"
    root = write_csv_release(tmp_path / "tiny")
    assert main(["-q", "train", "--data", str(root), "--out", str(out)]) == 2
    assert "too small to train" in _one_line_error(capsys)
    assert not out.exists()


def test_bad_file_leaves_current_unchanged(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "v1").mkdir()
    (models / "current").symlink_to("v1")
    root = write_csv_release(tmp_path / "bad")
    with open(root / "ratings.csv", "a") as handle:
        handle.write("1,2,banana,978300760\n")
    assert main(["-q", "train", "--data", str(root), "--out", str(models)]) == 2
    assert "ratings.csv, line 9, field 'rating'" in _one_line_error(capsys)
    assert os.readlink(models / "current") == "v1"
    assert sorted(p.name for p in models.iterdir()) == ["current", "v1"]
