"""Load and verify a model bundle (docs/bundle-format.md). Nothing here trusts the files:
checksums, schema, dtypes, shapes, and the numpy path against the Keras model's reference
scores stored by the trainer (recommender_core.verification) are all checked, and nothing is
unpickled. A bundle that fails any check raises BundleError and is not served. No TensorFlow:
the user tower's weights come from the bundle's ``user_tower.npz``."""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from app.bundle import Bundle, Catalogue, FreshRows
from app.errors import BundleError
from app.movies import IntegerKeys, Movies
from app.retrieval import (
    ExactRetrieval,
    Neighbours,
    Retrieval,
    Shortlister,
    ShortlistRetrieval,
    approximate_index,
)
from app.settings import SCORE_TABLE_MB
from recommender_core.bundle_format import (
    CURRENT_LINK,
    GRAPH_MIN_MOVIES,
    IDS_FILE,
    INDEX_FILE,
    MAX_KEY_LENGTH,
    MOVIES_FILE,
    RECOMMEND_INDEX_FILE,
    REFERENCE_FILE,
    SIMILAR_COSINES_FILE,
    SIMILAR_GRAPH_FILE,
    SIMILAR_NEIGHBOURS_FILE,
    TOWER_FILE,
    BundleFileError,
    array_dtypes,
    check_files,
)
from recommender_core.scoring import FastScorer, VisitorPath
from recommender_core.user_features import UserSlot, slots_of
from recommender_core.verification import (
    VerificationError,
    build_scorer,
    check_scores,
    read_reference,
    read_tower,
    user_table,
    verification_sample,
)

CALIBRATION_USERS = 50  # known users whose exact top 10 sets the shortlist's search effort


def resolve_current(model_dir: Path) -> Path:
    current = model_dir / CURRENT_LINK
    if not current.exists():
        raise BundleError(f"{current}: no bundle (run `python -m training train` first)")
    return Path(os.path.realpath(current))


def load_bundle(path: Path, *, score_table_bytes: int = SCORE_TABLE_MB << 20,
                retrieval_min_movies: int = GRAPH_MIN_MOVIES) -> Bundle:
    """Load the bundle at ``path`` (a version folder), or raise BundleError saying why."""
    try:
        manifest = check_files(path)
    except BundleFileError as exc:
        raise BundleError(str(exc)) from None
    slots = slots_of(manifest.get("user_features") or {})  # check_files read them already
    arrays: dict[str, np.ndarray] = {}
    for name in array_dtypes(slots):
        try:
            # Memory-mapped, read only: the workers of one host share the pages of a bundle's
            # arrays instead of each holding a copy (a bundle folder is never rewritten).
            arrays[name] = np.load(path / f"{name}.npy", allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise BundleError(f"{path / name}.npy: not a plain array: {exc}") from None
    _check_shapes(path, arrays, slots)
    movies = json.loads((path / MOVIES_FILE).read_text())
    if len(movies) != len(arrays["item_ids"]):
        raise BundleError(f"{path / MOVIES_FILE}: {len(movies)} movies, "
                          f"{len(arrays['item_ids'])} item ids")

    scorer = _verified_scorer(path, arrays, int(manifest["history_length"]), slots,
                              score_table_bytes)
    similar = arrays["similarity_vectors"]
    index = _load_index(path / INDEX_FILE, similar)
    try:
        visitors = VisitorPath.from_record(manifest["model"].get("visitor_path"))
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path / 'manifest.json'}: model.visitor_path: {exc}") from None
    user_keys, item_keys = _keys(path, manifest, arrays)
    catalogue = _catalogue(arrays, movies, item_keys)
    retrieval: Retrieval = ExactRetrieval()
    n_items = len(arrays["item_ids"])
    table = None
    if n_items >= retrieval_min_movies:
        retrieval = _shortlist(path, arrays, scorer, catalogue)
        index = approximate_index(similar, _load_stored_index(
            path / SIMILAR_GRAPH_FILE, "IndexHNSWFlat", n_items=n_items, dim=similar.shape[1]))
        table = _similar_table(path, n_items, manifest)
    release_pages([*arrays.values(), *(table or ()), *scorer.tower.tables()])
    return Bundle(path=path, manifest=manifest, arrays=arrays,
                  catalogue=catalogue, users=user_table(arrays, slots), slots=slots,
                  user_position={u: i for i, u in enumerate(user_keys)},
                  scorer=scorer, retrieval=retrieval,
                  neighbours=Neighbours(index, similar, table),
                  fresh_rows=FreshRows(n_items), visitors=visitors)


def release_pages(arrays: Sequence[np.ndarray]) -> None:
    """Drop the pages that loading read (checks, verification, calibration: whole passes over
    the movie matrix) of these memory-mapped arrays from this process's resident set: the
    page cache keeps them, and a request that needs a page maps it again. A million movies'
    matrix is 1.8 GB; without this each worker held all of it, and PSS counted half of it
    in each of two workers even where requests read only a few rows."""
    for array in arrays:
        mapping = getattr(array, "_mmap", None)  # np.memmap's (np.load with mmap_mode)
        if isinstance(mapping, mmap.mmap) and hasattr(mapping, "madvise"):
            mapping.madvise(mmap.MADV_DONTNEED)


def _similar_table(path: Path, n_items: int, manifest: dict[str, Any]
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """GET /similar's precomputed neighbours and cosines (memory-mapped), or None where the
    manifest lists none (bundles written before 2026-12-07); listed, their checksums were
    checked with the other files."""
    listed = manifest.get("files", {})
    if SIMILAR_NEIGHBOURS_FILE not in listed or SIMILAR_COSINES_FILE not in listed:
        return None
    try:
        neighbours = np.load(path / SIMILAR_NEIGHBOURS_FILE, allow_pickle=False, mmap_mode="r")
        cosines = np.load(path / SIMILAR_COSINES_FILE, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise BundleError(f"{path}: /similar's neighbour table: {exc}") from None
    if (neighbours.ndim != 2 or neighbours.shape[0] != n_items or neighbours.dtype != np.int32
            or cosines.shape != neighbours.shape or cosines.dtype != np.float32
            or int(neighbours.max(initial=-1)) >= n_items or int(neighbours.min(initial=0)) < -1):
        raise BundleError(f"{path / SIMILAR_NEIGHBOURS_FILE}: expected int32 movie indices and "
                          f"float32 cosines of shape ({n_items}, width)")
    return neighbours, cosines


def _shortlist(path: Path, arrays: dict[str, np.ndarray], scorer: FastScorer,
               catalogue: Catalogue) -> ShortlistRetrieval:
    """Two-stage retrieval over the bundle's stored IVF index (or one built here), its
    search effort calibrated on CALIBRATION_USERS known users' exact top 10."""
    n_items = len(arrays["item_ids"])
    stored = _load_stored_index(path / RECOMMEND_INDEX_FILE, "IndexIVFFlat", n_items=n_items,
                                dim=scorer.item_vectors.shape[1] + 1)
    shortlister = Shortlister(scorer.item_vectors, scorer.item_bias, index=stored)
    n_users = len(arrays["user_ids"])
    rng = np.random.default_rng(1)
    users = rng.choice(n_users, size=min(CALIBRATION_USERS, n_users), replace=False)
    vectors = np.stack([scorer.known_user_vector(int(u), 0, 0) for u in users])
    recall = shortlister.calibrate(scorer.item_vectors, scorer.item_bias, vectors)
    return ShortlistRetrieval(shortlister, scorer.item_vectors, scorer.item_bias,
                              catalogue.popularity, catalogue.popularity_order, recall)


def _check_shapes(path: Path, arrays: dict[str, np.ndarray],
                  slots: Sequence[UserSlot]) -> None:
    n_items = len(arrays["item_ids"])
    n_users = len(arrays["user_ids"])
    expectations = {
        "item_vectors": (n_items, None), "item_bias": (n_items,),
        "content_embeddings": (n_items, None), "popularity": (n_items,),
        "seen_indptr": (n_users + 1,), "user_history": (n_users, None),
        "similarity_vectors": (n_items, None),
        **{slot.array: (n_users,) for slot in slots},
    }
    for name, shape in expectations.items():
        actual = arrays[name].shape
        if len(actual) != len(shape) or any(s is not None and s != a
                                            for s, a in zip(shape, actual, strict=False)):
            raise BundleError(f"{path / name}.npy: shape {actual}, expected {shape} "
                              f"({n_items} movies, {n_users} users)")
    for name, dtype in array_dtypes(slots).items():
        if arrays[name].dtype != np.dtype(dtype):
            raise BundleError(f"{path / name}.npy: dtype {arrays[name].dtype}, expected {dtype}")
    for slot in slots:
        codes = arrays[slot.array]
        if codes.size and (codes.min() < 0 or codes.max() > len(slot.vocabulary)):
            raise BundleError(f"{path / slot.array}.npy: codes outside 0..{len(slot.vocabulary)}"
                              f" (user feature {slot.name!r})")
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"]
    if indptr[-1] != len(indices) or (len(indices) and (indices.min() < 0
                                                        or indices.max() >= n_items)):
        raise BundleError(f"{path / 'seen_indices.npy'}: inconsistent with seen_indptr")
    history = arrays["user_history"]
    if history.size and (history.min() < 0 or history.max() > n_items):
        raise BundleError(f"{path / 'user_history.npy'}: movie index out of range")


def _verified_scorer(path: Path, arrays: dict[str, np.ndarray], history_length: int,
                     slots: Sequence[UserSlot], score_table_bytes: int) -> FastScorer:
    """The numpy scorer built from the bundle's user tower (with its score table when it fits
    ``score_table_bytes``), once the path requests take reproduces the Keras model's scores of
    the reference sample; the sample itself must be the one this bundle's arrays give
    (verification_sample), so a bundle cannot bring an easier one."""
    try:
        scorer = build_scorer(read_tower(path / TOWER_FILE), arrays, slots)
        scorer.precompute_scores(score_table_bytes)
    except (VerificationError, KeyError, ValueError, TypeError, IndexError, OSError) as exc:
        raise BundleError(f"{path / TOWER_FILE}: not the user tower's weights: "
                          f"{type(exc).__name__}: {str(exc)[:200]}") from None
    try:
        stored, expected = read_reference(path / REFERENCE_FILE, slots)
    except (VerificationError, ValueError, OSError) as exc:
        raise BundleError(f"{path / REFERENCE_FILE}: unreadable reference: {exc}") from None
    sample = verification_sample(arrays, history_length, slots)
    if stored.digest() != sample.digest():
        raise BundleError(f"{path / REFERENCE_FILE}: the reference sample is not the one this "
                          "bundle's arrays give")
    try:
        check_scores(scorer, sample, expected)
    except VerificationError as exc:
        raise BundleError(f"{path}: {exc}") from None
    return scorer


def _read_index(path: Path) -> Any:
    """The FAISS index in ``path``, memory-mapped without a copy (IO_FLAG_MMAP_IFC: the
    workers of a host share its pages, as they share the arrays'), or a BundleError naming
    it."""
    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError as exc:
        raise BundleError(f"{path}: not a FAISS index: {str(exc)[:200]}") from None


def _load_index(path: Path, vectors: np.ndarray) -> Any:
    index = _read_index(path)
    if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
        raise BundleError(f"{path}: {index.ntotal} vectors of dimension {index.d}, the bundle "
                          f"has {len(vectors)} of dimension {vectors.shape[1]}")
    return index


def _load_stored_index(path: Path, kind: str, *, n_items: int, dim: int) -> Any:
    """The bundle's stored approximate index at ``path`` (a FAISS ``kind`` with the
    inner-product metric), or None where the bundle has none (the service builds it); its
    checksum was checked with the other files."""
    if not path.exists():
        return None
    index = _read_index(path)
    if (type(index).__name__ != kind or index.ntotal != n_items or index.d != dim
            or index.metric_type != faiss.METRIC_INNER_PRODUCT):
        raise BundleError(f"{path}: expected an inner-product {kind} of {n_items} vectors of "
                          f"dimension {dim}, found {type(index).__name__} of {index.ntotal} "
                          f"of dimension {index.d}")
    return index


def _keys(path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]
          ) -> tuple[list[str], list[str] | None]:
    """The users' and movies' ids as request keys (strings), in index order: ids.json's for a
    catalogue with string ids, else the decimal text of the integer ids (the movies' None:
    app.movies.IntegerKeys looks them up in ``item_ids``)."""
    catalogue = manifest.get("catalogue") or {}
    ids_path = path / IDS_FILE
    if catalogue.get("ids", "integer") == "integer":
        return [str(u) for u in arrays["user_ids"].tolist()], None
    try:
        record = json.loads(ids_path.read_text(encoding="utf-8"))
        users, items = record["users"], record["items"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{ids_path}: the catalogue's string ids are unreadable: {exc}"
                          ) from None
    for name, keys, array in (("users", users, "user_ids"), ("items", items, "item_ids")):
        if (not isinstance(keys, list) or len(keys) != len(arrays[array])
                or not all(isinstance(k, str) and 0 < len(k) <= MAX_KEY_LENGTH for k in keys)
                or len(set(keys)) != len(keys)):
            raise BundleError(f"{ids_path}: {name}: expected {len(arrays[array])} distinct "
                              f"strings of 1 to {MAX_KEY_LENGTH} characters")
    return users, items


def _catalogue(arrays: dict[str, np.ndarray], movies: list[dict[str, Any]],
               keys: list[str] | None) -> Catalogue:
    names = sorted({g for movie in movies for g in movie["genres"]})
    masks = {name.lower(): np.fromiter((name in movie["genres"] for movie in movies),
                                       dtype=bool, count=len(movies)) for name in names}
    popularity = arrays["popularity"]
    counts = np.bincount(arrays["seen_indices"], minlength=len(popularity))
    return Catalogue(
        movies=Movies(movies),
        position=(IntegerKeys(arrays["item_ids"]) if keys is None
                  else {m: i for i, m in enumerate(keys)}),
        genres=names, genre_masks=masks, popularity=popularity,
        popularity_order=np.lexsort((np.arange(len(popularity)), -popularity)),
        unrated=counts == 0)
