"""Copy a bundle exported before the trainer stored HNSW graphs, and add them as the trainer
now does for catalogues of 50,000+ movies (training.commands.export.write_graphs), with their
checksums in the copy's manifest: serving benchmarks of such a bundle without retraining it.

    python -m benchmarks.add_graphs .bench/models-60k/current .bench/models-60k-graphs
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

import bundle_format as fmt
from training.commands.export import write_graphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="a bundle folder (or a models/current link)")
    parser.add_argument("models", type=Path, help="a new models folder for the copy")
    args = parser.parse_args()
    source = args.bundle.resolve()
    args.models.mkdir(parents=True, exist_ok=False)
    folder = args.models / source.name
    shutil.copytree(source, folder)
    arrays = {name: np.load(folder / f"{name}.npy")
              for name in ("item_vectors", "item_bias", "similarity_vectors")}
    start = time.perf_counter()
    write_graphs(folder, arrays["item_vectors"], arrays["item_bias"],
                 arrays["similarity_vectors"])
    print(f"graphs of {len(arrays['item_bias'])} movies built and written in "
          f"{time.perf_counter() - start:.1f} s")
    manifest = json.loads((folder / fmt.MANIFEST_FILE).read_text())
    for name in (fmt.RECOMMEND_GRAPH_FILE, fmt.SIMILAR_GRAPH_FILE):
        manifest["files"][name] = fmt.sha256_file(folder / name)
    (folder / fmt.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    (args.models / fmt.CURRENT_LINK).symlink_to(source.name)


if __name__ == "__main__":
    main()
