"""Run the Dockerfile's steps without a Docker engine: every COPY source must exist, and every
RUN command is executed, as written, in a staging folder laid out as the image would be, with
a fresh virtualenv's python first on PATH (the image's `python`). Handles the instructions this
project's Dockerfile uses (FROM ... AS stage, ENV, WORKDIR, COPY, RUN, USER, EXPOSE, HEALTHCHECK,
CMD): each target (api, trainer) is built from its chain of stages in its own staging folder."""

from __future__ import annotations

import fnmatch
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions(text: str) -> list[tuple[str, str]]:
    joined = text.replace("\\\n", " ")
    steps = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            steps.append((keyword.upper(), rest.strip()))
    return steps


def ignored(path: Path) -> bool:
    """The .dockerignore rules this project uses: a folder's contents except negated files."""
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    relative = path.relative_to(ROOT).as_posix()
    result = False
    for rule in rules:
        negated = rule.startswith("!")
        pattern = rule.lstrip("!")
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern + "/*"):
            result = not negated
    return result


def copy_tree(source: Path, destination: Path) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not ignored(path):
            target = destination / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def stages(steps: list[tuple[str, str]]) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Each ``FROM image AS name`` stage: its parent (an image or an earlier stage's name)
    and its instructions."""
    found: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in steps:
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(found))
            current = []
            found[name] = (parts[0], current)
        else:
            current.append((keyword, rest))
    return found


def chain(found: dict[str, tuple[str, list[tuple[str, str]]]], target: str
          ) -> list[tuple[str, str]]:
    """The instructions that build ``target``: its ancestors' first."""
    parent, steps = found[target]
    return (chain(found, parent) if parent in found else []) + steps


def build(steps: list[tuple[str, str]], target: str) -> tuple[Path, dict[str, str], int]:
    """Run ``steps`` in a staging folder with a fresh virtualenv; returns the folder, the
    environment and the number of RUN commands."""
    stage = Path(tempfile.mkdtemp(prefix=f"docker-dry-run-{target}-"))
    env_dir = stage / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    env = dict(os.environ, PATH=f"{env_dir / 'bin'}:{os.environ['PATH']}")
    workdir = stage / "srv"
    workdir.mkdir()
    ran = 0
    for keyword, rest in steps:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
        elif keyword == "COPY":
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            *sources, target_path = parts
            for source in sources:
                path = ROOT / source
                if not path.exists():
                    raise SystemExit(f"Dockerfile: COPY source {source} does not exist")
                destination = (workdir / target_path if not target_path.startswith("/")
                               else stage / target_path.lstrip("/"))
                if path.is_dir():
                    copy_tree(path, destination)
                else:
                    if target_path.endswith("/"):
                        destination = destination / path.name
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, destination)
        elif keyword == "RUN":
            print(f"+ [{target}] {rest}", flush=True)
            subprocess.run(rest, shell=True, cwd=workdir, env=env, check=True)  # noqa: S602
            ran += 1
    leaked = [p for p in (workdir / "models").rglob("*") if p.name != ".gitkeep"]
    if leaked:
        raise SystemExit(f"Dockerfile: local bundles would be copied into the image: "
                         f"{leaked[:3]}")
    return stage, env, ran


def main() -> int:
    found = stages(instructions((ROOT / "Dockerfile").read_text()))
    missing = {"api", "trainer"} - set(found)
    if missing:
        print(f"Dockerfile: no {', '.join(sorted(missing))} stage", file=sys.stderr)
        return 1
    ran = 0
    # The api image: the service starts, and TensorFlow is not there.
    stage, env, count = build(chain(found, "api"), "api")
    ran += count
    workdir = stage / "srv"
    subprocess.run(["python", "-c", "import app.main, app.healthcheck"], cwd=workdir, env=env,
                   check=True)
    for heavy in ("tensorflow", "keras", "jax", "pandas"):
        if subprocess.run(["python", "-c", f"import {heavy}"], cwd=workdir, env=env,
                          capture_output=True, check=False).returncode == 0:
            print(f"Dockerfile: the api image installs {heavy}", file=sys.stderr)
            return 1
    shutil.rmtree(stage, ignore_errors=True)
    # The trainer image: the trainer starts where the image's CMD runs it.
    stage, env, count = build(chain(found, "trainer"), "trainer")
    ran += count
    subprocess.run(["python", "-m", "training", "bundles", "--help"], cwd=stage / "srv",
                   env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["python", "-c", "import tensorflow, keras"], cwd=stage / "srv", env=env,
                   check=True)
    shutil.rmtree(stage, ignore_errors=True)
    print(f"Dockerfile dry run: api and trainer targets, {ran} RUN commands passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
