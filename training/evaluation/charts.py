"""Charts of the evaluation (matplotlib, written as PNG and SVG next to the markdown table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

CHART_METRICS = ("ndcg@10", "recall@20", "hr@10", "mrr@10")


def metrics_chart(results: Mapping[str, Sequence[Mapping[str, float]]], title: str,
                  stem: Path) -> list[Path]:
    """A grouped bar chart: per model (``results``: model -> one metrics dict per seed) the
    mean of each of CHART_METRICS, with the standard deviation over seeds as an error bar.
    Writes ``stem``.png and ``stem``.svg; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display; set before pyplot is imported
    import matplotlib.pyplot as plt

    models = [name for name, runs in results.items() if runs]
    width = 0.8 / len(CHART_METRICS)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.1 * len(models) + 2), 4.2))
    positions = np.arange(len(models))
    for offset, metric in enumerate(CHART_METRICS):
        values = [[run[metric] for run in results[m] if metric in run] for m in models]
        means = [float(np.mean(v)) if v else 0.0 for v in values]
        spreads = [float(np.std(v)) if len(v) > 1 else 0.0 for v in values]
        axes.bar(positions + (offset - (len(CHART_METRICS) - 1) / 2) * width, means, width,
                 yerr=spreads, capsize=2, label=metric)
    axes.set_xticks(positions, models, rotation=30, ha="right")
    axes.set_ylabel("mean over seeds (bar: ± std)")
    axes.set_title(title)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    figure.tight_layout()
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120)
    plt.close(figure)
    return paths
