"""The model bundle's on-disk contract: the one module both the trainer (``training``) and the
service (``app``) import. It names every file, array, Keras input and layer the two sides
hand each other, and the few formulas both must compute alike. It imports no TensorFlow, no
Keras and nothing of either side. docs/bundle-format.md describes the format in prose.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from recommender_core.user_features import UserSlot, slots_of

#: bumped when a file, array, input or layer below changes meaning (docs/upgrading.md)
SCHEMA_VERSION = 4
#: the schemas this version serves: 3 is 4 without ``ids.json`` (integer ids only)
READABLE_SCHEMAS = (3, 4)

MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.keras"
INDEX_FILE = "similar.faiss"
MOVIES_FILE = "movies.json"
#: a catalogue with string ids (the generic layout): {"users": [...], "items": [...]}, the
#: dataset's ids in the order of ``user_ids`` and ``item_ids`` (which then hold dense codes);
#: absent, the ids are the integers of ``user_ids`` and ``item_ids`` (schema 4 on)
IDS_FILE = "ids.json"
MAX_KEY_LENGTH = 256  # characters of a string id
CURRENT_LINK = "current"
#: the user tower's weights the numpy scorer reads, and the reference sample with the Keras
#: model's scores of it (recommender_core.verification); schema 3 on
TOWER_FILE = "user_tower.npz"
REFERENCE_FILE = "reference.npz"
#: the command that writes a bundle this version reads, named by every refusal
RETRAIN_HINT = ("retrain with `python -m training train --data <dataset> --out <models dir>` "
                "or switch to a bundle of this schema with `python -m training bundles use "
                "<version>`")
#: optional approximate indexes, stored for catalogues of GRAPH_MIN_MOVIES or more (building
#: them at the service's start took minutes for a million movies): an inverted-file index
#: with the inner-product metric over ``[item_vectors, item_bias]`` (GET /recommend's
#: shortlist, app/retrieval.py), and an HNSW graph over ``similarity_vectors`` (GET /similar)
RECOMMEND_INDEX_FILE = "recommend-ivf.faiss"
SIMILAR_GRAPH_FILE = "similar-hnsw.faiss"
GRAPH_MIN_MOVIES = 50_000
#: GET /similar's neighbours precomputed with the graphs (same catalogues): each movie's
#: SIMILAR_TABLE_WIDTH nearest by cosine of ``similarity_vectors`` (itself among them),
#: best first, searched in the HNSW graph with efSearch TABLE_EF_SEARCH, and their cosines;
#: a page within the width is a lookup instead of a graph search
SIMILAR_NEIGHBOURS_FILE = "similar_neighbours.npy"  # (movies, width) int32, -1 pads
SIMILAR_COSINES_FILE = "similar_cosines.npy"  # (movies, width) float32
SIMILAR_TABLE_WIDTH = 101
TABLE_EF_SEARCH = 400
HNSW_NEIGHBOURS = 32  # the graphs' degree M
EF_CONSTRUCTION = 80

#: every ``<name>.npy`` array of a bundle and its dtype (shapes: docs/bundle-format.md)
ARRAYS: dict[str, str] = {
    "item_ids": "int32",  # (movies,) raw movie ids, in index order
    "user_ids": "int32",  # (users,) raw user ids, in index order
    "item_vectors": "float32",  # (movies, dim + rank) the movie tower's output, item-item part last
    "item_bias": "float32",  # (movies,) the movie tower's bias (popularity prior included)
    "content_embeddings": "float32",  # (movies, content_dim) the autoencoder's codes
    "popularity": "float32",  # (movies,) train likes per movie
    "seen_indptr": "int64",  # (users + 1,) CSR row pointers of the rated movies
    "seen_indices": "int32",  # (ratings,) movie indices each user rated in train
    "user_history": "int32",  # (users, history) recent liked movies, index + 1, 0 pads left
    "similarity_vectors": "float32",  # (movies, content_dim + dim) unit rows /similar searches
}

#: besides ARRAYS, one ``user_<key>.npy`` (int32, (users,) codes, 0 unknown) per user-feature
#: slot of the manifest's ``user_features`` (recommender_core.user_features): the Keras
#: inference model's inputs are ``items`` (batch, m) of movie index + 1, user_inputs(slots)
#: and FRESH_INPUT
USER_FEATURE_DTYPE = "int32"


def array_dtypes(slots: Iterable[UserSlot]) -> dict[str, str]:
    """Every ``<name>.npy`` array of a bundle whose user features are ``slots``, and its
    dtype: ARRAYS and one per slot."""
    return {**ARRAYS, **{slot.array: USER_FEATURE_DTYPE for slot in slots}}

#: the inference model's input of movies liked since training (index + 1, 0 pads; batch, any
#: length): their item-item rows are added to the user's (docs/bundle-format.md)
FRESH_INPUT = "fresh"


class Layers:
    """Names of the Keras layers whose weights the service's numpy scorer reads (and each
    user-feature slot's embedding, UserSlot.layer)."""

    USER_ID = "user_id"
    DAYTIME = "context_daytime"
    WEEKEND = "context_weekend"
    USER_OUT = "user_out"
    ITEM_ITEM_USER = "item_item_user"  # (users + 1, rank) each user's item-item part
    ITEM_ITEM_IN = "item_item_in"  # (movies + 1, rank) a liked movie's item-item row


#: daytime buckets, UTC: 0-6, 6-12, 12-18, 18-24 h
DAYTIME_BUCKETS = ("night", "morning", "afternoon", "evening")


def context_features(timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Daytime bucket (index into ``DAYTIME_BUCKETS``) and weekend flag (Saturday, Sunday in
    UTC) of Unix timestamps, as int32 arrays."""
    seconds = np.asarray(timestamps, dtype=np.int64)
    daytime = ((seconds // 3600) % 24 // 6).astype(np.int32)
    weekday = ((seconds // 86400) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return daytime, (weekday >= 5).astype(np.int32)


def recommend_rows(item_vectors: np.ndarray, item_bias: np.ndarray) -> np.ndarray:
    """``[v, b]`` per movie: a score ``u·v + b`` is their inner product with ``[u, 1]``."""
    return np.ascontiguousarray(np.hstack([item_vectors, item_bias[:, None]]), dtype=np.float32)


def inner_product_ivf(rows: np.ndarray, seed: int = 0) -> Any:
    """A FAISS inverted-file index (IVF-Flat) with the inner-product metric over ``rows``:
    about 2·√n lists from k-means on up to 64 rows per list; a search scans the ``nprobe``
    lists whose centroids score highest, and ranks their rows exactly."""
    import faiss

    rows = np.ascontiguousarray(rows, dtype=np.float32)
    n, dim = rows.shape
    lists = int(max(1, min(n // 39, round(2 * np.sqrt(n)))))  # FAISS wants 39+ rows per list
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    index.cp.seed = seed
    sample = np.random.default_rng(seed).choice(n, size=min(n, 64 * lists), replace=False)
    index.train(rows[np.sort(sample)])
    index.add(rows)
    return index


def inner_product_graph(rows: np.ndarray) -> Any:
    """A FAISS HNSW graph with the inner-product metric over ``rows`` (faiss is imported
    here, not at module level: the module stays light for both sides)."""
    import faiss

    index = faiss.IndexHNSWFlat(rows.shape[1], HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    index.add(np.ascontiguousarray(rows, dtype=np.float32))
    return index


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (the manifest's ``files`` values)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class BundleFileError(ValueError):
    """A bundle folder this version cannot read: the message names the file and why."""


def required_files(manifest: dict[str, Any]) -> set[str]:
    """The files every bundle of SCHEMA_VERSION holds (the approximate indexes are optional),
    with the user-feature arrays of ``manifest``'s slots."""
    try:
        slots = slots_of(manifest.get("user_features") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleFileError(f"{MANIFEST_FILE}: unreadable user_features: {exc!r}") from None
    return {f"{name}.npy" for name in array_dtypes(slots)} | {
        MODEL_FILE, INDEX_FILE, MOVIES_FILE, TOWER_FILE, REFERENCE_FILE}


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the bundle folder ``path``, whatever its schema; BundleFileError when
    it is missing or not a JSON object."""
    manifest_path = path / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleFileError(f"{manifest_path}: unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict):
        raise BundleFileError(f"{manifest_path}: unreadable manifest: not a JSON object")
    return manifest


def check_files(path: Path, *, checksums: bool = True) -> dict[str, Any]:
    """The manifest of the bundle folder ``path`` once its schema is SCHEMA_VERSION, every
    required file is present and listed, and every listed file has its recorded sha256
    (``checksums=False`` skips reading the files); BundleFileError naming the first file that
    is not."""
    manifest = read_manifest(path)
    found = manifest.get("schema_version")
    if found not in READABLE_SCHEMAS:
        raise BundleFileError(f"{path / MANIFEST_FILE}: schema version {found!r}, this version "
                              f"reads {' and '.join(map(str, READABLE_SCHEMAS))}: "
                              f"{RETRAIN_HINT}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleFileError(f"{path / MANIFEST_FILE}: no file checksums")
    for name in sorted(required_files(manifest) | set(files)):
        file = path / name
        if name not in files:
            raise BundleFileError(f"{file}: not listed in the manifest")
        if not file.is_file():
            raise BundleFileError(f"{file}: missing")
        if checksums and sha256_file(file) != files[name]:
            raise BundleFileError(f"{file}: checksum mismatch (the file was altered or "
                                  "truncated)")
    return manifest


def import_keras() -> ModuleType:
    """Keras, on TensorFlow unless ``KERAS_BACKEND`` names another backend, imported with the
    native start-up log lines of TensorFlow and XLA (oneDNN, CUDA drivers, cuInit, absl)
    silenced: they go to file descriptor 2 before any logging setting applies, and a newcomer
    reads them as failures. Python's own errors are not hidden: they are raised after stderr
    is restored.

    TensorFlow's CPU tensors come from its best-fit-with-coalescing pool rather than from
    malloc: XLA's per-step buffers (~50 MB for the hybrid's step) are otherwise mapped and
    unmapped by the C library at every step, and the page faults cost as much as the step
    (BENCHMARKS.md, "Training time": 49 → 27 ms per step on 2 cores)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # where CUDA is installed: cuInit's lines
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return keras


def similar_table(rows: np.ndarray, graph: Any, width: int = SIMILAR_TABLE_WIDTH,
                  block: int = 4_096) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours, cosines) of every row of ``rows`` (unit length) in ``graph`` (their HNSW
    graph), ``width`` each, best first: SIMILAR_NEIGHBOURS_FILE and SIMILAR_COSINES_FILE."""
    graph.hnsw.efSearch = max(TABLE_EF_SEARCH, width)
    n = len(rows)
    width = min(width, n)
    neighbours = np.empty((n, width), dtype=np.int32)
    cosines = np.empty((n, width), dtype=np.float32)
    for start in range(0, n, block):
        part = np.ascontiguousarray(rows[start:start + block], dtype=np.float32)
        found_cosines, found = graph.search(part, width)
        neighbours[start:start + block] = found
        cosines[start:start + block] = found_cosines
    return neighbours, cosines
