"""Two-stage retrieval (app.retrieval): the IVF shortlist's recall against exact scoring, and
the service's answers through it against its exact path on the same bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.retrieval import Shortlister, exact_top
from app.settings import Settings
from tests.test_app import client_for


def _catalogue(n_items: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Movie vectors with long-tailed norms and biases, as a trained model's are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    vectors = centres[rng.integers(0, 20, n_items)] + rng.normal(size=(n_items, dim))
    vectors *= rng.lognormal(0.0, 0.5, n_items)[:, None] / np.sqrt(dim)
    bias = rng.normal(0.0, 0.5, n_items) - 0.3 * rng.exponential(1.0, n_items)
    return vectors.astype(np.float32), bias.astype(np.float32)


def test_the_shortlist_recalls_the_exact_top_10() -> None:
    vectors, bias = _catalogue(20_000, 32, seed=0)
    shortlister = Shortlister(vectors, bias)
    users = np.random.default_rng(1).normal(size=(250, 32)).astype(np.float32)
    tried = shortlister.calibrate(vectors, bias, users[200:])  # as the service does at load
    assert list(tried)[-1] == shortlister.nprobe < shortlister.index.nlist
    recalls = []
    for user in users[:200]:
        exact = np.argsort(-(vectors @ user + bias), kind="stable")[:10]
        ranked, scores = exact_top(vectors, bias, user, shortlister.search(user, 200))
        recalls.append(len(set(ranked[:10]) & set(exact)) / 10)
        np.testing.assert_allclose(scores, vectors[ranked] @ user + bias[ranked], rtol=1e-5,
                                   atol=1e-5)
        assert np.all(np.diff(scores) <= 0)
    assert np.mean(recalls) >= 0.95


def test_a_shortlist_never_repeats_a_movie_and_grows_on_demand() -> None:
    vectors, bias = _catalogue(3_000, 16, seed=2)
    shortlister = Shortlister(vectors, bias)
    found = shortlister.search(np.ones(16, np.float32), 1_000)
    assert len(found) == len(set(found.tolist())) >= 990
    assert shortlister.search(np.ones(16, np.float32), 10**6).size <= 3_000


def test_blocked_movies_are_skipped_inside_the_search() -> None:
    """A user who rated the 500 best movies still gets a full shortlist of others, and an
    exhaustive search's top 10 are the exact next 10."""
    vectors, bias = _catalogue(3_000, 16, seed=3)
    shortlister = Shortlister(vectors, bias)
    user = np.random.default_rng(4).normal(size=16).astype(np.float32)
    exact = np.argsort(-(vectors @ user + bias), kind="stable")
    blocked = exact[:500]
    found = shortlister.search(user, 50, blocked)
    assert len(found) == 50 and not set(found.tolist()) & set(blocked.tolist())
    shortlister.nprobe = shortlister.index.nlist
    assert set(shortlister.search(user, 10, blocked).tolist()) == set(exact[500:510].tolist())


def test_a_filtered_search_is_the_exact_top_of_the_kept_movies() -> None:
    """With ``allowed`` the search reads every list: the exact best of the kept movies that
    are not blocked, even when they are few."""
    vectors, bias = _catalogue(3_000, 16, seed=5)
    shortlister = Shortlister(vectors, bias)
    rng = np.random.default_rng(6)
    user = rng.normal(size=16).astype(np.float32)
    scores = vectors @ user + bias
    for share in (0.3, 0.005):
        allowed = rng.random(3_000) < share
        blocked = np.flatnonzero(allowed)[:3]
        expected = [i for i in np.argsort(-scores, kind="stable").tolist()
                    if allowed[i] and i not in blocked.tolist()][:20]
        found, found_scores = shortlister.scored(user, 20, blocked, allowed)
        order = np.argsort(-found_scores, kind="stable")
        assert found[order].tolist() == expected
        np.testing.assert_allclose(found_scores[order], scores[expected], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_the_service_answers_the_same_through_two_stage_retrieval(models: Path) -> None:
    """The planted bundle served with retrieval from one movie on (every request two-stage)
    and exactly: the same lists and scores, for a known user, a page of their list, an
    exclusion, a user with fresh feedback, a visitor, and the popularity path; a genre filter
    (every list searched for the kept movies), also on a deep page. /similar through the HNSW
    graph answers as the flat index."""
    with client_for(models) as exact, client_for(models, retrieval_min_movies=1) as staged:
        for movie in (1, 2, 50):
            expected, got = exact.get(f"/similar/{movie}?k=5"), staged.get(f"/similar/{movie}?k=5")
            assert [i["movie_id"] for i in expected.json()["items"]] == [
                i["movie_id"] for i in got.json()["items"]]
    queries = ["/recommend/4?k=10", "/recommend/4?k=5&offset=5",
               "/recommend/7?k=10&exclude=1,2,3", "/recommend/999999?k=10",
               "/recommend/4?k=10&genres=Horror", "/recommend/4?k=7&offset=3&genres=Drama",
               "/recommend/4?k=10&only_new=true", "/recommend/999999?k=10&genres=Comedy"]
    with client_for(models) as exact, client_for(models, retrieval_min_movies=1) as staged:
        feedback = {"user_id": 5, "movie_id": 1, "rating": 5.0}
        for client in (exact, staged):
            assert client.post("/feedback", json=feedback).status_code in (200, 201)
        queries.append("/recommend/5?k=10")
        for query in queries:
            expected, got = exact.get(query), staged.get(query)
            assert expected.status_code == got.status_code == 200, query
            _same_items(expected.json(), got.json(), query)
        body = {"liked": [1, 2, 3], "k": 10}
        _same_items(exact.post("/recommend", json=body).json(),
                    staged.post("/recommend", json=body).json(), "POST /recommend")


def _same_items(expected: dict, got: dict, query: str) -> None:
    assert expected["strategy"] == got["strategy"], query
    assert [i["movie_id"] for i in expected["items"]] == [i["movie_id"] for i in got["items"]], \
        query
    np.testing.assert_allclose([i["score"] for i in expected["items"]],
                               [i["score"] for i in got["items"]], rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def models() -> Path:
    from tests.bundles import trained_models_dir

    return trained_models_dir()


def _bundle_with_graphs(models: Path, into: Path, similarity_rows: int | None = None) -> Path:
    """A copy of the planted bundle with the approximate indexes the trainer stores for large
    catalogues (training.commands.export.write_graphs), listed in its manifest; the similar
    graph over the first ``similarity_rows`` movies only when given (a wrong graph)."""
    import json
    import shutil

    from recommender_core import bundle_format as fmt
    from tests.bundles import point_current
    from training.commands.export import write_graphs

    source = (models / fmt.CURRENT_LINK).resolve()
    folder = into / source.name
    shutil.copytree(source, folder)
    arrays = {name: np.load(folder / f"{name}.npy")
              for name in ("item_vectors", "item_bias", "similarity_vectors")}
    write_graphs(folder, arrays["item_vectors"], arrays["item_bias"],
                 arrays["similarity_vectors"][:similarity_rows])
    manifest = json.loads((folder / fmt.MANIFEST_FILE).read_text())
    for name in (fmt.RECOMMEND_INDEX_FILE, fmt.SIMILAR_GRAPH_FILE, fmt.SIMILAR_NEIGHBOURS_FILE,
                 fmt.SIMILAR_COSINES_FILE):
        manifest["files"][name] = fmt.sha256_file(folder / name)
    (folder / fmt.MANIFEST_FILE).write_text(json.dumps(manifest))
    point_current(into, source.name)
    return folder


@pytest.mark.slow
def test_stored_graphs_are_read_rather_than_built_and_answer_the_same(
        models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import retrieval
    from app.loading import load_bundle

    folder = _bundle_with_graphs(models, tmp_path)
    with monkeypatch.context() as patched:  # building either index at load would fail
        for builder in ("inner_product_ivf", "inner_product_graph"):
            patched.setattr(retrieval, builder, lambda *_: pytest.fail("built, not read"))
        bundle = load_bundle(folder, retrieval_min_movies=1)
    assert isinstance(bundle.retrieval, retrieval.ShortlistRetrieval)
    assert max(bundle.retrieval.recall.values()) >= 0.97
    table = bundle.neighbours.table  # /similar's precomputed neighbours: read from the table
    assert table is not None and table[0].shape == (len(bundle.catalogue.movies), 101)
    deep = bundle.neighbours.of(3, 150)  # deeper than the table: the graph is searched
    np.testing.assert_array_equal(deep[0][:101], table[0][3])
    with client_for(models) as exact, client_for(tmp_path, retrieval_min_movies=1) as staged:
        for query in ("/recommend/4?k=10", "/recommend/7?k=10&exclude=1,2,3"):
            _same_items(exact.get(query).json(), staged.get(query).json(), query)
        expected, got = exact.get("/similar/2?k=5"), staged.get("/similar/2?k=5")
        assert [i["movie_id"] for i in expected.json()["items"]] == [
            i["movie_id"] for i in got.json()["items"]]


def test_a_neighbour_table_of_another_shape_is_refused(models: Path, tmp_path: Path) -> None:
    import json

    from app.errors import BundleError
    from app.loading import load_bundle
    from recommender_core import bundle_format as fmt

    folder = _bundle_with_graphs(models, tmp_path)
    table = np.load(folder / fmt.SIMILAR_NEIGHBOURS_FILE)
    np.save(folder / fmt.SIMILAR_NEIGHBOURS_FILE, table[:5])
    manifest = json.loads((folder / fmt.MANIFEST_FILE).read_text())
    manifest["files"][fmt.SIMILAR_NEIGHBOURS_FILE] = fmt.sha256_file(
        folder / fmt.SIMILAR_NEIGHBOURS_FILE)
    (folder / fmt.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="similar_neighbours.npy: expected int32 movie"):
        load_bundle(folder, retrieval_min_movies=1)


def test_a_stored_graph_of_other_movies_is_refused(models: Path, tmp_path: Path) -> None:
    from app.errors import BundleError
    from app.loading import load_bundle

    folder = _bundle_with_graphs(models, tmp_path, similarity_rows=10)
    with pytest.raises(BundleError, match="similar-hnsw.faiss: expected an inner-product "
                                          "IndexHNSWFlat of .* found IndexHNSWFlat of 10"):
        load_bundle(folder, retrieval_min_movies=1)
    load_bundle(folder)  # below the threshold the graphs are not read


def test_metrics_show_the_shortlists_calibration_and_every_load(models: Path) -> None:
    """/metrics says which search effort the load's calibration chose and the recall it
    measured (0 and 1 when every movie is scored exactly); a reload through ModelState.reload
    (what the watcher of MODEL_DIR/current calls, not only /admin/reload) counts as a load
    and sets the served version."""
    import asyncio

    from app.metrics import REGISTRY
    from app.state import ModelState

    def gauge(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    with client_for(models, retrieval_min_movies=1) as staged:
        assert staged.get("/ready").status_code == 200
        nprobe = gauge("recommender_shortlist_nprobe")
        assert nprobe is not None and nprobe >= 1
        recall = gauge("recommender_shortlist_recall")
        assert recall is not None and 0 < recall <= 1
        assert f"recommender_shortlist_recall {recall}" in staged.get("/metrics").text
    with client_for(models) as exact:
        assert exact.get("/ready").status_code == 200
        assert gauge("recommender_shortlist_nprobe") == 0
        assert gauge("recommender_shortlist_recall") == 1
    loads = gauge("recommender_reloads_total", outcome="loaded") or 0.0
    bundle, _ = asyncio.run(ModelState(Settings(model_dir=models)).reload())
    assert gauge("recommender_reloads_total", outcome="loaded") == loads + 1
    assert gauge("recommender_model_info", version=bundle.version) == 1
