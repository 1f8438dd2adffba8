"""``python -m training bundles list | use | prune`` and ``train --if-missing`` on real bundle
folders: a bundle of an older schema is retrained, bad input is one line and changes
nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.bundles import planted_release, point_current, resign, set_version, trained_models_dir
from training.commands.cli import main


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def _models(tmp_path: Path, *versions: str, current: str | None = None) -> Path:
    """A models directory with copies of the trained bundle named ``versions``."""
    source = Path(os.path.realpath(trained_models_dir() / "current"))
    models = tmp_path / "models"
    models.mkdir()
    for version in versions:
        shutil.copytree(source, models / version)
        set_version(models / version, version)
        resign(models / version)
    point_current(models, current or versions[-1])
    return models


def _old_schema(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["schema_version"] = 2
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _state(models: Path) -> tuple[list[str], str]:
    return sorted(p.name for p in models.iterdir()), os.readlink(models / "current")


def test_list_shows_every_bundle_and_which_can_be_served(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = _models(tmp_path, "20260101T000000000000Z-hybrid", "20260102T000000000000Z-hybrid",
                     current="20260101T000000000000Z-hybrid")
    _old_schema(models / "20260102T000000000000Z-hybrid")
    assert main(["bundles", "--models", str(models), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["VERSION", "SCHEMA", "DATA", "CREATED", "SIZE", "STATE"]
    first, second = lines[1], lines[2]
    assert first.startswith("*") and "20260101T000000000000Z-hybrid" in first
    assert first.split()[2] == "4" and first.rstrip().endswith("ok")
    assert "KiB" in first or "MiB" in first
    assert not second.startswith("*") and second.split()[1] == "2"
    assert "cannot serve: schema 2, this version reads 3 and 4" in second


def test_use_switches_current_and_refuses_what_it_cannot_serve(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = _models(tmp_path, "20260101T000000000000Z-hybrid", "20260102T000000000000Z-hybrid")
    assert main(["bundles", "--models", str(models), "use",
                 "20260101T000000000000Z-hybrid"]) == 0
    assert os.readlink(models / "current") == "20260101T000000000000Z-hybrid"
    before = _state(models)
    assert main(["bundles", "--models", str(models), "use", "nope"]) == 2
    error = _one_line_error(capsys)
    assert "no bundle 'nope'" in error and "20260102T000000000000Z-hybrid" in error
    assert _state(models) == before
    damaged = models / "20260102T000000000000Z-hybrid" / "item_bias.npy"
    damaged.write_bytes(damaged.read_bytes()[:-8])
    assert main(["bundles", "--models", str(models), "use",
                 "20260102T000000000000Z-hybrid"]) == 2
    assert "item_bias.npy: checksum mismatch" in _one_line_error(capsys)
    assert _state(models) == before


def test_prune_keeps_the_newest_and_the_current(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = [f"2026010{day}T000000000000Z-hybrid" for day in range(1, 5)]
    models = _models(tmp_path, *versions, current=versions[0])
    before = _state(models)
    assert main(["bundles", "--models", str(models), "prune", "--keep", "0"]) == 2
    assert "--keep 0: keep at least 1" in _one_line_error(capsys)
    assert _state(models) == before
    assert main(["bundles", "--models", str(models), "prune", "--keep", "2"]) == 0
    assert capsys.readouterr().out.split() == ["deleted", versions[1]]
    assert _state(models) == (sorted(["current", ".lock", versions[0], *versions[2:]]),
                              versions[0])


@pytest.mark.slow
def test_if_missing_retrains_a_bundle_of_an_older_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After an upgrade that changed the schema, `docker compose up` (train --if-missing) must
    not leave the service with a bundle it refuses: it retrains, saying why; a servable
    bundle is left alone."""
    models = _models(tmp_path, "20260101T000000000000Z-hybrid")
    _old_schema(models / "20260101T000000000000Z-hybrid")
    command = ["-q", "train", "--data", str(planted_release()), "--out", str(models),
               "--if-missing", "--epochs", "2", "--set", "trials=1"]
    assert main(command) == 0
    captured = capsys.readouterr()
    assert "training a new bundle (--if-missing):" in captured.err
    assert "schema version 2, this version reads 3 and 4" in captured.err
    new = os.readlink(models / "current")
    assert new != "20260101T000000000000Z-hybrid"
    assert json.loads((models / new / "manifest.json").read_text())["schema_version"] == 4
    assert main(command) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert os.readlink(models / "current") == new
