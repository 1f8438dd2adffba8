"""The hybrid recommender: user and movie towers trained with BPR triplets (the default)."""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np
from tqdm.auto import tqdm

from training.autoencoder import ContentEmbeddings, train_autoencoder
from training.cold_items import ColdItemRegression, cold_feature_matrix
from training.interactions import Interactions, build_interactions, carve_validation
from training.metrics import top_k
from training.recommenders.base import Recommender, mask_seen
from training.sampling import TripletDataset, TripletSampler
from training.tasks import LOSSES, per_task
from training.towers import HybridNetwork, TowerSizes

DEFAULTS: dict[str, Any] = {
    "dim": 128, "hidden": 0, "history": 50, "scorer": "dot", "epochs": 40, "batch_size": 512,
    "learning_rate": 2e-3, "lr_decay": 1.0, "negatives": 64, "negative_sampling": "uniform",
    "l2": 1e-4,
    "item_dropout": 0.0, "user_dropout": 0.1, "loss": "hardest", "content_dim": 64,
    "autoencoder_epochs": 30, "patience": 5, "refit": True, "separate_history": False,
    "content_loss": False, "tokens_per_item": 0, "min_epochs": 10,
    # Ratings that are training positives (and history); None: the data's like threshold.
    # Evaluation's relevance stays the data's threshold either way.
    "positive_threshold": None,
    # scorer "rerank": how many of the dot product's best movies the MLP re-ranks
    "shortlist": 100,
    # Ridge penalty of the regression that gives movies without ratings an id part predicted
    # from their features (training/cold_items.py); 0: leave their id part at zero.
    "cold_alpha": 1.0,
    # Positives are drawn with chance ∝ (the user's number of positives)^-user_balance: 0 =
    # every positive once per epoch (heavy users dominate), 1 = every user equally often.
    "user_balance": 0.0,
    # Positives are drawn with chance ∝ exp(-recency × age), age = 1 for the user's oldest
    # positive down to 0 for the newest (0: every positive alike).
    "recency": 0.0,
    # > 0: the user tower also takes the mean of the last ``recent`` of the ``history`` likes
    "recent": 0,
    # After training, every movie's score gets + prior × log(1 + its train likes). None: the
    # prior of PRIOR_GRID that scores best on the validation carve-out (0 without refit).
    "popularity_prior": None,
}

#: popularity priors tried on the validation carve-out
PRIOR_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)


def item_feature_table(data: Interactions, codes: np.ndarray | None) -> np.ndarray:
    features = data.movie_features
    parts = [features.genres, features.year[:, None], features.year_known[:, None]]
    if codes is not None:
        parts.append(codes)
    return np.hstack(parts).astype(np.float32)


def positive_weights(data: Interactions, user_balance: float,
                     recency: float) -> np.ndarray | None:
    """Each positive's relative chance to be drawn in an epoch (None: each once)."""
    if not user_balance and not recency:
        return None
    counts = np.diff(data.sequence_offsets)
    weights = np.repeat(np.maximum(counts, 1) ** -float(user_balance), counts)
    if recency:
        # position within the user's liked sequence (oldest first), as a fraction: 0 .. 1
        starts = np.repeat(data.sequence_offsets[:-1], counts)
        position = np.arange(len(data.sequence_items)) - starts
        age = 1.0 - position / np.repeat(np.maximum(counts - 1, 1), counts)
        weights = weights * np.exp(-float(recency) * age)
    return weights


def item_tokens(data: Interactions, per_item: int) -> tuple[np.ndarray, np.ndarray]:
    """Each movie's ``per_item`` strongest TF-IDF tokens: ids (token index + 1; 0 pads) and
    their weights, as float32 tables for frozen embedding layers."""
    tfidf = data.movie_features.tfidf.tocsr()
    ids = np.zeros((tfidf.shape[0], per_item), np.float32)
    weights = np.zeros((tfidf.shape[0], per_item), np.float32)
    counts = np.diff(tfidf.indptr)
    rows = np.repeat(np.arange(tfidf.shape[0]), counts)
    # rank each row's entries by weight, strongest first
    order = np.lexsort((-tfidf.data, rows))
    rank = np.arange(len(order)) - np.repeat(tfidf.indptr[:-1], counts)
    keep = rank < per_item
    ids[rows[order][keep], rank[keep]] = tfidf.indices[order][keep] + 1
    weights[rows[order][keep], rank[keep]] = tfidf.data[order][keep]
    return ids, weights


class Hybrid(Recommender):
    name = "hybrid"

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown hybrid parameters: {', '.join(sorted(unknown))}")
        super().__init__(**{**DEFAULTS, **params})
        self.content: ContentEmbeddings | None = None

    # ------------------------------------------------------------------ training

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> Hybrid:
        p = self.params
        keras.utils.set_random_seed(seed)
        if p["content_dim"]:
            self.content = train_autoencoder(data.movie_features.tfidf, dim=p["content_dim"],
                                             epochs=p["autoencoder_epochs"], seed=seed)
        epochs = p["epochs"]
        prior = p["popularity_prior"]
        if p["refit"]:
            # Early stopping on a validation carve-out picks the epoch count, then the model is
            # trained again on all of train: the carved-out ratings are the most recent ones.
            sub, validation = carve_validation(data)
            self._train(sub, epochs, seed, progress, validation=validation)
            epochs = self.best_epoch
            self.validation_history = dict(self.history)
            if prior is None:
                prior = self._tune_prior(sub, validation)
        self._train(data, epochs, seed, progress, validation=None)
        self.popularity_prior = float(prior or 0.0)
        self._set_prior(data, self.popularity_prior)
        return self

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

    def _tune_prior(self, data: Interactions, validation: Any) -> float:
        """The prior of PRIOR_GRID with the best validation NDCG@10 (the smaller on a tie)."""
        from training.evaluation import evaluate
        from training.recommenders.popularity import Popularity

        fallback = Popularity().fit(data)
        results = {}
        for prior in PRIOR_GRID:
            self._set_prior(data, prior)
            results[prior] = evaluate(self, data, validation, fallback=fallback)
        self.prior_validation = {prior: m["ndcg@10"] for prior, m in results.items()}
        best = max(PRIOR_GRID, key=self.prior_validation.__getitem__)  # first of ties: smaller
        self.validation_metrics = results[best]
        return best

    def _train(self, data: Interactions, epochs: int, seed: int, progress: bool,
               validation: Any) -> None:
        from training.evaluation import evaluate
        from training.recommenders.popularity import Popularity

        p = self.params
        keras.utils.set_random_seed(seed)
        self.data = data
        positives = data
        if p["positive_threshold"] is not None and p["positive_threshold"] != data.like_threshold:
            positives = build_interactions(data.dataset, data.train,
                                           like_threshold=p["positive_threshold"],
                                           features=data.movie_features)
        self.recent_history = positives.recent_likes(p["history"])
        table = item_feature_table(data, self.content.codes if self.content else None)
        self.unrated = np.diff(data.ratings.tocsc().indptr) == 0
        self.cold_regression = (
            ColdItemRegression(cold_feature_matrix(data.movie_features.tfidf, table),
                               ~self.unrated, p["cold_alpha"]) if p["cold_alpha"] else None)
        features = data.user_features
        sizes = TowerSizes(
            n_users=data.n_users, n_items=data.n_items, n_item_features=table.shape[1],
            n_age_groups=len(features.age_groups), n_genders=len(features.genders),
            n_occupations=len(features.occupations), history=p["history"], dim=p["dim"],
            hidden=p["hidden"], separate_history=p["separate_history"],
            n_tokens=data.movie_features.tfidf.shape[1] if p["tokens_per_item"] else 0,
            tokens_per_item=p["tokens_per_item"], recent=p["recent"],
        )
        self.network = HybridNetwork(sizes, scorer=p["scorer"], l2=p["l2"],
                                     item_dropout=p["item_dropout"],
                                     content_loss=p["content_loss"])
        sampler = TripletSampler(positives, history=p["history"], negatives=p["negatives"],
                                 negative_sampling=p["negative_sampling"],
                                 user_dropout=p["user_dropout"], seed=seed)
        trainer = self.network.training_model(
            p["negatives"], hardest=self.network.selects_hardest(p["loss"]),
            negative_weights=sampler.probabilities)
        self.model = self.network.inference_model()
        self.network.set_item_features(table, *item_tokens(data, p["tokens_per_item"] or 1))
        weights = positive_weights(positives, p["user_balance"], p["recency"])
        batches = TripletDataset(sampler, p["batch_size"], outputs=trainer.output.shape[-1],
                                 weights=weights)
        # lr_decay: the learning rate's factor per epoch (1.0: constant)
        schedule = keras.optimizers.schedules.ExponentialDecay(
            p["learning_rate"], decay_steps=len(batches), decay_rate=p["lr_decay"])
        # XLA: 2.3x faster per epoch on the 2-core CPU (TensorFlow's "auto" leaves it off);
        # JAX always compiles.
        trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                        loss=per_task(LOSSES[p["loss"]], self.network.tasks), jit_compile=True)
        self.history = {"loss": [], "val_ndcg@10": [], "seconds": []}
        fallback = Popularity().fit(data)
        best, best_weights, waited = -1.0, None, 0
        self.best_epoch = epochs
        stage = "validation" if validation is not None else "final"
        bar = tqdm(range(1, epochs + 1), desc=f"{self.name} ({stage})", disable=not progress,
                   leave=False)
        for epoch in bar:
            start = time.perf_counter()
            fitted = trainer.fit(batches, epochs=1, verbose=0)
            self.history["loss"].append(float(fitted.history["loss"][-1]))
            self.history["seconds"].append(time.perf_counter() - start)
            self._precompute()
            if validation is None:
                bar.set_postfix(loss=f"{self.history['loss'][-1]:.4f}")
                continue
            metrics = evaluate(self, data, validation, fallback=fallback)
            ndcg = metrics["ndcg@10"]
            self.history["val_ndcg@10"].append(ndcg)
            bar.set_postfix(loss=f"{self.history['loss'][-1]:.4f}", val_ndcg=f"{ndcg:.4f}")
            if ndcg > best:
                best, best_weights, waited, self.best_epoch = ndcg, trainer.get_weights(), 0, epoch
                self.validation_metrics = metrics
            else:
                waited += 1
                # validation NDCG@10 is noisy early on: never stop before min_epochs
                if waited >= p["patience"] and epoch >= p["min_epochs"]:
                    break
        if best_weights is not None:
            trainer.set_weights(best_weights)
            self._precompute()

    # ------------------------------------------------------------------ inference

    def _precompute(self) -> None:
        """Movie vectors and biases for the whole catalogue. Movies without ratings get id parts
        predicted from their features (``cold_alpha``; zero when it is 0)."""
        data, unrated = self.data, self.unrated
        layers = [self.network.items.ids, self.network.items.id_bias]
        if self.network.users.separate_history:
            layers.append(self.network.users.history_ids)
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
        items = np.arange(1, data.n_items + 1, dtype=np.int32)[None, :]
        outputs = self.model.predict_on_batch({**self.user_inputs(np.array([0])), "items": items})
        self.item_vectors_ = np.asarray(outputs["item_vector"])[0].astype(np.float32)
        self.item_bias_ = np.asarray(outputs["item_bias"])[0].astype(np.float32)

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
        }

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        outputs = self.model.predict_on_batch({**self.user_inputs(users),
                                               "items": np.ones((len(users), 1), np.int32)})
        return np.asarray(outputs["user_vector"]).astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        if self.params["scorer"] in ("dot", "rerank"):
            dot = self.user_vectors(users) @ self.item_vectors_.T + self.item_bias_
            return self._rerank(users, dot) if self.params["scorer"] == "rerank" else dot
        items = np.broadcast_to(np.arange(1, self.data.n_items + 1, dtype=np.int32),
                                (len(users), self.data.n_items))
        outputs = self.model.predict_on_batch({**self.user_inputs(users), "items": items})
        return np.asarray(outputs["score"]).astype(np.float32)

    def _rerank(self, users: np.ndarray, dot: np.ndarray) -> np.ndarray:
        """The MLP's scores on each user's ``shortlist`` best unseen movies by the dot product,
        placed above every other movie (which keep their dot-product order)."""
        unseen = mask_seen(dot.copy(), self.data, users)
        shortlist = top_k(unseen, min(self.params["shortlist"], self.data.n_items))
        outputs = self.model.predict_on_batch({**self.user_inputs(users),
                                               "items": (shortlist + 1).astype(np.int32)})
        reranked = np.asarray(outputs["rerank_score"], dtype=np.float32)
        scores = dot - dot.max() - 1.0  # all below 0, the shortlist's floor
        np.put_along_axis(scores, shortlist, reranked - reranked.min(), axis=1)
        return scores

    def item_vectors(self) -> np.ndarray:
        return self.item_vectors_
