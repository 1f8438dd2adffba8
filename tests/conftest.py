from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recommender_core.bundle_format import import_keras
from tests.postgres import PostgresServer, create_server, remove_server, server_binaries

import_keras()  # TensorFlow's native start-up lines off the test output


@pytest.fixture(scope="session", autouse=True)
def scratch_folder() -> Iterator[Path]:
    """One folder for the session's ``tempfile.mkdtemp`` folders (planted releases, bundles,
    feedback stores, the PostgreSQL cluster), removed when the session ends."""
    root = Path(tempfile.mkdtemp(prefix="recommender-tests-"))
    root.chmod(0o755)  # the PostgreSQL server runs as its own user inside it
    previous, tempfile.tempdir = tempfile.tempdir, str(root)
    try:
        yield root
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (tests that stop it restart it)."""
    if server_binaries() is None:
        message = "PostgreSQL server not installed (apt-get install postgresql)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message + "; REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(message)
    server = create_server()
    try:
        yield server
    finally:
        remove_server(server)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty feedback store of each kind: a SQLite file (in a folder that does not
    exist yet), and a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/nested/feedback.sqlite"
        return
    from recommender_core.feedback_store import FeedbackStore

    server: PostgresServer = request.getfixturevalue("postgres_server")
    database = f"test_{time.monotonic_ns()}"
    admin = FeedbackStore(server.url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    admin.close()
    yield server.url.rsplit("/", 1)[0] + f"/{database}"
