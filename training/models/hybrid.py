"""The hybrid recommender: user and movie towers trained with BPR triplets (the default)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import keras
import numpy as np
import optuna
import pandas as pd
from tqdm.auto import tqdm

from recommender_core.bundle_format import FRESH_INPUT
from training.data.interactions import (
    Interactions,
    carve_validation,
    hold_out_movies,
    hold_out_users,
)
from training.data.splits import MAX_VALIDATION_USERS, sample_users
from training.evaluation.feedback import FeedbackSimulation
from training.evaluation.protocol import evaluate, evaluate_new_users
from training.models.autoencoder import ContentEmbeddings, train_autoencoder
from training.models.base import Recommender
from training.models.callbacks import Deadline, StepProgress
from training.models.cold_items import ColdItemRegression, cold_feature_matrix
from training.models.config import HybridConfig, RunOptions
from training.models.content import CONTENT_GRID, ContentPart, fit_content_part
from training.models.distribution import distributed
from training.models.item_item import FRESH_GRID, RANK, WEIGHT_GRID, ItemItem, fit_item_item
from training.models.optimizers import LazyAdam
from training.models.popularity import Popularity
from training.models.sampling import TripletDataset, TripletSampler
from training.models.tasks import bpr_loss
from training.models.towers import HybridNetwork, TowerSizes
from training.models.tuning import SPACE, make_study, searched, suggest, trial_record

log = logging.getLogger(__name__)
T = TypeVar("T")

#: training steps (batches × epochs) from which a run compiles its step with XLA: compiling
#: costs ~3 s more than tracing, the compiled 512-triplet step saves ~22 ms (BENCHMARKS.md,
#: "XLA pays from"), so it pays from ~150 steps; ml-latest-small's runs take thousands
XLA_MIN_STEPS = 500
#: popularity priors tried on the validation carve-out
PRIOR_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)
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


def item_feature_table(data: Interactions, codes: np.ndarray) -> np.ndarray:
    """Each movie's frozen feature row: genres, year, whether the year is known, content code."""
    features = data.movie_features
    return np.hstack([features.genres, features.year[:, None], features.year_known[:, None],
                      codes]).astype(np.float32)


class Hybrid(Recommender):
    """User tower (id, recent liked movies, demographics, context) · movie tower (id, content),
    trained with BPR on the hardest of the sampled negatives; see HybridConfig."""

    name = "hybrid"
    content: ContentEmbeddings  # the autoencoder's codes (fit trains it first)

    def __init__(self, config: HybridConfig | None = None,
                 run: RunOptions | None = None) -> None:
        self.config = config or HybridConfig()
        self.run = run or RunOptions()
        super().__init__(**self.config.model_dump())
        self.popularity_prior = 0.0
        self.prior_validation: dict[float, float] = {}
        self.item_item_weight = 0.0
        self.item_item_validation: dict[float, float] = {}
        # the weight of the item-item rows of likes posted after training (the `fresh` input)
        self.fresh_weight = 0.0
        self.fresh_validation: dict[float, float] = {}
        self.item_item: ItemItem | None = None  # the tables of the data being trained on
        # the content part (models/content.py): the share of the content cosine in the scores
        # of movies nobody rated (chosen on movies held out of the validation runs), and the
        # factor that gives it the spread of the towers' scores of those movies
        self.content_weight = 0.0
        self.content_kappa = 0.0
        self._content_share = 0.0  # what _precompute applies
        self.content_validation: dict[float, dict[str, float]] = {}
        self.content_part: ContentPart | None = None  # of the data being trained on
        self._user_part: tuple[Interactions, ItemItem, np.ndarray] | None = None  # a cache
        self.validation_history: dict[str, list[float]] = {}
        self.validation_metrics: dict[str, float] = {}
        self.new_user_path = "demographics"  # or "popularity"; see _choose_new_user_path
        self.new_user_validation: dict[str, float] = {}
        self.budget_stops: list[str] = []  # runs that the time budget cut short
        self.search: dict[str, object] = {}  # the validation trials (tuning.py)
        self.best_epoch = self.config.epochs
        self.fit_seconds = 0.0
        self.progress = False  # fit's: bars over the validation passes' grids too

    # ------------------------------------------------------------------ training

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> Hybrid:
        config = self.config
        self.progress = progress
        started = time.monotonic()
        # with a time budget, the autoencoder may use a tenth of it, the validation run (and the
        # passes that follow it) up to half, the refit the rest; each is cut inside an epoch
        budget = self.run.time_budget

        def until(share: float) -> float | None:
            return None if budget is None else started + budget * share

        keras.utils.set_random_seed(seed)
        self.content = train_autoencoder(data.movie_features.tfidf, dim=config.content_dim,
                                         epochs=config.autoencoder_epochs, seed=seed,
                                         deadline=until(0.1), progress=progress)
        epochs = config.epochs
        self.popularity_prior = float(config.popularity_prior or 0.0)
        self.item_item_weight = float(config.item_item_weight or 0.0)
        self.fresh_weight = self.item_item_weight  # without validation runs, as the others
        ease_l2 = None
        if config.trials:
            # Validation runs on a carve-out pick the settings, the epoch count and the prior,
            # then the model is trained again on all of train: the carved-out ratings are the
            # most recent ones. Where the release has demographics, 10% of those users sit the
            # validation runs out entirely: they decide whether a new user's demographics beat
            # popularity. So do 10% of the movies with 5+ ratings: ranked among themselves, as
            # movies nobody rated, they weigh the content part.
            inside, new_users = hold_out_users(data, seed=seed)
            inside, new_movies = hold_out_movies(inside, seed=seed)
            sub, validation = carve_validation(inside)
            validation = sample_users(validation, MAX_VALIDATION_USERS, seed)
            if new_movies is not None:
                new_movies = sample_users(new_movies, MAX_VALIDATION_USERS, seed)
            self.item_item = fit_item_item(sub, RANK, seed=seed, progress=progress)
            ease_l2 = self.item_item.l2
            self.content_part = fit_content_part(sub, seed=seed) if new_movies is not None else None
            self._search(sub, validation, new_users, new_movies, seed, progress,
                         deadline=until(0.5), search_until=started + self.run.search_seconds)
            epochs = self.best_epoch
        self.item_item = (fit_item_item(data, RANK, l2=ease_l2, seed=seed, progress=progress)
                          if self.item_item_weight > 0 or self.fresh_weight > 0 else None)
        self.content_part = fit_content_part(data, seed=seed) if self.content_weight > 0 else None
        self._train(data, epochs, seed, progress, validation=None, deadline=until(1.0))
        self._set_item_item(data, self.item_item_weight, self.fresh_weight,
                            content=self.content_weight)
        self._set_prior(data, self.popularity_prior)
        self.fit_seconds = time.monotonic() - started
        return self

    def chosen(self) -> dict[str, object]:
        """What ``fit`` chose on validation (the searched settings, epochs, prior, item-item
        weights, new-user path), for logs and reports."""
        trials = self.search.get("trials")
        return {**{name: getattr(self.config, name) for name in SPACE},
                "epochs": self.best_epoch, "popularity_prior": self.popularity_prior,
                "item_item_weight": self.item_item_weight, "fresh_weight": self.fresh_weight,
                "content_weight": self.content_weight, "new_user_path": self.new_user_path,
                "trials": len(trials) if isinstance(trials, list) else 0}

    def _search(self, sub: Interactions, validation: pd.DataFrame,
                new_users: pd.DataFrame | None, new_movies: pd.DataFrame | None, seed: int,
                progress: bool, deadline: float | None, search_until: float) -> None:
        """Up to ``config.trials`` validation runs (tuning.py; the first with the settings as
        given), none started after ``search_until`` or ``deadline`` except the first; keeps
        the best run's settings (``self.config``), epoch count, prior and new-user path."""
        base = self.config
        study = make_study(base, seed)
        outcomes: dict[int, dict[str, object]] = {}
        feedback = FeedbackSimulation(sub, validation)

        def objective(trial: optuna.Trial) -> float:
            self.config = suggest(trial, base)
            self._train(sub, base.epochs, seed, progress, validation=validation,
                        deadline=deadline, trial=trial)
            prior = base.popularity_prior
            if prior is None:
                prior = self._tune_prior(sub, validation)
            weight = base.item_item_weight
            if weight is None:
                weight = self._tune_item_item(sub, validation, prior)
                if base.popularity_prior is None and weight:
                    prior = self._tune_prior(sub, validation)  # again, with the part in
            else:
                self._set_item_item(sub, weight, weight)
            fresh = self._tune_fresh(sub, feedback, weight, prior)
            content = self._tune_content(sub, validation, new_movies, weight, prior)
            if new_users is not None:
                self._set_prior(sub, prior)
                self._choose_new_user_path(sub, new_users)
            outcomes[trial.number] = {
                "best_epoch": self.best_epoch, "popularity_prior": prior,
                "prior_validation": self.prior_validation, "item_item_weight": weight,
                "item_item_validation": self.item_item_validation,
                "fresh_weight": fresh, "fresh_validation": self.fresh_validation,
                "content_weight": content, "content_validation": self.content_validation,
                "validation_history": dict(self.history),
                "validation_metrics": self.validation_metrics,
                "new_user_path": self.new_user_path,
                "new_user_validation": self.new_user_validation}
            ndcg = float(self.validation_metrics["ndcg@10"])
            log.info("trial %d %s: validation NDCG@10 %.4f at epoch %d", trial.number,
                     trial.params, ndcg, self.best_epoch)
            return ndcg

        for number in range(base.trials):
            late = time.monotonic() >= min(search_until, deadline or search_until)
            if number and (late or not searched(base)):
                break
            study.optimize(objective, n_trials=1)
        best = study.best_trial
        self.config = suggest(optuna.trial.FixedTrial(best.params), base)
        for name, value in outcomes[best.number].items():
            setattr(self, name, value)
        self.search = {"trials": [trial_record(trial) for trial in study.trials],
                       "searched": searched(base), "chosen": best.number}

    def _choose_new_user_path(self, data: Interactions, new_users: pd.DataFrame) -> None:
        """Serve users the model never saw from their demographics only if that beats
        popularity (NDCG@10) on ``new_users``, users left out of ``data`` entirely; otherwise
        popularity (the known trap: a feature tower that does worse than popularity when the
        demographics say little)."""
        popularity = Popularity().fit(data)
        users = data.dataset.users
        self.new_user_path = "demographics"
        tower = evaluate_new_users(self, data, new_users, users, popularity)["ndcg@10"]
        baseline = evaluate_new_users(popularity, data, new_users, users, popularity)["ndcg@10"]
        self.new_user_validation = {"demographics": tower, "popularity": baseline}
        self.new_user_path = "demographics" if tower > baseline else "popularity"

    def _set_prior(self, data: Interactions, prior: float) -> None:
        """A fixed bias of ``prior`` × log(1 + train likes) per movie, inside the Keras model
        (so that the service scores with it too). Trained with the hardest sampled negative,
        the model pushes popular movies down more than the future ratings bear out: on the
        temporal split the users with 100+ likes get lists with half the median popularity
        of EASE's."""
        table = np.zeros((data.n_items + 1, 1), np.float32)
        table[1:, 0] = prior * np.log1p(data.item_popularity())
        self.network.items.prior.set_weights([table])
        self._precompute()

    def _set_item_item(self, data: Interactions, weight: float, fresh: float,
                       movies_changed: bool = True, content: float = 0.0) -> None:
        """The frozen parts of the Keras model, the item-item part (models/item_item.py) then
        the content part (models/content.py): each user's sum of P over their likes in
        ``data`` at ``weight``, P at ``fresh`` for likes posted since (the ``fresh`` input), Q;
        the content profiles, and the unrated movies' scores blended with the content cosine
        at the share ``content`` (_blend_content). A part is zeros at weight 0 or when it was
        not fitted. ``movies_changed=False``: only the user side moved (the item-item part's
        weights, the training weight above 0, so Q stays, and the same share), so the
        catalogue's vectors are not computed again."""
        tables, part = self.item_item, self.content_part
        share = content if part is not None else 0.0
        movies_changed = movies_changed or share != self._content_share
        rank = self.network.sizes.item_item
        into = np.zeros((data.n_items, rank), np.float32)
        out = np.zeros((data.n_items, rank), np.float32)
        users = np.zeros((data.n_users, rank), np.float32)
        start = 0
        if tables is not None:
            start = tables.rank
            if weight or fresh:
                cached = self._user_part
                if cached is None or cached[0] is not data or cached[1] is not tables:
                    cached = self._user_part = (data, tables, tables.user_part(data.likes))
                # the part is linear in P: weights scale P (in units of its scores' spread)
                into[:, :start] = tables.into * np.float32(fresh * tables.scale)
                out[:, :start] = tables.out
                users[:, :start] = cached[2] * np.float32(weight * tables.scale)
        self._content_share = share
        if part is not None and share:
            users[:, start:] = part.users  # the movie side: _blend_content
        self.network.set_item_item(into, out, users)
        if movies_changed:
            self._precompute()

    def _frozen_rank(self) -> int:
        """Columns of the frozen parts (at least 1: Keras tables are never empty)."""
        ranks = [part.rank for part in (self.item_item, self.content_part) if part is not None]
        return max(1, sum(ranks))

    def _tune_item_item(self, data: Interactions, validation: pd.DataFrame,
                        prior: float) -> float:
        """The weight of WEIGHT_GRID with the best validation NDCG@10 at ``prior`` (the
        smaller on a tie); leaves it set."""
        self._set_prior(data, prior)
        self.item_item_validation, best = self._choose_on_validation(
            data, validation, WEIGHT_GRID, lambda weight: self._set_item_item(data, weight, weight),
            "item-item weight")
        self._set_item_item(data, best, best)
        return best

    def _tune_fresh(self, data: Interactions, feedback: FeedbackSimulation, weight: float,
                    prior: float) -> float:
        """The weight of FRESH_GRID for likes posted after training (the ``fresh`` input)
        with the best NDCG@10 on ``feedback`` (the smaller on a tie), at the chosen ``weight``
        and ``prior``; ``weight`` itself when there is nothing to simulate. Leaves the model
        with the part at ``weight`` for both (the validation runs' model)."""
        self.fresh_validation = {}
        if self.item_item is None or not feedback.users:
            return weight
        self._set_prior(data, prior)
        fallback = Popularity().fit(data)
        results = try_grid(
            FRESH_GRID,
            lambda fresh: self._set_item_item(data, weight, fresh, movies_changed=not weight),
            lambda: evaluate(feedback.scorer(self), feedback.view, feedback.held,
                             fallback=fallback, with_auc=False),
            "fresh-likes weight", self.progress)
        self.fresh_validation = {fresh: m["ndcg@10"] for fresh, m in results.items()}
        self._set_item_item(data, weight, weight, movies_changed=not weight)
        return best_of(self.fresh_validation)

    def _tune_content(self, data: Interactions, validation: pd.DataFrame,
                      new_movies: pd.DataFrame | None, weight: float, prior: float) -> float:
        """The share of CONTENT_GRID with the best NDCG@10 ranking ``new_movies`` (movies held
        out of ``data`` entirely) among themselves, of those that keep the validation NDCG@10
        (the whole catalogue ranked, new movies in it) within CONTENT_TOLERANCE of the part's
        absence; 0 when there is nothing to rank. Leaves it set, at ``weight`` and ``prior``."""
        self.content_validation = {}
        if self.content_part is None or new_movies is None:
            return 0.0
        fallback = Popularity().fit(data)
        held = np.unique(new_movies["movie_id"].to_numpy())
        self._set_prior(data, prior)
        self.content_validation = try_grid(
            CONTENT_GRID,
            lambda content: self._set_item_item(data, weight, weight, content=content),
            lambda: {"new_movies": evaluate(self, data, new_movies, candidates=held,
                                            fallback=fallback, with_auc=False)["ndcg@10"],
                     "validation": evaluate(self, data, validation, fallback=fallback,
                                            with_auc=False)["ndcg@10"]},
            "content share", self.progress)
        floor = self.content_validation[0.0]["validation"] * (1 - CONTENT_TOLERANCE)
        best = best_of({c: m["new_movies"] for c, m in self.content_validation.items()
                        if m["validation"] >= floor})
        log.info("content weights (new movies, validation NDCG@10): %s; chose %s",
                 {c: (round(m["new_movies"], 4), round(m["validation"], 4))
                  for c, m in self.content_validation.items()}, best)
        self._set_item_item(data, weight, weight, content=best)
        return best

    def _tune_prior(self, data: Interactions, validation: pd.DataFrame) -> float:
        """The prior of PRIOR_GRID with the best validation NDCG@10 (the smaller on a tie)."""
        self.prior_validation, best = self._choose_on_validation(
            data, validation, PRIOR_GRID, lambda prior: self._set_prior(data, prior),
            "popularity prior")
        return best

    def _choose_on_validation(self, data: Interactions, validation: pd.DataFrame,
                              grid: tuple[float, ...], apply: Callable[[float], None],
                              description: str) -> tuple[dict[float, float], float]:
        """Each value's validation NDCG@10 after ``apply(value)``, and the best value (the
        smaller on a tie); its metrics become ``validation_metrics``."""
        fallback = Popularity().fit(data)
        results = try_grid(grid, apply,
                           lambda: evaluate(self, data, validation, fallback=fallback,
                                            with_auc=False),
                           description, self.progress)
        scores = {value: m["ndcg@10"] for value, m in results.items()}
        best = best_of(scores)
        self.validation_metrics = results[best]
        return scores, best

    def _train(self, data: Interactions, epochs: int, seed: int, progress: bool,
               validation: pd.DataFrame | None, deadline: float | None = None,
               trial: optuna.Trial | None = None) -> None:
        """Up to ``epochs`` epochs (fewer when validation stops early); training stops at the
        first step that ends past ``deadline`` (time.monotonic), inside an epoch too; one step
        always trains."""
        with distributed(self.run.distribute, self.config.dim) as devices:
            self._train_on(data, epochs, seed, progress, validation, deadline, devices, trial)

    def _train_on(self, data: Interactions, epochs: int, seed: int, progress: bool,
                  validation: pd.DataFrame | None, deadline: float | None,
                  devices: int, trial: optuna.Trial | None = None) -> None:
        config = self.config
        keras.utils.set_random_seed(seed)
        self.data = data
        self._content_share = 0.0  # a new network: its frozen parts are zeros
        self.recent_history = data.recent_likes(config.history)
        table = item_feature_table(data, self.content.codes)
        self.unrated = np.diff(data.ratings.tocsc().indptr) == 0
        self.cold_regression = (
            ColdItemRegression(cold_feature_matrix(data.movie_features.tfidf, table),
                               ~self.unrated, config.cold_alpha) if config.cold_alpha else None)
        features = data.user_features
        sizes = TowerSizes(
            n_users=data.n_users, n_items=data.n_items, n_item_features=table.shape[1],
            n_age_groups=len(features.age_groups), n_genders=len(features.genders),
            n_occupations=len(features.occupations), history=config.history, dim=config.dim,
            item_item=self._frozen_rank())
        self.network = HybridNetwork(sizes, l2=config.l2)
        sampler = TripletSampler(data, history=config.history, negatives=config.negatives,
                                 user_dropout=config.user_dropout, seed=seed)
        trainer = self.network.training_model(config.negatives)
        self.model = self.network.inference_model()
        self.network.set_item_features(table)
        batches = TripletDataset(sampler, config.batch_size, outputs=trainer.output.shape[-1],
                                 multiple=devices)
        # XLA: 2.3x faster per epoch on the 2-core CPU (TensorFlow's "auto" leaves it off),
        # once the run has the steps to pay for its compilation; JAX always compiles.
        trainer.compile(optimizer=LazyAdam(config.learning_rate), loss=bpr_loss,
                        jit_compile=len(batches) * epochs >= XLA_MIN_STEPS)
        self.history = {"loss": [], "val_ndcg@10": [], "seconds": []}
        fallback = Popularity().fit(data)
        best, best_weights, waited = -1.0, None, 0
        self.best_epoch = epochs
        stage = "validation" if validation is not None else "final"
        bar = tqdm(range(1, epochs + 1), desc=f"{self.name} ({stage})", disable=not progress,
                   leave=False)
        deadline_stop = Deadline(deadline)
        for epoch in bar:
            if deadline is not None and epoch > 1 and time.monotonic() >= deadline:
                self.budget_stops.append(f"{stage} after {epoch - 1} epochs")
                break
            start = time.perf_counter()
            steps = StepProgress(len(batches), f"epoch {epoch}", progress)
            fitted = trainer.fit(batches, epochs=1, verbose=0, callbacks=[deadline_stop, steps])
            if deadline_stop.cut:
                self.budget_stops.append(f"{stage} in epoch {epoch} after "
                                         f"{deadline_stop.steps} of {len(batches)} steps")
            self.history["loss"].append(float(fitted.history["loss"][-1]))
            self.history["seconds"].append(time.perf_counter() - start)
            self._precompute()
            if validation is None:
                bar.set_postfix(loss=f"{self.history['loss'][-1]:.4f}")
                if deadline_stop.cut:
                    break
                continue
            metrics = evaluate(self, data, validation, fallback=fallback, with_auc=False)
            ndcg = metrics["ndcg@10"]
            self.history["val_ndcg@10"].append(ndcg)
            if trial is not None:
                trial.report(ndcg, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"epoch {epoch}: {ndcg:.4f}")
            bar.set_postfix(loss=f"{self.history['loss'][-1]:.4f}", val_ndcg=f"{ndcg:.4f}")
            if ndcg > best:
                best, best_weights, waited, self.best_epoch = ndcg, trainer.get_weights(), 0, epoch
                self.validation_metrics = metrics
            else:
                waited += 1
                # validation NDCG@10 is noisy early on: never stop before min_epochs
                if waited >= config.patience and epoch >= config.min_epochs:
                    break
            if deadline_stop.cut:
                break
        if best_weights is not None:
            trainer.set_weights(best_weights)
            self._precompute()

    # ------------------------------------------------------------------ inference

    def _precompute(self) -> None:
        """Movie vectors and biases for the whole catalogue. Movies without ratings get id parts
        predicted from their features (``cold_alpha``; zero when it is 0), then, at a content
        share above 0, the content cosine blended in (_blend_content)."""
        unrated = self.unrated
        layers = [self.network.items.ids, self.network.items.id_bias]
        tables = [layer.get_weights()[0] for layer in layers]
        widths = np.cumsum([0] + [table.shape[1] for table in tables])
        learned = np.hstack([table[1:] for table in tables])
        cold = np.zeros((int(unrated.sum()), learned.shape[1]), np.float32)
        if self.cold_regression is not None:
            cold = self.cold_regression.predict(learned)
        for layer, table, start, stop in zip(layers, tables, widths[:-1], widths[1:],
                                             strict=True):
            table[0] = 0.0
            table[1:][unrated] = cold[:, start:stop]
            layer.set_weights([table])
        self._movie_outputs()
        if self._content_share and unrated.any():
            self._blend_content(self._content_share)

    def _movie_outputs(self) -> None:
        """The catalogue's vectors and biases, as the Keras model computes them."""
        items = np.arange(1, self.data.n_items + 1, dtype=np.int32)[None, :]
        outputs = self.model.predict_on_batch({**self.user_inputs(np.array([0])), "items": items})
        self.item_vectors_ = np.asarray(outputs["item_vector"])[0].astype(np.float32)
        self.item_bias_ = np.asarray(outputs["item_bias"])[0].astype(np.float32)

    def _blend_content(self, share: float) -> None:
        """The scores of the movies nobody rated become ``(1 − share) ×`` the towers' deviation
        from those movies' mean ``+ share × κ ×`` the content part's (κ: the ratio of their
        spreads over a sample of users), so the content cosine reorders the new movies without
        raising them, on average or in spread, against the rated ones. Written into the
        Keras model's tables (the unrated movies' id rows and biases, and the content part's
        movie side), so that the model and the service score alike."""
        part, unrated, dim = self.content_part, self.unrated, self.config.dim
        if part is None:
            return
        vectors, bias = self.item_vectors_[unrated, :dim], self.item_bias_[unrated]
        centred_vectors = vectors - vectors.mean(axis=0)
        centred_bias = bias - bias.mean()
        sample = np.random.default_rng(0).permutation(self.data.n_users)[:1000]
        towers = self.user_vectors(sample)[:, :dim] @ centred_vectors.T + centred_bias
        content = part.users[sample] @ part.movies[unrated].T
        spread = float(np.std(content))
        self.content_kappa = float(np.std(towers)) / spread if spread > 0 else 0.0
        items = self.network.items
        for layer, delta in ((items.ids, centred_vectors), (items.id_bias, centred_bias[:, None])):
            table = layer.get_weights()[0]
            table[1:][unrated] -= np.float32(share) * delta  # v̄ + (1 − share)(v − v̄)
            layer.set_weights([table])
        table = items.item_item_out.get_weights()[0]
        start = table.shape[1] - part.rank
        table[1:, start:][unrated] = part.movies[unrated] * np.float32(share * self.content_kappa)
        items.item_item_out.set_weights([table])
        self._movie_outputs()

    def user_inputs(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Model inputs for user indices (recent liked history, demographics, last context)."""
        data = self.data
        features = data.user_features
        return {
            "user": (users + 1).astype(np.int32),
            "history": self.recent_history[users],
            "age_group": features.age_group[users], "gender": features.gender[users],
            "occupation": features.occupation[users],
            "daytime": data.last_daytime[users].astype(np.int32),
            "weekend": data.last_weekend[users].astype(np.int32),
            FRESH_INPUT: np.zeros((len(users), 1), np.int32),  # training likes are in the row
        }

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        outputs = self.model.predict_on_batch({**self.user_inputs(users),
                                               "items": np.ones((len(users), 1), np.int32)})
        return np.asarray(outputs["user_vector"]).astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.user_vectors(users) @ self.item_vectors_.T + self.item_bias_

    def score_demographics(self, age_group: np.ndarray, gender: np.ndarray,
                           occupation: np.ndarray) -> np.ndarray:
        """Every movie's score for users the model never saw, from their demographic codes
        alone: the anonymous user row, no history, context 0 — the service's new-user path
        (``GET /recommend/{unknown id}?age=&gender=&occupation=``); popularity where the
        validation chose it (``new_user_path``)."""
        n = len(age_group)
        if self.new_user_path == "popularity":
            return np.tile(self.data.item_popularity(), (n, 1))
        inputs = {"user": np.zeros(n, np.int32),
                  "history": np.zeros((n, self.recent_history.shape[1]), np.int32),
                  "age_group": age_group.astype(np.int32), "gender": gender.astype(np.int32),
                  "occupation": occupation.astype(np.int32),
                  "daytime": np.zeros(n, np.int32), "weekend": np.zeros(n, np.int32),
                  FRESH_INPUT: np.zeros((n, 1), np.int32), "items": np.ones((n, 1), np.int32)}
        vectors = np.asarray(self.model.predict_on_batch(inputs)["user_vector"], np.float32)
        return vectors @ self.item_vectors_.T + self.item_bias_

    def item_vectors(self) -> np.ndarray:
        return self.item_vectors_
