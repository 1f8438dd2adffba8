"""The hybrid recommender: user and movie towers trained with BPR triplets (the default).

``Hybrid`` holds what it learned: the content autoencoder's codes, the trained towers with
their frozen parts, the chosen weights and a report of how they were chosen. Fitting strings
the parts together: the autoencoder, the choice on validation (hybrid/selection.py), the final
run on all the data (hybrid/loop.py) and the chosen weights written into it (hybrid/frozen.py).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import keras
import numpy as np

from training.data.interactions import Interactions
from training.evaluation.fewshot import Visitors
from training.models.autoencoder import ContentEmbeddings, train_autoencoder
from training.models.base import Recommender
from training.models.config import HybridConfig, RunOptions
from training.models.content import fit_content_part
from training.models.hybrid.frozen import Chosen, FrozenParts
from training.models.hybrid.loop import Run, train_towers
from training.models.hybrid.selection import select
from training.models.hybrid.trained import TrainedTowers
from training.models.item_item import RANK, fit_item_item
from training.models.tuning import SPACE


class Hybrid(Recommender):
    """User tower (id, recent liked movies, demographics, context) · movie tower (id, content),
    trained with BPR on the hardest of the sampled negatives; see HybridConfig. ``chosen``:
    the weights to use when ``config.trials`` is 0 (default: Chosen.given(config))."""

    name = "hybrid"
    content: ContentEmbeddings  # the autoencoder's codes
    towers: TrainedTowers  # the towers trained on all the data, chosen weights written in

    def __init__(self, config: HybridConfig | None = None, run: RunOptions | None = None,
                 chosen: Chosen | None = None) -> None:
        self.config = config or HybridConfig()
        self.run = run or RunOptions()
        super().__init__(**self.config.model_dump())
        self.chosen = chosen or Chosen.given(self.config)
        self.epochs = self.config.epochs  # of the final run
        # what the validation runs measured (selection.py), and where the time budget cut
        self.report: dict[str, Any] = {"budget_stops": []}
        self.fit_seconds = 0.0

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> Hybrid:
        started = time.monotonic()
        # with a time budget, the autoencoder may use a tenth of it, the validation runs (and
        # the passes that follow them) up to half, the final run the rest; each is cut inside
        # an epoch
        budget = self.run.time_budget

        def until(share: float) -> float | None:
            return None if budget is None else started + budget * share

        keras.utils.set_random_seed(seed)
        self.content = train_autoencoder(data.movie_features.tfidf, dim=self.config.content_dim,
                                         epochs=self.config.autoencoder_epochs, seed=seed,
                                         deadline=until(0.1), progress=progress)
        stops: list[str] = []
        ease_l2 = None
        if self.config.trials:
            selection = select(data, self.config, self.content.codes,
                               Run(seed, progress, until(0.5), self.run.distribute, None, stops),
                               search_until=started + self.run.search_seconds)
            self.config, self.chosen, self.epochs = (selection.config, selection.chosen,
                                                     selection.epochs)
            ease_l2 = selection.ease_l2
            self.report.update(selection.report)
        with_item_item, with_content = self.chosen.needs()
        parts = FrozenParts(
            fit_item_item(data, RANK, l2=ease_l2, seed=seed, progress=progress)
            if with_item_item else None,
            fit_content_part(data, seed=seed) if with_content else None)
        self.towers, training = train_towers(
            data, self.config, parts, self.content.codes, self.epochs,
            Run(seed, progress, until(1.0), self.run.distribute, None, stops))
        self.chosen.write(self.towers)
        self.report["training_history"] = training.history
        self.report["budget_stops"] = stops
        self.fit_seconds = time.monotonic() - started
        return self

    def summary(self) -> dict[str, object]:
        """What ``fit`` chose (the searched settings, epochs, prior, weights, new-user path),
        for logs and reports."""
        trials = self.report.get("search", {}).get("trials")
        return {**{name: getattr(self.config, name) for name in SPACE}, "epochs": self.epochs,
                "popularity_prior": self.chosen.popularity_prior,
                "item_item_weight": self.chosen.item_item_weight,
                "fresh_weight": self.chosen.fresh_weight,
                "content_weight": self.chosen.content_weight,
                "new_user_path": self.chosen.new_user_path,
                "trials": len(trials) if isinstance(trials, list) else 0}

    def record(self) -> dict[str, Any]:
        """The manifest's ``model`` section: the settings, the chosen weights and how they
        were chosen, the training histories (docs/bundle-format.md)."""
        report, chosen, towers = self.report, self.chosen, self.towers
        tables, part = towers.parts.item_item, towers.parts.content
        return {
            "name": self.name, "params": self.config.model_dump(mode="json"),
            "best_epoch": self.epochs, "run": dataclasses.asdict(self.run),
            "fit_seconds": round(self.fit_seconds, 1), "budget_stops": report["budget_stops"],
            "search": report.get("search", {}), "popularity_prior": chosen.popularity_prior,
            "new_user_path": chosen.new_user_path,
            "new_user_validation": report.get("new_user_validation", {}),
            "prior_validation": report.get("prior_validation", {}),
            "item_item": {"weight": chosen.item_item_weight,
                          "fresh_weight": chosen.fresh_weight,
                          "fresh_validation": report.get("fresh_validation", {}),
                          # the frozen columns, the content part's included
                          "rank": towers.network.sizes.frozen,
                          "ease_l2": tables.l2 if tables is not None else None,
                          "scale": tables.scale if tables is not None else None,
                          "validation": report.get("item_item_validation", {})},
            "visitor_path": {**chosen.visitors.record(),
                             "validation": report.get("visitor_validation", {})},
            "content_part": {"weight": chosen.content_weight,
                             "rank": part.rank if part is not None else 0,
                             "kappa": towers.content_kappa,
                             "validation": report.get("content_validation", {})},
            "training_history": report["training_history"],
            "validation_history": report.get("validation_history", {}),
            "autoencoder_history": self.content.history,
        }

    def apply(self, chosen: Chosen) -> None:
        """Write ``chosen`` into the towers (their frozen parts stay those fitted)."""
        self.chosen = chosen
        chosen.write(self.towers)

    # ------------------------------------------------------------------ inference

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.towers.score(users)

    def fold_in(self, users: np.ndarray, history: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """Scores of known users with their likes since training folded in (TrainedTowers)."""
        return self.towers.fold_in(users, history, fresh)

    def score_visitors(self, visitors: Visitors) -> np.ndarray:
        """Every movie's score for visitors from the likes they give (the fewshot protocol):
        the path of POST /recommend."""
        towers = self.towers
        vectors = towers.visitor_vectors(visitors.liked, visitors.daytime, visitors.weekend)
        return towers.visitor_scores(self.chosen.visitors, vectors, visitors.n)

    def score_demographics(self, codes: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Every movie's score for ``n`` users the model never saw, from their user-feature
        codes alone (by slot key) — the service's new-user path (``GET /recommend/{unknown
        id}?age=&gender=``, POST /recommend's ``features``); popularity where the validation
        chose it (``chosen.new_user_path``)."""
        if self.chosen.new_user_path == "popularity":
            return np.tile(self.towers.data.item_popularity(), (n, 1))
        return self.towers.score_demographics(codes, n)

    def item_vectors(self) -> np.ndarray:
        return self.towers.item_vectors
