"""The training command line: inspect and its errors (exit code 2, one line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT
from training.commands.cli import main


def test_help_lists_the_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "training", "--help"], capture_output=True,
                            text=True, cwd=ROOT, check=True)
    for command in ("train", "evaluate", "download", "inspect"):
        assert command in result.stdout


def test_inspect_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "inspect", "--data", "ml-latest-small", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["ratings"], stats["users"], stats["movies"], stats["tags"]) == (
        100_836, 610, 9_742, 3_683)
    assert sum(stats["rating_histogram"].values()) == 100_836
    assert stats["rating_histogram"]["4.0"] == 26_818
    assert (stats["first_rating"], stats["last_rating"]) == ("1996-03-29", "2018-09-24")
    assert stats["likes"] == 48_580 and stats["user_features"] == []  # ratings >= 4


def test_inspect_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "inspect", "--data", "ml-latest-small"]) == 0
    out = capsys.readouterr().out
    assert "ratings      100,836" in out and "tags.csv found" in out


def test_bad_data_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --data")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_non_positive_time_budget_is_refused_before_the_data(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--data", str(tmp_path / "missing"), "--time-budget", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --time-budget must be positive, got 0.0"
