"""Dataset statistics for ``python -m training inspect``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from training.data.dataset import MovieLensDataset


def dataset_statistics(dataset: MovieLensDataset) -> dict[str, Any]:
    ratings = dataset.ratings
    n_users = int(ratings["user_id"].nunique())
    n_movies = len(dataset.movies)
    values, counts = np.unique(ratings["rating"].to_numpy(), return_counts=True)
    times = ratings["timestamp"].to_numpy()
    return {
        "release": dataset.name,
        "layout": dataset.layout,
        "path": str(dataset.path),
        "users": n_users,
        "movies": n_movies,
        "rated_movies": int(ratings["movie_id"].nunique()),
        "ratings": len(ratings),
        "tags": 0 if dataset.tags is None else len(dataset.tags),
        "density": len(ratings) / max(1, n_users * n_movies),
        "rating_scale": list(dataset.rating_scale),
        "rating_histogram": {float(v): int(c) for v, c in zip(values, counts, strict=True)},
        "first_rating": _date(times.min()) if len(times) and dataset.timed else None,
        "last_rating": _date(times.max()) if len(times) and dataset.timed else None,
        "feedback": dataset.feedback,
        "like_threshold": dataset.like_threshold,
        "likes": int((ratings["rating"].to_numpy() >= dataset.like_threshold).sum()),
        "split": dataset.split_kind,
        "string_ids": dataset.keys is not None,
        "files": dict(dataset.files),
        "user_features": ([c for c in dataset.users.columns if c != "user_id"]
                          if dataset.users is not None and dataset.generic_users else
                          ["age", "gender", "occupation"] if dataset.users is not None else []),
        "repairs": list(dataset.repairs),
    }


def _date(seconds: int) -> str:
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%d")


def format_statistics(stats: dict[str, Any]) -> str:
    lines = [
        f"release      {stats['release']} ({stats['layout']} layout) at {stats['path']}",
        f"users        {stats['users']:,}",
        f"movies       {stats['movies']:,} ({stats['rated_movies']:,} rated)",
        f"ratings      {stats['ratings']:,}",
        f"tags         {stats['tags']:,}",
        f"density      {stats['density']:.4%}",
        (f"dates        {stats['first_rating']} .. {stats['last_rating']}"
         if stats["first_rating"] else "dates        none (no timestamps: seeded random splits)"),
        f"feedback     {stats['feedback']}, a like is a rating >= {stats['like_threshold']:g}"
        f" ({stats['likes']:,} likes, {stats['likes'] / max(1, stats['ratings']):.1%})"
        + (", string ids" if stats["string_ids"] else ""),
        f"user features {', '.join(stats['user_features']) or 'none'}",
        "files        " + ", ".join(
            f"{name} {'found' if found else 'missing'}" for name, found in stats["files"].items()
        ),
        "ratings histogram:",
    ]
    top = max(stats["rating_histogram"].values(), default=1)
    for value, count in stats["rating_histogram"].items():
        bar = "#" * max(1, round(40 * count / top))
        lines.append(f"  {value:>4} {count:>12,} {bar}")
    for repair in stats["repairs"]:
        lines.append(f"repaired: {repair}")
    return "\n".join(lines)
