"""Downloads against a local HTTP server: verification, caching, and nothing partial left."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.movielens_files import write_csv_release
from training.data.dataset import load_dataset
from training.data.download import download, extract_zip, resolve_data
from training.errors import DownloadError


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []
    short_by = 0  # announce more bytes than are sent

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + self.short_by))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type[_Handler]]:
    handler = type("Handler", (_Handler,), {"files": {}, "requests": [], "short_by": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("MOVIELENS_BASE_URL", f"http://127.0.0.1:{httpd.server_address[1]}/ml")
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path / "cache"))
    yield handler
    httpd.shutdown()
    httpd.server_close()


def _release_zip(tmp_path: Path, name: str) -> bytes:
    source = write_csv_release(tmp_path / "src" / name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for file in sorted(source.iterdir()):
            bundle.write(file, f"{name}/{file.name}")
    return buffer.getvalue()


def test_download_verifies_extracts_and_is_reused(server: type[_Handler], tmp_path: Path) -> None:
    body = _release_zip(tmp_path, "ml-latest")
    server.files["/ml/ml-latest.zip"] = body
    checksum = f"{hashlib.md5(body).hexdigest()}  ml-latest.zip\n"
    server.files["/ml/ml-latest.zip.md5"] = checksum.encode()
    path = download("ml-latest", progress=False)
    assert path == tmp_path / "cache" / "ml-latest"
    assert len(load_dataset(path, progress=False).ratings) == 6
    assert server.requests == ["/ml/ml-latest.zip.md5", "/ml/ml-latest.zip"]
    assert resolve_data("ml-latest", progress=False) == path  # cached: no new request
    assert len(server.requests) == 2


def test_checksum_mismatch_leaves_nothing(server: type[_Handler], tmp_path: Path) -> None:
    server.files["/ml/ml-1m.zip"] = _release_zip(tmp_path, "ml-1m")  # not GroupLens' real zip
    with pytest.raises(DownloadError, match="does not match the expected c4d9eecf"):
        download("ml-1m", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_truncated_download_leaves_nothing(server: type[_Handler], tmp_path: Path) -> None:
    body = _release_zip(tmp_path, "ml-latest")
    server.files["/ml/ml-latest.zip"] = body
    server.files["/ml/ml-latest.zip.md5"] = hashlib.md5(body).hexdigest().encode()
    server.short_by = 100
    with pytest.raises(DownloadError):
        download("ml-latest", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_checksum_file(server: type[_Handler]) -> None:
    with pytest.raises(DownloadError, match=r"ml-32m.zip.md5: cannot fetch the checksum"):
        download("ml-32m", progress=False)


def test_unknown_release() -> None:
    with pytest.raises(DownloadError, match="unknown release 'ml-2b'"):
        download("ml-2b", progress=False)


def test_bundled_name_resolves_without_network(server: type[_Handler]) -> None:
    assert (resolve_data("ml-latest-small") / "ratings.csv").is_file()
    assert server.requests == []


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ml/ratings.csv", "x")
        bundle.writestr("../../escaped.txt", "gotcha")
    with pytest.raises(DownloadError, match="outside the extraction folder"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("ratings.csv", b"0" * 50_000_000)
    with pytest.raises(DownloadError, match="decompression bomb"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_only_http_urls_are_fetched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MOVIELENS_BASE_URL", f"file://{tmp_path}")
    with pytest.raises(DownloadError, match="only http:// and https:// URLs are downloaded"):
        download("ml-32m", progress=False)
