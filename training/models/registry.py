"""Every model the commands can name: one entry each, saying what it is for.

``train --model`` takes the trainable entries (what the service can serve); ``evaluate`` runs,
for each protocol, the entries that list it. Baselines from other libraries need the optional
``bench`` extra; without it their rows say so instead of failing the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from training.errors import TrainingError
from training.models.base import Recommender
from training.models.config import HybridConfig
from training.models.content import ContentBased
from training.models.ease import EASE
from training.models.external import ImplicitALS, ImplicitBPR, LightFMWarp
from training.models.hybrid import Hybrid
from training.models.neighbours import ItemKNN, RP3beta, SLIMElasticNet
from training.models.neural import GMF, NeuMF
from training.models.popularity import Popularity
from training.models.rating import EntityEmbeddingNet, MatrixFactorisation

PROTOCOLS = ("temporal", "coldstart", "coldusers")
BOTH = ("temporal", "coldstart")
TEMPORAL = ("temporal",)


@dataclass(frozen=True)
class Entry:
    make: Callable[..., Recommender]  # keyword settings -> an unfitted model
    protocols: tuple[str, ...]  # the evaluate protocols it runs in by default
    trainable: bool = False  # train --model can export it as a bundle the service serves
    baseline: bool = False  # from another library (the `bench` extra)


def _hybrid(**settings: Any) -> Recommender:
    return Hybrid(HybridConfig.from_mapping(settings))


#: in the order of the evaluation table
REGISTRY: dict[str, Entry] = {
    "popularity": Entry(Popularity, PROTOCOLS),
    "content": Entry(ContentBased, BOTH),
    "ease": Entry(EASE, TEMPORAL),
    "slim": Entry(SLIMElasticNet, TEMPORAL),
    "rp3beta": Entry(RP3beta, TEMPORAL),
    "item-knn": Entry(ItemKNN, TEMPORAL),
    "implicit-als": Entry(ImplicitALS, TEMPORAL, baseline=True),
    "implicit-bpr": Entry(ImplicitBPR, TEMPORAL, baseline=True),
    "lightfm": Entry(LightFMWarp, TEMPORAL, baseline=True),
    "lightfm-features": Entry(lambda **p: LightFMWarp(features=True, **p), BOTH, baseline=True),
    "mf": Entry(MatrixFactorisation, TEMPORAL),
    "entity": Entry(EntityEmbeddingNet, TEMPORAL),
    "gmf": Entry(GMF, TEMPORAL),
    "neumf": Entry(NeuMF, TEMPORAL),
    "hybrid": Entry(_hybrid, PROTOCOLS, trainable=True),
}
TRAINABLE = tuple(name for name, entry in REGISTRY.items() if entry.trainable)


def check_names(names: list[str]) -> None:
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise TrainingError(f"unknown model(s) {', '.join(unknown)}; choose from "
                            f"{', '.join(REGISTRY)}")


def for_protocol(protocol: str) -> list[str]:
    return [name for name, entry in REGISTRY.items() if protocol in entry.protocols]


def create(name: str, **settings: Any) -> Recommender:
    check_names([name])
    return REGISTRY[name].make(**settings)
