"""What a worker holds of a bundle: the large tables memory-mapped (the workers of a host share
their pages) and the movies compact (app.movies), answering as the plain records did."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from app.loading import load_bundle
from app.movies import DENSE_IDS, Blobs, IntegerKeys, Movies
from app.render import movie_fragments
from recommender_core.verification import VerificationError, map_npz
from tests.bundles import trained_models_dir

RECORDS = [
    {"movie_id": 10, "title": "Toy Story (1995)", "genres": ["Animation", "Children"],
     "year": 1995},
    {"movie_id": 3, "title": "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
     "genres": ["Comedy", "Romance"], "year": 2001},
    {"movie_id": 7, "title": 'The "Story" of\u0000us,"genres":[]', "genres": [], "year": None},
]


def test_movies_decode_to_the_records_and_their_fragments() -> None:
    movies = Movies(RECORDS)
    assert len(movies) == 3 and list(movies) == RECORDS
    assert movies[-1] == RECORDS[2]
    assert list(movies.fragments) == movie_fragments(RECORDS)
    assert [json.loads(movies.title_json(i)) for i in range(3)] == [m["title"] for m in RECORDS]
    assert movies.title_json(1) == json.dumps(RECORDS[1]["title"], ensure_ascii=False)
    with pytest.raises(IndexError):
        movies[3]


def test_title_search_is_casefolded_and_finds_each_movie_once() -> None:
    movies = Movies(RECORDS)
    assert movies.search("story").tolist() == [0, 2]
    assert movies.search("amélie").tolist() == [1]  # twice in its title, once in the answer
    assert movies.search("of us").tolist() == [2]  # a NUL inside a title is a space
    assert movies.search("(1995)\0amélie").size == 0  # never across two titles
    assert movies.search("matrix").size == 0
    assert Movies([]).search("a").size == 0


@pytest.mark.parametrize("big", [0, DENSE_IDS])  # a dense table; a binary search
def test_integer_keys_find_exactly_the_canonical_decimal_ids(big: int) -> None:
    keys = IntegerKeys(np.array([10, 3, 7], dtype=np.int64) + big)
    assert (keys.table is None) == bool(big)
    texts = [str(big + 10), str(big + 3), str(big + 7), str(big + 4), "0" + str(big + 3),
             "+3", "-3", "3.0", "", "٣", str(big + 11), "99" * 10]
    assert [keys.get(k) for k in texts] == [0, 1, 2] + [None] * 9
    assert str(big + 7) in keys and str(big + 8) not in keys and big + 7 not in keys
    assert dict(keys.items()) == {str(big + 3): 1, str(big + 7): 2, str(big + 10): 0}
    assert len(keys) == 3
    with pytest.raises(KeyError):
        keys["99" * 10]


def test_blobs_hold_any_text() -> None:
    texts = ["", "a", "ü" * 300, "\n\0"]
    assert list(Blobs(texts)) == texts and len(Blobs([])) == 0


def test_an_npz_is_mapped_member_by_member(tmp_path: Path) -> None:
    arrays = {"a:0": np.arange(12, dtype=np.float32).reshape(3, 4),
              "b:1": np.asfortranarray(np.ones((2, 3), np.int64)),
              "empty:0": np.zeros((0, 5), np.float32)}
    np.savez(tmp_path / "w.npz", **arrays)  # type: ignore[arg-type]
    mapped = map_npz(tmp_path / "w.npz")
    assert set(mapped) == set(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(mapped[name], array)
        assert mapped[name].dtype == array.dtype
    assert isinstance(mapped["a:0"], np.memmap) and not mapped["a:0"].flags.writeable
    np.savez_compressed(tmp_path / "c.npz", **arrays)  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="compressed"):
        map_npz(tmp_path / "c.npz")


def _mapped_files() -> set[str]:
    return {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
            if len(line.split()) >= 6}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_a_loaded_bundle_maps_its_tables_and_indexes() -> None:
    """The arrays, the user tower's tables and the FAISS indexes are file mappings (shared
    by the workers of a host), not private copies; the movies answer as movies.json."""
    trained_bundle = Path(os.path.realpath(trained_models_dir() / "current"))
    bundle = load_bundle(trained_bundle)
    mapped = _mapped_files()
    for name in ("item_vectors.npy", "similarity_vectors.npy", "user_tower.npz",
                 "similar.faiss"):
        assert str(trained_bundle / name) in mapped, name
    assert isinstance(bundle.scorer.tower.frozen_liked, np.memmap)
    records = json.loads((trained_bundle / "movies.json").read_text())
    assert list(bundle.catalogue.movies) == records
    ids = [str(m["movie_id"]) for m in records]
    assert [bundle.catalogue.position.get(k) for k in ids] == list(range(len(ids)))
