"""`python -m training train`: the bundle it writes, and the errors that write nothing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from bundles import planted_release, trained_models_dir
from movielens_files import write_csv_release

from training.cli import main


def test_train_publishes_a_verified_bundle() -> None:
    models = trained_models_dir()
    current = models / "current"
    assert current.is_symlink()
    bundle = Path(os.path.realpath(current))
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["model"]["name"] == "hybrid"
    assert manifest["dataset"]["name"] == planted_release().name or manifest["dataset"]["layout"]
    assert manifest["dataset"]["layout"] == "ml-1m"
    assert len(manifest["dataset"]["fingerprint"]) == 64
    assert "ndcg@10" in manifest["metrics"]["validation"]
    assert len(manifest["model"]["autoencoder_history"]["loss"]) > 0
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest
    assert {"model.keras", "similar.faiss", "item_vectors.npy", "movies.json"} <= set(
        manifest["files"])
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
