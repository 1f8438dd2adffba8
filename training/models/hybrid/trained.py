"""The hybrid's network trained on one training set: its Keras graphs, the catalogue's vectors
and biases they give, the frozen tables written into them, and the scores of users.

``TrainedTowers`` is what a validation run and the final fit each make (hybrid/loop.py); the
chosen weights are written into it (hybrid/frozen.py), and every user-side input it feeds the
Keras model comes from recommender_core.inputs."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from recommender_core.inputs import UserTable, model_inputs, visitors_inputs
from recommender_core.scoring import VisitorPath
from training.data.interactions import Interactions
from training.models.config import HybridConfig
from training.models.hybrid.frozen import FrozenParts
from training.models.hybrid.towers import HybridNetwork, TowerSizes
from training.models.unrated_movies import UnratedMovieRegression, unrated_feature_matrix


def item_feature_table(data: Interactions, codes: np.ndarray) -> np.ndarray:
    """Each movie's frozen feature row: genres, year, whether the year is known, content code."""
    features = data.movie_features
    return np.hstack([features.genres, features.year[:, None], features.year_known[:, None],
                      codes]).astype(np.float32)


def user_table(data: Interactions, history: int) -> UserTable:
    """The known users' input rows of ``data``: their ``history`` most recent likes and codes."""
    return UserTable(history=data.recent_likes(history), features=data.user_features.codes)


class TrainedTowers:
    """The towers of ``config`` for ``data`` (HybridNetwork), with ``parts`` as their frozen
    columns; the training graph (``trainer``) and the inference graph (``model``) share the
    layers. Movies nobody rated in ``data`` get id parts predicted from their features
    (``cold_alpha``) each time the catalogue is computed."""

    predicts_ratings: ClassVar[bool] = False  # it ranks (training.evaluation.protocol.Scorer)

    def __init__(self, data: Interactions, config: HybridConfig, parts: FrozenParts,
                 codes: np.ndarray) -> None:
        self.data = data
        self.parts = parts
        self.content_share = 0.0  # the content part's share the catalogue was computed with
        self.content_kappa = 0.0  # the factor giving the content part the towers' spread
        self.users = user_table(data, config.history)
        table = item_feature_table(data, codes)
        self.unrated = np.diff(data.ratings.tocsc().indptr) == 0
        self.regression = (
            UnratedMovieRegression(unrated_feature_matrix(data.movie_features.tfidf, table),
                                   ~self.unrated, config.cold_alpha)
            if config.cold_alpha else None)
        sizes = TowerSizes(
            n_users=data.n_users, n_items=data.n_items, n_item_features=table.shape[1],
            user_slots=data.user_features.slots, history=config.history, dim=config.dim,
            frozen=parts.rank)
        self.network = HybridNetwork(sizes, l2=config.l2)
        # in this order: the training graph builds (and initialises) the layers it uses first
        self.trainer = self.network.training_model(config.negatives)
        self.model = self.network.inference_model()
        self.network.set_item_features(table)
        self.item_vectors = np.zeros((0, 0), np.float32)  # precompute
        self.item_bias = np.zeros(0, np.float32)

    # ------------------------------------------------------------------ the movie side

    def precompute(self) -> None:
        """Movie vectors and biases for the whole catalogue. Unrated movies get id parts
        predicted from their features (zero without a regression), then, at a content share
        above 0, the content cosine blended in (_blend_content)."""
        unrated = self.unrated
        layers = [self.network.items.ids, self.network.items.id_bias]
        tables = [layer.get_weights()[0] for layer in layers]
        widths = np.cumsum([0] + [table.shape[1] for table in tables])
        learned = np.hstack([table[1:] for table in tables])
        cold = np.zeros((int(unrated.sum()), learned.shape[1]), np.float32)
        if self.regression is not None:
            cold = self.regression.predict(learned)
        for layer, table, start, stop in zip(layers, tables, widths[:-1], widths[1:],
                                             strict=True):
            table[0] = 0.0
            table[1:][unrated] = cold[:, start:stop]
            layer.set_weights([table])
        self._movie_outputs()
        if self.content_share and unrated.any():
            self._blend_content(self.content_share)

    def _movie_outputs(self) -> None:
        """The catalogue's vectors and biases, as the Keras model computes them."""
        items = np.arange(1, self.data.n_items + 1, dtype=np.int32)[None, :]
        outputs = self.model.predict_on_batch({**self.inputs(np.array([0])), "items": items})
        self.item_vectors = np.asarray(outputs["item_vector"])[0].astype(np.float32)
        self.item_bias = np.asarray(outputs["item_bias"])[0].astype(np.float32)

    def _blend_content(self, share: float) -> None:
        """The scores of the unrated movies become ``(1 − share) ×`` the towers' deviation from
        those movies' mean ``+ share × κ ×`` the content part's (κ: the ratio of their spreads
        over a sample of users), so the content cosine reorders the new movies without
        raising them, on average or in spread, against the rated ones. Written into the Keras
        model's tables (the unrated movies' id rows and biases, and the content part's movie
        side), so that the model and the service score alike."""
        part, unrated, dim = self.parts.content, self.unrated, self.network.sizes.dim
        if part is None:
            return
        vectors, bias = self.item_vectors[unrated, :dim], self.item_bias[unrated]
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
        table = items.frozen_movie.get_weights()[0]
        start = table.shape[1] - part.rank
        table[1:, start:][unrated] = part.movies[unrated] * np.float32(share * self.content_kappa)
        items.frozen_movie.set_weights([table])
        self._movie_outputs()

    # ------------------------------------------------------------------ the frozen tables

    def set_prior(self, prior: float) -> None:
        """A fixed bias of ``prior`` × log(1 + train likes) per movie, inside the Keras model
        (so that the service scores with it too). Trained with the hardest sampled negative,
        the model pushes popular movies down more than the future ratings bear out: on the
        temporal split the users with 100+ likes get lists with half the median popularity
        of EASE's."""
        table = np.zeros((self.data.n_items + 1, 1), np.float32)
        table[1:, 0] = prior * np.log1p(self.data.item_popularity())
        self.network.items.prior.set_weights([table])
        self.precompute()

    def set_frozen(self, weight: float, fresh: float, *, content: float = 0.0,
                   movies_changed: bool = True) -> None:
        """The frozen tables, the item-item part's columns then the content part's: each
        user's sum of P over their training likes at ``weight``, P at ``fresh`` for likes
        posted since (the ``fresh`` input), Q; the content profiles, and the unrated movies'
        scores blended with the content cosine at the share ``content`` (_blend_content). A
        part is zeros at weight 0 or where it was not fitted. ``movies_changed=False``: only
        the user side moved (the item-item weights, the training weight above 0, so Q stays,
        and the same share), so the catalogue is not computed again."""
        tables, part, data = self.parts.item_item, self.parts.content, self.data
        share = content if part is not None else 0.0
        movies_changed = movies_changed or share != self.content_share
        rank = self.network.sizes.frozen
        liked = np.zeros((data.n_items, rank), np.float32)
        movies = np.zeros((data.n_items, rank), np.float32)
        users = np.zeros((data.n_users, rank), np.float32)
        start = 0
        if tables is not None:
            start = tables.rank
            if weight or fresh:
                # the part is linear in P: weights scale P (in units of its scores' spread)
                liked[:, :start] = tables.liked * np.float32(fresh * tables.scale)
                movies[:, :start] = tables.movies
                users[:, :start] = tables.users * np.float32(weight * tables.scale)
        self.content_share = share
        if part is not None and share:
            users[:, start:] = part.users  # the movie side: _blend_content
        self.network.set_frozen(liked, movies, users)
        if movies_changed:
            self.precompute()

    # ------------------------------------------------------------------ the user side

    @property
    def history_length(self) -> int:
        return self.users.history_length

    def inputs(self, users: np.ndarray, *, history: np.ndarray | None = None,
               fresh: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Model inputs of user indices in their last training context; ``history`` and
        ``fresh``: their likes since training folded in (recommender_core.inputs)."""
        return self.users.inputs(users, daytime=self.data.last_daytime[users],
                                 weekend=self.data.last_weekend[users], history=history,
                                 fresh=fresh)

    def vectors_of(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The inference model's user vectors for user-side ``inputs``."""
        outputs = self.model.predict_on_batch({**inputs,
                                               "items": np.ones((len(inputs["user"]), 1),
                                                                np.int32)})
        return np.asarray(outputs["user_vector"]).astype(np.float32)

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.vectors_of(self.inputs(users))

    def scores_of(self, vectors: np.ndarray) -> np.ndarray:
        """Every movie's score for each of the user ``vectors``."""
        return vectors @ self.item_vectors.T + self.item_bias

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.scores_of(self.user_vectors(users))

    def fold_in(self, users: np.ndarray, history: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """Every movie's score for known user indices whose likes since training are folded
        in: ``history`` their rebuilt history rows, ``fresh`` their new likes (index + 1,
        0 pads), as the service scores a user with feedback."""
        return self.scores_of(self.vectors_of(self.inputs(users, history=history,
                                                          fresh=fresh)))

    def visitor_vectors(self, liked: np.ndarray, daytime: np.ndarray,
                        weekend: np.ndarray) -> np.ndarray:
        """The user vectors of visitors who each liked a row of ``liked`` (movie indices,
        oldest first), as POST /recommend makes them without user features."""
        return self.vectors_of(visitors_inputs(liked, self.users.history_length,
                                               list(self.users.features), daytime=daytime,
                                               weekend=weekend))

    def visitor_scores(self, path: VisitorPath, vectors: np.ndarray, likes: int) -> np.ndarray:
        """Every movie's score for visitors' ``vectors`` on ``path`` (``likes`` each)."""
        return path.scores(vectors, self.item_vectors, self.item_bias,
                           self.data.item_popularity(), likes, self.network.sizes.dim)

    def score_demographics(self, codes: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Every movie's score for ``n`` users the model never saw, from their user-feature
        codes alone (by slot key): the anonymous user row, no history, context 0."""
        zeros = np.zeros(n, np.int32)
        return self.scores_of(self.vectors_of(model_inputs(
            user=zeros, history=np.zeros((n, self.users.history_length), np.int32),
            features=codes, daytime=zeros, weekend=zeros)))
