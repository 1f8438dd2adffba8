"""Write a model bundle's files (docs/bundle-format.md); training.commands.bundles publishes
the folder atomically and points ``current`` at it.

The bundle is the only interface with the service. Everything is JSON, ``.npy`` (loaded with
``allow_pickle=False``), a ``.keras`` file (loaded in safe mode) and a FAISS index; the manifest
records the sha256 of every file so that the service can refuse a bundle that was altered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender_core import __version__
from recommender_core import bundle_format as fmt
from recommender_core.scoring import keras_scores, tower_weights
from recommender_core.user_features import UserSlot
from recommender_core.verification import (
    VerificationError,
    build_scorer,
    check_scores,
    verification_sample,
    write_reference,
    write_tower,
)
from training.data.interactions import Interactions
from training.errors import TrainingError
from training.models.hybrid import Hybrid
from training.models.similarity import SimilarityChoice, similarity_vectors

log = logging.getLogger(__name__)


def movie_records(data: Interactions) -> list[dict[str, Any]]:
    """movies.json: each movie's id as clients give it (the catalogue's string id, or the
    integer), title, genres (every category token) and year."""
    movies = data.dataset.movies
    years = movies["year"].astype("float64").to_numpy()
    keys = data.dataset.keys
    ids: list[Any] = ([str(k) for k in keys.items[movies["movie_id"].to_numpy() - 1]]
                      if keys is not None else [int(m) for m in movies["movie_id"]])
    return [
        {"movie_id": m, "title": str(t), "genres": list(g),
         "year": None if np.isnan(y) else int(y)}
        for m, t, g, y in zip(ids, movies["title"], movies["genres"], years, strict=True)
    ]


def catalogue_record(data: Interactions) -> dict[str, Any]:
    """The manifest's ``catalogue``: what its ids, feedback and time are like."""
    dataset = data.dataset
    return {"ids": "integer" if dataset.keys is None else "string",
            "item_label": "movie" if dataset.layout != "generic" else "item",
            "feedback": dataset.feedback, "timed": dataset.timed,
            "rating_scale": list(dataset.rating_scale)}


def write_ids(folder: Path, data: Interactions) -> None:
    """ids.json (bundle_format.IDS_FILE) of a catalogue with string ids."""
    keys = data.dataset.keys
    if keys is None:
        return
    record = {"users": [str(k) for k in keys.users[data.user_ids - 1]],
              "items": [str(k) for k in keys.items[data.item_ids - 1]]}
    (folder / fmt.IDS_FILE).write_text(json.dumps(record, ensure_ascii=False))


def write_bundle_files(folder: Path, version: str, model: Hybrid, data: Interactions, *,
                       similarity: SimilarityChoice, seed: int = 0,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every file of the bundle into ``folder`` (which exists and is empty); returns the
    manifest, which is written last. ``similarity``: how the similarity vectors are made
    (training.models.similarity.choose_similarity)."""
    arrays = {
        "item_ids": data.item_ids.astype(np.int32),
        "user_ids": data.user_ids.astype(np.int32),
        "item_vectors": model.towers.item_vectors.astype(np.float32),
        "item_bias": model.towers.item_bias.astype(np.float32),
        "content_embeddings": model.content.codes.astype(np.float32),
        "popularity": data.item_popularity().astype(np.float32),
        "seen_indptr": data.ratings.indptr.astype(np.int64),
        "seen_indices": data.ratings.indices.astype(np.int32),
        "user_history": model.towers.users.history.astype(np.int32),
    }
    slots = data.user_features.slots
    for slot in slots:
        arrays[slot.array] = data.user_features.codes[slot.key]
    blended = similarity_vectors(data, arrays["content_embeddings"], similarity, seed)
    arrays["similarity_vectors"] = blended
    for name, dtype in fmt.array_dtypes(slots).items():
        arrays[name] = arrays[name].astype(dtype)
        np.save(folder / f"{name}.npy", arrays[name], allow_pickle=False)
    index = faiss.IndexFlatIP(blended.shape[1])
    index.add(blended)
    faiss.write_index(index, str(folder / fmt.INDEX_FILE))
    if len(blended) >= fmt.GRAPH_MIN_MOVIES:  # read at load rather than built by the service
        write_graphs(folder, arrays["item_vectors"], arrays["item_bias"], blended)
    model.towers.model.save(folder / fmt.MODEL_FILE)
    write_verified_scorer(folder, model.towers.model, arrays, model.config.history, slots)
    (folder / fmt.MOVIES_FILE).write_text(json.dumps(movie_records(data), ensure_ascii=False))
    write_ids(folder, data)

    dataset = data.dataset
    manifest = {
        "schema_version": fmt.SCHEMA_VERSION,
        "trainer_version": __version__,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": _jsonable(model.record()),
        "dataset": {"name": dataset.name, "layout": dataset.layout,
                    "fingerprint": dataset.fingerprint(), "ratings": len(data.train),
                    "users": data.n_users, "movies": data.n_items,
                    "like_threshold": data.like_threshold},
        "catalogue": catalogue_record(data),
        "metrics": {"validation": _jsonable(model.report.get("validation_metrics", {}))},
        "similarity": {"method": "svd item-kNN cosine + content cosine",
                       "blend_content_weight": similarity.content_weight,
                       "svd_dim": similarity.svd_dim, "dim": int(blended.shape[1]),
                       "validation_ndcg@10": similarity.validation},
        "user_features": {"slots": [slot.record() for slot in slots]},
        "history_length": model.config.history,
        **(extra or {}),
        "files": {path.name: fmt.sha256_file(path) for path in sorted(folder.iterdir())},
    }
    (folder / fmt.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest


def write_verified_scorer(folder: Path, keras_model: Any, arrays: dict[str, np.ndarray],
                          history_length: int, slots: Sequence[UserSlot]) -> float:
    """The user tower's weights (bundle_format.TOWER_FILE) and the reference sample with the
    Keras model's scores of it (REFERENCE_FILE), once the numpy scorer built from those weights
    reproduces the scores: a model the service would score differently is never published.
    Returns the largest difference."""
    weights = tower_weights(keras_model, slots)
    sample = verification_sample(arrays, history_length, slots)
    expected = keras_scores(keras_model, sample.inputs, sample.items)
    try:
        difference = check_scores(build_scorer(weights, arrays, slots), sample, expected)
    except VerificationError as exc:
        raise TrainingError(f"export: {exc}") from None
    write_tower(folder / fmt.TOWER_FILE, weights)
    write_reference(folder / fmt.REFERENCE_FILE, sample, expected)
    log.info("numpy scorer checked against the Keras model: max difference %.1e", difference)
    return difference


def write_graphs(folder: Path, item_vectors: np.ndarray, item_bias: np.ndarray,
                 similarity: np.ndarray) -> None:
    """The bundle's approximate indexes (bundle_format.RECOMMEND_INDEX_FILE, an IVF index, and
    SIMILAR_GRAPH_FILE, an HNSW graph) and GET /similar's neighbour table (SIMILAR_NEIGHBOURS_FILE,
    SIMILAR_COSINES_FILE) searched in that graph."""
    log.info("building the approximate indexes of %d movies", len(item_vectors))
    faiss.write_index(fmt.inner_product_ivf(fmt.recommend_rows(item_vectors, item_bias)),
                      str(folder / fmt.RECOMMEND_INDEX_FILE))
    graph = fmt.inner_product_graph(similarity)
    faiss.write_index(graph, str(folder / fmt.SIMILAR_GRAPH_FILE))
    write_similar_table(folder, similarity, graph)


def write_similar_table(folder: Path, similarity: np.ndarray, graph: Any) -> None:
    """GET /similar's neighbour table (SIMILAR_NEIGHBOURS_FILE, SIMILAR_COSINES_FILE) of
    ``similarity``, searched in its HNSW ``graph``."""
    neighbours, cosines = fmt.similar_table(similarity, graph)
    np.save(folder / fmt.SIMILAR_NEIGHBOURS_FILE, neighbours, allow_pickle=False)
    np.save(folder / fmt.SIMILAR_COSINES_FILE, cosines, allow_pickle=False)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist")
                                 else str(v)))
