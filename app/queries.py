"""Who is asking: the four kinds of user query, each able to give every movie's score (exact
retrieval) or the user's vector (a shortlist), and the movies to leave out. ``plan`` is the
one place that tells the kinds apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from app.bundle import Bundle
from app.inputs import anonymous_inputs, context_now, user_inputs, with_feedback
from recommender_core.feedback_store import Event

Strategy = Literal["personalized", "cold_start", "history"]


@dataclass(frozen=True)
class KnownUser:
    """A user of the training data without feedback since: the precomputed parts."""

    bundle: Bundle
    user: int
    strategy: Strategy = "personalized"
    exact = False  # a vector's ranking (app.retrieval.Query)

    def blocked(self) -> np.ndarray:
        return self.bundle.seen(self.user)

    def scores(self) -> np.ndarray:
        return self.bundle.scorer.known_user_scores(self.user, *context_now(self.bundle))

    def vector(self) -> np.ndarray | None:
        return self.bundle.scorer.known_user_vector(self.user, *context_now(self.bundle))


@dataclass(frozen=True)
class KnownUserWithFeedback:
    """A user of the training data with ``events`` since (oldest first): the user tower on
    the history rebuilt from their training likes and the events, every rated movie left
    out."""

    bundle: Bundle
    user: int
    events: Sequence[Event]
    strategy: Strategy = "personalized"
    exact = False  # a vector's ranking (app.retrieval.Query)

    def row(self) -> tuple[np.ndarray, np.ndarray]:
        """(the context-free score row, the rated movie indices): the user tower on the
        rebuilt history, minus its context part, times every movie vector. Kept while the
        same events object comes back (Bundle.fresh_rows), so a request costs what a
        score-table lookup costs: one row plus the context's row."""
        bundle = self.bundle
        cached = bundle.fresh_rows.get(self.user, self.events)
        if cached is not None:
            return cached
        liked, rated = with_feedback(bundle, self.user, self.events)
        scorer = bundle.scorer
        row = scorer.base_scores(scorer.context_free_vector(user_inputs(bundle, self.user,
                                                                        liked)))
        bundle.fresh_rows.put(self.user, self.events, row, rated)
        return row, rated

    def blocked(self) -> np.ndarray:
        cached = self.bundle.fresh_rows.get(self.user, self.events)
        rated = (cached[1] if cached is not None
                 else with_feedback(self.bundle, self.user, self.events)[1])
        return np.union1d(self.bundle.seen(self.user), rated)

    def scores(self) -> np.ndarray:
        daytime, weekend = context_now(self.bundle)
        return self.row()[0] + self.bundle.scorer.context_scores[daytime, weekend]

    def vector(self) -> np.ndarray | None:
        liked, _ = with_feedback(self.bundle, self.user, self.events)
        return self.bundle.scorer.user_vectors(user_inputs(self.bundle, self.user, liked))[0]


@dataclass(frozen=True)
class Visitor:
    """A user the bundle does not know, from their ``inputs`` (liked movies, demographics);
    with ``likes`` liked movies, on the bundle's visitor path for that many (VisitorPath)."""

    bundle: Bundle
    inputs: dict[str, np.ndarray]
    rated: np.ndarray
    strategy: Strategy
    likes: int = 0

    @property
    def exact(self) -> bool:
        """The path adds the popularity prior: a shortlist over the movie vectors would not
        see it, so every movie is scored."""
        return bool(self.likes) and self.bundle.visitors.adds_prior(self.likes)

    def blocked(self) -> np.ndarray:
        return self.rated

    def scores(self) -> np.ndarray:
        bundle, scorer = self.bundle, self.bundle.scorer
        vector = self.vector()
        if vector is None:  # the popularity list
            return bundle.catalogue.popularity.astype(np.float32, copy=True)
        scores = scorer.item_vectors @ vector + scorer.item_bias
        prior = (bundle.visitors.prior(bundle.catalogue.popularity, self.likes)
                 if self.likes else None)
        return scores if prior is None else scores + prior

    def vector(self) -> np.ndarray | None:
        bundle, scorer = self.bundle, self.bundle.scorer
        if self.likes and bundle.visitors.popular_only(self.likes):
            return None
        vector = scorer.user_vectors(self.inputs)[0]
        if not self.likes:
            return vector
        return bundle.visitors.vectors(vector, scorer.tower_dim, self.likes)


@dataclass(frozen=True)
class Popular:
    """Nothing to go on: the most liked movies."""

    bundle: Bundle
    rated: np.ndarray
    strategy: Strategy = "cold_start"
    exact = False

    def blocked(self) -> np.ndarray:
        return self.rated

    def scores(self) -> np.ndarray:
        return self.bundle.catalogue.popularity.astype(np.float32, copy=True)

    def vector(self) -> np.ndarray | None:
        return None


UserQuery = KnownUser | KnownUserWithFeedback | Visitor | Popular


def plan(bundle: Bundle, user_id: int | str, events: Sequence[Event], *,
         codes: Mapping[str, int]) -> UserQuery:
    """The query of ``user_id`` with their feedback ``events`` since training (oldest first;
    may be empty):

    - known to the bundle: the user tower's precomputed parts, its history input rebuilt from
      the training history and the events when there are any (``personalized``), every rated
      movie left out;
    - unknown, with liked movies among the events: the visitor path on them (``history``);
    - otherwise popularity, or the user tower on the user features given (``codes`` by slot
      key, Bundle.feature_codes) where training chose it (``cold_start``)."""
    user = bundle.user_position.get(str(user_id))
    if user is not None:
        return KnownUserWithFeedback(bundle, user, events) if events else KnownUser(bundle,
                                                                                  user)
    rated = np.zeros(0, dtype=np.int64)
    if events:
        liked, rated = with_feedback(bundle, None, events)
        if liked:
            return Visitor(bundle, anonymous_inputs(bundle, liked, codes), rated, "history",
                           len(liked))
    return newcomer(bundle, codes, rated)


def newcomer(bundle: Bundle, codes: Mapping[str, int], rated: np.ndarray) -> UserQuery:
    """Someone with no likes: popularity, or the user tower on the user features given
    (``codes`` by slot key) where there are some and training chose it over popularity."""
    if not any(codes.values()) or bundle.new_user_path == "popularity":
        return Popular(bundle, rated)
    # the user tower takes the user features alone: popularity shaped by them
    return Visitor(bundle, anonymous_inputs(bundle, [], codes), rated, "cold_start")
