"""The hybrid model's settings: one frozen, typed object, checked when it is made.

A wrong value is refused here, before any data is read or any model trained; the manifest of
every bundle records the object as it was used (``HybridConfig.model_dump()``). What was tried
and dropped (other losses, scorers, samplers, tower forms) is in BENCHMARKS.md and git history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training.errors import TrainingError


@dataclass(frozen=True)
class RunOptions:
    """How a fit runs, not what it learns (the manifest records it as ``model.run``)."""

    time_budget: float | None = None  # seconds for the whole fit, half for the validation runs
    distribute: Literal["none", "data", "model"] = "none"  # over every JAX device; scale.md
    search_seconds: float = 150.0  # no validation trial starts after this (the first always does)

    def __post_init__(self) -> None:
        if self.time_budget is not None and not self.time_budget > 0:
            raise TrainingError(f"--time-budget must be positive, got {self.time_budget}")
        if not self.search_seconds >= 0:
            raise TrainingError(f"--search-seconds must be at least 0, got {self.search_seconds}")


class HybridConfig(BaseModel):
    """Settings of the default hybrid (BPR on the hardest of the sampled negatives)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    dim: int = Field(128, ge=1, le=4096, description="width of the user and movie vectors")
    history: int = Field(50, ge=1, le=1000,
                         description="most recent liked movies the user tower averages")
    epochs: int = Field(40, ge=1, le=1000,
                        description="most epochs; validation early stopping picks fewer")
    batch_size: int = Field(512, ge=1, le=65536, description="triplets per training step")
    learning_rate: float = Field(2e-3, gt=0.0, le=1.0, description="Adam's learning rate")
    negatives: int = Field(64, ge=1, le=4096,
                           description="uniform negatives per positive; the hardest is trained on")
    l2: float = Field(1e-4, ge=0.0, le=1.0,
                      description="L2 penalty on the user and movie vectors")
    user_dropout: float = Field(0.5, ge=0.0, lt=1.0,
                                description="chance that a triplet hides its user id "
                                "(trains the path of visitors, new users and new movies)")
    content_dim: int = Field(64, ge=1, le=1024,
                             description="size of the autoencoder's code of a movie's tags")
    autoencoder_epochs: int = Field(30, ge=1, le=1000, description="autoencoder epochs")
    patience: int = Field(5, ge=1, le=1000,
                          description="epochs without a better validation NDCG@10 before stopping")
    min_epochs: int = Field(10, ge=1, le=1000,
                            description="epochs always trained before early stopping may stop")
    trials: int = Field(6, ge=0, le=1000,
                        description="validation runs on a carve-out that pick negatives and l2 "
                        "(Optuna), epochs and the prior, before the final fit on "
                        "all data; 1: the given settings only; 0: train once, epochs as given")
    cold_alpha: float = Field(1.0, ge=0.0, description="ridge penalty of the regression that "
                              "gives unrated movies id parts from features; 0: zeros")
    popularity_prior: float | None = Field(None, ge=0.0, le=100.0,
                                           description="weight of log(1 + train likes) added "
                                           "to every score; None: chosen on validation")
    item_item_weight: float | None = Field(None, ge=0.0, le=100.0,
                                           description="weight of that part, in units of its "
                                           "scores' spread; None: chosen on validation")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> HybridConfig:
        """The config of ``values`` (field: value), or a TrainingError naming each bad field."""
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'config'}: {error['msg']}"
                + (f" (got {error['input']!r})" if error["type"] != "extra_forbidden" else "")
                for error in exc.errors())
            raise TrainingError(f"invalid hybrid setting: {problems}") from None

    @classmethod
    def from_assignments(cls, assignments: list[str]) -> HybridConfig:
        """The config of ``NAME=VALUE`` strings (the CLI's ``--set``); a value is read as JSON
        (``64``, ``0.5``, ``true``, ``null``), so ``dim=abc`` is refused as not an integer."""
        values: dict[str, object] = {}
        for assignment in assignments:
            name, sep, text = assignment.partition("=")
            if not sep or not name.strip():
                raise TrainingError(f"--set {assignment!r}: expected NAME=VALUE")
            try:
                values[name.strip()] = json.loads(text)
            except ValueError:
                values[name.strip()] = text
        return cls.from_mapping(values)
