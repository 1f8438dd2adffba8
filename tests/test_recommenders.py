"""Every model honours the contract and learns planted tastes better than popularity."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.recommender_contract import RecommenderContract, fitted, planted
from training.errors import TrainingError
from training.evaluation.protocol import evaluate
from training.models.popularity import Popularity
from training.models.registry import PROTOCOLS, REGISTRY, TRAINABLE, create, for_protocol

FAST_HYBRID = (("epochs", 8), ("autoencoder_epochs", 5), ("trials", 0), ("patience", 8),
               ("batch_size", 128))


class TestHybrid(RecommenderContract):
    name = "hybrid"
    params = FAST_HYBRID


class TestEASE(RecommenderContract):
    name = "ease"
    params = (("l2", 10.0),)


class TestRP3beta(RecommenderContract):
    name = "rp3beta"
    params = (("alpha", 1.0), ("beta", 0.3))


class TestItemKNN(RecommenderContract):
    name = "item-knn"
    params = (("neighbours", 50),)


class TestSLIM(RecommenderContract):
    name = "slim"
    params = (("alpha", 1e-3), ("l1_ratio", 0.1))


class TestContent(RecommenderContract):
    name = "content"


class TestGMF(RecommenderContract):
    name = "gmf"
    params = (("epochs", 15), ("batch_size", 128))


class TestNeuMF(RecommenderContract):
    name = "neumf"
    params = (("epochs", 15), ("batch_size", 128))


class TestMatrixFactorisation(RecommenderContract):
    name = "mf"
    ranks = False
    params = (("epochs", 15),)


class TestEntityNet(RecommenderContract):
    name = "entity"
    ranks = False
    params = (("epochs", 15),)


def test_unknown_model_is_refused() -> None:
    with pytest.raises(TrainingError, match="unknown model.s. nope"):
        create("nope")


def test_every_registered_model_runs_in_a_protocol_and_only_the_hybrid_is_exported() -> None:
    assert TRAINABLE == ("hybrid",)
    for protocol in PROTOCOLS:
        assert {"popularity", "hybrid"} <= set(for_protocol(protocol))
    assert all(entry.protocols for entry in REGISTRY.values())


def test_hybrid_scores_cold_movies_by_their_genre() -> None:
    """Movies without ratings get a score through their features: a user's cold movies of
    their favourite genre outrank the other cold movies."""
    data, _ = planted()
    model = fitted("hybrid", FAST_HYBRID)
    cold = np.flatnonzero(np.diff(data.ratings.tocsc().indptr) == 0)
    genres = data.movie_features.genres
    assert len(cold) == 8
    wins = []
    for user in range(data.n_users):
        raw = int(data.user_ids[user])
        favourite = ("Action", "Comedy", "Drama", "Horror")[raw % 4]
        column = data.movie_features.genre_names.index(favourite)
        scores = model.score(np.array([user]))[0, cold]
        liked = genres[cold, column] == 1
        wins.append(scores[liked].mean() > scores[~liked].mean())
    assert np.mean(wins) > 0.8


def test_fit_is_reproducible_for_a_seed() -> None:
    data, split = planted()
    params = dict(FAST_HYBRID) | {"epochs": 2}
    first = create("hybrid", **params).fit(data, seed=3)
    second = create("hybrid", **params).fit(data, seed=3)
    np.testing.assert_allclose(first.score(np.arange(4)), second.score(np.arange(4)), atol=1e-5)


def test_ease_tunes_lambda_on_validation() -> None:
    data, split = planted()
    model = create("ease").fit(data)
    assert model.params["l2"] in (50.0, 100.0, 200.0, 500.0, 1000.0)
    assert len(model.history["validation_ndcg@10"]) == 5
    popularity = Popularity().fit(data)
    assert evaluate(model, data, split.test, fallback=popularity)["ndcg@10"] > 0


def test_ease_weights_equal_the_closed_form_in_float64() -> None:
    """The float32 Cholesky inverse gives Steck's B = I - P / diag(P), P = (XᵀX + λI)⁻¹."""
    from training.models.ease import ease_weights

    likes = (np.random.default_rng(0).random((300, 80)) < 0.2).astype(np.float64)
    gram = likes.T @ likes
    inverse = np.linalg.inv(gram + 5.0 * np.eye(80))
    expected = np.eye(80) - inverse / np.diag(inverse)
    np.testing.assert_allclose(ease_weights(gram.astype(np.float32), 5.0), expected,
                               atol=1e-5 * np.abs(expected).max())
    with pytest.raises(ValueError, match="l2 > 0"):
        ease_weights(gram.astype(np.float32), 0.0)


def test_popularity_prior_is_part_of_the_keras_model() -> None:
    """The prior adds prior × log(1 + train likes) to every movie's score, through a table
    inside the Keras model, so that the exported model (and the service) scores with it."""
    data, _ = planted()
    model = fitted("hybrid", FAST_HYBRID)
    chosen = model.chosen
    assert chosen.popularity_prior == 0.0  # no validation carve-out without refit
    users = np.arange(6)
    before = model.score(users)
    try:
        model.apply(replace(chosen, popularity_prior=0.5))
        expected = 0.5 * np.log1p(data.item_popularity())
        np.testing.assert_allclose(model.score(users) - before, np.broadcast_to(
            expected, before.shape), atol=1e-4)
        items = np.arange(1, data.n_items + 1, dtype=np.int32)[None, :]
        towers = model.towers
        outputs = towers.model.predict_on_batch({**towers.inputs(users[:1]), "items": items})
        np.testing.assert_allclose(np.asarray(outputs["item_bias"])[0], towers.item_bias,
                                   atol=1e-5)
    finally:
        model.apply(chosen)
    np.testing.assert_allclose(model.score(users), before, atol=1e-5)


def test_popularity_prior_is_tuned_on_the_validation_carve_out() -> None:
    from training.models.hybrid.selection import PRIOR_GRID

    data, _ = planted()
    params = dict(FAST_HYBRID) | {"epochs": 3, "trials": 1, "min_epochs": 1}
    model = create("hybrid", **params).fit(data, seed=0)
    tried = model.report["prior_validation"]
    assert list(tried) == list(PRIOR_GRID)
    best = max(tried.values())
    assert model.chosen.popularity_prior == min(p for p, v in tried.items() if v == best)
    assert model.report["validation_metrics"]["ndcg@10"] == best


def test_a_time_budget_cuts_inside_an_epoch() -> None:
    """A budget shorter than one epoch stops the autoencoder and each run (validation, refit)
    inside its first epoch, after the one step that always trains; the cut model still ranks."""
    from training.models.config import HybridConfig, RunOptions
    from training.models.hybrid import Hybrid

    data, _ = planted()
    config = HybridConfig(epochs=5, batch_size=2, autoencoder_epochs=1, min_epochs=5)
    model = Hybrid(config, RunOptions(time_budget=1e-3)).fit(data, seed=0)
    stops = model.report["budget_stops"]
    assert [stop.split(" in epoch 1 after 1 of ")[0] for stop in stops] == ["validation",
                                                                              "final"]
    assert all(int(stop.split(" of ")[1].split()[0]) > 100 for stop in stops)  # steps/epoch
    assert len(model.report["training_history"]["loss"]) == 1
    assert len(model.content.history["loss"]) == 1  # the autoencoder is cut too
    assert np.isfinite(model.score(np.arange(data.n_users))).all()


def test_without_a_budget_nothing_is_cut() -> None:
    model = fitted("hybrid", FAST_HYBRID)
    assert model.report["budget_stops"] == []
    assert len(model.report["training_history"]["loss"]) == dict(FAST_HYBRID)["epochs"]


def test_the_settings_search_starts_from_the_given_settings_and_keeps_the_best() -> None:
    """Three validation trials (Optuna): the first with the settings as given, the chosen one
    the best completed; the final model trains with its settings; a setting given explicitly
    is not searched."""
    from training.models.config import HybridConfig
    from training.models.hybrid import Hybrid

    data, _ = planted()
    config = HybridConfig(epochs=6, batch_size=128, autoencoder_epochs=2, min_epochs=6,
                          trials=3, l2=3e-4)
    model = Hybrid(config).fit(data, seed=0)
    search = model.report["search"]
    assert search["searched"] == ["negatives"]
    trials = search["trials"]
    assert len(trials) == 3
    assert trials[0]["params"] == {"negatives": 64}
    assert trials[0]["state"] == "COMPLETE" and trials[0]["epochs"] == 6
    assert len({trial["params"]["negatives"] for trial in trials}) > 1
    complete = [trial for trial in trials if trial["state"] == "COMPLETE"]
    chosen = max(complete, key=lambda trial: trial["value"])
    assert search["chosen"] == chosen["number"]
    assert model.config.negatives == chosen["params"]["negatives"]
    assert model.config.l2 == 3e-4
    assert model.report["validation_metrics"]["ndcg@10"] == chosen["value"]


def test_no_trial_after_the_search_time() -> None:
    from training.models.config import HybridConfig, RunOptions
    from training.models.hybrid import Hybrid

    data, _ = planted()
    config = HybridConfig(epochs=2, batch_size=128, autoencoder_epochs=1, min_epochs=1)
    model = Hybrid(config, RunOptions(search_seconds=0)).fit(data, seed=0)
    assert [trial["number"] for trial in model.report["search"]["trials"]] == [0]
    assert model.config == config


def test_item_item_part_is_low_rank_ease() -> None:
    """The item-item part's user side times its movie side is EASE's score, up to the rank."""
    from training.models.ease import EASE
    from training.models.item_item import fit_item_item

    data, _ = planted()
    ease = EASE(10.0).fit(data)
    full = fit_item_item(data, rank=1000, l2=10.0)  # capped at the liked movies - 1
    users = np.arange(data.n_users)
    low = full.user_part(data.likes[users]) @ full.movies.T
    exact = ease.score(users)
    exact[exact < -1e8] = 0.0  # movies nobody liked: no EASE row, no item-item row
    assert full.rank == len(ease.active) - 1
    assert np.abs(low - exact).max() < 0.1 * np.abs(exact).max()
    small = fit_item_item(data, rank=4, l2=10.0)
    assert small.rank == 4 and small.scale > 0
    np.testing.assert_allclose(np.std(small.user_part(data.likes) @ small.movies.T) * small.scale,
                               1.0, rtol=0.5)


def test_item_item_and_autoencoder_fits_show_progress(capsys: pytest.CaptureFixture[str]) -> None:
    """Both run for minutes on a large release before the first epoch's bar: each shows its
    own bar (EASE's λ grid, the last fit and the SVD; the autoencoder's epochs)."""
    from training.models.autoencoder import train_autoencoder
    from training.models.ease import EASE
    from training.models.item_item import fit_item_item

    data, _ = planted()
    fit_item_item(data, rank=4, progress=True)
    err = capsys.readouterr().err
    assert "item-item part (EASE, SVD)" in err
    assert f"/{len(EASE.GRID) + 2} [" in err  # 5 λ fits on a carve-out, the last, the SVD
    train_autoencoder(data.movie_features.tfidf, dim=4, hidden=8, epochs=3, progress=True)
    assert "content autoencoder" in (err := capsys.readouterr().err) and "/3 [" in err
    fit_item_item(data, rank=4, l2=10.0)
    train_autoencoder(data.movie_features.tfidf, dim=4, hidden=8, epochs=3)
    assert capsys.readouterr().err == ""


def test_hybrid_fit_shows_progress_of_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    """The validation passes after the validation run (each grid value a catalogue pass and
    an evaluation: minutes in all on ML-25M) have bars as the epochs do."""
    from training.models.config import HybridConfig
    from training.models.hybrid import Hybrid

    data, _ = planted()
    config = HybridConfig(epochs=2, batch_size=128, autoencoder_epochs=1, min_epochs=1,
                          trials=1)
    Hybrid(config).fit(data, seed=0, progress=True)
    err = capsys.readouterr().err
    for stage in ("content autoencoder", "item-item part (EASE, SVD)", "hybrid (validation)",
                  "popularity prior", "item-item weight", "fresh-likes weight",
                  "hybrid (final)", "epoch 1"):
        assert stage in err, stage


def test_item_item_weight_adds_exactly_its_part_to_the_hybrid_scores() -> None:
    data, split = planted()
    model = fitted("hybrid", FAST_HYBRID + (("item_item_weight", 2.0),))
    users = np.arange(data.n_users)
    with_part = model.score(users)
    tables = model.towers.parts.item_item
    assert tables is not None and model.towers.network.sizes.frozen == tables.rank > 1
    expected = 2.0 * tables.scale * tables.user_part(data.likes[users]) @ tables.movies.T
    chosen = model.chosen
    assert chosen.fresh_weight == 2.0  # no validation runs: fresh likes count as the others
    model.apply(replace(chosen, item_item_weight=0.0))
    without = model.score(users)
    model.apply(chosen)  # the cached model as it was
    np.testing.assert_allclose(with_part - without, expected, rtol=1e-3, atol=1e-3)


def test_feedback_simulation_feeds_the_earlier_half_and_holds_the_later() -> None:
    from training.evaluation.fresh_likes import FeedbackSimulation

    data, split = planted()
    later = split.test
    sim = FeedbackSimulation(data, later)
    fed = later.merge(sim.held, how="left", indicator=True).query("_merge == 'left_only'")
    assert len(fed) + len(sim.held) == len(later) and len(fed) > 0
    for user, ratings in later.groupby("user_id"):  # the held half is each user's later half
        held = sim.held[sim.held["user_id"] == user]
        assert len(held) == int(np.ceil(len(ratings) / 2))
        assert held["timestamp"].min() >= ratings.nsmallest(len(ratings) - len(held),
                                                            "timestamp")["timestamp"].max()
    rows = sim.view.user_index(fed["user_id"].to_numpy())
    cols = sim.view.item_index(fed["movie_id"].to_numpy())
    assert (np.asarray(sim.view.ratings[rows, cols]).ravel() > 0).all()  # excluded from lists
    liked = fed[fed["rating"] >= data.like_threshold]
    for user, likes in liked.groupby("user_id"):
        index = data.user_index(np.array([user]))[0]
        expected = set(data.item_index(likes["movie_id"].to_numpy()).tolist())
        expected -= set(data.ratings[index].indices.tolist())  # rated in train: not fresh
        got = sim.fresh[index]
        assert set((got[got > 0] - 1).tolist()) == expected
    held_likes = sim.held[sim.held["rating"] >= data.like_threshold]
    assert sim.users == held_likes["user_id"].nunique() > 0


def test_fresh_likes_add_their_weighted_item_item_rows() -> None:
    from training.evaluation.fresh_likes import FeedbackSimulation

    data, split = planted()
    model = fitted("hybrid", FAST_HYBRID + (("item_item_weight", 2.0),))
    sim = FeedbackSimulation(data, split.test)
    tables = model.towers.parts.item_item
    assert tables is not None
    users = np.arange(data.n_users)
    chosen = model.chosen
    model.apply(replace(chosen, fresh_weight=0.0))
    without = sim.scorer(model.towers).score(users)
    model.apply(replace(chosen, fresh_weight=3.0))
    with_fresh = sim.scorer(model.towers).score(users)
    model.apply(chosen)  # the cached model as it was
    fresh_sum = np.zeros((data.n_users, tables.rank), np.float32)
    for user, row in enumerate(sim.fresh):
        fresh_sum[user] = tables.liked[row[row > 0] - 1].sum(axis=0)
    expected = 3.0 * tables.scale * fresh_sum @ tables.movies.T
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(with_fresh - without, expected, rtol=1e-3, atol=1e-3)


def test_item_item_weight_is_chosen_on_validation() -> None:
    model = fitted("hybrid", (("epochs", 3), ("autoencoder_epochs", 2), ("trials", 1),
                              ("batch_size", 128)))
    from training.models.item_item import FRESH_GRID, WEIGHT_GRID

    tried, fresh = model.report["item_item_validation"], model.report["fresh_validation"]
    assert sorted(tried) == sorted(WEIGHT_GRID)
    best = max(WEIGHT_GRID, key=tried.__getitem__)
    assert model.chosen.item_item_weight == best
    assert sorted(fresh) == sorted(FRESH_GRID)  # the feedback simulation
    assert model.chosen.fresh_weight == max(FRESH_GRID, key=fresh.__getitem__)
    # fitted on all of train when either weight is above 0
    tables = model.towers.parts.item_item
    assert (tables is not None) == bool(best or model.chosen.fresh_weight)
    part = model.towers.parts.content  # likewise when its weight is above 0
    assert (part is not None) == bool(model.chosen.content_weight)
    ranks = (tables.rank if tables else 0) + (part.rank if part else 0)
    assert model.towers.network.sizes.frozen == max(1, ranks)
    summary = model.summary()  # what evaluate logs and reports per seed
    assert summary["item_item_weight"] == best and summary["trials"] == 1
    assert summary["popularity_prior"] == model.chosen.popularity_prior
    assert summary["epochs"] == model.epochs
    assert summary["negatives"] == model.config.negatives and summary["l2"] == model.config.l2


def test_content_weight_is_chosen_on_movies_held_out_of_validation() -> None:
    from training.models.content import CONTENT_GRID
    from training.models.hybrid.selection import CONTENT_TOLERANCE

    model = fitted("hybrid", (("epochs", 3), ("autoencoder_epochs", 2), ("trials", 1),
                              ("batch_size", 128)))
    tried = model.report["content_validation"]
    assert sorted(tried) == sorted(CONTENT_GRID)
    floor = tried[0.0]["validation"] * (1 - CONTENT_TOLERANCE)
    allowed = [w for w in CONTENT_GRID if tried[w]["validation"] >= floor]
    assert 0.0 in allowed
    assert model.chosen.content_weight == max(allowed, key=lambda w: tried[w]["new_movies"])
    assert model.summary()["content_weight"] == model.chosen.content_weight


def test_content_part_is_the_content_cosine_of_unrated_movies() -> None:
    from training.models.content import ContentBased, fit_content_part

    data, _ = planted()
    part = fit_content_part(data, rank=10_000)  # as wide as the content matrix: exact
    unrated = np.diff(data.ratings.tocsc().indptr) == 0
    assert unrated.sum() == 8 and not part.movies[~unrated].any()
    np.testing.assert_allclose(part.movies[unrated].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(part.users, axis=1), 1.0, rtol=1e-5)
    cosine = ContentBased().fit(data).score(np.arange(data.n_users))[:, unrated]
    # the content baseline's cosine, less each user's mean over the unrated movies
    np.testing.assert_allclose(part.users @ part.movies[unrated].T,
                               cosine - cosine.mean(axis=1, keepdims=True), atol=1e-5)
    small = fit_content_part(data, rank=4)  # the truncated SVD of a wider matrix
    assert small.rank == 4 and np.abs(small.movies[unrated]).max() > 0


def test_content_share_reorders_unrated_movies_by_content_and_keeps_their_mean() -> None:
    from training.models.config import HybridConfig
    from training.models.hybrid import Hybrid
    from training.models.hybrid.frozen import Chosen

    data, _ = planted()
    # as if chosen on validation (trials 0 keeps it): content only
    chosen = Chosen(content_weight=1.0)
    model = Hybrid(HybridConfig(**dict(FAST_HYBRID)), chosen=chosen).fit(data, seed=0)
    part = model.towers.parts.content
    assert part is not None and model.towers.network.sizes.frozen == part.rank
    users = np.arange(data.n_users)
    unrated = np.diff(data.ratings.tocsc().indptr) == 0
    blended = model.score(users)
    model.apply(replace(chosen, content_weight=0.0))
    towers = model.score(users)
    model.apply(chosen)  # the cached model as it was
    np.testing.assert_allclose(model.score(users), blended, atol=1e-5)
    np.testing.assert_allclose(blended[:, ~unrated], towers[:, ~unrated], atol=1e-4)
    new, old = blended[:, unrated], towers[:, unrated]
    np.testing.assert_allclose(new.mean(axis=1), old.mean(axis=1), atol=1e-4)
    content = part.users @ part.movies[unrated].T
    kappa = model.towers.content_kappa
    assert kappa > 0 and np.abs(content).max() > 0
    np.testing.assert_allclose(new - new.mean(axis=1, keepdims=True), kappa * content,
                               atol=1e-4)
    assert np.std(new) == pytest.approx(np.std(old), rel=0.5)  # the spread of the towers'


def test_rp3beta_weights_are_the_walk_movie_user_movie() -> None:
    import scipy.sparse as sp

    from training.models.neighbours import RP3beta

    likes = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], np.float32))
    user_to_movie = likes.toarray() / likes.toarray().sum(axis=1, keepdims=True)
    movie_to_user = likes.toarray().T / likes.toarray().sum(axis=0)[:, None]
    walk = (movie_to_user ** 0.5) @ (user_to_movie ** 0.5)
    walk /= likes.toarray().sum(axis=0)[None, :] ** 0.6  # destinations' popularity^beta
    np.fill_diagonal(walk, 0.0)
    model = RP3beta(alpha=0.5, beta=0.6)
    np.testing.assert_allclose(model.item_weights(likes, False).toarray(), walk, rtol=1e-5)


def test_item_knn_weights_are_the_cosines_of_like_columns() -> None:
    import scipy.sparse as sp

    from training.models.neighbours import ItemKNN

    likes = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], np.float32)
    unit = likes / np.linalg.norm(likes, axis=0)
    cosine = unit.T @ unit
    np.fill_diagonal(cosine, 0.0)
    weights = ItemKNN(neighbours=2).item_weights(sp.csr_matrix(likes), False).toarray()
    np.testing.assert_allclose(weights, cosine, rtol=1e-5)
    one = ItemKNN(neighbours=1).item_weights(sp.csr_matrix(likes), False).toarray()
    np.testing.assert_array_equal((one > 0).sum(axis=1), [1, 1, 1])  # each its nearest


@pytest.mark.parametrize("name", ["rp3beta", "slim", "item-knn"])
def test_neighbour_models_choose_their_settings_on_validation(name: str) -> None:
    from training.models.neighbours import ItemKNN, RP3beta, SLIMElasticNet

    data, _ = planted()
    model = create(name).fit(data, seed=0)
    grid = {"rp3beta": RP3beta.GRID, "slim": SLIMElasticNet.GRID,
            "item-knn": ItemKNN.GRID}[name]
    assert len(model.history["validation_ndcg@10"]) == len(grid)
    best = grid[int(np.argmax(model.history["validation_ndcg@10"]))]
    assert all(model.params[key] == value for key, value in best.items())
