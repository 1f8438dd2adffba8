"""The fewshot protocol: visitors give their first likes; the later ones are relevant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender_core.bundle_format import context_features
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
