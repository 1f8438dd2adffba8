"""Run the Dockerfile's steps without a Docker engine: every COPY source must exist, and every
RUN command is executed, as written, in a staging folder laid out as the image would be, with
a fresh virtualenv's python first on PATH (the image's `python`). Handles the instructions this
project's Dockerfile uses (FROM, ENV, WORKDIR, COPY, RUN, USER, EXPOSE, HEALTHCHECK, CMD)."""

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


def main() -> int:
    steps = instructions((ROOT / "Dockerfile").read_text())
    stage = Path(tempfile.mkdtemp(prefix="docker-dry-run-"))
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
            *sources, target = parts
            for source in sources:
                path = ROOT / source
                if not path.exists():
                    print(f"Dockerfile: COPY source {source} does not exist", file=sys.stderr)
                    return 1
                destination = (workdir / target if not target.startswith("/")
                               else stage / target.lstrip("/"))
                if path.is_dir():
                    copy_tree(path, destination)
                else:
                    if target.endswith("/"):
                        destination = destination / path.name
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, destination)
        elif keyword == "RUN":
            print(f"+ {rest}", flush=True)
            subprocess.run(rest, shell=True, cwd=workdir, env=env, check=True)  # noqa: S602
            ran += 1
    # The installed image must be able to start both roles.
    subprocess.run(["python", "-m", "training", "--help"], cwd=stage, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["python", "-c", "import app.main, app.healthcheck"], cwd=stage, env=env,
                   check=True)
    leaked = [p for p in (stage / "srv" / "models").rglob("*") if p.name != ".gitkeep"]
    if leaked:
        print(f"Dockerfile: local bundles would be copied into the image: {leaked[:3]}",
              file=sys.stderr)
        return 1
    print(f"Dockerfile dry run: {ran} RUN commands passed")
    shutil.rmtree(stage, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
