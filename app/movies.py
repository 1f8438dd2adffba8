"""The catalogue's movies held compactly: a million movies as Python dicts and strings cost
~850 MB in every worker (BENCHMARKS.md, "A million movies"); here they are a few byte blobs
with offsets, each movie decoded when a request asks for it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from app.render import movie_fragments


class Blobs(Sequence[str]):
    """Strings stored as one UTF-8 blob and their offsets; ``blobs[i]`` decodes one."""

    def __init__(self, texts: Sequence[str]) -> None:
        encoded = [text.encode() for text in texts]
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])
        self.blob = b"".join(encoded)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        return self.blob[int(self.offsets[index]):int(self.offsets[index + 1])].decode()

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


class Movies(Sequence[dict[str, Any]]):
    """movies.json's records (movie_id, title, genres, year) in index order: ``movies[i]``
    decodes one; ``fragments`` are the hot routes' JSON fragments (app.render); ``search``
    finds titles without decoding every movie."""

    def __init__(self, records: Sequence[dict[str, Any]]) -> None:
        self.fragments = Blobs(movie_fragments(records))
        self.years = np.array([-1 if m.get("year") is None else int(m["year"])
                               for m in records], dtype=np.int32)
        # casefolded titles joined by NUL (a NUL inside a title is searched as a space)
        titles = [str(m["title"]).casefold().replace("\0", " ") for m in records]
        self.titles = "\0".join(titles)
        self.title_starts = np.zeros(len(titles), dtype=np.int64)
        np.cumsum([len(t) + 1 for t in titles[:-1]], out=self.title_starts[1:])

    def __len__(self) -> int:
        return len(self.fragments)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        record: dict[str, Any] = json.loads(self.fragments[index].removesuffix(',"score":')
                                            + "}")
        year = int(self.years[index])
        record["year"] = None if year < 0 else year
        return record

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))

    def title_json(self, index: int) -> str:
        """Movie ``index``'s title as JSON text (as the fragment writes it): a JSON string
        holds no unescaped quote, so ``,"genres":`` after it is the fragment's own."""
        fragment = self.fragments[index]
        return fragment[fragment.index(',"title":') + 9:fragment.rindex(',"genres":')]

    def search(self, needle: str) -> np.ndarray:
        """Indices (ascending) of the movies whose casefolded title contains ``needle``
        (casefolded by the caller)."""
        if "\0" in needle:
            return np.zeros(0, dtype=np.int64)
        found = []
        start = self.titles.find(needle)
        while start >= 0:
            found.append(start)
            start = self.titles.find(needle, start + 1)
        return np.unique(np.searchsorted(self.title_starts, np.asarray(found, np.int64),
                                         side="right") - 1)


#: ids up to this many entries are looked up in a dense table (int32: 64 MiB at most)
DENSE_IDS = 1 << 24


class IntegerKeys:
    """Movie id (its decimal text, as requests give it) -> index for a catalogue of integer
    ids: a dense table of indices by id where the ids are below DENSE_IDS (MovieLens'), else
    a binary search over the sorted ids; a dict of a million strings cost ~130 MB a worker."""

    def __init__(self, ids: np.ndarray) -> None:
        self.order = np.argsort(ids, kind="stable").astype(np.int64)
        self.sorted = np.asarray(ids, dtype=np.int64)[self.order]
        self.table: np.ndarray | None = None
        if len(ids) and self.sorted[0] >= 0 and self.sorted[-1] < DENSE_IDS:
            self.table = np.full(int(self.sorted[-1]) + 1, -1, dtype=np.int32)
            self.table[self.sorted] = self.order

    def get(self, key: str) -> int | None:
        if not (key.isascii() and key.isdigit()) or len(key) > 18 or str(int(key)) != key:
            return None
        value = int(key)
        if self.table is not None:
            found = int(self.table[value]) if value < len(self.table) else -1
            return found if found >= 0 else None
        at = int(np.searchsorted(self.sorted, value))
        if at < len(self.sorted) and int(self.sorted[at]) == value:
            return int(self.order[at])
        return None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __getitem__(self, key: str) -> int:
        index = self.get(key)
        if index is None:
            raise KeyError(key)
        return index

    def __len__(self) -> int:
        return len(self.sorted)

    def items(self) -> Iterator[tuple[str, int]]:
        return ((str(v), int(i)) for v, i in zip(self.sorted.tolist(), self.order.tolist(),
                                                  strict=True))
