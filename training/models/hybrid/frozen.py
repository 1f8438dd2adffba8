"""What the hybrid fixes after training: the frozen parts (the item-item and content tables of
the data it was trained on) and the chosen value that weighs them into the network.

``Chosen`` is made once (by the validation runs, hybrid/selection.py, or from the settings
when there are none) and written into a trained network by ``Chosen.write``; the grids of the
validation runs write trial values the same way, one field replaced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from recommender_core.scoring import VisitorPath
from training.models.config import HybridConfig
from training.models.content import ContentPart
from training.models.item_item import ItemItem

NewUserPath = Literal["demographics", "popularity"]


@dataclass(frozen=True)
class FrozenParts:
    """The tables the frozen columns of the towers are made of, fitted on the training data;
    None where the chosen weight leaves a part out."""

    item_item: ItemItem | None = None  # models/item_item.py
    content: ContentPart | None = None  # models/content.py

    @property
    def rank(self) -> int:
        """Columns of the frozen parts (at least 1: Keras tables are never empty)."""
        ranks = [part.rank for part in (self.item_item, self.content) if part is not None]
        return max(1, sum(ranks))


class FrozenTables(Protocol):
    """Where the chosen weights are written (hybrid/trained.py's TrainedTowers)."""

    def set_frozen(self, weight: float, fresh: float, *, content: float = 0.0,
                   movies_changed: bool = True) -> None: ...

    def set_prior(self, prior: float) -> None: ...


@dataclass(frozen=True)
class Chosen:
    """The weights of the frozen parts and the new-user path: chosen on validation data of
    the data being trained on (hybrid/selection.py), or given."""

    popularity_prior: float = 0.0  # × log(1 + train likes), added to every movie's bias
    item_item_weight: float = 0.0  # the item-item part of the training likes, in its spread
    fresh_weight: float = 0.0  # the item-item rows of likes posted after training
    content_weight: float = 0.0  # the content cosine's share in the unrated movies' scores
    new_user_path: NewUserPath = "demographics"  # how users the model never saw are served
    visitors: VisitorPath = VisitorPath()  # how visitors' likes are weighed, by their number

    @classmethod
    def given(cls, config: HybridConfig) -> Chosen:
        """Without validation runs: the settings' prior and item-item weight (0 when left to
        validation), fresh likes weighed as the training likes, no content part."""
        weight = float(config.item_item_weight or 0.0)
        return cls(popularity_prior=float(config.popularity_prior or 0.0),
                   item_item_weight=weight, fresh_weight=weight)

    def needs(self) -> tuple[bool, bool]:
        """(whether the item-item part, whether the content part) take part at these weights."""
        return bool(self.item_item_weight > 0 or self.fresh_weight > 0), self.content_weight > 0

    def write(self, towers: FrozenTables) -> None:
        """The frozen tables and the prior into ``towers`` (whose catalogue outputs follow)."""
        towers.set_frozen(self.item_item_weight, self.fresh_weight, content=self.content_weight)
        towers.set_prior(self.popularity_prior)
