"""Check that requirements/lock.txt was made from pyproject.toml as it is now: every
dependency of the core and of every extra is pinned there, at a version inside pyproject's
bounds. One line and exit status 1 when it is not (then `make lock`); nothing is installed
before this passes. Standard library only: it runs before any virtualenv exists.

    python3 requirements/check_lock.py [PYPROJECT] [LOCK]
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def version_key(version: str) -> tuple[int, ...]:
    """Release numbers of a version (``2.21.0`` -> (2, 21, 0)); enough for plain releases."""
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def satisfies(version: str, specifier: str) -> bool:
    """Whether ``version`` meets every clause of ``specifier`` (``>=``, ``>``, ``<``,
    ``<=``, ``==``, ``!=``; ``,``-separated)."""
    have = version_key(version)
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        op, bound = re.match(r"(>=|<=|==|!=|>|<|~=)\s*(.+)", clause).groups()  # type: ignore[union-attr]
        want = version_key(bound)
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b, "==": a == b,
              "!=": a != b, "~=": a >= b and a[:len(want) - 1] == b[:len(want) - 1]}[op]
        if not ok:
            return False
    return True


def problems(pyproject: Path, lock: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    own = canonical(project["name"])
    wanted = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        wanted.extend(extra)
    pins = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    found = []
    for requirement in wanted:
        name, _, specifier = _REQUIREMENT.match(requirement).groups()  # type: ignore[union-attr]
        name = canonical(name)
        if name == own:
            continue
        if name not in pins:
            found.append(f"{name} is not pinned")
        elif not satisfies(pins[name], specifier.strip()):
            found.append(f"{name} {pins[name]} is outside {specifier.strip()}")
    return found


def main(argv: list[str]) -> int:
    pyproject = Path(argv[0]) if argv else ROOT / "pyproject.toml"
    lock = Path(argv[1]) if len(argv) > 1 else ROOT / "requirements" / "lock.txt"
    if not lock.is_file():
        print(f"error: {lock}: no lock file (run `make lock`)", file=sys.stderr)
        return 1
    found = problems(pyproject, lock)
    if found:
        print(f"error: {lock} does not match {pyproject.name}: {'; '.join(found)} "
              "(run `make lock`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
