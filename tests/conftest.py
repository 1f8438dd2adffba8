from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bundle_format import import_keras
from tests.postgres import PostgresServer, create_server, remove_server, server_binaries

import_keras()  # TensorFlow's native start-up lines off the test output


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
