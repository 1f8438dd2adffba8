"""The service over a tiny bundle trained by the tests: every endpoint and error path."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.errors import BundleError
from app.inputs import user_inputs
from app.loading import load_bundle
from app.main import create_app
from app.settings import Settings
from recommender_core.scoring import keras_scores
from tests.bundles import keras_model_of, trained_models_dir
from tests.paths import ROOT

TOKEN = "s3cret-token"


def client_for(model_dir: Path, **settings: object) -> TestClient:
    """A client of the service on ``model_dir`` (with a new SQLite feedback store beside it
    unless ``feedback_url`` is given)."""
    store = Path(tempfile.mkdtemp(prefix="feedback-")) / "feedback.sqlite"
    settings = {"feedback_url": f"sqlite:///{store}", **settings}
    app = create_app(Settings(model_dir=model_dir, watch_interval=0, **settings))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def models() -> Path:
    return trained_models_dir()


@pytest.fixture(scope="module")
def client(models: Path) -> Iterator[TestClient]:
    with client_for(models, admin_token=TOKEN) as test_client:
        yield test_client


def _seen(models: Path, user_id: int) -> set[int]:
    bundle = Path(os.path.realpath(models / "current"))
    user_ids = np.load(bundle / "user_ids.npy")
    item_ids = np.load(bundle / "item_ids.npy")
    indptr, indices = np.load(bundle / "seen_indptr.npy"), np.load(bundle / "seen_indices.npy")
    user = int(np.flatnonzero(user_ids == user_id)[0])
    return set(item_ids[indices[indptr[user]:indptr[user + 1]]].tolist())


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


def test_app_and_training_share_only_the_core_package() -> None:
    """The service never imports the trainer, nor the trainer the service: what both may
    import is recommender_core (the bundle's contract and scorer, the feedback database),
    which imports neither side nor TensorFlow/Keras at module level; nothing importable lies
    at the repository root."""
    assert not list(ROOT.glob("*.py"))
    for side, other in (("app", "training"), ("training", "app")):
        for path in (ROOT / side).rglob("*.py"):
            names = _imports(path)
            assert not any(n == other or n.startswith(f"{other}.") for n in names), path
    for module in (ROOT / "recommender_core").rglob("*.py"):
        assert not any(n.split(".")[0] in ("app", "training") for n in _imports(module))
        top_level = {alias.name.split(".")[0] for node in ast.parse(module.read_text()).body
                     if isinstance(node, ast.Import | ast.ImportFrom)
                     for alias in (node.names if isinstance(node, ast.Import)
                                   else [ast.alias(node.module or "")])}
        assert not top_level & {"keras", "tensorflow"}, (module, top_level)


def test_health_ready_model(client: TestClient) -> None:
    from recommender_core import __version__

    assert client.get("/health").json() == {"status": "ok", "version": __version__}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    manifest = client.get("/model").json()
    assert manifest["version"] == ready.json()["model_version"]
    assert "model.keras" in manifest["files"]


def test_recommend_known_user(client: TestClient, models: Path) -> None:
    body = client.get("/recommend/5?k=7").json()
    assert body["strategy"] == "personalized" and body["user_id"] == 5
    assert len(body["items"]) == 7
    ids = [item["movie_id"] for item in body["items"]]
    assert not set(ids) & _seen(models, 5)
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert {"movie_id", "title", "genres", "score"} == set(body["items"][0])


def test_recommendations_follow_planted_taste(client: TestClient) -> None:
    """Users of group g (id % 4) love genre g: their lists differ and match their genre."""
    favourite = ("Action", "Comedy", "Drama", "Horror")
    lists = {}
    for user in (4, 5, 6, 7, 8, 9):
        items = client.get(f"/recommend/{user}?k=10").json()["items"]
        lists[user] = tuple(i["movie_id"] for i in items)
        share = np.mean([favourite[user % 4] in i["genres"] for i in items])
        assert share >= 0.7, (user, share)
    assert len(set(lists.values())) == len(lists)


def test_cold_start_user(client: TestClient) -> None:
    plain = client.get("/recommend/999999?k=5").json()
    assert plain["strategy"] == "cold_start" and len(plain["items"]) == 5
    # k=20: in this 128-movie bundle the top 10 is a plateau of near-equal popular movies
    # (and the two unrated movies whose regressed bias is highest) that demographics reorder
    # only further down.
    women = client.get("/recommend/999999?k=20&gender=F&age=40").json()["items"]
    men = client.get("/recommend/999999?k=20&gender=M&age=20").json()["items"]
    assert [i["movie_id"] for i in women] != [i["movie_id"] for i in men]


def test_new_users_get_popularity_where_validation_chose_it(models: Path,
                                                            tmp_path: Path) -> None:
    """A bundle whose training found demographics worse than popularity for unseen users
    (manifest model.new_user_path) answers them with popularity, demographics or not."""
    import json

    from tests.bundles import point_current, resign

    copy = tmp_path / "models"
    shutil.copytree(Path(os.path.realpath(models / "current")), copy / "chosen")
    manifest = json.loads((copy / "chosen" / "manifest.json").read_text())
    manifest["model"]["new_user_path"] = "popularity"
    (copy / "chosen" / "manifest.json").write_text(json.dumps(manifest))
    resign(copy / "chosen")
    point_current(copy, "chosen")
    with client_for(copy) as chosen:
        plain = chosen.get("/recommend/999999?k=20").json()
        for query in ("gender=F&age=40", "gender=M&age=20&occupation=programmer"):
            body = chosen.get(f"/recommend/999999?k=20&{query}").json()
            assert body["strategy"] == "cold_start" and body["items"] == plain["items"]


def test_genre_filter_and_exclude(client: TestClient) -> None:
    items = client.get("/recommend/5?k=5&genres=horror").json()["items"]
    assert items and all("Horror" in i["genres"] for i in items)
    first = client.get("/recommend/5?k=3").json()["items"][0]["movie_id"]
    again = client.get(f"/recommend/5?k=3&exclude={first},1").json()["items"]
    assert first not in [i["movie_id"] for i in again]


@pytest.mark.parametrize("url", [
    "/recommend/5?k=0", "/recommend/5?k=1001", "/recommend/abc", "/recommend/-3",
    "/recommend/5?genres=Westerns", "/recommend/5?exclude=1,x", "/recommend/5?gender=X",
    "/similar/1?k=0", "/similar/abc", "/movies?search=", "/movies/0",
    "/recommend/5?exclude=" + "9" * 5000,  # once a 500: int() of a 5000-digit string
    "/recommend/5?exclude=" + ",".join(["1234567"] * 400), "/movies?search=" + "a" * 201,
])
def test_malformed_requests_get_422_json(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


def test_anonymous_visitor(client: TestClient) -> None:
    liked = [1, 2, 3, 999_999]  # three Action movies and an unknown id
    body = client.post("/recommend", json={"liked": liked, "k": 10}).json()
    assert body["strategy"] == "history" and body["user_id"] is None
    assert body["unknown_movie_ids"] == [999_999]
    ids = [i["movie_id"] for i in body["items"]]
    assert not {1, 2, 3} & set(ids)
    assert np.mean(["Action" in i["genres"] for i in body["items"]]) >= 0.7
    empty = client.post("/recommend", json={"liked": []}).json()
    assert empty["strategy"] == "cold_start"


@pytest.mark.parametrize("payload", [
    {"liked": "1,2"}, {"liked": [1], "k": 0}, {"liked": [1], "unexpected": 1},
    {"liked": list(range(1, 1100))}, {"liked": [1], "gender": "Q"}, {},
    {"liked": [True]}, {"liked": [1], "k": "5"}, {"liked": [1], "exclude": [False]},
])
def test_anonymous_bad_bodies(client: TestClient, payload: dict) -> None:
    response = client.post("/recommend", json=payload)
    assert response.status_code == 422 and "detail" in response.json()


def test_malformed_json_body(client: TestClient) -> None:
    response = client.post("/recommend", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422 and "detail" in response.json()


def test_oversized_body_gets_413(client: TestClient) -> None:
    padding = " " * (300 * 1024)
    response = client.post("/recommend", content=b'{"liked": [1]' + padding.encode() + b"}",
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body over 262144 bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"liked": [1]'
        for _ in range(40):
            yield b" " * 8192
        yield b"}"

    streamed = client.post("/recommend", content=chunks(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "detail" in streamed.json()
    assert client.post("/recommend", json={"liked": [1]}).status_code == 200


def test_similar(client: TestClient) -> None:
    body = client.get("/similar/1?k=5").json()
    assert body["movie_id"] == 1 and body["title"].startswith("Action Movie 0")
    ids = [i["movie_id"] for i in body["items"]]
    assert len(ids) == 5 and 1 not in ids
    assert np.mean(["Action" in i["genres"] for i in body["items"]]) >= 0.8
    cold = client.get("/similar/121?k=3").json()  # "Cold Action 0": no ratings at all
    assert len(cold["items"]) == 3
    similarity = client.get("/model").json()["similarity"]
    assert similarity["svd_dim"] in (64, 128, 256)
    assert similarity["blend_content_weight"] in (0.05, 0.1, 0.25, 0.5)
    assert len(similarity["validation_ndcg@10"]) == 12  # 3 sizes x 4 weights, all recorded
    assert all("Action" in i["genres"] for i in cold["items"])  # a new movie: by content
    missing = client.get("/similar/999999")
    assert missing.status_code == 404 and missing.json() == {"detail": "unknown movie id 999999"}


def test_movies(client: TestClient) -> None:
    found = client.get("/movies?search=horror movie 1&limit=3").json()
    assert found["total"] >= 3 and len(found["items"]) == 3
    assert all("horror movie 1" in m["title"].lower() for m in found["items"])
    movie = client.get("/movies/121").json()
    assert movie["cold"] is True and movie["genres"] == ["Action"]
    assert client.get("/movies/999999").status_code == 404


def test_metrics(client: TestClient) -> None:
    client.get("/recommend/5")
    text = client.get("/metrics").text
    assert 'recommender_requests_total{method="GET",route="/recommend/{user_id}",status="200"}' \
        in text
    assert "recommender_request_seconds_bucket" in text
    assert "recommender_model_info{version=" in text
    for method in ("BREW", "WHATEVER"):  # made-up methods share one label, never grow it
        client.request(method, "/recommend/5")
    text = client.get("/metrics").text
    assert 'method="OTHER"' in text and "BREW" not in text and "WHATEVER" not in text


def test_fast_path_equals_keras(models: Path) -> None:
    bundle = load_bundle(Path(os.path.realpath(models / "current")))
    n_items = len(bundle.catalogue.movies)
    for user in range(0, len(bundle.arrays["user_ids"]), 9):
        inputs = user_inputs(bundle, user)
        expected = keras_scores(keras_model_of(bundle), inputs, np.arange(n_items)[None, :])
        np.testing.assert_allclose(bundle.scorer.scores(inputs), expected, atol=1e-4)


def test_loading_a_bundle_imports_no_tensorflow(models: Path) -> None:
    """The service verifies a bundle against the Keras scores the trainer stored in it, so an
    API process never imports TensorFlow, Keras or JAX (the serve extra has none of them)."""
    code = ("import sys; from pathlib import Path; from app.loading import load_bundle; "
            f"load_bundle(Path({str(os.path.realpath(models / 'current'))!r})); "
            "print(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'tensorflow', 'keras', 'jax'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_export_refuses_a_model_the_numpy_path_scores_differently(models: Path) -> None:
    """The trainer's own check: tower weights that do not reproduce the Keras model's scores
    (here, movie biases shifted after training) stop the export with a one-line error."""
    from training.commands.export import write_verified_scorer
    from training.errors import TrainingError

    bundle = load_bundle(Path(os.path.realpath(models / "current")))
    model = keras_model_of(bundle)
    arrays = {name: np.array(array) for name, array in bundle.arrays.items()}
    with tempfile.TemporaryDirectory() as folder:
        assert write_verified_scorer(Path(folder), model, arrays, bundle.history_length,
                                     bundle.slots) < 1e-4
        arrays["item_bias"] = arrays["item_bias"] + np.float32(0.5)
        with pytest.raises(TrainingError, match="fast scoring path differs from the Keras"):
            write_verified_scorer(Path(folder), model, arrays, bundle.history_length,
                                  bundle.slots)


def test_bundle_arrays_are_read_only_maps_of_its_files(models: Path) -> None:
    """The workers of a host share the bundle's pages: its arrays are memory-mapped, and the
    scorer serves from those maps rather than copies."""
    bundle = load_bundle(Path(os.path.realpath(models / "current")))
    for name in ("item_vectors", "similarity_vectors", "seen_indices"):
        array = bundle.arrays[name]
        assert isinstance(array, np.memmap) and not array.flags.writeable, name
    assert np.shares_memory(bundle.scorer.item_vectors, bundle.arrays["item_vectors"])
    with pytest.raises(ValueError, match="read-only"):
        bundle.arrays["popularity"][0] = 1.0


def test_admin_reload_needs_token(models: Path, client: TestClient) -> None:
    with client_for(models) as no_admin:
        assert no_admin.post("/admin/reload").status_code == 404
    assert client.post("/admin/reload").status_code == 401
    wrong = client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "detail" in wrong.json()
    ok = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["reloaded"] is True


def _copy_models(models: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    source = Path(os.path.realpath(models / "current"))
    target.mkdir()
    shutil.copytree(source, target / source.name)
    (target / "current").symlink_to(source.name)
    return target


def test_bad_bundle_is_refused_at_startup(models: Path, tmp_path: Path) -> None:
    copy = _copy_models(models, tmp_path)
    vectors = Path(os.path.realpath(copy / "current")) / "item_vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-16])  # truncated
    with client_for(copy) as test_client:
        ready = test_client.get("/ready")
        assert ready.status_code == 503
        assert "item_vectors.npy: checksum mismatch" in ready.json()["reason"]
        response = test_client.get("/recommend/5")
        assert response.status_code == 503 and "no model loaded" in response.json()["detail"]


def test_bad_bundle_at_reload_keeps_the_old_one(models: Path, tmp_path: Path) -> None:
    copy = _copy_models(models, tmp_path)
    good = Path(os.path.realpath(copy / "current"))
    bad = copy / "broken"
    shutil.copytree(good, bad)
    (bad / "model.keras").write_bytes(b"PK not a keras file")
    with client_for(copy, admin_token=TOKEN) as test_client:
        version = test_client.get("/ready").json()["model_version"]
        (copy / "current").unlink()
        (copy / "current").symlink_to("broken")
        refused = test_client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 409
        assert "model.keras" in refused.json()["detail"]
        assert test_client.get("/ready").json()["model_version"] == version
        assert test_client.get("/recommend/5").status_code == 200


def test_load_bundle_refuses_pickles_and_wrong_schema(models: Path, tmp_path: Path) -> None:
    copy = _copy_models(models, tmp_path)
    bundle = Path(os.path.realpath(copy / "current"))
    manifest_path = bundle / "manifest.json"
    import hashlib
    import json

    manifest = json.loads(manifest_path.read_text())
    np.save(bundle / "popularity.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    manifest["files"]["popularity.npy"] = hashlib.sha256(
        (bundle / "popularity.npy").read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="popularity.npy: not a plain array"):
        load_bundle(bundle)
    manifest["schema_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="schema version 99"):
        load_bundle(bundle)


def test_json_integers(client: TestClient) -> None:
    """5.0 is an integer in JSON Schema; ids beyond int64 are unknown movies, not a crash."""
    huge = 555563763602973052108800
    body = client.post("/recommend", json={"liked": [1, huge, -5], "age": 30.0, "k": 3.0})
    assert body.status_code == 200, body.text
    assert body.json()["unknown_movie_ids"] == [huge, -5]
    assert len(body.json()["items"]) == 3
    assert client.post("/recommend", json={"liked": [1], "k": 2.5}).status_code == 422


def test_no_cors_by_default(client: TestClient) -> None:
    """No CORS middleware: browsers on other origins cannot read the API's answers."""
    response = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options("/recommend", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_bodies_match_the_response_models(client: TestClient) -> None:
    """The hot routes write JSON from fragments (app.render); it must be what the documented
    models say, field for field."""
    from app.schemas import Recommendations, SimilarMovies

    for url in ("/recommend/5?k=7", "/recommend/999999?k=3", "/recommend/5?genres=Comedy"):
        body = client.get(url).text
        parsed = Recommendations.model_validate_json(body, strict=True)
        assert parsed.model_dump(mode="json") == __import__("json").loads(body)
    visitor = client.post("/recommend", json={"liked": [1, 999_999]}).text
    assert Recommendations.model_validate_json(visitor).unknown_movie_ids == [999_999]
    similar = SimilarMovies.model_validate_json(client.get("/similar/1?k=4").text, strict=True)
    assert len(similar.items) == 4


def test_render_escapes_titles_and_keeps_scores() -> None:
    import json

    from app.render import items_json, movie_fragments

    movies = [{"movie_id": 7, "title": 'Say "Hi" \\ Amélie\n', "genres": ["Comedy"]},
              {"movie_id": 9, "title": "x", "genres": []}]
    rendered = json.loads(items_json(movie_fragments(movies), np.array([1, 0]),
                                     np.array([0.1, -2.5e-7], np.float32)))
    assert rendered == [
        {"movie_id": 9, "title": "x", "genres": [], "score": float(np.float32(0.1))},
        {"movie_id": 7, "title": 'Say "Hi" \\ Amélie\n', "genres": ["Comedy"],
         "score": float(np.float32(-2.5e-7))}]


def test_openapi_documents_the_hot_routes_parameters(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()["paths"]
    recommend = {p["name"]: p["in"] for p in spec["/recommend/{user_id}"]["get"]["parameters"]}
    assert recommend == {"user_id": "path", "k": "query", "genres": "query", "exclude": "query",
                         "age": "query", "gender": "query", "occupation": "query",
                         "offset": "query", "only_new": "query"}
    similar = {p["name"]: p["in"] for p in spec["/similar/{movie_id}"]["get"]["parameters"]}
    assert similar == {"movie_id": "path", "k": "query", "offset": "query"}
    bad = client.get("/recommend/0").json()["detail"][0]
    assert bad["loc"] == ["path", "user_id"]


def test_score_table_equals_per_request_scoring(models: Path) -> None:
    path = Path(os.path.realpath(models / "current"))
    table = load_bundle(path)
    direct = load_bundle(path, score_table_bytes=0)
    assert table.scorer.user_scores is not None and direct.scorer.user_scores is None
    for user in range(0, len(table.arrays["user_ids"]), 7):
        for daytime, weekend in ((0, 0), (2, 1), (3, 0)):
            # the same float32 sums in another order: equal to float32 precision
            np.testing.assert_allclose(table.scorer.known_user_scores(user, daytime, weekend),
                                       direct.scorer.known_user_scores(user, daytime, weekend),
                                       rtol=2e-6, atol=1e-5)


@pytest.mark.parametrize("path", ["/recommend/5", "/similar/3", "/recommend/999999"])
def test_offset_pages_a_ranking_without_overlap(client: TestClient, path: str) -> None:
    whole = [i["movie_id"] for i in client.get(f"{path}?k=30").json()["items"]]
    pages = [[i["movie_id"] for i in client.get(f"{path}?k=10&offset={o}").json()["items"]]
             for o in (0, 10, 20)]
    assert len(whole) == 30 and sum(pages, []) == whole
    assert client.get(f"{path}?offset=10001").status_code == 422


def test_visitor_offset_and_new_arrivals(client: TestClient) -> None:
    body = {"liked": [1, 2, 3], "k": 10}
    whole = client.post("/recommend", json={**body, "k": 20}).json()["items"]
    second = client.post("/recommend", json={**body, "offset": 10}).json()["items"]
    assert second == whole[10:]
    new = client.post("/recommend", json={**body, "only_new": True}).json()["items"]
    cold = {m["movie_id"] for m in client.get("/movies?search=cold&limit=100").json()["items"]
            if m["cold"]}
    assert new and {i["movie_id"] for i in new} <= cold
    known = client.get("/recommend/5?k=50&only_new=true").json()["items"]
    assert {i["movie_id"] for i in known} == cold  # the planted release has 8 unrated movies
    assert client.post("/recommend", json={**body, "only_new": "yes"}).status_code == 422


def test_genres_and_user_profile(client: TestClient, models: Path) -> None:
    assert client.get("/genres").json() == {"genres": ["Action", "Comedy", "Drama", "Horror"]}
    profile = client.get("/users/5").json()
    assert profile["known"] is True and profile["ratings_in_training"] == len(_seen(models, 5))
    liked = [m["movie_id"] for m in profile["liked_in_training"]]
    assert liked and set(liked) <= _seen(models, 5)
    assert all("Comedy" in m["genres"] for m in profile["liked_in_training"])  # 5 % 4 == 1
    assert profile["feedback_events"] == 0
    unknown = client.get("/users/999999").json()
    assert unknown == {"user_id": 999999, "known": False, "ratings_in_training": 0,
                       "liked_in_training": [], "feedback_events": 0}
    assert client.get("/users/0").status_code == 422


def test_the_page_is_served_with_its_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for asset in ("/static/app.js", "/static/style.css"):
        assert asset in page.text
        assert client.get(asset).status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere
    assert "/" not in client.get("/openapi.json").json()["paths"]  # the API is unchanged


def test_method_not_allowed_names_every_method_of_the_path(client: TestClient) -> None:
    """405 with an Allow header listing all the path's methods (GET and DELETE here, from
    two routes), as RFC 9110 asks."""
    refused = client.put("/users/1/feedback")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "DELETE, GET"
    assert client.post("/similar/1").headers["allow"] == "GET"
