"""Process faults: SIGTERM drains requests in flight; a trainer killed mid-export leaves the
previous bundle current; concurrent publishers never corrupt `current`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.loading import load_bundle
from tests.bundles import planted_release, trained_models_dir
from tests.paths import ROOT
from tests.servers import free_port, start_service, wait_ready
from training.commands.bundles import remove_stale_staging


def _copy_current(tmp_path: Path) -> tuple[Path, str]:
    source = Path(os.path.realpath(trained_models_dir() / "current"))
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(source, models / source.name)
    (models / "current").symlink_to(source.name)
    return models, source.name


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.slow
def test_sigterm_drains_requests_in_flight(tmp_path: Path) -> None:
    port = free_port()
    server = start_service(trained_models_dir(), port)
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        body = json.dumps({"liked": [1, 2, 3], "k": 5}).encode()
        clients = []
        for _ in range(4):  # requests in flight: headers and half the body sent
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(b"POST /recommend HTTP/1.1\r\nHost: test\r\n"
                         b"Content-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
            clients.append(sock)
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.poll() is None, "exited with requests in flight"
        with pytest.raises(OSError):  # no new connections once draining
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        responses = []
        for sock in clients:
            sock.sendall(body[10:])
            responses.append(_read_response(sock))
            sock.close()
        # uvicorn re-raises the signal once it has drained, so the exit status says SIGTERM.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    for response in responses:
        head, _, payload = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), response[:200]
        assert len(json.loads(payload)["items"]) == 5


@pytest.mark.slow
def test_trainer_killed_mid_export_leaves_previous_bundle(tmp_path: Path) -> None:
    models, previous = _copy_current(tmp_path)
    killed_mid_export = False
    for _attempt in range(3):
        trainer = subprocess.Popen(
            [sys.executable, "-m", "training", "-q", "train", "--data", str(planted_release()),
             "--out", str(models), "--epochs", "1", "--set", "trials=1"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while trainer.poll() is None and time.time() < deadline:
            if any(p.name.startswith(".2") for p in models.iterdir()):  # staging folder
                trainer.send_signal(signal.SIGKILL)
                killed_mid_export = True
                break
            time.sleep(0.002)
        trainer.wait(timeout=60)
        if killed_mid_export:
            break
        # Finished before the kill landed: it published; go back to the first bundle.
        (models / "current").unlink()
        (models / "current").symlink_to(previous)
    assert killed_mid_export
    assert os.readlink(models / "current") == previous
    load_bundle(models / previous)  # still complete and verified
    leftovers = [p for p in models.iterdir() if p.name.startswith(".2")]
    assert leftovers, "the kill should leave the hidden staging folder behind"
    assert remove_stale_staging(models) == []  # young: maybe a live export, kept
    old = time.time() - 7200
    for path in leftovers:
        os.utime(path, (old, old), follow_symlinks=False)
    assert sorted(remove_stale_staging(models)) == sorted(leftovers)
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == sorted([
        "current", previous])


PUBLISHER = """
import sys, time
from pathlib import Path
from training.commands.bundles import publish_bundle

models, worker = Path(sys.argv[1]), sys.argv[2]
for i in range(6):
    version = f"20260101T000000{int(worker):02d}{i:04d}Z-w{worker}-{i}"

    def write(folder, version=version):
        for name in ("a.bin", "b.bin", "c.bin"):
            (folder / name).write_text(version)
            time.sleep(0.01)
        (folder / "manifest.json").write_text(version)

    publish_bundle(models, version, write)
"""


@pytest.mark.slow
def test_concurrent_publishers_never_corrupt_current(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    problems: list[str] = []
    reads = [0]
    stop = threading.Event()

    def check() -> None:  # `current` always resolves to a complete, single-version bundle
        while not stop.is_set():
            current = models / "current"
            if not current.is_symlink():
                continue
            try:
                folder = Path(os.path.realpath(current))
                versions = {(folder / n).read_text() for n in
                            ("manifest.json", "a.bin", "b.bin", "c.bin")}
            except OSError as exc:
                problems.append(f"{exc}")
                continue
            reads[0] += 1
            if versions != {folder.name}:
                problems.append(f"{folder.name}: {versions}")

    checker = threading.Thread(target=check)
    checker.start()
    workers = [subprocess.Popen([sys.executable, "-c", PUBLISHER, str(models), str(w)],
                                cwd=ROOT) for w in range(4)]
    codes = [w.wait(timeout=120) for w in workers]
    stop.set()
    checker.join()
    assert codes == [0, 0, 0, 0]
    assert problems == []
    assert reads[0] > 100
    names = sorted(p.name for p in models.iterdir())
    assert len([n for n in names if n.startswith("2026")]) == 24
    assert [n for n in names if n.startswith(".") and n != ".lock"] == []
    assert os.path.realpath(models / "current").startswith(str(models))
