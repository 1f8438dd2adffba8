"""Load and verify a model bundle. Nothing here trusts the files: checksums, schema, shapes and
the fast path against the Keras model are all checked, and nothing is unpickled."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.render import movie_fragments
from app.scoring import USER_INPUTS, FastScorer, keras_scores

SCHEMA_VERSION = 1
MODEL_FILE = "model.keras"
ARRAYS = ("item_ids", "user_ids", "item_vectors", "item_bias", "content_embeddings",
          "popularity", "seen_indptr", "seen_indices", "user_history", "user_age_group",
          "user_gender", "user_occupation", "similarity_vectors")
NEIGHBOUR_CACHE = 101  # movies cached per /similar query movie (k up to 100)
AGE_GROUP_STARTS = {"Under 18": 1, "18-24": 18, "25-34": 25, "35-44": 35, "45-49": 45,
                    "50-55": 50, "56+": 56}


class BundleError(Exception):
    """The bundle is missing, altered or inconsistent; the message says which file and why."""


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    movies: list[dict[str, Any]]
    scorer: FastScorer
    index: Any  # faiss.IndexFlatIP over the blended similarity vectors
    keras_model: Any
    item_position: dict[int, int] = field(default_factory=dict)
    user_position: dict[int, int] = field(default_factory=dict)
    genre_masks: dict[str, np.ndarray] = field(default_factory=dict)
    popularity_order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cold: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    neighbour_cache: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    movie_json: list[str] = field(default_factory=list)  # app.render.movie_fragments
    version_json: str = '""'

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def history_length(self) -> int:
        return int(self.manifest["history_length"])

    def neighbours(self, index: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS inner-product search for one movie; the answers of up to NEIGHBOUR_CACHE
        neighbours are kept per movie (a bundle never changes, so they never go stale)."""
        cached = self.neighbour_cache.get(index)
        if cached is None or len(cached[0]) < n:
            width = min(self.index.ntotal, max(n, NEIGHBOUR_CACHE))
            query = self.arrays["similarity_vectors"][index:index + 1]
            distances, found = self.index.search(query, width)
            cached = (found[0], distances[0])
            if width <= NEIGHBOUR_CACHE:
                self.neighbour_cache[index] = cached
        return cached[0][:n], cached[1][:n]

    def known_user_scores(self, user: int) -> np.ndarray:
        """Every movie's score for known user index ``user`` in the context of now."""
        if self.scorer.user_base is None:
            return self.scorer.scores(self.user_inputs(user))[0]
        context = context_now()
        return self.scorer.known_user_scores(user, int(context["daytime"][0]),
                                             int(context["weekend"][0]))

    def seen(self, user: int) -> np.ndarray:
        indptr = self.arrays["seen_indptr"]
        return self.arrays["seen_indices"][indptr[user]:indptr[user + 1]]

    def user_inputs(self, user: int) -> dict[str, np.ndarray]:
        """Model inputs of a known user (index), with the context of now."""
        return {
            "user": np.array([user + 1], np.int32),
            "history": self.arrays["user_history"][user:user + 1],
            "age_group": self.arrays["user_age_group"][user:user + 1],
            "gender": self.arrays["user_gender"][user:user + 1],
            "occupation": self.arrays["user_occupation"][user:user + 1],
            **context_now(),
        }

    def anonymous_inputs(self, liked: list[int], age: int | None, gender: str | None,
                         occupation: str | None) -> dict[str, np.ndarray]:
        """Inputs for a visitor: the anonymous user row, their liked movies as history."""
        history = np.zeros((1, self.history_length), np.int32)
        recent = np.asarray(liked[-self.history_length:], dtype=np.int32) + 1
        if len(recent):
            history[0, -len(recent):] = recent
        vocab = self.manifest["user_features"]
        return {
            "user": np.zeros(1, np.int32), "history": history,
            "age_group": np.array([_age_code(age, vocab["age_groups"])], np.int32),
            "gender": np.array([_code(gender, vocab["genders"])], np.int32),
            "occupation": np.array([_code(occupation, vocab["occupations"])], np.int32),
            **context_now(),
        }


def context_now() -> dict[str, np.ndarray]:
    import time

    seconds = int(time.time())
    weekday = ((seconds // 86400) + 3) % 7
    return {"daytime": np.array([(seconds // 3600) % 24 // 6], np.int32),
            "weekend": np.array([int(weekday >= 5)], np.int32)}


def _code(value: str | None, vocabulary: list[str]) -> int:
    if value is None:
        return 0
    lowered = [v.lower() for v in vocabulary]
    return lowered.index(value.lower()) + 1 if value.lower() in lowered else 0


def _age_code(age: int | None, groups: list[str]) -> int:
    if age is None or not groups:
        return 0
    best = 0
    for code, label in enumerate(groups, start=1):
        if AGE_GROUP_STARTS.get(label, 1 << 30) <= age:
            best = code
    return best


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_current(model_dir: Path) -> Path:
    current = model_dir / "current"
    if not current.exists():
        raise BundleError(f"{current}: no bundle (run `python -m training train` first)")
    return Path(os.path.realpath(current))


def load_bundle(path: Path, *, verify_users: int = 16,
                score_table_bytes: int = 512 << 20) -> Bundle:
    """Load the bundle at ``path`` (a version folder), or raise BundleError saying why."""
    manifest_path = path / "manifest.json"
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
    required = {f"{name}.npy" for name in ARRAYS} | {MODEL_FILE, "similar.faiss", "movies.json"}
    for name in sorted(required | set(files)):
        file = path / name
        if name not in files:
            raise BundleError(f"{file}: not listed in the manifest")
        if not file.is_file():
            raise BundleError(f"{file}: missing")
        if _sha256(file) != files[name]:
            raise BundleError(f"{file}: checksum mismatch (the file was altered or truncated)")

    arrays: dict[str, np.ndarray] = {}
    for name in ARRAYS:
        try:
            arrays[name] = np.load(path / f"{name}.npy", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise BundleError(f"{path / name}.npy: not a plain array: {exc}") from None
    _check_shapes(path, arrays)
    movies = json.loads((path / "movies.json").read_text())
    if len(movies) != len(arrays["item_ids"]):
        raise BundleError(f"{path / 'movies.json'}: {len(movies)} movies, "
                          f"{len(arrays['item_ids'])} item ids")

    keras_model = _load_keras(path / MODEL_FILE)
    recent = manifest.get("recent_length", 0)
    if type(recent) is not int or not 0 <= recent <= arrays["user_history"].shape[1]:
        raise BundleError(f"{manifest_path}: recent_length {recent!r} is not a count of "
                          f"history movies (0..{arrays['user_history'].shape[1]})")
    try:
        scorer = FastScorer(keras_model, arrays["item_vectors"], arrays["item_bias"],
                            recent=recent)
    except ValueError as exc:
        raise BundleError(f"{manifest_path}: {exc}") from None
    index = _load_index(path / "similar.faiss", arrays["similarity_vectors"])
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
    for name in ("item_vectors", "item_bias", "similarity_vectors"):
        if arrays[name].dtype != np.float32:
            raise BundleError(f"{path / name}.npy: dtype {arrays[name].dtype}, expected float32")
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"]
    if indptr[-1] != len(indices) or (len(indices) and (indices.min() < 0
                                                        or indices.max() >= n_items)):
        raise BundleError(f"{path / 'seen_indices.npy'}: inconsistent with seen_indptr")
    history = arrays["user_history"]
    if history.size and (history.min() < 0 or history.max() > n_items):
        raise BundleError(f"{path / 'user_history.npy'}: movie index out of range")


def _load_keras(path: Path) -> Any:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

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
    batches = [bundle.user_inputs(int(u)) for u in users]
    liked = [int(i) for i in rng.choice(n_items, size=min(5, n_items), replace=False)]
    batches.append(bundle.anonymous_inputs(liked, None, None, None))
    inputs = {name: np.concatenate([b[name] for b in batches]) for name in USER_INPUTS}
    items = np.broadcast_to(rng.choice(n_items, size=min(64, n_items), replace=False),
                            (len(batches), min(64, n_items)))
    expected = keras_scores(bundle.keras_model, inputs, items)
    fast = bundle.scorer.scores(inputs)
    if bundle.scorer.user_base is not None:  # the precomputed path of known users, too
        fast[:len(users)] = np.stack([
            bundle.scorer.known_user_scores(int(u), int(d), int(w))
            for u, d, w in zip(users, inputs["daytime"], inputs["weekend"], strict=False)])
    got = np.take_along_axis(fast, items, axis=1)
    difference = float(np.max(np.abs(got - expected)))
    if not difference < tolerance:
        raise BundleError(f"{bundle.path}: the fast scoring path differs from the Keras model "
                          f"by {difference:.2e} (tolerance {tolerance:.0e})")
