"""Load and verify a model bundle (docs/bundle-format.md). Nothing here trusts the files:
checksums, schema, dtypes, shapes and the fast path against the Keras model are all checked,
and nothing is unpickled. A bundle that fails any check raises BundleError and is not served."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess  # nosec B404 (runs app.verify_model with this interpreter)
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.bundle import Bundle
from app.errors import BundleError
from app.render import movie_fragments
from app.retrieval import Shortlister, approximate_index
from app.scoring import FastScorer
from bundle_format import (
    ARRAYS,
    CURRENT_LINK,
    DAYTIME_BUCKETS,
    FRESH_INPUT,
    INDEX_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    MOVIES_FILE,
    RECOMMEND_INDEX_FILE,
    SCHEMA_VERSION,
    SIMILAR_GRAPH_FILE,
    sha256_file,
)

CALIBRATION_USERS = 50  # known users whose exact top 10 sets the shortlist's search effort
VERIFY_TIMEOUT_S = 300  # loading TensorFlow and the model takes ~10 s on the 2-core machine


def resolve_current(model_dir: Path) -> Path:
    current = model_dir / CURRENT_LINK
    if not current.exists():
        raise BundleError(f"{current}: no bundle (run `python -m training train` first)")
    return Path(os.path.realpath(current))


def load_bundle(path: Path, *, verify_users: int = 16,
                score_table_bytes: int = 512 << 20,
                retrieval_min_movies: int = 50_000) -> Bundle:
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
            # Memory-mapped, read only: the workers of one host share the pages of a bundle's
            # arrays instead of each holding a copy (a bundle folder is never rewritten).
            arrays[name] = np.load(path / f"{name}.npy", allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise BundleError(f"{path / name}.npy: not a plain array: {exc}") from None
    _check_shapes(path, arrays)
    movies = json.loads((path / MOVIES_FILE).read_text())
    if len(movies) != len(arrays["item_ids"]):
        raise BundleError(f"{path / MOVIES_FILE}: {len(movies)} movies, "
                          f"{len(arrays['item_ids'])} item ids")

    sample = verification_sample(arrays, manifest, n_users=verify_users)
    weights, expected = verified_answer(path / MODEL_FILE, files[MODEL_FILE], sample)
    try:
        scorer = FastScorer(weights, arrays["item_vectors"], arrays["item_bias"])
    except ValueError as exc:
        raise BundleError(f"{path / MODEL_FILE}: {exc}") from None
    index = _load_index(path / INDEX_FILE, arrays["similarity_vectors"])
    bundle = Bundle(path=path, manifest=manifest, arrays=arrays, movies=movies, scorer=scorer,
                    index=index)
    _index_lookups(bundle)
    n_users = len(arrays["user_ids"])
    scorer.precompute_users({
        "user": np.arange(1, n_users + 1, dtype=np.int32), "history": arrays["user_history"],
        "age_group": arrays["user_age_group"], "gender": arrays["user_gender"],
        "occupation": arrays["user_occupation"],
        "daytime": np.zeros(n_users, np.int32), "weekend": np.zeros(n_users, np.int32),
        FRESH_INPUT: np.zeros((n_users, 1), np.int32),
    })
    scorer.precompute_scores(score_table_bytes)
    verify_fast_path(bundle, sample, expected)
    if len(arrays["item_ids"]) >= retrieval_min_movies:
        recommend_index = _load_stored_index(path / RECOMMEND_INDEX_FILE, "IndexIVFFlat",
                                      n_items=len(arrays["item_ids"]),
                                      dim=scorer.item_vectors.shape[1] + 1)
        similar_graph = _load_stored_index(path / SIMILAR_GRAPH_FILE, "IndexHNSWFlat",
                                    n_items=len(arrays["item_ids"]),
                                    dim=arrays["similarity_vectors"].shape[1])
        bundle.stored_graphs = sum(index is not None for index in (recommend_index,
                                                                   similar_graph))
        bundle.shortlister = Shortlister(scorer.item_vectors, scorer.item_bias,
                                         index=recommend_index)
        rng = np.random.default_rng(1)
        users = rng.choice(n_users, size=min(CALIBRATION_USERS, n_users), replace=False)
        vectors = np.stack([scorer.known_user_vector(int(u), 0, 0) for u in users])
        bundle.shortlist_recall = bundle.shortlister.calibrate(
            scorer.item_vectors, scorer.item_bias, vectors)
        bundle.index = approximate_index(arrays["similarity_vectors"], similar_graph)
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


KerasAnswer = tuple[dict[str, list[np.ndarray]], np.ndarray]
#: the last Keras answer: (model checksum, sample digest) -> (tower weights, scores)
_last_answer: dict[tuple[str, str], KerasAnswer] = {}
ANSWERS_KEPT = 4  # Keras answers kept on disk, newest first (each holds the user tables)


def verified_answer(path: Path, checksum: str, sample: Sample) -> KerasAnswer:
    """run_keras_model's answer for the model file at ``path`` (whose sha256, ``checksum``,
    the caller has just checked) on ``sample``.

    The answer is a function of the file's bytes and the sample alone (the sample is too:
    verification_sample), so it is kept: in this process the last one (a reload of an
    unchanged model, a bundle whose arrays changed but not its model, skips TensorFlow), and
    on this host in a folder private to the user (answer_folder), where the other workers of
    a ``WORKERS=n`` service find it: one TensorFlow check per bundle and host, under a lock,
    instead of one per worker at once. Its arrays are read-only, as the scorer only reads
    them."""
    key = (checksum, sample.digest())
    answer = _last_answer.get(key)
    if answer is None:
        answer = _shared_answer(path, key, sample)
        for array in (*(a for values in answer[0].values() for a in values), answer[1]):
            array.setflags(write=False)
        _last_answer.clear()  # one entry: the previous bundle's tables are not held
        _last_answer[key] = answer
    return answer


def answer_folder() -> Path | None:
    """``<tmp>/recommender-verify-<uid>``, created with mode 0700; None (no sharing) when it
    cannot be made or another user could write to it."""
    folder = Path(tempfile.gettempdir()) / f"recommender-verify-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder


def _shared_answer(path: Path, key: tuple[str, str], sample: Sample) -> KerasAnswer:
    folder = answer_folder()
    if folder is None:
        return run_keras_model(path, sample)
    file = folder / (hashlib.sha256("/".join(key).encode()).hexdigest()[:40] + ".npz")
    with open(folder / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if file.exists():
            try:
                return _read_answer(file)
            except (OSError, ValueError, KeyError):
                file.unlink(missing_ok=True)  # a damaged copy: check again
        answer = run_keras_model(path, sample, keep=file)
        for old in sorted(folder.glob("*.npz"), key=lambda f: f.stat().st_mtime,
                          reverse=True)[ANSWERS_KEPT:]:
            old.unlink(missing_ok=True)
        return answer


def run_keras_model(path: Path, sample: Sample, *, keep: Path | None = None) -> KerasAnswer:
    """The user tower's weights and the Keras model's scores of ``sample``, from a short-lived
    process (app.verify_model) so that this one never holds TensorFlow; its answer file is
    moved to ``keep`` when given."""
    with tempfile.TemporaryDirectory(prefix="verify-") as folder:
        request, out = Path(folder) / "request.npz", Path(folder) / "out.npz"
        np.savez(request, items=sample.items, **sample.inputs)  # type: ignore[arg-type]
        try:
            done = subprocess.run(  # noqa: S603  # nosec B603 (our module; paths only)
                [sys.executable, "-m", "app.verify_model", str(path), str(request), str(out)],
                capture_output=True, text=True, timeout=VERIFY_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise BundleError(f"{path}: the Keras model took over {VERIFY_TIMEOUT_S} s to "
                              "load and score the check sample") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {done.returncode}"
            raise BundleError(f"{path}: {reason}")
        answer = _read_answer(out)
        if keep is not None:
            shutil.move(out, keep.with_suffix(".part"))
            os.replace(keep.with_suffix(".part"), keep)
    return answer


def _read_answer(file: Path) -> KerasAnswer:
    with np.load(file, allow_pickle=False) as result:
        expected = result["scores"]
        weights: dict[str, list[np.ndarray]] = {}
        for name in sorted(result.files, key=_layer_order):
            if name != "scores":
                layer, _, _ = name.rpartition(":")
                weights.setdefault(layer, []).append(result[name])
    return weights, expected


def _layer_order(key: str) -> tuple[str, int]:
    layer, _, position = key.rpartition(":")
    return layer, int(position) if position.isdigit() else -1


def _read_index(path: Path) -> Any:
    """The FAISS index in ``path``, or a BundleError naming it. (Read into memory: mapping
    the indexes' vectors as the arrays are, IO_FLAG_MMAP / IO_FLAG_MMAP_IFC, took a million
    movies' /similar from 3,208 to 9 requests/s and /recommend from 762 to 218 on two
    workers: BENCHMARKS.md.)"""
    import faiss

    try:
        return faiss.read_index(str(path))
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
    import faiss

    if not path.exists():
        return None
    index = _read_index(path)
    if (type(index).__name__ != kind or index.ntotal != n_items or index.d != dim
            or index.metric_type != faiss.METRIC_INNER_PRODUCT):
        raise BundleError(f"{path}: expected an inner-product {kind} of {n_items} vectors of "
                          f"dimension {dim}, found {type(index).__name__} of {index.ntotal} "
                          f"of dimension {index.d}")
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


@dataclass(frozen=True)
class Sample:
    """Users and movies on which the numpy path is checked against the Keras model."""

    users: np.ndarray  # known user indices (rows 0..len-1 of ``inputs``)
    inputs: dict[str, np.ndarray]  # user-side model inputs; the last row is a visitor
    items: np.ndarray  # (rows, m) movie indices scored for each row

    def digest(self) -> str:
        """sha256 of every array of the sample, names and shapes included."""
        content = hashlib.sha256()
        for name, array in sorted({**self.inputs, "items": self.items}.items()):
            content.update(f"{name}:{array.dtype}:{array.shape};".encode())
            content.update(np.ascontiguousarray(array).tobytes())
        return content.hexdigest()


def verification_sample(arrays: dict[str, np.ndarray], manifest: dict[str, Any], *,
                        n_users: int = 16) -> Sample:
    """``n_users`` known users and one visitor with five liked movies, each scored on 64
    movies; row i in context i of the daytime × weekend grid (every context once in 8 rows).
    A function of the bundle alone, so that the Keras answer can be kept (verified_answer)."""
    n_items = len(arrays["item_ids"])
    rng = np.random.default_rng(0)
    users = rng.choice(len(arrays["user_ids"]), size=min(n_users, len(arrays["user_ids"])),
                       replace=False)
    liked = rng.choice(n_items, size=min(5, n_items), replace=False)
    visitor = np.zeros((1, int(manifest["history_length"])), np.int32)
    shown = min(len(liked), visitor.shape[1])
    visitor[0, visitor.shape[1] - shown:] = liked[len(liked) - shown:] + 1
    rows = len(users) + 1
    grid = np.arange(rows, dtype=np.int32) % (len(DAYTIME_BUCKETS) * 2)
    inputs = {
        "user": np.append(users + 1, 0).astype(np.int32),
        "history": np.vstack([arrays["user_history"][users], visitor]).astype(np.int32),
        "age_group": np.append(arrays["user_age_group"][users], 0).astype(np.int32),
        "gender": np.append(arrays["user_gender"][users], 0).astype(np.int32),
        "occupation": np.append(arrays["user_occupation"][users], 0).astype(np.int32),
        "daytime": grid % len(DAYTIME_BUCKETS),
        "weekend": grid // len(DAYTIME_BUCKETS),
        # the known users' likes are in their item-item rows; the visitor's are all fresh
        FRESH_INPUT: np.vstack([np.zeros((len(users), shown), np.int32),
                                visitor[:, visitor.shape[1] - shown:]]),
    }
    width = min(64, n_items)
    items = np.broadcast_to(rng.choice(n_items, size=width, replace=False), (rows, width))
    return Sample(users=users, inputs=inputs, items=np.ascontiguousarray(items))


def verify_fast_path(bundle: Bundle, sample: Sample, expected: np.ndarray, *,
                     tolerance: float = 1e-4) -> None:
    """The numpy path (the precomputed one for known users) must equal the Keras model's
    scores ``expected`` of ``sample``, the visitor's path included."""
    inputs = sample.inputs
    fast = bundle.scorer.scores(inputs)
    fast[:len(sample.users)] = np.stack([
        bundle.scorer.known_user_scores(int(u), int(d), int(w))
        for u, d, w in zip(sample.users, inputs["daytime"], inputs["weekend"], strict=False)])
    got = np.take_along_axis(fast, sample.items, axis=1)
    difference = float(np.max(np.abs(got - expected)))
    if not difference < tolerance:
        raise BundleError(f"{bundle.path}: the fast scoring path differs from the Keras model "
                          f"by {difference:.2e} (tolerance {tolerance:.0e})")
