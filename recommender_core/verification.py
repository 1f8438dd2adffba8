"""The proof that the numpy scorer is the Keras model: a reference sample of users and movies,
scored by Keras at export and stored in the bundle with the user tower's weights, which the
service's numpy path must reproduce before a bundle is served.

The trainer (training.commands.export) writes ``user_tower.npz`` (the weights the numpy path
reads) and ``reference.npz`` (the sample's inputs and the Keras model's scores of it), after
checking the numpy path on them itself; the service (app.loading) rebuilds the sample from the
bundle's arrays, requires it to equal the stored one (a bundle cannot bring an easier sample),
and compares its numpy scores with the stored Keras scores. The API needs no TensorFlow.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender_core.bundle_format import DAYTIME_BUCKETS, FRESH_INPUT
from recommender_core.inputs import UserTable, model_inputs
from recommender_core.scoring import FastScorer
from recommender_core.user_features import UserSlot, user_inputs

#: known users in the reference sample (plus one visitor)
VERIFICATION_USERS = 16
#: largest difference allowed between the numpy path's scores and the Keras model's
TOLERANCE = 1e-4


class VerificationError(ValueError):
    """The numpy path does not reproduce the reference, or the reference is malformed."""


@dataclass(frozen=True)
class Sample:
    """Users and movies on which the numpy path is checked against the Keras model."""

    users: np.ndarray  # known user indices (rows 0..len-1 of ``inputs``)
    inputs: dict[str, np.ndarray]  # user-side model inputs; the last row is a visitor
    items: np.ndarray  # (rows, m) movie indices scored for each row

    def digest(self) -> str:
        """sha256 of every array of the sample, names and shapes included."""
        content = hashlib.sha256()
        for name, array in sorted({**self.inputs, "items": self.items,
                                   "users": self.users}.items()):
            content.update(f"{name}:{array.dtype}:{array.shape};".encode())
            content.update(np.ascontiguousarray(array).tobytes())
        return content.hexdigest()


def verification_sample(arrays: Mapping[str, np.ndarray], history_length: int,
                        slots: Sequence[UserSlot], *,
                        n_users: int = VERIFICATION_USERS) -> Sample:
    """``n_users`` known users and one visitor with five liked movies, each scored on 64
    movies; row i in context i of the daytime × weekend grid (every context once in 8 rows).
    A function of the bundle's arrays alone, so both sides build the same one."""
    n_items = len(arrays["item_ids"])
    rng = np.random.default_rng(0)
    users = rng.choice(len(arrays["user_ids"]), size=min(n_users, len(arrays["user_ids"])),
                       replace=False).astype(np.int64)
    liked = rng.choice(n_items, size=min(5, n_items), replace=False)
    visitor = np.zeros((1, int(history_length)), np.int32)
    shown = min(len(liked), visitor.shape[1])
    visitor[0, visitor.shape[1] - shown:] = liked[len(liked) - shown:] + 1
    rows = len(users) + 1
    grid = np.arange(rows, dtype=np.int32) % (len(DAYTIME_BUCKETS) * 2)
    table = user_table(arrays, slots)
    inputs = model_inputs(
        user=np.append(users + 1, 0), history=np.vstack([table.history[users], visitor]),
        features={key: np.append(codes[users], 0) for key, codes in table.features.items()},
        daytime=grid % len(DAYTIME_BUCKETS), weekend=grid // len(DAYTIME_BUCKETS),
        # the known users' likes are in their item-item rows; the visitor's are all fresh
        fresh=np.vstack([np.zeros((len(users), shown), np.int32),
                         visitor[:, visitor.shape[1] - shown:]]))
    width = min(64, n_items)
    items = np.broadcast_to(rng.choice(n_items, size=width, replace=False), (rows, width))
    return Sample(users=users, inputs=inputs, items=np.ascontiguousarray(items, np.int64))


def user_table(arrays: Mapping[str, np.ndarray], slots: Sequence[UserSlot]) -> UserTable:
    """The known users' input rows of a bundle's arrays."""
    return UserTable(history=arrays["user_history"],
                     features={slot.key: arrays[slot.array] for slot in slots})


def build_scorer(weights: Mapping[str, list[np.ndarray]], arrays: Mapping[str, np.ndarray],
                 slots: Sequence[UserSlot]) -> FastScorer:
    """The numpy scorer of a bundle, with every known user's vector precomputed."""
    scorer = FastScorer(weights, arrays["item_vectors"], arrays["item_bias"], slots)
    n_users = len(arrays["user_ids"])
    zeros = np.zeros(n_users, np.int32)
    scorer.precompute_users(user_table(arrays, slots).inputs(np.arange(n_users), daytime=zeros,
                                                             weekend=zeros))
    return scorer


def numpy_scores(scorer: FastScorer, sample: Sample) -> np.ndarray:
    """The numpy path's scores of ``sample`` (rows × movies): the precomputed path for the
    known users (the one requests take), the full user tower for the visitor."""
    inputs = sample.inputs
    fast = scorer.scores(inputs)
    fast[:len(sample.users)] = np.stack([
        scorer.known_user_scores(int(u), int(d), int(w))
        for u, d, w in zip(sample.users, inputs["daytime"], inputs["weekend"], strict=False)])
    return np.take_along_axis(fast, sample.items, axis=1)


def check_scores(scorer: FastScorer, sample: Sample, expected: np.ndarray) -> float:
    """The largest difference between the numpy path and ``expected`` (the Keras model's
    scores of ``sample``); VerificationError when it is not below TOLERANCE."""
    got = numpy_scores(scorer, sample)
    if got.shape != expected.shape:
        raise VerificationError(f"reference scores of shape {expected.shape}, the sample "
                                f"gives {got.shape}")
    difference = float(np.max(np.abs(got - expected))) if got.size else 0.0
    if not difference < TOLERANCE:
        raise VerificationError(f"the fast scoring path differs from the Keras model by "
                                f"{difference:.2e} (tolerance {TOLERANCE:.0e})")
    return difference


def write_tower(path: Path, weights: Mapping[str, list[np.ndarray]]) -> None:
    """The user tower's weights as ``<layer>:<position>`` arrays of one ``.npz``."""
    np.savez(path, **{f"{layer}:{i}": np.asarray(value, np.float32)  # type: ignore[arg-type]
                      for layer, values in weights.items() for i, value in enumerate(values)})


def read_tower(path: Path) -> dict[str, list[np.ndarray]]:
    """write_tower's weights by layer, in position order (no pickles), memory-mapped
    (map_npz): a million movies' item-item rows are 1.3 GB that the workers of a host share."""
    weights: dict[str, dict[int, np.ndarray]] = {}
    for name, array in map_npz(path).items():
        layer, _, position = name.rpartition(":")
        if not layer or not position.isdigit():
            raise VerificationError(f"unexpected array {name!r}")
        weights.setdefault(layer, {})[int(position)] = array
    return {layer: [values[i] for i in sorted(values)] for layer, values in weights.items()}


def map_npz(path: Path) -> dict[str, np.ndarray]:
    """Each array of the uncompressed ``.npz`` at ``path`` (``np.savez``'s: a zip archive of
    stored ``.npy`` members) by name, memory-mapped read only where numpy's own ``np.load``
    would read it into memory; VerificationError for a compressed member or one that is not a
    plain array."""
    arrays = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                raise VerificationError(f"{name!r} is compressed")
            handle.seek(info.header_offset)
            local = handle.read(30)  # the member's local header: its name and extra follow
            if local[:4] != b"PK\x03\x04":
                raise VerificationError(f"{name!r}: no local zip header")
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_length + extra_length  # the .npy file
            handle.seek(start)
            try:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(handle)
            except ValueError as exc:
                raise VerificationError(f"{name!r}: not an array: {exc}") from None
            if dtype.hasobject:
                raise VerificationError(f"{name!r}: an array of objects")
            offset = handle.tell()
            if offset + int(np.prod(shape)) * dtype.itemsize > start + info.file_size:
                raise VerificationError(f"{name!r}: shorter than its shape {shape}")
            if not all(shape):  # no elements: nothing to map
                arrays[name] = np.zeros(shape, dtype)
                continue
            mapped = np.memmap(path, dtype=dtype, mode="r", offset=offset,
                               shape=shape or (1,), order="F" if fortran else "C")
            arrays[name] = mapped.reshape(shape) if not shape else mapped
    return arrays


def write_reference(path: Path, sample: Sample, scores: np.ndarray) -> None:
    """The sample and the Keras model's scores of it."""
    arrays = {"users": sample.users, "items": sample.items,
              "scores": np.asarray(scores, np.float32), **sample.inputs}
    np.savez(path, **arrays)  # type: ignore[arg-type]


def read_reference(path: Path, slots: Sequence[UserSlot]) -> tuple[Sample, np.ndarray]:
    """write_reference's sample and scores (no pickles)."""
    names = (*user_inputs(slots), FRESH_INPUT)
    with np.load(path, allow_pickle=False) as stored:
        missing = {"users", "items", "scores", *names} - set(stored.files)
        if missing:
            raise VerificationError(f"no {', '.join(sorted(missing))}")
        sample = Sample(users=stored["users"], items=stored["items"],
                        inputs={name: stored[name] for name in names})
        return sample, stored["scores"]
