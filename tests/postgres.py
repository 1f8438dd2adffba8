"""A real, throw-away PostgreSQL server for the tests (Debian's `postgresql` package: initdb and
pg_ctl under /usr/lib/postgresql/<version>/bin). Nothing is mocked: the tests talk to it over
TCP on 127.0.0.1.

Where no server binaries are installed the tests that need one skip with a message saying so,
except when REQUIRE_POSTGRES=1 (set by .ci/run, which installs the package): then they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port

USER = "recommender"


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL bin folder with initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda path: int(Path(path).parent.parent.name)
                   if Path(path).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@dataclass
class PostgresServer:
    """One cluster in a temporary folder; ``url`` is its database URL."""

    bin_dir: Path
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *command: str) -> list[str]:
        # initdb and postgres refuse to run as root; Debian's package creates `postgres`.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return list(command)

    def _ctl(self, *args: str) -> None:
        subprocess.run(self._as_owner(str(self.bin_dir / "pg_ctl"), "-D",
                                      str(self.folder / "data"), "-w", "-t", "60", *args),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.folder} -c max_connections=200 "
                   f"-c fsync=on -c synchronous_commit=on")
        self._ctl("-o", options, "-l", str(self.folder / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def create_server() -> PostgresServer:
    """initdb a new cluster (trust authentication, 127.0.0.1 only) and start it."""
    bin_dir = server_binaries()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install "
                                "postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="recommender-pg-"))
    server = PostgresServer(bin_dir, folder, free_port())
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(server._as_owner(str(bin_dir / "initdb"), "-D", str(folder / "data"),
                                    "-U", USER, "--auth=trust", "-E", "UTF8", "--no-instructions"),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server.start()
    return server


def remove_server(server: PostgresServer) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by the test
        server.stop("immediate")
    shutil.rmtree(server.folder, ignore_errors=True)
