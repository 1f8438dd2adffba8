"""Write a MovieLens release in the generic layout (docs/data-format.md): ``interactions.csv``
(user_id,item_id,rating,timestamp), ``items.csv`` (item_id,title,year,genres,tags) and, where
the release (or the variant) has demographics, ``users.csv`` (user_id,age,gender,occupation),
so that training through the generic reader can be compared with the MovieLens reader
(issue 31).

    python -m benchmarks.to_generic --data ml-latest-small --out /tmp/ml-small-generic
    python -m benchmarks.to_generic --data ml-latest-small --out /tmp/g --implicit --no-time
    python -m benchmarks.to_generic --data ml-latest-small --variant taste-demographics \
        --out /tmp/taste-generic
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.data.dataset import load_dataset  # noqa: E402
from training.data.download import resolve_data  # noqa: E402
from training.data.variants import VARIANTS, make_variant  # noqa: E402


def convert(data: str, out: Path, *, implicit: bool = False, timed: bool = True,
            variant: str = "original") -> Path:
    """The release at ``data`` (reshaped as ``variant``, training.data.variants) as a
    generic-layout folder ``out``; ``implicit``: only the likes, as weights of 1 (the
    rating's value dropped); ``timed`` False: no timestamps."""
    dataset = make_variant(load_dataset(resolve_data(data, progress=False), progress=False),
                           variant)
    out.mkdir(parents=True, exist_ok=True)
    ratings = dataset.ratings
    if implicit:
        ratings = ratings[ratings["rating"] >= dataset.like_threshold]
        frame = pd.DataFrame({"user_id": ratings["user_id"], "item_id": ratings["movie_id"]})
    else:
        frame = pd.DataFrame({"user_id": ratings["user_id"], "item_id": ratings["movie_id"],
                              "rating": ratings["rating"]})
    if timed:
        frame["timestamp"] = ratings["timestamp"].to_numpy()
    frame.to_csv(out / "interactions.csv", index=False)
    movies = dataset.movies
    tags = {} if dataset.tags is None else (
        dataset.tags.groupby("movie_id")["tag"].agg(lambda t: "|".join(
            s.replace("|", " ") for s in t)).to_dict())
    pd.DataFrame({
        "item_id": movies["movie_id"],
        "title": movies["title"],
        "year": movies["year"],
        "genres": ["|".join(g) for g in movies["genres"]],
        "tags": [tags.get(m, "") for m in movies["movie_id"]],
    }).to_csv(out / "items.csv", index=False)
    if dataset.users is not None:
        dataset.users[["user_id", "age", "gender", "occupation"]].to_csv(out / "users.csv",
                                                                          index=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--implicit", action="store_true", help="likes only, no ratings")
    parser.add_argument("--no-time", action="store_true", help="leave the timestamps out")
    parser.add_argument("--variant", choices=VARIANTS, default="original",
                        help="reshape the release first (as evaluate --variant)")
    args = parser.parse_args()
    print(convert(args.data, args.out, implicit=args.implicit, timed=not args.no_time,
                  variant=args.variant))


if __name__ == "__main__":
    main()
