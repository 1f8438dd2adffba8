"""The models directory: publish a bundle atomically, and ``python -m training bundles
list | use VERSION | prune --keep N`` (docs/upgrading.md).

A models directory holds one folder per bundle, named by its version, and ``current``, a
symbolic link to the one served. Every change of ``current`` is a rename of a new link over
it (atomic: the service's watcher sees the old bundle or the new one, never neither), made
under an exclusive lock on ``.lock``. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recommender_core import bundle_format as fmt
from training.errors import TrainingError


@contextlib.contextmanager
def models_lock(models_dir: Path) -> Iterator[None]:
    """An exclusive lock on the models directory while ``current`` or its folders change."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _switch_current(models_dir: Path, version: str) -> None:
    """Point ``current`` at ``version`` atomically (the caller holds models_lock)."""
    link = models_dir / f".current-{version}"
    link.unlink(missing_ok=True)
    link.symlink_to(version)
    os.replace(link, models_dir / fmt.CURRENT_LINK)
    _fsync_directory(models_dir)  # the switch survives a power cut


def publish_bundle(models_dir: Path, version: str, write: Callable[[Path], object]) -> Path:
    """Call ``write(folder)`` on a temporary folder inside ``models_dir``, then rename it to
    ``version`` and switch the ``current`` symlink; on any failure nothing is left behind and
    ``current`` is unchanged."""
    models_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(models_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=models_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; the service may run as another user
    try:
        write(staging)
        for path in staging.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        with models_lock(models_dir):
            final = models_dir / version
            if final.exists():
                raise FileExistsError(f"{final} already exists")
            staging.rename(final)
            _switch_current(models_dir, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


STALE_AFTER_S = 3600.0
# ".<version>-<mkdtemp suffix>" staging folders and ".current-<version>" links.
_LEFTOVER = re.compile(r"^\.(current-)?\d{8}T\d{12}Z-")


def remove_stale_staging(models_dir: Path, *, older_than: float = STALE_AFTER_S) -> list[Path]:
    """Remove what a trainer killed mid-export left: hidden staging folders and half-made
    ``.current-*`` links older than ``older_than`` seconds (a live export holds its staging
    folder for seconds, so an hour old means dead). ``current`` never points at them."""
    removed = []
    now = time.time()
    for path in models_dir.glob(".*"):
        if not _LEFTOVER.match(path.name):  # never .lock, .cache (downloads) or the like
            continue
        try:
            age = now - path.lstat().st_mtime
        except FileNotFoundError:
            continue
        if age < older_than:
            continue
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def new_version(model_name: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{model_name}"


@dataclass(frozen=True)
class BundleInfo:
    """One bundle folder of a models directory, as ``bundles list`` shows it."""

    version: str  # the folder's name
    schema: object  # the manifest's schema_version (None when unreadable)
    data: str  # the dataset's name
    created_at: str
    size: int  # bytes
    current: bool
    problem: str | None  # why this version cannot serve it; None when it can

    @property
    def servable(self) -> bool:
        return self.problem is None


def current_version(models_dir: Path) -> str | None:
    """The folder ``current`` points at, or None."""
    link = models_dir / fmt.CURRENT_LINK
    if not link.is_symlink() and not link.exists():
        return None
    return Path(os.path.realpath(link)).name


def unservable_reason(folder: Path, *, checksums: bool = True) -> str | None:
    """Why this version of the code cannot serve the bundle in ``folder`` (another schema, a
    missing or altered file), or None. ``checksums=False`` skips reading every file and says
    a schema mismatch briefly (``bundles list``'s table)."""
    try:
        if not checksums:
            found = fmt.read_manifest(folder).get("schema_version")
            if found not in fmt.READABLE_SCHEMAS:
                readable = " and ".join(map(str, fmt.READABLE_SCHEMAS))
                return f"schema {found!r}, this version reads {readable}"
        fmt.check_files(folder, checksums=checksums)
    except fmt.BundleFileError as exc:
        return str(exc)
    return None


def bundle_versions(models_dir: Path) -> list[str]:
    """The bundle folders of ``models_dir``, oldest first (versions start with their UTC
    time); none when it does not exist."""
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir()
                  if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def list_bundles(models_dir: Path, *, checksums: bool = False) -> list[BundleInfo]:
    """Every bundle folder of ``models_dir`` (bundle_versions), with what it holds."""
    current = current_version(models_dir)
    found = []
    for folder in (models_dir / version for version in bundle_versions(models_dir)):
        try:
            manifest = fmt.read_manifest(folder)
        except fmt.BundleFileError:
            manifest = {}
        dataset = manifest.get("dataset")
        if not isinstance(dataset, dict):
            dataset = {}
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        found.append(BundleInfo(
            version=folder.name, schema=manifest.get("schema_version"),
            data=str(dataset.get("name", "?")), created_at=str(manifest.get("created_at", "?")),
            size=size, current=folder.name == current,
            problem=unservable_reason(folder, checksums=checksums)))
    return found


def format_bundles(bundles: list[BundleInfo]) -> str:
    """``bundles list``'s table."""
    if not bundles:
        return "no bundles (run `python -m training train` first)"
    rows = [("", "VERSION", "SCHEMA", "DATA", "CREATED", "SIZE", "STATE")]
    for info in bundles:
        rows.append(("*" if info.current else "", info.version, str(info.schema), info.data,
                     info.created_at, _size(info.size),
                     "ok" if info.servable else f"cannot serve: {info.problem}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
             + "  " + row[-1] for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n(* current)"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def use_bundle(models_dir: Path, version: str) -> str:
    """Point ``current`` at the bundle ``version`` once it is servable (every file checked);
    TrainingError, with nothing changed, when there is no such bundle or it is not."""
    names = bundle_versions(models_dir)
    if version not in names:
        known = ", ".join(names) or "none"
        raise TrainingError(f"no bundle {version!r} in {models_dir} (bundles: {known})")
    problem = unservable_reason(models_dir / version)
    if problem is not None:
        raise TrainingError(f"bundle {version!r} cannot be served by this version: {problem}")
    with models_lock(models_dir):
        _switch_current(models_dir, version)
    return f"{models_dir / fmt.CURRENT_LINK} -> {version}"


def prune_bundles(models_dir: Path, keep: int) -> list[str]:
    """Delete every bundle folder but the newest ``keep`` and the current one; the deleted
    versions. TrainingError, with nothing deleted, when ``keep`` is below 1."""
    if keep < 1:
        raise TrainingError(f"--keep {keep}: keep at least 1 bundle (prune never deletes the "
                            "current one, and keeps the newest N besides)")
    if not models_dir.is_dir():
        raise TrainingError(f"{models_dir}: no models directory")
    with models_lock(models_dir):
        versions = bundle_versions(models_dir)
        kept = {*versions[-keep:], current_version(models_dir)}
        doomed = [version for version in versions if version not in kept]
        for version in doomed:
            shutil.rmtree(models_dir / version)
    return doomed
