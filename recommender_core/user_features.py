"""The user tower's feature slots: one categorical input per user feature of the data (age
group, gender and occupation of the MovieLens releases that have them; each column of a
generic catalogue's ``users.csv``), shared by the trainer and the service.

A slot names the model input (``key``), the Keras embedding layer (``layer``), the bundle
array of the known users' codes (``array``), the field a request gives for a visitor
(``name``) and how a request's value becomes a code (``code``): code 0 is always "unknown",
codes 1.. index ``vocabulary``; a numeric feature's value falls in a bin between ``edges``.
The manifest records the slots (``user_features.slots``); bundles of schema 3 and early
schema 4 recorded the three MovieLens vocabularies instead, read by ``slots_of`` as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: the demographic age groups (MovieLens 1M's codes): the first age of each, and its label
AGE_GROUPS: dict[int, str] = {
    1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+",
}  # fmt: skip
#: the bins between AGE_GROUPS' labels
AGE_EDGES = tuple(float(start) for start in AGE_GROUPS if start > 1)
#: the MovieLens slots' keys, request fields, legacy manifest lists and embedding widths
MOVIELENS_SLOTS = (("age_group", "age", "age_groups", 8), ("gender", "gender", "genders", 4),
                   ("occupation", "occupation", "occupations", 8))
#: Keras layer names of the MovieLens slots (the bundle's since schema 1)
_LAYERS = {"age_group": "user_age", "gender": "user_gender", "occupation": "user_occupation"}


def age_group(age: int) -> str:
    """The label of AGE_GROUPS that ``age`` falls in (below 18: "Under 18")."""
    return AGE_GROUPS[max((start for start in AGE_GROUPS if start <= age), default=1)]


def slot_width(vocabulary_size: int) -> int:
    """The embedding width of a generic catalogue's feature: 4 for up to 3 values, else 8 (the
    MovieLens slots' widths follow the same rule)."""
    return 4 if vocabulary_size <= 3 else 8


@dataclass(frozen=True)
class UserSlot:
    """One categorical input of the user tower."""

    key: str  # the model input's name ("age_group", "feature_1", ...)
    name: str  # the feature as the data and requests name it ("age", a users.csv column)
    vocabulary: tuple[str, ...]  # labels of codes 1.. (0: unknown)
    width: int  # the embedding's width
    edges: tuple[float, ...] = ()  # a numeric feature: value v has code 1 + #(edges <= v)

    def __post_init__(self) -> None:
        if self.edges and len(self.edges) + 1 != len(self.vocabulary):
            raise ValueError(f"user feature {self.name!r}: {len(self.edges)} bin edges for "
                             f"{len(self.vocabulary)} labels")

    @property
    def layer(self) -> str:
        """The Keras embedding layer (and user_tower.npz entry) of this slot."""
        return _LAYERS.get(self.key, f"user_{self.key}")

    @property
    def array(self) -> str:
        """The bundle array (``<array>.npy``, int32, one code per known user)."""
        return f"user_{self.key}"

    @property
    def numeric(self) -> bool:
        return bool(self.edges)

    def code(self, value: str | float | None) -> int:
        """The code of a request's value: its bin for a numeric feature (ValueError when the
        value is not a finite number), else its label's position (case-insensitive); 0 for
        None or a label the data never had."""
        if value is None or not self.vocabulary:
            return 0
        if self.numeric:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"{value!r} is not a finite number")
            return 1 + sum(edge <= number for edge in self.edges)
        text = str(value).strip().lower()
        for position, label in enumerate(self.vocabulary):
            if label.lower() == text:
                return position + 1
        return 0

    def record(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "vocabulary": list(self.vocabulary),
                "width": self.width, "edges": list(self.edges)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> UserSlot:
        return cls(key=str(record["key"]), name=str(record["name"]),
                   vocabulary=tuple(str(v) for v in record["vocabulary"]),
                   width=int(record["width"]),
                   edges=tuple(float(e) for e in record.get("edges", ())))


def movielens_slots(vocabularies: Mapping[str, Sequence[str]]) -> tuple[UserSlot, ...]:
    """The three MovieLens slots with the vocabularies of ``vocabularies`` (keyed by slot key;
    empty where the release has no demographics): ages binned as AGE_GROUPS."""
    slots = []
    for key, name, _, width in MOVIELENS_SLOTS:
        vocabulary = tuple(vocabularies.get(key, ()))
        edges = AGE_EDGES if key == "age_group" and vocabulary else ()
        if edges and vocabulary != tuple(AGE_GROUPS.values()):
            raise ValueError(f"age groups {vocabulary!r}: expected {tuple(AGE_GROUPS.values())}")
        slots.append(UserSlot(key, name, vocabulary, width, edges))
    return tuple(slots)


def slots_of(record: Mapping[str, Any]) -> tuple[UserSlot, ...]:
    """The slots of a manifest's ``user_features``: its ``slots``, or the three MovieLens
    vocabularies of bundles written before slots were recorded."""
    if "slots" in record:
        return tuple(UserSlot.from_record(slot) for slot in record["slots"])
    return movielens_slots({key: record.get(legacy, ())
                            for key, _, legacy, _ in MOVIELENS_SLOTS})


def user_inputs(slots: Sequence[UserSlot]) -> tuple[str, ...]:
    """The Keras inference model's inputs besides ``items`` and the fresh likes."""
    return ("user", "history", *(slot.key for slot in slots), "daytime", "weekend")
