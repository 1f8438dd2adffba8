"""Grow a trained bundle into one with a million movies, for serving benchmarks at that size.

    python -m benchmarks.expand_bundle --bundle .bench/models-25m/current \\
        --movies 1000000 --out .bench/models-1m

No release with a million movies exists, and training on one is not possible here (the
validation passes alone score every user against every movie), so the catalogue is grown
from a trained bundle: the bundle's movies keep their rows, and each new movie is a copy of a
random real one whose trained parts (id embedding, id bias, item-item output row) get noise
of half their table's spread, as benchmarks/bench_retrieval.py draws its vectors. The movie
tower is linear (``vector = id + W·features + b``), so the new movies' vectors and biases are
computed here exactly as the Keras model computes them, and the written bundle is a real one:
its Keras model holds every new movie, and the service loads and verifies it against that
model as it does any bundle. Users, their ratings and histories are the source bundle's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from recommender_core import bundle_format as fmt
from recommender_core.user_features import UserSlot, slots_of

#: the movie tower's tables (rows: movie index + 1, row 0 pads), and the noise each new row
#: gets, as a share of the table's per-column spread (0: copied as it is)
ITEM_TABLES = {"item_features": 0.0, "item_id": 0.5, "item_id_bias": 0.5, "item_prior": 0.0,
               fmt.Layers.ITEM_ITEM_IN: 0.0, "item_item_out": 0.5}


def grow_tables(model: Any, picks: np.ndarray, rng: np.random.Generator
                ) -> dict[str, np.ndarray]:
    """Each movie table of ``model`` with rows for the new movies (copies of ``picks``)."""
    tables = {}
    for name, noise in ITEM_TABLES.items():
        table = np.asarray(model.get_layer(name).get_weights()[0], np.float32)
        new = table[picks + 1]
        if noise:
            spread = table[1:].std(axis=0, keepdims=True)
            new = new + noise * spread * rng.standard_normal(new.shape, dtype=np.float32)
        tables[name] = np.vstack([table, new]).astype(np.float32)
    return tables


def movie_side(model: Any, tables: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every movie's vector and bias, as the inference model computes them."""
    kernel, bias = (np.asarray(w, np.float32)
                    for w in model.get_layer("item_content").get_weights())
    bias_kernel, bias_bias = (np.asarray(w, np.float32)
                              for w in model.get_layer("item_content_bias").get_weights())
    features = tables["item_features"][1:]
    vectors = np.hstack([tables["item_id"][1:] + features @ kernel + bias,
                         tables["item_item_out"][1:]])
    scores_bias = (tables["item_id_bias"][1:, 0] + tables["item_prior"][1:, 0]
                   + (features @ bias_kernel)[:, 0] + bias_bias[0])
    return vectors.astype(np.float32), scores_bias.astype(np.float32)


def grown_model(model: Any, tables: dict[str, np.ndarray], history: int,
                slots: tuple[UserSlot, ...]) -> Any:
    """The inference model rebuilt with ``tables`` (the rest of its weights copied)."""
    from training.models.hybrid.towers import HybridNetwork, TowerSizes

    def rows(name: str) -> int:
        return int(model.get_layer(name).get_weights()[0].shape[0]) - 1

    sizes = TowerSizes(
        n_users=rows(fmt.Layers.USER_ID), n_items=len(tables["item_id"]) - 1,
        n_item_features=tables["item_features"].shape[1],
        user_slots=slots, history=history,
        dim=tables["item_id"].shape[1], frozen=tables["item_item_out"].shape[1])
    network = HybridNetwork(sizes, l2=0.0)
    grown = network.inference_model()
    for layer in grown.layers:
        if not layer.weights:
            continue
        layer.set_weights([tables[layer.name]] if layer.name in tables
                          else model.get_layer(layer.name).get_weights())
    return grown


def expand(source: Path, out: Path, n_movies: int, seed: int = 0) -> Path:
    """Write the grown bundle to ``out``/<version> and point ``out/current`` at it."""
    from faiss import IndexFlatIP, write_index

    from recommender_core.bundle_format import import_keras
    from training.commands.export import write_graphs, write_verified_scorer

    keras = import_keras()
    started = time.perf_counter()
    manifest = json.loads((source / fmt.MANIFEST_FILE).read_text())
    if (source / fmt.IDS_FILE).exists():
        raise SystemExit(f"{source}: a catalogue with string ids; grow a MovieLens bundle")
    slots = slots_of(manifest.get("user_features") or {})
    arrays = {name: np.load(source / f"{name}.npy") for name in fmt.array_dtypes(slots)}
    movies = json.loads((source / fmt.MOVIES_FILE).read_text())
    n_old = len(arrays["item_ids"])
    if n_movies <= n_old:
        raise SystemExit(f"{source} has {n_old} movies already")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_old, n_movies - n_old)
    model = keras.saving.load_model(source / fmt.MODEL_FILE, safe_mode=True, compile=False)
    tables = grow_tables(model, picks, rng)
    vectors, bias = movie_side(model, tables)
    drift = float(np.abs(vectors[:n_old] - arrays["item_vectors"]).max())
    if drift > 1e-4:
        raise SystemExit(f"the movie tower computed here differs from {source}'s vectors by "
                         f"{drift:.2e}: this tool no longer matches training/models/towers.py")
    print(f"tables grown to {n_movies:,} movies in {time.perf_counter() - started:.0f} s")

    similarity = arrays["similarity_vectors"]
    spread = similarity.std(axis=0, keepdims=True)
    new_similarity = similarity[picks] + 0.5 * spread * rng.standard_normal(
        (len(picks), similarity.shape[1]), dtype=np.float32)
    new_similarity /= np.maximum(np.linalg.norm(new_similarity, axis=1, keepdims=True), 1e-12)
    first_id = int(arrays["item_ids"].max()) + 1
    grown = {
        **arrays,
        "item_ids": np.concatenate([arrays["item_ids"],
                                    np.arange(first_id, first_id + len(picks))]),
        "item_vectors": vectors, "item_bias": bias,
        "content_embeddings": np.vstack([arrays["content_embeddings"],
                                         arrays["content_embeddings"][picks]]),
        "popularity": np.concatenate([arrays["popularity"], arrays["popularity"][picks]]),
        "similarity_vectors": np.vstack([similarity, new_similarity]),
    }
    version = f"{manifest['version']}-{n_movies // 1000}k"
    folder = out / version
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, dtype in fmt.array_dtypes(slots).items():
        np.save(folder / f"{name}.npy", grown[name].astype(dtype), allow_pickle=False)
    copies = [{**movies[p], "movie_id": first_id + k,
               "title": f"{movies[p]['title']} (synthetic copy {k + 1})"}
              for k, p in enumerate(picks.tolist())]
    (folder / fmt.MOVIES_FILE).write_text(json.dumps(movies + copies, ensure_ascii=False))
    flat = IndexFlatIP(grown["similarity_vectors"].shape[1])
    flat.add(grown["similarity_vectors"])
    write_index(flat, str(folder / fmt.INDEX_FILE))
    print(f"building the HNSW graphs ({time.perf_counter() - started:.0f} s so far)")
    write_graphs(folder, vectors, bias, grown["similarity_vectors"])
    print(f"saving the Keras model ({time.perf_counter() - started:.0f} s so far)")
    history = int(manifest["history_length"])
    keras_model = grown_model(model, tables, history, slots)
    keras_model.save(folder / fmt.MODEL_FILE)
    # the user tower's weights and the reference sample the service verifies its scorer on
    write_verified_scorer(folder, keras_model, grown, history, slots)
    manifest["version"] = version
    manifest["dataset"] = {**manifest["dataset"], "movies": n_movies,
                           "grown_from": {"bundle": str(source), "movies": n_old, "seed": seed}}
    manifest["files"] = {p.name: fmt.sha256_file(p) for p in sorted(folder.iterdir())}
    (folder / fmt.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    link = out / fmt.CURRENT_LINK
    link.unlink(missing_ok=True)
    link.symlink_to(version)
    print(f"{folder}: {n_movies:,} movies in {time.perf_counter() - started:.0f} s")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a trained bundle folder")
    parser.add_argument("--movies", type=int, default=1_000_000, help="movies after growing")
    parser.add_argument("--out", type=Path, required=True, help="models folder to write into")
    parser.add_argument("--seed", type=int, default=0, help="random stream of the new movies")
    args = parser.parse_args()
    expand(args.bundle.resolve(), args.out, args.movies, args.seed)


if __name__ == "__main__":
    main()
