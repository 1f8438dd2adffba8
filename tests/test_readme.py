"""The README's API examples: each curl command is the request its marker names, and each JSON
answer has exactly the fields the service sends for that request today (checked against the
test bundle; benchmarks.readme_examples regenerates the values from a real bundle)."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from benchmarks.readme_examples import MARKER, regenerate, render
from tests.bundles import trained_models_dir
from tests.paths import ROOT
from tests.test_app import client_for


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with client_for(trained_models_dir()) as test_client:
        yield test_client


def _examples() -> list[tuple[str, str, str | None, str, Any]]:
    text = (ROOT / "README.md").read_text()
    found = []
    for method, path, body, command, answer in MARKER.findall(text):
        found.append((method, path, body or None, command,
                      json.loads(answer.removeprefix("```json\n").removesuffix("\n```"))))
    return found


def _movies() -> list[dict[str, Any]]:
    """The test bundle's movies, in index order."""
    bundle = Path(os.path.realpath(trained_models_dir() / "current"))
    return list(json.loads((bundle / "movies.json").read_text()))


def _shape(value: Any) -> Any:
    """The keys and nesting of a JSON value, without the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__ if not isinstance(value, int | float) else "number"


def test_every_curl_command_is_the_request_its_marker_names() -> None:
    examples = _examples()
    assert len(examples) >= 4
    for method, path, body, command, _ in examples:
        words = shlex.split(command.removeprefix("```sh\n").split("```")[0].split("#")[0])
        assert words[0] == "curl"
        assert f"localhost:8000{path}" in words, (path, words)
        assert (method == "GET") == ("-X" not in words)
        if body is not None:
            assert json.loads(words[words.index("-d") + 1]) == json.loads(body)


def test_every_answer_has_the_fields_the_service_sends(client: TestClient) -> None:
    """The same kind of request against the test bundle (its ids: the first user and movies
    of the planted release) answers with the README's fields, nesting and strategy."""
    bundle = client.get("/model").json()
    version = bundle["version"]
    movies = _movies()[:3]
    first = movies[0]["movie_id"]
    for method, path, body, _, shown in _examples():
        local_path = re.sub(r"/similar/\d+", f"/similar/{first}", path)
        local_body = body
        if body is not None:
            parsed = json.loads(body)
            if isinstance(parsed, dict) and "liked" in parsed:
                parsed["liked"] = [m["movie_id"] for m in movies[:2]] + [999999]
            if isinstance(parsed, list):
                parsed = [{**event, "movie_id": first} for event in parsed]
            local_body = json.dumps(parsed)
        answer = client.request(method, local_path,
                                json=json.loads(local_body) if local_body else None)
        assert answer.status_code < 300, (local_path, answer.text)
        got = answer.json()
        assert _shape(got) == _shape(shown), (path, got, shown)
        if "strategy" in shown:
            assert got["strategy"] == shown["strategy"]
        if "model_version" in got:
            assert re.fullmatch(r"\d{8}T\d{12}Z-hybrid", shown["model_version"])
            assert got["model_version"] == version


def test_the_regenerator_writes_what_the_service_answers(client: TestClient) -> None:
    """readme_examples replaces each JSON block by the answer, unrounded, and keeps the rest."""
    movies = _movies()
    path = f"/similar/{movies[0]['movie_id']}?k=2"
    text = (f"before\n<!-- example: GET {path} -->\n```sh\ncurl 'localhost:8000{path}'\n```\n"
            "```json\n{}\n```\nafter\n")
    new = regenerate(text, client)
    assert new.startswith(f"before\n<!-- example: GET {path} -->\n```sh\n")
    assert new.endswith("\n```\nafter\n")
    assert render(client.get(path).json()) in new
    assert json.loads(new.split("```json\n")[1].split("\n```")[0]) == client.get(path).json()
