"""Load and verify a model bundle (docs/bundle-format.md). Nothing here trusts the files:
checksums, schema, dtypes, shapes and the fast path against the Keras model are all checked,
and nothing is unpickled. A bundle that fails any check raises BundleError and is not served."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from app.bundle import Bundle
from app.errors import BundleError
from app.inputs import anonymous_inputs, user_inputs
from app.render import movie_fragments
from app.scoring import FastScorer, keras_scores
from bundle_format import (
    ARRAYS,
    CURRENT_LINK,
    INDEX_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    MOVIES_FILE,
    SCHEMA_VERSION,
    USER_INPUTS,
    import_keras,
    sha256_file,
)


def resolve_current(model_dir: Path) -> Path:
    current = model_dir / CURRENT_LINK
    if not current.exists():
        raise BundleError(f"{current}: no bundle (run `python -m training train` first)")
    return Path(os.path.realpath(current))


def load_bundle(path: Path, *, verify_users: int = 16,
                score_table_bytes: int = 512 << 20) -> Bundle:
    """Load the bundle at ``path`` (a version folder), or raise BundleError saying why."""
    manifest_path = path / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{manifest_path}: unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION:
        found = manifest.get("schema_version") if isinstance(manifest, dict) else None
        raise BundleError(f"{manifest_path}: schema version {found!r}, this service reads "
                          f"{SCHEMA_VERSION}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{manifest_path}: no file checksums")
    required = {f"{name}.npy" for name in ARRAYS} | {MODEL_FILE, INDEX_FILE, MOVIES_FILE}
    for name in sorted(required | set(files)):
        file = path / name
        if name not in files:
            raise BundleError(f"{file}: not listed in the manifest")
        if not file.is_file():
            raise BundleError(f"{file}: missing")
        if sha256_file(file) != files[name]:
            raise BundleError(f"{file}: checksum mismatch (the file was altered or truncated)")

    arrays: dict[str, np.ndarray] = {}
    for name in ARRAYS:
        try:
            arrays[name] = np.load(path / f"{name}.npy", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise BundleError(f"{path / name}.npy: not a plain array: {exc}") from None
    _check_shapes(path, arrays)
    movies = json.loads((path / MOVIES_FILE).read_text())
    if len(movies) != len(arrays["item_ids"]):
        raise BundleError(f"{path / MOVIES_FILE}: {len(movies)} movies, "
                          f"{len(arrays['item_ids'])} item ids")

    keras_model = _load_keras(path / MODEL_FILE)
    try:
        scorer = FastScorer(keras_model, arrays["item_vectors"], arrays["item_bias"])
    except ValueError as exc:
        raise BundleError(f"{path / MODEL_FILE}: {exc}") from None
    index = _load_index(path / INDEX_FILE, arrays["similarity_vectors"])
    bundle = Bundle(path=path, manifest=manifest, arrays=arrays, movies=movies, scorer=scorer,
                    index=index, keras_model=keras_model)
    _index_lookups(bundle)
    n_users = len(arrays["user_ids"])
    scorer.precompute_users({
        "user": np.arange(1, n_users + 1, dtype=np.int32), "history": arrays["user_history"],
        "age_group": arrays["user_age_group"], "gender": arrays["user_gender"],
        "occupation": arrays["user_occupation"],
        "daytime": np.zeros(n_users, np.int32), "weekend": np.zeros(n_users, np.int32),
    })
    scorer.precompute_scores(score_table_bytes)
    verify_fast_path(bundle, n_users=verify_users)
    return bundle


def _check_shapes(path: Path, arrays: dict[str, np.ndarray]) -> None:
    n_items = len(arrays["item_ids"])
    n_users = len(arrays["user_ids"])
    expectations = {
        "item_vectors": (n_items, None), "item_bias": (n_items,),
        "content_embeddings": (n_items, None), "popularity": (n_items,),
        "seen_indptr": (n_users + 1,), "user_history": (n_users, None),
        "user_age_group": (n_users,), "user_gender": (n_users,), "user_occupation": (n_users,),
        "similarity_vectors": (n_items, None),
    }
    for name, shape in expectations.items():
        actual = arrays[name].shape
        if len(actual) != len(shape) or any(s is not None and s != a
                                            for s, a in zip(shape, actual, strict=False)):
            raise BundleError(f"{path / name}.npy: shape {actual}, expected {shape} "
                              f"({n_items} movies, {n_users} users)")
    for name in ARRAYS:
        if arrays[name].dtype != np.dtype(ARRAYS[name]):
            raise BundleError(f"{path / name}.npy: dtype {arrays[name].dtype}, expected "
                              f"{ARRAYS[name]}")
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"]
    if indptr[-1] != len(indices) or (len(indices) and (indices.min() < 0
                                                        or indices.max() >= n_items)):
        raise BundleError(f"{path / 'seen_indices.npy'}: inconsistent with seen_indptr")
    history = arrays["user_history"]
    if history.size and (history.min() < 0 or history.max() > n_items):
        raise BundleError(f"{path / 'user_history.npy'}: movie index out of range")


def _load_keras(path: Path) -> Any:
    keras = import_keras()
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 (any failure to load means: refuse the bundle)
        raise BundleError(f"{path}: the Keras model does not load in safe mode: "
                          f"{type(exc).__name__}: {str(exc)[:300]}") from None


def _load_index(path: Path, vectors: np.ndarray) -> Any:
    import faiss

    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise BundleError(f"{path}: not a FAISS index: {str(exc)[:200]}") from None
    if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
        raise BundleError(f"{path}: {index.ntotal} vectors of dimension {index.d}, the bundle "
                          f"has {len(vectors)} of dimension {vectors.shape[1]}")
    return index


def _index_lookups(bundle: Bundle) -> None:
    arrays = bundle.arrays
    bundle.item_position = {int(m): i for i, m in enumerate(arrays["item_ids"].tolist())}
    bundle.user_position = {int(u): i for i, u in enumerate(arrays["user_ids"].tolist())}
    names = sorted({g for movie in bundle.movies for g in movie["genres"]})
    bundle.genres = names
    for name in names:
        mask = np.fromiter((name in movie["genres"] for movie in bundle.movies), dtype=bool,
                           count=len(bundle.movies))
        bundle.genre_masks[name.lower()] = mask
    popularity = arrays["popularity"]
    bundle.popularity_order = np.lexsort((np.arange(len(popularity)), -popularity))
    counts = np.bincount(arrays["seen_indices"], minlength=len(popularity))
    bundle.cold = counts == 0
    bundle.movie_json = movie_fragments(bundle.movies)
    bundle.version_json = json.dumps(bundle.version)


def verify_fast_path(bundle: Bundle, *, n_users: int = 16, tolerance: float = 1e-4) -> None:
    """The numpy path must equal the Keras model on a sample of users and movies, including
    the anonymous path; and the stored movie vectors must be the model's."""
    arrays = bundle.arrays
    n_items = len(arrays["item_ids"])
    rng = np.random.default_rng(0)
    users = rng.choice(len(arrays["user_ids"]), size=min(n_users, len(arrays["user_ids"])),
                       replace=False)
    batches = [user_inputs(bundle, int(u)) for u in users]
    liked = [int(i) for i in rng.choice(n_items, size=min(5, n_items), replace=False)]
    batches.append(anonymous_inputs(bundle, liked, None, None, None))
    inputs = {name: np.concatenate([b[name] for b in batches]) for name in USER_INPUTS}
    items = np.broadcast_to(rng.choice(n_items, size=min(64, n_items), replace=False),
                            (len(batches), min(64, n_items)))
    expected = keras_scores(bundle.keras_model, inputs, items)
    fast = bundle.scorer.scores(inputs)
    fast[:len(users)] = np.stack([  # known users through their precomputed path
        bundle.scorer.known_user_scores(int(u), int(d), int(w))
        for u, d, w in zip(users, inputs["daytime"], inputs["weekend"], strict=False)])
    got = np.take_along_axis(fast, items, axis=1)
    difference = float(np.max(np.abs(got - expected)))
    if not difference < tolerance:
        raise BundleError(f"{bundle.path}: the fast scoring path differs from the Keras model "
                          f"by {difference:.2e} (tolerance {tolerance:.0e})")
