"""Every way a bundle can be broken is refused, at startup (/ready 503 says why) and at reload
(409, the old bundle keeps serving). Corruptions that a checksum would catch are also tried
with the manifest re-signed, so that each later check is exercised on its own."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.bundles import point_current, resign, set_version, trained_models_dir
from tests.test_app import client_for

TOKEN = "corrupt-bundle-token"


def missing_file(bundle: Path) -> None:
    (bundle / "item_bias.npy").unlink()


def checksum_mismatch(bundle: Path) -> None:
    data = bytearray((bundle / "item_vectors.npy").read_bytes())
    data[-1] ^= 0xFF
    (bundle / "item_vectors.npy").write_bytes(bytes(data))


def wrong_schema(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["schema_version"] = 999
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def manifest_not_json(bundle: Path) -> None:
    (bundle / "manifest.json").write_text("{ this is not json")


def truncated_npy(bundle: Path) -> None:
    path = bundle / "item_vectors.npy"
    path.write_bytes(path.read_bytes()[:-64])
    resign(bundle)


def wrong_shape(bundle: Path) -> None:
    vectors = np.load(bundle / "item_vectors.npy")
    np.save(bundle / "item_vectors.npy", vectors[:-1])
    resign(bundle)


def faiss_size_mismatch(bundle: Path) -> None:
    import faiss

    vectors = np.load(bundle / "similarity_vectors.npy")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors[:-3])
    faiss.write_index(index, str(bundle / "similar.faiss"))
    resign(bundle)


def faiss_not_an_index(bundle: Path) -> None:
    (bundle / "similar.faiss").write_bytes(b"IxFI" + os.urandom(200))
    resign(bundle)


def _rewrite_npz(bundle: Path, name: str,
                 change: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> None:
    """Replace the arrays of ``bundle/name`` by ``change`` of them, and re-sign."""
    with np.load(bundle / name) as stored:
        arrays = {key: stored[key] for key in stored.files}
    np.savez(bundle / name, **change(arrays))
    resign(bundle)


def tower_altered(bundle: Path) -> None:
    _rewrite_npz(bundle, "user_tower.npz", lambda weights: {
        **weights, "user_out:1": weights["user_out:1"] + np.float32(0.25)})


def tower_layer_missing(bundle: Path) -> None:
    _rewrite_npz(bundle, "user_tower.npz", lambda weights: {
        key: value for key, value in weights.items() if not key.startswith("user_age")})


def tower_of_another_dtype(bundle: Path) -> None:
    _rewrite_npz(bundle, "user_tower.npz", lambda weights: {
        key: value.astype(np.float64) for key, value in weights.items()})


def reference_of_fewer_users(bundle: Path) -> None:
    """A consistent reference (the sample of 3 users, scored truly) is still refused: the
    number of users checked is not the bundle's to choose."""
    from recommender_core.user_features import slots_of
    from recommender_core.verification import (
        build_scorer,
        numpy_scores,
        read_tower,
        verification_sample,
        write_reference,
    )

    manifest = json.loads((bundle / "manifest.json").read_text())
    slots = slots_of(manifest["user_features"])
    arrays = {name: np.load(bundle / f"{name}.npy") for name in (
        "item_ids", "user_ids", "item_vectors", "item_bias", "user_history",
        *(slot.array for slot in slots))}
    sample = verification_sample(arrays, manifest["history_length"], slots, n_users=3)
    scores = numpy_scores(build_scorer(read_tower(bundle / "user_tower.npz"), arrays, slots),
                          sample)
    write_reference(bundle / "reference.npz", sample, scores)
    resign(bundle)


def tower_pickle(bundle: Path) -> None:
    np.savez(bundle / "user_tower.npz", **{"user_id:0": np.array([{"evil": 1}], dtype=object)})
    resign(bundle)


def reference_scores_altered(bundle: Path) -> None:
    _rewrite_npz(bundle, "reference.npz", lambda reference: {
        **reference, "scores": reference["scores"] - np.float32(0.01)})


def reference_sample_easier(bundle: Path) -> None:
    """Scores that match, on a sample of the bundle's choosing (one user, no visitor)."""
    _rewrite_npz(bundle, "reference.npz", lambda reference: {
        key: value[:1] for key, value in reference.items()})


def pickle_instead_of_array(bundle: Path) -> None:
    np.save(bundle / "popularity.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    resign(bundle)


def unlisted_file(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["files"]["seen_indices.npy"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def fast_path_disagrees(bundle: Path) -> None:
    bias = np.load(bundle / "item_bias.npy")
    np.save(bundle / "item_bias.npy", (bias + 0.5).astype(np.float32))
    resign(bundle)


def wrong_dtype(bundle: Path) -> None:
    popularity = np.load(bundle / "popularity.npy")
    np.save(bundle / "popularity.npy", popularity.astype(np.float64))
    resign(bundle)


def vectors_wider_than_the_model(bundle: Path) -> None:
    vectors = np.load(bundle / "item_vectors.npy")
    wider = np.hstack([vectors, np.zeros((len(vectors), 1), np.float32)])
    np.save(bundle / "item_vectors.npy", wider)
    resign(bundle)


def user_feature_beyond_its_vocabulary(bundle: Path) -> None:
    codes = np.load(bundle / "user_gender.npy")
    codes[0] = 3  # the planted release has two genders
    np.save(bundle / "user_gender.npy", codes)
    resign(bundle)


def user_feature_array_missing(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    slot = dict(manifest["user_features"]["slots"][0], key="feature_9")
    manifest["user_features"]["slots"].append(slot)  # a slot without its array
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def user_features_unreadable(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["user_features"] = {"slots": [{"key": "gender"}]}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "user feature beyond its vocabulary": (user_feature_beyond_its_vocabulary,
                                           "user_gender.npy: codes outside 0..2"),
    "user feature array missing": (user_feature_array_missing,
                                   "user_feature_9.npy: not listed in the manifest"),
    "user features unreadable": (user_features_unreadable, "unreadable user_features"),
    "missing file": (missing_file, "item_bias.npy: missing"),
    "checksum mismatch": (checksum_mismatch, "item_vectors.npy: checksum mismatch"),
    "wrong schema version": (wrong_schema, "schema version 999"),
    "manifest not json": (manifest_not_json, "unreadable manifest"),
    "truncated npy": (truncated_npy, "item_vectors.npy: not a plain array"),
    "wrong shape": (wrong_shape, "item_vectors.npy: shape"),
    "faiss size mismatch": (faiss_size_mismatch, "vectors of dimension"),
    "faiss garbage": (faiss_not_an_index, "similar.faiss: not a FAISS index"),
    "user tower altered": (tower_altered, "fast scoring path differs from the Keras model"),
    "user tower without a layer": (tower_layer_missing, "user_tower.npz: not the user tower"),
    "user tower with a pickle": (tower_pickle, "user_tower.npz: not the user tower"),
    "user tower of float64": (tower_of_another_dtype, "user_tower.npz: not the user tower"),
    "reference of fewer users": (reference_of_fewer_users, "reference sample is not the one"),
    "reference scores altered": (reference_scores_altered, "fast scoring path differs"),
    "reference sample of the bundle's choosing": (reference_sample_easier,
                                                 "reference sample is not the one"),
    "pickle where an array should be": (pickle_instead_of_array, "popularity.npy: not a plain"),
    "file not in manifest": (unlisted_file, "seen_indices.npy: not listed in the manifest"),
    "fast path disagrees with keras": (fast_path_disagrees, "fast scoring path differs"),
    "wrong dtype": (wrong_dtype, "popularity.npy: dtype float64, expected float32"),
    "movie vectors wider than the model": (vectors_wider_than_the_model,
                                           "movie vectors of width"),
}


def _models_with(tmp_path: Path, corrupt: Callable[[Path], None]) -> tuple[Path, Path]:
    """A models dir whose ``current`` is the good bundle, plus a corrupted copy beside it."""
    source = Path(os.path.realpath(trained_models_dir() / "current"))
    models = tmp_path / "models"
    models.mkdir()
    good, bad = models / "good", models / "bad"
    shutil.copytree(source, good)
    shutil.copytree(source, bad)
    set_version(bad, "bad")
    resign(bad)
    corrupt(bad)
    return models, bad


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_refused_at_startup(kind: str, tmp_path: Path) -> None:
    corrupt, reason = CORRUPTIONS[kind]
    models, _ = _models_with(tmp_path, corrupt)
    point_current(models, "bad")
    with client_for(models) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert reason in ready.json()["reason"], ready.json()
        assert client.get("/recommend/5").status_code == 503
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_refused_at_reload_old_one_keeps_serving(kind: str, tmp_path: Path) -> None:
    corrupt, reason = CORRUPTIONS[kind]
    models, _ = _models_with(tmp_path, corrupt)
    point_current(models, "good")
    with client_for(models, admin_token=TOKEN) as client:
        before = client.get("/recommend/5").json()
        point_current(models, "bad")
        refused = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 409
        assert reason in refused.json()["detail"], refused.json()
        assert client.get("/ready").status_code == 200
        assert client.get("/recommend/5").json() == before
