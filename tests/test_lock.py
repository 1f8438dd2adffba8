"""The lock (requirements/lock.txt) matches pyproject, and an install refuses one that does
not, in one line, before anything is created."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT


def _check(pyproject: Path, lock: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "requirements" / "check_lock.py"),
                           str(pyproject), str(lock)], capture_output=True, text=True,
                          check=False)


def test_the_committed_lock_matches_pyproject() -> None:
    done = _check(ROOT / "pyproject.toml", ROOT / "requirements" / "lock.txt")
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_lock_outside_pyprojects_bounds_is_refused_in_one_line(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    assert '"tensorflow>=2.16,<2.22"' in text
    pyproject.write_text(text.replace('"tensorflow>=2.16,<2.22"', '"tensorflow>=2.22"')
                         .replace('"faiss-cpu>=1.8,<2",', '"faiss-cpu>=1.8,<2",\n    "left-pad",'))
    done = _check(pyproject, ROOT / "requirements" / "lock.txt")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "does not match pyproject.toml" in lines[0]
    assert "tensorflow 2." in lines[0] and "is outside >=2.22" in lines[0]
    assert "left-pad is not pinned" in lines[0] and "(run `make lock`)" in lines[0]


def test_make_refuses_a_stale_lock_before_creating_anything(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        raise AssertionError("make is needed (the README's commands use it)")
    for name in ("Makefile", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"numpy>=1.26,<3"', '"numpy>=3"'))
    done = subprocess.run(["make", "-C", str(tmp_path), "test"], capture_output=True,
                          text=True, check=False)
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and "numpy 2." in ours[0] and "is outside >=3" in ours[0], done.stderr
    assert not (tmp_path / ".venv").exists()
