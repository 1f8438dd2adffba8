"""The fewshot protocol: visitors give their first likes; the later ones are relevant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.inputs import anonymous_inputs
from recommender_core.bundle_format import context_features
from recommender_core.scoring import VISITOR_SHOTS, VisitorPath
from tests.bundles import planted_release
from tests.recommender_contract import fitted
from tests.test_recommenders import FAST_HYBRID
from training.commands.cli import main
from training.data.dataset import load_dataset
from training.data.interactions import build_interactions
from training.data.splits import fewshot_split
from training.evaluation.fewshot import SHOTS, Visitors, evaluate_visitors, visitors
from training.models.ease import EASE
from training.models.fold_in import EASEFoldIn, ItemKNNFoldIn, PopularVisitors


def _planted() -> tuple[object, pd.DataFrame]:
    dataset = load_dataset(planted_release(), progress=False)
    split = fewshot_split(dataset.ratings, seed=0)
    return build_interactions(dataset, split.train), split.test


def test_a_visitor_gives_the_first_likes_in_time_order_and_the_later_ones_count() -> None:
    data, _ = _planted()
    movies = data.item_ids
    held = pd.DataFrame({  # user 900: likes at t=5 (movie c), 1 (a), 3 (b), 3 (d), a dislike
        "user_id": [900] * 5 + [901] * 2,
        "movie_id": [movies[2], movies[0], movies[1], movies[3], movies[4], movies[0], movies[1]],
        "rating": np.array([5, 4, 5, 4.5, 1, 5, 5], np.float32),
        "timestamp": [5, 1, 3, 3, 2, 7, 8]})
    group = visitors(data, held, 2)
    # 900's likes by (time, movie id): a(1), b(3), d(3), c(5); 901 has only two likes
    assert group.liked.tolist() == [[0, 1]]
    assert sorted(group.relevant[0].indices.tolist()) == [2, 3]
    daytime, weekend = context_features(np.array([3]))
    assert (group.daytime[0], group.weekend[0]) == (daytime[0], weekend[0])
    assert len(visitors(data, held, 1)) == 2 and len(visitors(data, held, 4)) == 0


def test_the_protocol_holds_out_a_tenth_of_the_users_with_every_rating() -> None:
    dataset = load_dataset(planted_release(), progress=False)
    split = fewshot_split(dataset.ratings, seed=0)
    held = set(split.test["user_id"])
    assert len(held) == 8 and not held & set(split.train["user_id"])
    assert len(split.train) + len(split.test) == len(dataset.ratings)
    assert set(fewshot_split(dataset.ratings, seed=1).test["user_id"]) != held


def test_folded_in_likes_beat_popularity_on_planted_tastes() -> None:
    """A visitor's first likes reveal their planted genre: item-kNN, EASE and the hybrid's
    visitor path all rank their later likes above the popularity list."""
    data, test = _planted()
    group = visitors(data, test, 3)
    assert len(group) > 0
    popularity = evaluate_visitors(PopularVisitors().fit(data), group)["ndcg@10"]
    knn = evaluate_visitors(ItemKNNFoldIn().fit(data), group)["ndcg@10"]
    ease = EASEFoldIn()
    ease.fit(data)
    assert sorted(ease.validation) == sorted(EASE.GRID) and ease.l2 in EASE.GRID
    assert knn > popularity + 0.1 and evaluate_visitors(ease, group)["ndcg@10"] > popularity + 0.1
    hybrid = fitted("hybrid", FAST_HYBRID)
    assert evaluate_visitors(hybrid, group)["ndcg@10"] > popularity  # type: ignore[arg-type]


def test_given_movies_never_come_back() -> None:
    data, test = _planted()
    group = visitors(data, test, 3)

    class GivenFirst:  # the given movies highest, then the later likes
        def score_visitors(self, batch: Visitors) -> np.ndarray:
            scores = batch.relevant.toarray() * 5.0
            scores[np.repeat(np.arange(len(batch)), batch.n), batch.liked.ravel()] = 10.0
            return scores

    perfect = evaluate_visitors(GivenFirst(), group)  # the given ones left out: a perfect list
    assert perfect["ndcg@10"] == pytest.approx(1.0) and perfect["users"] == len(group)


@pytest.mark.slow
def test_evaluate_fewshot_prints_one_row_per_model_and_n(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    code = main(["-q", "evaluate", "--data", str(planted_release()), "--protocol", "fewshot",
                 "--set", "epochs=2", "--set", "autoencoder_epochs=2", "--set", "trials=1",
                 "--report-dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    for n in SHOTS:
        for model in ("hybrid", "popularity", "item-kNN cosine fold-in", "EASE fold-in"):
            assert f"| {model}, N={n} |" in out, (model, n)


def test_the_visitor_path_weighs_by_the_number_of_likes() -> None:
    rng = np.random.default_rng(0)
    vectors, items = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(
        size=(20, 6)).astype(np.float32)
    bias, popularity = rng.normal(size=20).astype(np.float32), rng.integers(0, 50, 20)
    popularity = popularity.astype(np.float32)
    plain = VisitorPath()
    np.testing.assert_allclose(plain.scores(vectors, items, bias, popularity, 3, 4),
                               vectors @ items.T + bias, rtol=1e-6)
    assert [VisitorPath.place(n) for n in (1, 2, 3, 4, 5, 9, 10, 50)] == [0, 0, 1, 1, 2, 2, 3, 3]
    path = VisitorPath(item_item=(1.0, 2.0, 1.0, 1.0), popularity=(None, 0.5, 0.0, 0.0))
    np.testing.assert_array_equal(path.scores(vectors, items, bias, popularity, 2, 4),
                                  np.tile(popularity, (3, 1)))  # one or two likes: popularity
    scaled = vectors.copy()
    scaled[:, 4:] *= 2.0  # the frozen block, from column 4
    np.testing.assert_allclose(path.scores(vectors, items, bias, popularity, 3, 4),
                               scaled @ items.T + bias + 0.5 * np.log1p(popularity), rtol=1e-5)
    assert VisitorPath.from_record(path.record()) == path
    assert VisitorPath.from_record(None) == VisitorPath()
    with pytest.raises(ValueError, match="4 weights"):
        VisitorPath.from_record({"item_item": [1.0], "popularity": [0.0]})


def test_training_chooses_the_visitor_path_on_held_out_visitors() -> None:
    """The manifest records a weight pair per N and what each scored on validation."""
    import json
    import os

    from tests.bundles import trained_models_dir

    manifest = json.loads((Path(os.path.realpath(trained_models_dir() / "current"))
                           / "manifest.json").read_text())
    record = manifest["model"]["visitor_path"]
    assert record["shots"] == list(VISITOR_SHOTS)
    assert len(record["item_item"]) == len(record["popularity"]) == len(VISITOR_SHOTS)
    for shot, factor, weight in zip(VISITOR_SHOTS, record["item_item"], record["popularity"],
                                    strict=True):
        tried = record["validation"][str(shot)]
        key = f"{factor}/{'popularity' if weight is None else weight}"
        assert tried and tried[key] == max(tried.values())


def test_the_service_serves_visitors_on_the_bundles_path(tmp_path: Path) -> None:
    """A visitor path that answers one like with popularity and three with a popularity
    prior: POST /recommend and GET /recommend for an unknown user with posted likes follow
    it, through exact and two-stage retrieval alike."""
    import json
    import os
    import shutil

    from tests.bundles import point_current, resign, trained_models_dir
    from tests.test_app import client_for

    source = Path(os.path.realpath(trained_models_dir() / "current"))
    copy = tmp_path / "models"
    shutil.copytree(source, copy / "chosen")
    manifest = json.loads((copy / "chosen" / "manifest.json").read_text())
    manifest["model"]["visitor_path"] = VisitorPath(
        item_item=(1.0, 0.5, 1.0, 1.0), popularity=(None, 2.0, 0.0, 0.0)).record()
    (copy / "chosen" / "manifest.json").write_text(json.dumps(manifest))
    resign(copy / "chosen")
    point_current(copy, "chosen")
    movies = json.loads((source / "movies.json").read_text())
    popularity = np.load(source / "popularity.npy")
    order = [movies[i]["movie_id"] for i in np.lexsort((np.arange(len(popularity)),
                                                       -popularity))]
    liked = [movies[5]["movie_id"], movies[40]["movie_id"], movies[70]["movie_id"]]
    for settings in ({}, {"retrieval_min_movies": 1}):
        with client_for(copy, **settings) as client:
            one = client.post("/recommend", json={"liked": liked[:1], "k": 10}).json()
            assert [i["movie_id"] for i in one["items"]] == [
                m for m in order if m != liked[0]][:10]
            three = client.post("/recommend", json={"liked": liked, "k": 10}).json()
            bundle = client.app.state.model.bundle  # type: ignore[attr-defined]
            scorer = bundle.scorer
            inputs = anonymous_inputs(bundle, [bundle.catalogue.position[str(m)] for m in liked],
                                      {})
            vector = scorer.user_vectors(inputs)[0]
            vector[scorer.tower_dim:] *= 0.5
            expected = scorer.item_vectors @ vector + scorer.item_bias + 2.0 * np.log1p(
                popularity)
            got = {i["movie_id"]: i["score"] for i in three["items"]}
            for movie_id, score in got.items():
                assert score == pytest.approx(float(expected[bundle.catalogue.position[
                    str(movie_id)]]), abs=1e-4)
            assert len(got) == 10 and not set(got) & set(liked)


def _select_without_user_features(monkeypatch: pytest.MonkeyPatch,
                                  run_seconds: float | None = None) -> tuple[list[Any], Any]:
    """The planted release without its users file through ``selection.select`` (one fast
    validation run): the data of each towers run it made, and the selection."""
    import dataclasses

    from training.models.config import HybridConfig
    from training.models.hybrid import selection
    from training.models.hybrid.loop import Run

    dataset = dataclasses.replace(load_dataset(planted_release(), progress=False), users=None)
    data = build_interactions(dataset, dataset.ratings)
    runs: list[Any] = [data]
    train = selection.train_towers

    def recorded(run_data, *args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(run_data)
        return train(run_data, *args, **kwargs)

    monkeypatch.setattr(selection, "train_towers", recorded)
    if run_seconds is not None:
        monkeypatch.setattr(selection, "VISITOR_RUN_SECONDS", run_seconds)
    config = HybridConfig(epochs=2, trials=1, batch_size=256, min_epochs=1, patience=1)
    return runs, selection.select(data, config, np.zeros((data.n_items, 4), np.float32),
                                  Run(), search_until=float("inf"))


def test_without_user_features_the_visitor_path_is_chosen_on_users_left_out_of_a_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A release without user features: one more run of the chosen settings leaves out
    VISITOR_USERS of the users, who then choose the path as visitors (never users the run
    trained on); the path is the best of what was tried per N."""
    from training.models.hybrid import selection

    (data, *runs), result = _select_without_user_features(monkeypatch)
    assert len(runs) == 2  # the validation run, then the visitors' run
    left_out = np.setdiff1d(data.user_ids, runs[-1].user_ids)
    assert len(left_out) == round(selection.VISITOR_USERS * data.n_users)
    tried = result.report["visitor_validation"]
    assert sorted(tried, key=int) == [str(shot) for shot in VISITOR_SHOTS]
    path = result.chosen.visitors
    for place, shot in enumerate(VISITOR_SHOTS):
        weight = path.popularity[place]
        key = f"{path.item_item[place]}/{'popularity' if weight is None else weight}"
        assert tried[str(shot)][key] == max(tried[str(shot)].values())


def test_on_a_release_whose_validation_runs_are_slow_the_path_stays_as_trained(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a validation run takes longer than VISITOR_RUN_SECONDS the visitors' run is not
    made (training time at scale stays as measured): one run, the path as trained."""
    (_, *runs), result = _select_without_user_features(monkeypatch, run_seconds=0.0)
    assert len(runs) == 1
    assert result.chosen.visitors == VisitorPath()
