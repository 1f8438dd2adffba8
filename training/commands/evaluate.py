"""``python -m training evaluate``: every model and baseline on one split, mean ± std over seeds."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.data.dataset import MovieLensDataset
from training.data.interactions import build_interactions
from training.data.splits import make_split
from training.errors import TrainingError
from training.evaluation.charts import metrics_chart
from training.evaluation.fewshot import SHOTS, ScoresVisitors, evaluate_visitors, visitors
from training.evaluation.protocol import evaluate, evaluate_new_users
from training.evaluation.similar import similar_metrics, similar_queries, vector_scores
from training.models import registry
from training.models.config import HybridConfig, RunOptions
from training.models.fold_in import EASEFoldIn, ItemKNNFoldIn, PopularVisitors
from training.models.hybrid import Hybrid
from training.models.popularity import Popularity
from training.models.similarity import (
    choose_similarity,
    item_knn_scores,
    similarity_vectors,
)

log = logging.getLogger(__name__)

COLUMNS = ("ndcg@10", "recall@20", "hr@10", "mrr@10", "auc", "coverage@10", "mae", "rmse",
           "fit_seconds")


@dataclass
class Row:
    model: str
    runs: list[dict[str, float]] = field(default_factory=list)
    skipped: str | None = None
    chosen: list[dict[str, object]] = field(default_factory=list)  # the hybrid's, per seed

    def summary(self, column: str) -> str:
        values = [run[column] for run in self.runs if column in run]
        if not values:
            return "-"
        if column == "fit_seconds":
            return f"{np.mean(values):.1f}"
        if len(values) == 1:
            return f"{values[0]:.4f}"
        return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


SIMILAR_METHODS = ("served: svd item-kNN + content, chosen on validation",
                   "hybrid collaborative vectors", "content", "item-kNN cosine")


def run_similar(dataset: MovieLensDataset, seeds: int, progress: bool = True,
                hybrid: HybridConfig | None = None) -> list[Row]:
    """The ``similar`` protocol (training.evaluation.similar) on the temporal split: the
    hybrid fitted once per seed; what the bundle serves (training.models.similarity), the
    hybrid's collaborative vectors and its content codes alone, and item-kNN cosine on the
    train likes (deterministic)."""
    split = make_split(dataset.ratings, "temporal", timed=dataset.timed)
    data = build_interactions(dataset, split.train)
    queries, relevant = similar_queries(data, split.test)
    rows = {name: Row(name) for name in SIMILAR_METHODS}
    knn = similar_metrics(item_knn_scores(data.likes, queries), queries, relevant)
    for seed in range(seeds):
        start = time.perf_counter()
        model = Hybrid(hybrid).fit(data, seed=seed, progress=progress)
        seconds = time.perf_counter() - start
        choice = choose_similarity(data, model.content.codes, seed)
        vectors = {SIMILAR_METHODS[0]: similarity_vectors(data, model.content.codes, choice,
                                                          seed),
                   SIMILAR_METHODS[1]: model.towers.item_vectors,
                   "content": model.content.codes}
        for name, matrix in vectors.items():
            metrics = similar_metrics(vector_scores(matrix, queries), queries, relevant)
            rows[name].runs.append({**metrics, "fit_seconds": seconds})
        rows["item-kNN cosine"].runs.append(knn)
        log.info("seed %d similar: served ndcg@10 %.4f (svd %d, content %.2f), item-kNN %.4f",
                 seed, rows[SIMILAR_METHODS[0]].runs[-1]["ndcg@10"], choice.svd_dim,
                 choice.content_weight, knn["ndcg@10"])
    return list(rows.values())


def run_fewshot(dataset: MovieLensDataset, seeds: int, progress: bool = True,
                hybrid: HybridConfig | None = None, run: RunOptions | None = None) -> list[Row]:
    """The ``fewshot`` protocol (training.evaluation.fewshot): per seed, a tenth of the users
    held out; the hybrid's visitor path, popularity, item-kNN and EASE fold-in, each scoring
    the same visitors giving N likes, one row per model and N."""
    names = ("hybrid", PopularVisitors.name, ItemKNNFoldIn.name, EASEFoldIn.name)
    rows = {(name, n): Row(f"{name}, N={n}") for name in names for n in SHOTS}
    for seed in range(seeds):
        split = make_split(dataset.ratings, "fewshot", seed=seed, timed=dataset.timed)
        data = build_interactions(dataset, split.train)
        groups = {n: visitors(data, split.test, n) for n in SHOTS}
        for name in names:
            start = time.perf_counter()
            model: ScoresVisitors
            if name == "hybrid":
                model = Hybrid(hybrid, run).fit(data, seed=seed, progress=progress)
            elif name == PopularVisitors.name:
                model = PopularVisitors().fit(data)
            elif name == ItemKNNFoldIn.name:
                model = ItemKNNFoldIn().fit(data)
            else:
                model = EASEFoldIn().fit(data, seed=seed)
            seconds = time.perf_counter() - start
            for n, group in groups.items():
                metrics = {**evaluate_visitors(model, group), "fit_seconds": seconds}
                rows[name, n].runs.append(metrics)
                log.info("seed %d %s N=%d: ndcg@10 %.4f (%d visitors)", seed, name, n,
                         metrics["ndcg@10"], len(group))
    return [rows[name, n] for n in SHOTS for name in names]


def run_benchmark(dataset: MovieLensDataset, protocol: str, seeds: int,
                  models: Sequence[str] | None = None, progress: bool = True,
                  hybrid: HybridConfig | None = None, run: RunOptions | None = None) -> list[Row]:
    """Every model of ``models`` (default: those the registry lists for ``protocol``) fitted
    and evaluated on each seed's split; ``hybrid``: the hybrid's settings (default ones),
    ``run``: how it is fitted (a time budget)."""
    if protocol == "similar":
        return run_similar(dataset, seeds, progress, hybrid)
    if protocol == "fewshot":
        return run_fewshot(dataset, seeds, progress, hybrid, run)
    names = list(models or registry.for_protocol(protocol))
    registry.check_names(names)
    rows = {name: Row(name) for name in names}
    features = None
    for seed in range(seeds):
        split = make_split(dataset.ratings, protocol, seed=seed, users=dataset.users,
                           timed=dataset.timed)
        data = build_interactions(dataset, split.train, features=features)
        features = data.movie_features
        fallback = Popularity().fit(data)
        for name in names:
            if rows[name].skipped:
                continue
            try:
                model = (Hybrid(hybrid, run) if name == "hybrid" else registry.create(name))
                start = time.perf_counter()
                model.fit(data, seed=seed, progress=progress)
                seconds = time.perf_counter() - start
            except TrainingError as exc:  # an optional baseline that is not installed
                rows[name].skipped = str(exc)
                continue
            if protocol == "coldusers":
                metrics = evaluate_new_users(model, data, split.test, fallback)
            else:
                metrics = evaluate(model, data, split.test, candidates=split.candidates,
                                   fallback=fallback)
            metrics["fit_seconds"] = seconds
            rows[name].runs.append(metrics)
            log.info("seed %d %s: ndcg@10 %.4f (%.1f s)", seed, name, metrics["ndcg@10"],
                     seconds)
            if isinstance(model, Hybrid):
                rows[name].chosen.append(model.summary())
                log.info("seed %d %s chose on validation: %s", seed, name, model.summary())
    return list(rows.values())


def format_table(rows: list[Row], title: str) -> str:
    lines = [title, "", "| model | " + " | ".join(COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for row in rows:
        if row.skipped:
            lines.append(f"| {row.model} | skipped: {row.skipped} |")
            continue
        lines.append(f"| {row.model} | " + " | ".join(row.summary(c) for c in COLUMNS) + " |")
    for row in rows:
        if row.chosen:
            lines += ["", f"{row.model}, chosen on validation per seed:", ""]
            lines += [f"- seed {seed}: " + ", ".join(f"{k} {v}" for k, v in chosen.items())
                      for seed, chosen in enumerate(row.chosen)]
    return "\n".join(lines)


def write_report(rows: list[Row], table: str, title: str, stem: Path) -> list[Path]:
    """The table as ``stem``.md and its chart as ``stem``.png and ``stem``.svg."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    markdown = stem.with_suffix(".md")
    markdown.write_text(table + "\n")
    runs = {row.model: row.runs for row in rows if not row.skipped}
    return [markdown, *metrics_chart(runs, title, stem)]
