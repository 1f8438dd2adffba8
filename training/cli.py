"""``python -m training``: train, evaluate, download, inspect."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from training.errors import TrainingError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train and evaluate the hybrid movie recommender on MovieLens data.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_help = ("a directory holding a MovieLens release in its native layout, or a release "
                 "name: ml-latest-small (bundled), ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, "
                 "ml-32m, ml-latest (downloaded and cached)")

    train = commands.add_parser("train", help="train a model and export a bundle")
    train.add_argument("--data", required=True, help=data_help)
    train.add_argument("--out", default="models", help="models directory (default: models)")
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--model", default="hybrid", help="hybrid (default) or hybrid-mlp")
    train.add_argument("--if-missing", action="store_true",
                       help="do nothing if OUT/current already exists (docker compose up)")

    evaluate = commands.add_parser("evaluate", help="print the quality protocol's metrics table")
    evaluate.add_argument("--data", required=True, help=data_help)
    evaluate.add_argument("--protocol", choices=["temporal", "coldstart"], default="temporal")
    evaluate.add_argument("--seeds", type=int, default=1)
    evaluate.add_argument("--models", default=None,
                          help="comma-separated subset (default: every model and baseline)")

    download = commands.add_parser("download", help="download and verify a release")
    download.add_argument("release", help="release name, e.g. ml-1m")

    inspect = commands.add_parser("inspect", help="print a dataset's statistics")
    inspect.add_argument("--data", required=True, help=data_help)
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return _run(args)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from training.download import download, resolve_data

    progress = not args.quiet
    if args.command == "download":
        print(download(args.release, progress=progress))
        return 0
    if args.command == "inspect":
        from training.dataset import load_dataset
        from training.stats import dataset_statistics, format_statistics

        dataset = load_dataset(resolve_data(args.data, progress=progress), progress=progress)
        stats = dataset_statistics(dataset)
        print(json.dumps(stats, indent=2) if args.json else format_statistics(stats))
        return 0
    if args.command == "train":
        from pathlib import Path

        from training.train import train_command

        if args.if_missing and (Path(args.out) / "current").exists():
            print(f"{Path(args.out) / 'current'} exists; nothing to do (--if-missing)")
            return 0
        folder = train_command(args.data, args.out, model_name=args.model, epochs=args.epochs,
                               seed=args.seed, progress=progress)
        print(folder)
        return 0
    if args.command == "evaluate":
        from training.benchmark import format_table, run_benchmark
        from training.dataset import load_dataset

        if args.seeds < 1:
            raise TrainingError("--seeds must be at least 1")
        models = args.models.split(",") if args.models else None
        if models:
            from training.recommenders import BASELINES, MODELS

            unknown = [m for m in models if m not in MODELS and m not in BASELINES]
            if unknown:
                raise TrainingError(f"unknown model(s) {', '.join(unknown)}")
        dataset = load_dataset(resolve_data(args.data, progress=progress), progress=progress)
        rows = run_benchmark(dataset, args.protocol, args.seeds, models, progress=progress)
        print(format_table(rows, f"{dataset.name}, {args.protocol} protocol, "
                                 f"{args.seeds} seed(s)"))
        return 0
    raise TrainingError(f"unknown command {args.command!r}")
