"""Did a change keep behaviour? Two checks for a refactoring (issue 29's protocol).

    python -m benchmarks.same_behaviour bundles OLD_BUNDLE NEW_BUNDLE
    python -m benchmarks.same_behaviour answers MODEL_DIR [--retrieval-min-movies N] > out.json

``bundles`` compares every array of two bundle folders (the ``.npy`` arrays, the user tower
and the reference sample) and the manifests (timings, dates, versions and checksums aside);
exit 1 when an array differs. Train both with the same seed and a fixed number of trials
(``--set trials=2 --search-seconds 100000``: the search otherwise stops on the clock).

``answers`` fires a fixed list of 108 requests (known and unknown users, filters, pages,
visitors, /similar, feedback written then read, errors, the admin reload) at the service of
the current checkout on MODEL_DIR, in process, and prints (method, path, status, body) as
JSON. Run it from the old and the new checkout on the same bundle within the same daytime
bucket and compare the files; ``received_at`` of stored feedback is the wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SKIPPED = {"files", "created_at", "version", "fit_seconds", "training_seconds", "seconds"}


def compare_bundles(old: Path, new: Path) -> bool:
    same = True
    for name in sorted(path.name for path in old.iterdir()):
        if name.endswith(".npy"):
            a, b = np.load(old / name), np.load(new / name)
            equal = a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
        elif name.endswith(".npz"):
            with np.load(old / name) as x, np.load(new / name) as y:
                equal = sorted(x.files) == sorted(y.files) and all(
                    np.array_equal(x[key], y[key]) for key in x.files)
        else:
            continue
        print(f"{'same' if equal else 'DIFFERENT'} {name}")
        same &= equal
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in (old, new)]
    _compare_values(*manifests, "manifest")
    print("arrays identical" if same else "arrays differ")
    return same


def _compare_values(a: Any, b: Any, path: str) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in SKIPPED:
                continue
            if key not in a or key not in b:
                print(f"{path}/{key}: only in the {'old' if key in a else 'new'} one")
            else:
                _compare_values(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _compare_values(x, y, f"{path}[{i}]")
    elif a != b:
        print(f"{path}: {str(a)[:80]} != {str(b)[:80]}")


def requests() -> tuple[list[tuple[str, str, Any]], ...]:
    reads: list[tuple[str, str, Any]] = []
    for user in (1, 2, 5, 17, 68, 414, 599, 610):
        reads += [("GET", f"/recommend/{user}", None),
                  ("GET", f"/recommend/{user}?k=25&offset=5", None),
                  ("GET", f"/recommend/{user}?k=10&genres=Comedy,Drama", None),
                  ("GET", f"/recommend/{user}?k=10&exclude=1,2,356,318", None),
                  ("GET", f"/recommend/{user}?k=10&only_new=true", None),
                  ("GET", f"/users/{user}", None)]
    reads += [("GET", "/recommend/999999", None),
              ("GET", "/recommend/999999?age=30&gender=F&occupation=writer", None),
              ("GET", "/recommend/999999?age=70", None), ("GET", "/recommend/5?genres=Nope", None),
              ("GET", "/recommend/0", None), ("GET", "/recommend/5?k=0", None),
              ("GET", "/recommend/5?offset=-1", None),
              ("POST", "/recommend", {"liked": [1, 2, 3, 260, 1196]}),
              ("POST", "/recommend", {"liked": [1, 2, 3, 99999999], "k": 7, "genres": ["Action"],
                                      "exclude": [4]}),
              ("POST", "/recommend", {"liked": [], "age": 25, "gender": "M"}),
              ("POST", "/recommend", {"liked": [318, 296], "offset": 10, "only_new": True}),
              ("POST", "/recommend", {"liked": [1], "genres": ["  "]})]
    for movie in (1, 2, 50, 318, 2571, 193609, 424242):
        reads += [("GET", f"/similar/{movie}", None),
                  ("GET", f"/similar/{movie}?k=7&offset=3", None)]
    reads += [("GET", "/movies?search=star", None), ("GET", "/movies/1", None),
              ("GET", "/movies/424242", None), ("GET", "/genres", None), ("GET", "/health", None),
              ("POST", "/admin/reload", "secret"), ("POST", "/admin/reload", "wrong")]
    writes: list[tuple[str, str, Any]] = [
        ("POST", "/feedback", [
            {"user_id": 5, "movie_id": 1, "rating": 5.0, "timestamp": 100, "event_id": "a"},
            {"user_id": 5, "movie_id": 2571, "rating": 4.5, "timestamp": 101, "event_id": "b"},
            {"user_id": 5, "movie_id": 356, "rating": 1.0, "timestamp": 102, "event_id": "c"}]),
        ("POST", "/feedback", [
            {"user_id": 777777, "movie_id": 260, "rating": 5.0, "timestamp": 100, "event_id": "d"},
            {"user_id": 777777, "movie_id": 88888888, "rating": 5.0, "timestamp": 100,
             "event_id": "e"}]),
        ("POST", "/feedback", {"user_id": 888888, "movie_id": 260, "rating": 1.0,
                               "timestamp": 100, "event_id": "f"})]
    after: list[tuple[str, str, Any]] = [
        ("GET", "/recommend/5", None), ("GET", "/recommend/5?k=20&offset=3&genres=Action", None),
        ("GET", "/recommend/5?k=5&exclude=1", None), ("GET", "/recommend/777777", None),
        ("GET", "/recommend/777777?only_new=true&k=5", None),
        ("GET", "/recommend/888888?age=40", None), ("GET", "/users/5", None),
        ("GET", "/users/5/feedback?limit=2", None), ("DELETE", "/users/777777/feedback", None),
        ("GET", "/recommend/777777", None), ("GET", "/users/abc", None),
        ("GET", "/users/5/feedback?limit=0", None)]
    return reads, writes, after


def answers(model_dir: Path, retrieval_min_movies: int) -> list[list[Any]]:
    os.environ.update(MODEL_DIR=str(model_dir), RETRIEVAL_MIN_MOVIES=str(retrieval_min_movies),
                      FEEDBACK_URL=f"sqlite:///{tempfile.mkdtemp()}/feedback.sqlite",
                      ADMIN_TOKEN="secret", WATCH_INTERVAL="0", FEEDBACK_POLL="0.05")
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    reads, writes, after = requests()
    out: list[list[Any]] = []
    with TestClient(create_app(Settings())) as client:
        def fire(batch: list[tuple[str, str, Any]]) -> None:
            for method, path, body in batch:
                headers = {}
                if path.startswith("/admin"):
                    headers, body = {"Authorization": f"Bearer {body}"}, None
                response = client.request(method, path, json=body, headers=headers)
                text = response.text
                if path.startswith("/admin") and response.status_code == 200:
                    text = "reloaded"  # names the bundle's load, not an answer
                out.append([method, path, response.status_code, text])

        fire(reads)
        fire(writes)
        time.sleep(0.5)  # the feedback poller
        fire(after)
        fire(reads[:12])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bundles = commands.add_parser("bundles")
    bundles.add_argument("old", type=Path)
    bundles.add_argument("new", type=Path)
    served = commands.add_parser("answers")
    served.add_argument("model_dir", type=Path)
    served.add_argument("--retrieval-min-movies", type=int, default=50_000)
    args = parser.parse_args()
    if args.command == "bundles":
        return 0 if compare_bundles(args.old.resolve(), args.new.resolve()) else 1
    json.dump(answers(args.model_dir, args.retrieval_min_movies), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
