"""The lean path of POST /feedback (app.hot_writes): what it answers is byte for byte what the
FastAPI route answers (the route is reached with a query string, which it ignores and the
lean path does not take), and everything it does not take falls through to the route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import hot_writes
from tests.bundles import trained_models_dir
from tests.test_app import client_for

KEY = "k3y-for-lean-writes"


@pytest.fixture()
def answered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The statuses the lean path answered with (the other requests fell through)."""
    seen: list[int] = []
    real = hot_writes.record_request

    def spy(route: str, method: str, status: int, seconds: float) -> None:
        seen.append(status)
        real(route, method, status, seconds)

    monkeypatch.setattr(hot_writes, "record_request", spy)
    return seen


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with client_for(trained_models_dir()) as test_client:
        yield test_client


def _post(client: TestClient, body: Any, *, route: bool = False,
          headers: dict[str, str] | None = None) -> Any:
    return client.post("/feedback" + ("?via=route" if route else ""),
                       content=body if isinstance(body, bytes) else json.dumps(body),
                       headers={"content-type": "application/json", **(headers or {})})


def test_answers_equal_the_routes_byte_for_byte(client: TestClient,
                                                answered: list[int]) -> None:
    """Each body twice, to the lean path and to the route, on users of their own so that the
    store's state is the same for both: stored, a repeated event_id, an unknown movie, a
    batch, a rating off the scale, a timestamp given or not."""
    cases = [
        lambda u: {"user_id": u, "movie_id": 1, "rating": 4.5, "timestamp": 1_700_000_000},
        lambda u: {"user_id": u, "movie_id": 2, "rating": 2, "event_id": f"e-{u}"},
        lambda u: {"user_id": u, "movie_id": 999_999, "rating": 4, "timestamp": 5},
        lambda u: [{"user_id": u, "movie_id": m, "rating": 5, "timestamp": 9} for m in (3, 4)],
        lambda u: {"user_id": u, "movie_id": 3, "rating": 4.25, "timestamp": 9},
    ]
    for number, case in enumerate(cases):
        lean_user, route_user = 500_000 + number, 600_000 + number
        lean = _post(client, case(lean_user))
        route = _post(client, case(route_user), route=True)
        assert lean.status_code == route.status_code, (number, lean.text, route.text)
        expected = route.content.replace(str(route_user).encode(), str(lean_user).encode())
        assert lean.content == expected, number
        for header in ("content-type", "content-length"):
            assert lean.headers[header] == route.headers[header]
    assert answered == [201, 201, 200, 201, 422]
    # the repeated event_id is a duplicate on both paths
    again = _post(client, cases[1](500_001))
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert client.get("/users/500003/feedback").json()["total"] == 2


def test_everything_else_falls_through(client: TestClient, answered: list[int]) -> None:
    """FastAPI answers what the lean path does not take, with its own error bodies."""
    good = {"user_id": 7, "movie_id": 1, "rating": 4}
    missing = _post(client, {"user_id": 7, "rating": 4})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"][-1] == "movie_id"
    not_json = _post(client, b"{not json")
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["type"] == "json_invalid"
    extra = _post(client, {**good, "colour": "red"})
    assert extra.status_code == 422
    as_text = client.post("/feedback", content=json.dumps(good),
                          headers={"content-type": "text/plain"})
    # FastAPI reads a body it is not told is JSON as text, which no event is
    assert as_text.status_code == 422
    assert as_text.json()["detail"][0]["type"] == "model_attributes_type"
    assert answered == []


def test_a_write_key_is_checked_as_the_route_checks_it(answered: list[int]) -> None:
    with client_for(trained_models_dir(), api_key=KEY) as client:
        event = {"user_id": 8, "movie_id": 1, "rating": 4}
        refused = _post(client, event)
        assert refused.status_code == 401 and answered == []  # the route said no
        wrong = _post(client, event, headers={"x-api-key": "nope"})
        assert wrong.status_code == 401 and answered == []
        stored = _post(client, event, headers={"x-api-key": KEY})
        assert stored.status_code == 201 and answered == [201]
