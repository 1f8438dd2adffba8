"""The hybrid's choices on validation data of the data being trained on: an Optuna search over
the training settings (models/tuning.py), and per trial the grids of the popularity prior, the
item-item and fresh-likes weights, the content share and the new-user path. Returns the
winner as values (settings, Chosen, epochs) and a report the exporter writes as it is.

Where the data comes from: the most recent ratings are carved out for validation; where the
release has demographics, 10% of the users sit the validation runs out entirely (they decide
whether a new user's demographics beat popularity); so do 10% of the movies with 5+ ratings
(ranked among themselves, as movies nobody rated, they weigh the content part)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import optuna
import pandas as pd
from tqdm.auto import tqdm

from recommender_core.scoring import VISITOR_SHOTS, VisitorPath
from training.data.interactions import (
    Interactions,
    carve_validation,
    hold_out_movies,
    hold_out_users,
    split_off,
)
from training.data.splits import MAX_VALIDATION_USERS, fewshot_users, sample_users
from training.evaluation.fewshot import Visitors, ndcg_of, visitors
from training.evaluation.fresh_likes import FeedbackSimulation
from training.evaluation.protocol import evaluate, evaluate_new_users
from training.models.config import HybridConfig
from training.models.content import CONTENT_GRID, fit_content_part
from training.models.hybrid.frozen import Chosen, FrozenParts, NewUserPath
from training.models.hybrid.loop import Run, train_towers
from training.models.hybrid.trained import TrainedTowers
from training.models.item_item import FRESH_GRID, RANK, WEIGHT_GRID, fit_item_item
from training.models.popularity import Popularity
from training.models.tuning import make_study, searched, suggest, trial_record

log = logging.getLogger(__name__)
T = TypeVar("T")

#: popularity priors tried on the validation carve-out
PRIOR_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)
#: the visitor path's grids (recommender_core.scoring.VisitorPath): the factor of the
#: item-item block of a visitor's vector, and the weight of log(1 + train likes) added to
#: every score (None: the popularity list); the first of each is the path as trained
VISITOR_ITEM_ITEM = (1.0, 0.5, 2.0, 4.0)
VISITOR_POPULARITY = (0.0, 0.5, 1.0, 2.0, 4.0, None)
MAX_VISITORS = 1_000  # validation visitors (their scores are visitors × movies per N)
#: where no user sits the validation runs out (no user features): the share of the users held
#: out of the one more run that chooses the visitor path (held_out_visitor_path)
VISITOR_USERS = 0.2
#: that run is made only where the slowest validation run took at most this many seconds
#: (ml-latest-small's take ~30 s); on larger releases the path stays as trained, so that
#: their training time stays as measured (BENCHMARKS.md, "Scale")
VISITOR_RUN_SECONDS = 120.0
#: the most the content part may lower the validation NDCG@10 (whole catalogue, relative):
#: it is weighed on new movies, and must not push them into every list
CONTENT_TOLERANCE = 0.005


def try_grid(grid: tuple[float, ...], apply: Callable[[float], None],
             measure: Callable[[], T], description: str = "", progress: bool = False
             ) -> dict[float, T]:
    """``measure()`` after ``apply(value)`` for each value of ``grid``, in its order;
    ``progress``: a bar named ``description`` (each value is a pass over the catalogue and an
    evaluation: seconds each on a large release)."""
    results = {}
    for value in tqdm(grid, desc=description, disable=not progress, leave=False):
        apply(value)
        results[value] = measure()
    return results


def best_of(scores: dict[float, float]) -> float:
    """The value with the highest score; the first in order on a tie (the grids ascend, so
    the smaller)."""
    return max(scores, key=scores.__getitem__)


@dataclass
class Selection:
    """The winning validation run: its settings, its chosen weights, its best epoch count,
    EASE's λ tuned on the carve-out, and what the manifest records of the search."""

    config: HybridConfig
    chosen: Chosen
    epochs: int
    ease_l2: float | None
    report: dict[str, Any] = field(default_factory=dict)


class Grids:
    """The validation passes of one trial over its trained ``towers``."""

    def __init__(self, towers: TrainedTowers, validation: pd.DataFrame, progress: bool) -> None:
        self.towers, self.validation, self.progress = towers, validation, progress
        self.fallback = Popularity().fit(towers.data)

    def _validate(self) -> dict[str, float]:
        return evaluate(self.towers, self.towers.data, self.validation, fallback=self.fallback,
                        with_auc=False)

    def _on_validation(self, grid: tuple[float, ...], apply: Callable[[float], None],
                       description: str) -> tuple[dict[float, float], float, dict[str, float]]:
        """Each value's validation NDCG@10 after ``apply(value)``, the best value (the smaller
        on a tie), and its metrics."""
        results = try_grid(grid, apply, self._validate, description, self.progress)
        scores = {value: m["ndcg@10"] for value, m in results.items()}
        best = best_of(scores)
        return scores, best, results[best]

    def prior(self) -> tuple[dict[float, float], float, dict[str, float]]:
        """The prior of PRIOR_GRID with the best validation NDCG@10 (the grid's last value is
        left set: the next pass sets its own)."""
        return self._on_validation(PRIOR_GRID, self.towers.set_prior, "popularity prior")

    def item_item(self, prior: float) -> tuple[dict[float, float], float, dict[str, float]]:
        """The weight of WEIGHT_GRID with the best validation NDCG@10 at ``prior``; left set."""
        towers = self.towers
        towers.set_prior(prior)
        found = self._on_validation(WEIGHT_GRID, lambda weight: towers.set_frozen(weight, weight),
                                    "item-item weight")
        towers.set_frozen(found[1], found[1])
        return found

    def fresh(self, feedback: FeedbackSimulation, weight: float,
              prior: float) -> tuple[float, dict[float, float]]:
        """The weight of FRESH_GRID for likes posted after training with the best NDCG@10 on
        ``feedback`` at ``weight`` and ``prior``; ``weight`` itself when there is nothing to
        simulate. Leaves the part at ``weight`` for both (the validation runs' model)."""
        towers = self.towers
        if towers.parts.item_item is None or not feedback.users:
            return weight, {}
        towers.set_prior(prior)
        results = try_grid(
            FRESH_GRID, lambda fresh: towers.set_frozen(weight, fresh, movies_changed=not weight),
            lambda: evaluate(feedback.scorer(towers), feedback.view, feedback.held,
                             fallback=self.fallback, with_auc=False),
            "fresh-likes weight", self.progress)
        validation = {fresh: m["ndcg@10"] for fresh, m in results.items()}
        towers.set_frozen(weight, weight, movies_changed=not weight)
        return best_of(validation), validation

    def content(self, new_movies: pd.DataFrame | None, weight: float,
                prior: float) -> tuple[float, dict[float, dict[str, float]]]:
        """The share of CONTENT_GRID with the best NDCG@10 ranking ``new_movies`` (movies held
        out of the data entirely) among themselves, of those that keep the validation NDCG@10
        within CONTENT_TOLERANCE of the part's absence; 0 when there is nothing to rank. Left
        set, at ``weight`` and ``prior``."""
        towers = self.towers
        if towers.parts.content is None or new_movies is None:
            return 0.0, {}
        held = np.unique(new_movies["movie_id"].to_numpy())
        towers.set_prior(prior)
        validation = try_grid(
            CONTENT_GRID, lambda content: towers.set_frozen(weight, weight, content=content),
            lambda: {"new_movies": evaluate(towers, towers.data, new_movies, candidates=held,
                                            fallback=self.fallback,
                                            with_auc=False)["ndcg@10"],
                     "validation": self._validate()["ndcg@10"]},
            "content share", self.progress)
        floor = validation[0.0]["validation"] * (1 - CONTENT_TOLERANCE)
        best = best_of({c: m["new_movies"] for c, m in validation.items()
                        if m["validation"] >= floor})
        log.info("content weights (new movies, validation NDCG@10): %s; chose %s",
                 {c: (round(m["new_movies"], 4), round(m["validation"], 4))
                  for c, m in validation.items()}, best)
        towers.set_frozen(weight, weight, content=best)
        return best, validation


def new_user_path(towers: TrainedTowers, new_users: pd.DataFrame
                  ) -> tuple[NewUserPath, dict[str, float]]:
    """Serve users the model never saw from their demographics only if that beats popularity
    (NDCG@10) on ``new_users``, users left out of the towers' data entirely; otherwise
    popularity (the known trap: a feature tower that does worse than popularity when the
    demographics say little)."""
    data = towers.data
    popularity = Popularity().fit(data)
    tower = evaluate_new_users(towers, data, new_users, popularity)["ndcg@10"]
    baseline = evaluate_new_users(popularity, data, new_users, popularity)["ndcg@10"]
    return ("demographics" if tower > baseline else "popularity"), {"demographics": tower,
                                                                    "popularity": baseline}


def visitor_path(towers: TrainedTowers, groups: dict[int, Visitors]
                 ) -> tuple[VisitorPath, dict[str, dict[str, float]]]:
    """For each N of VISITOR_SHOTS, the weights of the visitor path (the item-item factor of
    VISITOR_ITEM_ITEM, the popularity weight of VISITOR_POPULARITY or the popularity list)
    with the best NDCG@10 on ``groups[N]``, visitors giving their first N likes; on a tie the
    earlier (the first of each grid is the path as trained). Returns the path and every
    weight's NDCG per N."""
    factors: list[float] = []
    weights: list[float | None] = []
    validation: dict[str, dict[str, float]] = {}
    for shot in VISITOR_SHOTS:
        group = groups[shot]
        tried: dict[tuple[float, float | None], float] = {}
        if len(group):
            vectors = towers.visitor_vectors(group.liked, group.daytime, group.weekend)
            for factor in VISITOR_ITEM_ITEM:
                for weight in VISITOR_POPULARITY:
                    if weight is None and factor != VISITOR_ITEM_ITEM[0]:
                        continue  # the popularity list takes no factor
                    path = VisitorPath((factor,) * len(VISITOR_SHOTS),
                                       (weight,) * len(VISITOR_SHOTS))
                    tried[factor, weight] = ndcg_of(towers.visitor_scores(path, vectors, shot),
                                                    group)
        best = max(tried, key=tried.__getitem__) if tried else (1.0, 0.0)
        factors.append(best[0])
        weights.append(best[1])
        validation[str(shot)] = {f"{f}/{'popularity' if w is None else w}": round(v, 5)
                                 for (f, w), v in tried.items()}
    log.info("visitor path (item-item factor, popularity weight) per N %s: %s",
             VISITOR_SHOTS, list(zip(factors, weights, strict=True)))
    return VisitorPath(tuple(factors), tuple(weights)), validation


def held_out_visitor_path(data: Interactions, config: HybridConfig, chosen: Chosen,
                          codes: np.ndarray, epochs: int, ease_l2: float | None,
                          run: Run) -> tuple[VisitorPath, dict[str, dict[str, float]]]:
    """The visitor path (visitor_path) chosen on real visitors where no user sits the
    validation runs out: one more run of the chosen settings, ``epochs`` epochs, on ``data``
    without VISITOR_USERS of its users (seeded), who then give their first N likes as the
    fewshot protocol's visitors do, their later likes relevant. Visitors simulated from known
    users (their first likes given, their carved-out likes relevant) chose too much of the
    item-item part and too little of the popularity prior: the run had trained on their other
    likes (BENCHMARKS.md, "Visitors' first likes")."""
    held_users = fewshot_users(data.train, fraction=VISITOR_USERS, seed=run.seed)
    inside, held = split_off(data, np.isin(data.train["user_id"].to_numpy(), held_users))
    held = sample_users(held, MAX_VISITORS, run.seed)
    with_item_item, _ = chosen.needs()
    parts = FrozenParts(fit_item_item(inside, RANK, l2=ease_l2, seed=run.seed)
                        if with_item_item else None, None)
    towers, _ = train_towers(inside, config, parts, codes, epochs, run)
    chosen.write(towers)
    return visitor_path(towers, {shot: visitors(inside, held, shot) for shot in VISITOR_SHOTS})


def select(data: Interactions, base: HybridConfig, codes: np.ndarray, run: Run,
           search_until: float) -> Selection:
    """Up to ``base.trials`` validation runs (the first with the settings as given), none
    started after ``search_until`` or ``run.deadline`` except the first; the best run's
    settings, weights and epoch count."""
    seed = run.seed
    inside, new_users = hold_out_users(data, seed=seed)
    inside, new_movies = hold_out_movies(inside, seed=seed)
    sub, validation = carve_validation(inside)
    validation = sample_users(validation, MAX_VALIDATION_USERS, seed)
    if new_movies is not None:
        new_movies = sample_users(new_movies, MAX_VALIDATION_USERS, seed)
    item_item = fit_item_item(sub, RANK, seed=seed, progress=run.progress)
    content = fit_content_part(sub, seed=seed) if new_movies is not None else None
    parts = FrozenParts(item_item, content)
    study = make_study(base, seed)
    outcomes: dict[int, tuple[int, Chosen, dict[str, Any]]] = {}
    feedback = FeedbackSimulation(sub, validation)
    visitor_held = None if new_users is None else sample_users(new_users, MAX_VISITORS, seed)

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, base)
        towers, training = train_towers(sub, config, parts, codes, base.epochs,
                                        Run(seed, run.progress, run.deadline, run.distribute,
                                            trial, run.stops), validation)
        grids = Grids(towers, validation, run.progress)
        metrics = training.metrics
        prior_validation: dict[float, float] = {}
        weight_validation: dict[float, float] = {}
        prior = base.popularity_prior
        if prior is None:
            prior_validation, prior, metrics = grids.prior()
        weight = base.item_item_weight
        if weight is None:
            weight_validation, weight, metrics = grids.item_item(prior)
            if base.popularity_prior is None and weight:  # again, with the part in
                prior_validation, prior, metrics = grids.prior()
        else:
            towers.set_frozen(weight, weight)
        fresh, fresh_validation = grids.fresh(feedback, weight, prior)
        share, content_validation = grids.content(new_movies, weight, prior)
        path: NewUserPath = "demographics"
        path_validation: dict[str, float] = {}
        if new_users is not None:
            towers.set_prior(prior)
            path, path_validation = new_user_path(towers, new_users)
        walk_in, walk_in_validation = VisitorPath(), dict[str, dict[str, float]]()
        if visitor_held is not None:
            walk_in, walk_in_validation = visitor_path(
                towers, {shot: visitors(sub, visitor_held, shot) for shot in VISITOR_SHOTS})
        chosen = Chosen(prior, weight, fresh, share, path, walk_in)
        outcomes[trial.number] = (training.epochs, chosen, {
            "prior_validation": prior_validation, "item_item_validation": weight_validation,
            "fresh_validation": fresh_validation, "content_validation": content_validation,
            "validation_history": dict(training.history), "validation_metrics": metrics,
            "new_user_validation": path_validation,
            "visitor_validation": walk_in_validation})
        ndcg = float(metrics["ndcg@10"])
        log.info("trial %d %s: validation NDCG@10 %.4f at epoch %d", trial.number,
                 trial.params, ndcg, training.epochs)
        return ndcg

    slowest = 0.0
    for number in range(base.trials):
        late = time.monotonic() >= min(search_until, run.deadline or search_until)
        if number and (late or not searched(base)):
            break
        started = time.monotonic()
        study.optimize(objective, n_trials=1)
        slowest = max(slowest, time.monotonic() - started)
    best = study.best_trial
    epochs, chosen, report = outcomes[best.number]
    report["search"] = {"trials": [trial_record(trial) for trial in study.trials],
                        "searched": searched(base), "chosen": best.number}
    config = suggest(optuna.trial.FixedTrial(best.params), base)
    if visitor_held is None:
        if slowest > VISITOR_RUN_SECONDS:
            log.info("visitor path as trained: a validation run took %.0f s (the visitors' "
                     "run is made under %.0f s)", slowest, VISITOR_RUN_SECONDS)
        elif run.deadline is not None and time.monotonic() >= run.deadline:
            run.stops.append("visitor path: no time left for its run (the path as trained)")
        else:
            walk_in, report["visitor_validation"] = held_out_visitor_path(
                data, config, chosen, codes, epochs, item_item.l2, run)
            chosen = replace(chosen, visitors=walk_in)
    return Selection(config, chosen, epochs, item_item.l2, report)
