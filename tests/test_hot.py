"""The lean path of GET /recommend/{user_id} and GET /similar/{movie_id} (app.hot): what it
answers is byte for byte what the FastAPI route answers, and everything it does not take
falls through to the route."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.hot import HotReads
from tests.bundles import trained_models_dir
from tests.test_app import client_for


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with client_for(trained_models_dir()) as test_client:
        yield test_client


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the lean path answered (the others fell through)."""
    seen: list[str] = []
    real = HotReads.answer

    def spy(self: HotReads, scope: dict[str, Any]) -> tuple[bytes, str] | None:
        found = real(self, scope)
        if found is not None:
            seen.append(f"{scope['path']}?{scope['query_string'].decode()}")
        return found

    monkeypatch.setattr(HotReads, "answer", spy)
    return seen


def _ids(name: str) -> list[int]:
    bundle = Path(os.path.realpath(trained_models_dir() / "current"))
    return [int(x) for x in np.load(bundle / f"{name}.npy")]


def test_answers_equal_the_routes_byte_for_byte(client: TestClient,
                                                answered: list[str]) -> None:
    """The same request through the route: an extra query parameter, which the route ignores
    and the lean path does not take."""
    users = _ids("user_ids")[:6] + [999_999]  # known users and one the bundle never saw
    movies = _ids("item_ids")[:6]
    queries = ["", "k=3", "k=7&offset=2", "offset=4", "k=1000"]
    paths = ([f"/recommend/{u}" for u in users] + [f"/similar/{m}" for m in movies])
    for path in paths:
        for query in queries:
            lean = client.get(f"{path}?{query}")
            route = client.get(f"{path}?{query}{'&' if query else ''}via=route")
            assert lean.status_code == route.status_code == 200, (path, query)
            assert lean.content == route.content, (path, query)
            for header in ("content-type", "content-length"):
                assert lean.headers[header] == route.headers[header]
    assert len(answered) == len(paths) * len(queries)  # the lean path took every first one
    for path in paths:  # again: from the answer cache, still the route's bytes
        for query in queries:
            route = client.get(f"{path}?{query}{'&' if query else ''}via=route")
            assert client.get(f"{path}?{query}").content == route.content


def test_the_answer_cache_is_bounded_and_per_bundle(client: TestClient) -> None:
    hot: HotReads = client.app.hot  # type: ignore[attr-defined]
    users = _ids("user_ids")[:40]
    hot.cache_bytes, kept = 5_000, hot.cache_bytes
    try:
        for user in users:
            assert client.get(f"/recommend/{user}?k=5").status_code == 200
        assert 0 < hot._cached_bytes <= 5_000
        assert len(hot._cache) < len(users)
        assert hot._bundle is not None and hot._bundle() is client.app.state.model.bundle
    finally:
        hot.cache_bytes = kept


@pytest.mark.parametrize("request_path", [
    "/recommend/5?k=0", "/recommend/5?k=1001", "/recommend/5?k=05", "/recommend/05",
    "/recommend/0", "/recommend/-5", "/recommend/5?k=3&k=4", "/recommend/5?genres=Comedy",
    "/recommend/5?age=30", "/recommend/5?offset=10001", "/recommend/99999999999",
    "/recommend/5/", "/recommend/5?k", "/similar/999999", "/similar/1?k=x",
])
def test_everything_else_falls_through_to_the_route(client: TestClient, answered: list[str],
                                                    request_path: str) -> None:
    response = client.get(request_path, follow_redirects=False)
    assert answered == []
    assert response.status_code in (200, 307, 404, 422), response.text
    if response.status_code not in (200, 307):
        assert "detail" in response.json()


def test_users_with_feedback_fall_through(tmp_path: Path, answered: list[str]) -> None:
    """Their events live in the store: the route reads them, the lean path does not try."""
    user = _ids("user_ids")[0]
    movie = _ids("item_ids")[0]
    with client_for(trained_models_dir()) as client:
        assert client.get(f"/recommend/{user}").status_code == 200
        assert len(answered) == 1
        assert client.post("/feedback", json=[{"user_id": user, "movie_id": movie,
                                                "rating": 5}]).status_code == 201
        client.app.state.feedback.users.add(user)  # as the poller would learn within 1 s
        after = client.get(f"/recommend/{user}")
        assert after.status_code == 200 and len(answered) == 1
        assert movie not in [item["movie_id"] for item in after.json()["items"]]


def test_lean_answers_are_counted_as_the_routes(client: TestClient,
                                                answered: list[str]) -> None:
    def count(route: str) -> float:
        text = client.get("/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("recommender_requests_total{") and f'route="{route}"'
                   in line and 'status="200"' in line)

    before = count("/recommend/{user_id}"), count("/similar/{movie_id}")
    user, movie = _ids("user_ids")[1], _ids("item_ids")[1]
    for _ in range(3):
        client.get(f"/recommend/{user}")
        client.get(f"/similar/{movie}")
    assert len(answered) == 6
    assert (count("/recommend/{user_id}"), count("/similar/{movie_id}")) == (
        before[0] + 3, before[1] + 3)


def test_kept_answers_are_the_served_bundles(tmp_path: Path) -> None:
    """After a reload the lean path answers from the new bundle, not from what it kept."""
    import shutil

    from tests.bundles import point_current, resign, set_version

    source = Path(os.path.realpath(trained_models_dir() / "current"))
    models = tmp_path / "models"
    for version in ("first", "second"):
        shutil.copytree(source, models / version)
        set_version(models / version, version)
        resign(models / version)
    point_current(models, "first")
    user = _ids("user_ids")[2]
    with client_for(models, admin_token="t") as client:
        assert client.get(f"/recommend/{user}").json()["model_version"] == "first"
        assert client.get(f"/recommend/{user}").json()["model_version"] == "first"  # kept
        point_current(models, "second")
        assert client.post("/admin/reload",
                           headers={"Authorization": "Bearer t"}).status_code == 200
        assert client.get(f"/recommend/{user}").json()["model_version"] == "second"
