"""Resolve ``--data`` to a directory: a path, the bundled sample, or a verified GroupLens download.

A download streams into a temporary file beside the cache with a progress bar, is checked
against its announced size and an md5 (pinned here for the frozen releases, else the ``.md5``
file GroupLens publishes next to each zip), and is extracted into a temporary folder that is
renamed into place only when complete. Any failure removes every partial file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from training.errors import DownloadError, TrainingError

BASE_URL = "https://files.grouplens.org/datasets/movielens"
BUNDLED_DIR = Path(__file__).resolve().parents[2] / "data"
MAX_UNCOMPRESSED_BYTES = 8 << 30  # ml-32m unpacks to ~0.9 GB; refuse zip bombs well before disk
MAX_COMPRESSION_RATIO = 200


@dataclass(frozen=True)
class Release:
    name: str
    md5: str | None  # None: GroupLens updates the file; verify with its published .md5


# md5 of the frozen releases' zips as GroupLens publishes them.
RELEASES = {
    release.name: release
    for release in (
        Release("ml-latest-small", None),
        Release("ml-latest", None),
        Release("ml-100k", "0e33842e24a9c977be4e0107933c0723"),
        Release("ml-1m", "c4d9eecfca2ab87c1945afe126590906"),
        Release("ml-10m", "ce571fd55effeba0271552578f2648bd"),
        Release("ml-20m", "cd245b17a1ae2cc31bb14903e1204af3"),
        Release("ml-25m", "6b51fb2759a8657d3bfcbfc42b592ada"),
        Release("ml-32m", None),
    )
}


def cache_dir() -> Path:
    """``$MOVIELENS_CACHE``, else ``$XDG_CACHE_HOME/movielens`` (``~/.cache/movielens``)."""
    if os.environ.get("MOVIELENS_CACHE"):
        return Path(os.environ["MOVIELENS_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "movielens"


def resolve_data(data: str | Path, *, progress: bool = True) -> Path:
    """A directory path as is; ``ml-latest-small`` the bundled copy; other release names the
    cached download (downloading it first if needed)."""
    path = Path(data)
    if path.exists():
        return path
    name = str(data)
    if name == "ml-latest-small" and (BUNDLED_DIR / name).is_dir():
        return BUNDLED_DIR / name
    if name in RELEASES:
        return download(name, progress=progress)
    raise TrainingError(
        f"--data {name!r}: no such directory, and not a release name "
        f"({', '.join(sorted(RELEASES))})"
    )


def download(name: str, *, base_url: str | None = None, progress: bool = True) -> Path:
    """Download, verify and extract one release into the cache; reuse it if already there."""
    if name not in RELEASES:
        raise DownloadError(f"unknown release {name!r}; known: {', '.join(sorted(RELEASES))}")
    release = RELEASES[name]
    root = cache_dir()
    target = root / name
    if (target / ".complete").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    base = (base_url or os.environ.get("MOVIELENS_BASE_URL") or BASE_URL).rstrip("/")
    url = f"{base}/{name}.zip"
    expected_md5 = release.md5 or _published_md5(f"{url}.md5")

    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=root) as work:
        archive = Path(work) / f"{name}.zip"
        actual_md5 = _fetch(url, archive, progress=progress)
        if actual_md5 != expected_md5:
            raise DownloadError(f"{url}: md5 {actual_md5} does not match the expected "
                                f"{expected_md5}; the download was discarded")
        staging = Path(work) / "extracted"
        extract_zip(archive, staging)
        (staging / ".complete").write_text(expected_md5 + "\n")
        if target.exists():  # an earlier, incomplete extraction
            shutil.rmtree(target)
        staging.rename(target)
    return target


def _checked(url: str) -> str:
    """Only http(s): MOVIELENS_BASE_URL must not turn a download into a file:// read."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError(f"{url}: only http:// and https:// URLs are downloaded")
    return url


def _published_md5(url: str) -> str:
    try:
        with urllib.request.urlopen(_checked(url), timeout=30) as response:  # nosec B310
            text = response.read(4096).decode("ascii", errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: cannot fetch the checksum: {exc}") from None
    token = text.split()[0] if text.split() else ""
    if "=" in text:  # "MD5 (ml-latest.zip) = abc..." (BSD md5 format)
        token = text.rsplit("=", 1)[1].strip()
    if len(token) != 32 or any(c not in "0123456789abcdef" for c in token.lower()):
        raise DownloadError(f"{url}: not an md5 checksum: {text[:80]!r}")
    return token.lower()


def _fetch(url: str, destination: Path, *, progress: bool) -> str:
    """Stream ``url`` to ``destination``; returns its md5; checks Content-Length."""
    digest = hashlib.md5(usedforsecurity=False)  # GroupLens publishes md5: integrity only
    try:
        with urllib.request.urlopen(_checked(url), timeout=60) as response:  # nosec B310
            announced = response.headers.get("Content-Length")
            total = int(announced) if announced and announced.isdigit() else None
            received = 0
            with (
                open(destination, "wb") as out,
                tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {url}",
                     disable=not progress) as bar,
            ):
                while block := response.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: download failed: {exc}") from None
    if total is not None and received != total:
        raise DownloadError(f"{url}: received {received:,} bytes of the announced {total:,}")
    return digest.hexdigest()


def extract_zip(archive: Path, destination: Path) -> None:
    """Extract with guards against paths escaping ``destination`` and decompression bombs."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            total = sum(member.file_size for member in members)
            packed = max(1, sum(member.compress_size for member in members))
            if total > MAX_UNCOMPRESSED_BYTES or total / packed > MAX_COMPRESSION_RATIO:
                raise DownloadError(f"{archive.name}: would unpack to {total:,} bytes from "
                                    f"{packed:,}; refused as a decompression bomb")
            root = destination.resolve()
            for member in members:
                target = (root / member.filename).resolve()
                if not target.is_relative_to(root) or member.filename.startswith(("/", "\\")):
                    raise DownloadError(f"{archive.name}: member {member.filename!r} would be "
                                        "written outside the extraction folder; refused")
            destination.mkdir(parents=True)
            written = 0
            for member in members:
                target = root / member.filename
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(target, "wb") as out:
                    while block := source.read(1 << 20):
                        written += len(block)
                        if written > total:  # sizes in the directory lied
                            raise DownloadError(f"{archive.name}: unpacks to more than its "
                                                "directory announces; refused")
                        out.write(block)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive.name}: not a valid zip file: {exc}") from None
