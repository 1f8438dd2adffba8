"""Schemathesis against a real uvicorn on loopback, from the service's own OpenAPI schema."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bundles import trained_models_dir
from tests.paths import ROOT
from tests.servers import running_service

TOKEN = "fuzz-token"
# positive_data_acceptance wants every schema-valid request accepted; genre names are checked
# against the loaded bundle's vocabulary, which a static schema cannot list (RELIABILITY.md).
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]


def run_schemathesis(base: str, examples: int, seed: int, report: Path) -> tuple[int, str]:
    """Returns (exit code, output). Needs schemathesis on PATH next to the interpreter."""
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is in the dev extra"
    completed = subprocess.run(
        [executable, "--config-file", str(ROOT / "schemathesis.toml"), "run",
         f"{base}/openapi.json", *CHECKS, "--max-examples", str(examples),
         "--seed", str(seed), "--header", f"Authorization: Bearer {TOKEN}",
         "--request-timeout", "30", "--report", "junit",
         "--report-dir", str(report), "--no-color"],
        capture_output=True, text=True, timeout=600)
    return completed.returncode, completed.stdout + completed.stderr


@pytest.mark.slow
def test_fuzzed_api_has_no_server_errors_and_matches_its_schema(tmp_path: Path) -> None:
    with running_service(trained_models_dir(), ADMIN_TOKEN=TOKEN) as base:
        code, output = run_schemathesis(base, examples=100, seed=7, report=tmp_path)
    generated = re.search(r"(\d+) generated", output)
    assert code == 0, output[-4000:]
    assert generated and int(generated.group(1)) >= 1000, output[-2000:]
