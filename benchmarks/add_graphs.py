"""Copy a bundle exported before the trainer stored its approximate indexes and /similar's
neighbour table (or stored an HNSW
graph for /recommend, as it did until 2026-12-06), and add the missing ones as the trainer
now writes them for catalogues of 50,000+ movies (training.commands.export.write_graphs),
with their checksums in the copy's manifest: serving benchmarks of such a bundle without
retraining it.

    python -m benchmarks.add_graphs .bench/models-60k/current .bench/models-60k-graphs
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import faiss
import numpy as np

from recommender_core import bundle_format as fmt
from training.commands.export import write_similar_table

REPLACED = "recommend-hnsw.faiss"  # /recommend's HNSW graph, replaced by the IVF index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="a bundle folder (or a models/current link)")
    parser.add_argument("models", type=Path, help="a new models folder for the copy")
    args = parser.parse_args()
    source = args.bundle.resolve()
    args.models.mkdir(parents=True, exist_ok=False)
    folder = args.models / source.name
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns(REPLACED))
    manifest = json.loads((folder / fmt.MANIFEST_FILE).read_text())
    manifest["files"].pop(REPLACED, None)
    start = time.perf_counter()
    if not (folder / fmt.RECOMMEND_INDEX_FILE).exists():
        rows = fmt.recommend_rows(np.load(folder / "item_vectors.npy"),
                                  np.load(folder / "item_bias.npy"))
        faiss.write_index(fmt.inner_product_ivf(rows), str(folder / fmt.RECOMMEND_INDEX_FILE))
    similarity = np.load(folder / "similarity_vectors.npy")
    if not (folder / fmt.SIMILAR_GRAPH_FILE).exists():
        faiss.write_index(fmt.inner_product_graph(similarity),
                          str(folder / fmt.SIMILAR_GRAPH_FILE))
    print(f"indexes built and written in {time.perf_counter() - start:.1f} s")
    if not (folder / fmt.SIMILAR_NEIGHBOURS_FILE).exists():
        start = time.perf_counter()
        write_similar_table(folder, similarity,
                            faiss.read_index(str(folder / fmt.SIMILAR_GRAPH_FILE)))
        print(f"/similar's neighbour table computed in {time.perf_counter() - start:.1f} s")
    for name in (fmt.RECOMMEND_INDEX_FILE, fmt.SIMILAR_GRAPH_FILE, fmt.SIMILAR_NEIGHBOURS_FILE,
                 fmt.SIMILAR_COSINES_FILE):
        manifest["files"][name] = fmt.sha256_file(folder / name)
    (folder / fmt.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    (args.models / fmt.CURRENT_LINK).symlink_to(source.name)


if __name__ == "__main__":
    main()
