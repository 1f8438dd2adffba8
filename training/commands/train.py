"""``python -m training train``: fit the hybrid on a whole release and publish a bundle."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from recommender_core.feedback_store import redacted
from training.commands.bundles import new_version, publish_bundle
from training.commands.export import write_bundle_files
from training.data.dataset import MovieLensDataset, load_dataset
from training.data.download import resolve_data
from training.data.interactions import Interactions, build_interactions
from training.data.posted_events import merge_feedback, read_events
from training.errors import TrainingError
from training.models.config import HybridConfig, RunOptions
from training.models.hybrid import Hybrid
from training.models.similarity import choose_similarity

log = logging.getLogger(__name__)
MIN_LIKES = 10


def check_trainable(dataset: MovieLensDataset, data: Interactions) -> None:
    likes = int(data.likes.nnz)
    users_with_history = int((data.ratings.getnnz(axis=1) >= 2).sum())
    if likes < MIN_LIKES or users_with_history == 0:
        raise TrainingError(
            f"{dataset.path}: too small to train: {likes} ratings >= {data.like_threshold} "
            f"(need {MIN_LIKES}) and {users_with_history} users with 2+ ratings (need 1)"
        )


def train_command(data: str, out: str, *, config: HybridConfig | None = None, seed: int = 0,
                  progress: bool = True, feedback: str | None = None,
                  run: RunOptions | None = None, like_threshold: float | None = None) -> Path:
    """Train the hybrid (``config``: its settings, already checked) on a whole release, with
    the events of the feedback store at URL ``feedback`` merged into its ratings, and publish
    the bundle; returns its folder. Nothing is written before the data loaded and the model
    trained; an error leaves ``out/current`` as it was."""
    start = time.perf_counter()
    dataset = load_dataset(resolve_data(data, progress=progress), progress=progress,
                           like_threshold=like_threshold)
    extra: dict[str, object] = {}
    if feedback is not None:
        dataset, merged = merge_feedback(dataset, read_events(feedback))
        extra["feedback"] = {"store": redacted(feedback), **merged}
    return train_bundle(dataset, Path(out), config=config, seed=seed, progress=progress,
                        extra=extra, start=start, run=run)


def train_bundle(dataset: MovieLensDataset, out: Path, *, config: HybridConfig | None = None,
                 seed: int = 0, progress: bool = True, extra: dict[str, object] | None = None,
                 start: float | None = None, run: RunOptions | None = None) -> Path:
    """Train the hybrid on every rating of ``dataset`` and publish its bundle in ``out``
    (``extra``: more manifest fields; ``start``: when the command began, for the timing;
    ``run``: the time budget and the devices, RunOptions)."""
    start = time.perf_counter() if start is None else start
    interactions = build_interactions(dataset, dataset.ratings)
    check_trainable(dataset, interactions)
    model = Hybrid(config or HybridConfig(), run)
    log.info("training %s on %s: %d users, %d movies, %d ratings", model.name, dataset.name,
             interactions.n_users, interactions.n_items, len(dataset.ratings))
    model.fit(interactions, seed=seed, progress=progress)
    similarity = choose_similarity(interactions, model.content.codes, seed)
    log.info("similar movies: svd dim %d, content weight %.2f (validation NDCG@10 %.4f)",
             similarity.svd_dim, similarity.content_weight,
             max(similarity.validation.values()))
    version = new_version(model.name)
    seconds = time.perf_counter() - start
    folder = publish_bundle(
        out, version,
        lambda folder: write_bundle_files(folder, version, model, interactions,
                                          similarity=similarity, seed=seed,
                                          extra={"training_seconds": round(seconds, 1),
                                                 "seed": seed, **(extra or {})}),
    )
    log.info("bundle %s written in %.0f s; %s/current points at it", folder, seconds, out)
    return folder
