"""Every model `--model` can name, and the baselines the evaluation table shows."""

from __future__ import annotations

from collections.abc import Callable

from training.errors import TrainingError
from training.recommenders.base import Recommender


def _hybrid(**params: object) -> Recommender:
    from training.recommenders.hybrid import Hybrid

    return Hybrid(**params)


def _factory(module: str, cls: str, **fixed: object) -> Callable[..., Recommender]:
    def make(**params: object) -> Recommender:
        model_class = getattr(__import__(f"training.recommenders.{module}", fromlist=[cls]), cls)
        return model_class(**{**fixed, **params})

    return make


MODELS: dict[str, Callable[..., Recommender]] = {
    "hybrid": _hybrid,
    "hybrid-mlp": lambda **p: _hybrid(scorer="mlp", **p),
    "hybrid-rerank": lambda **p: _hybrid(scorer="rerank", **p),
    "popularity": _factory("popularity", "Popularity"),
    "content": _factory("content", "ContentBased"),
    "mf": _factory("rating", "MatrixFactorisation"),
    "entity": _factory("rating", "EntityEmbeddingNet"),
    "gmf": _factory("neural", "GMF"),
    "neumf": _factory("neural", "NeuMF"),
    "ease": _factory("ease", "EASE"),
}
BASELINES: dict[str, Callable[..., Recommender]] = {
    "implicit-als": _factory("external", "ImplicitALS"),
    "implicit-bpr": _factory("external", "ImplicitBPR"),
    "lightfm": _factory("external", "LightFMWarp"),
    "lightfm-features": _factory("external", "LightFMWarp", features=True),
}
#: what `train --model` accepts (the hybrid variants are what the service can serve)
TRAINABLE = ("hybrid", "hybrid-mlp")


def create(name: str, **params: object) -> Recommender:
    factories = {**MODELS, **BASELINES}
    if name not in factories:
        raise TrainingError(f"unknown model {name!r}; choose one of {', '.join(factories)}")
    return factories[name](**params)
