"""``python -m training``: train, evaluate, bundles, download, synthesize, inspect.

Each command imports what it needs when it runs: TensorFlow (seconds to import) only for
train and evaluate, and only after the arguments and the data path were checked, through
bundle_format.import_keras, which keeps TensorFlow's native start-up lines off the terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from recommender_core.bundle_format import import_keras
from training.data.download import download, resolve_data
from training.data.synthetic import SHAPES, SyntheticShape, write_implicit, write_release
from training.data.variants import VARIANTS
from training.errors import TrainingError
from training.models.config import HybridConfig, RunOptions

EXIT_USAGE = 2


def _add_like_threshold(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--like-threshold", type=float, default=None, metavar="RATING",
                        help="the lowest rating that counts as a like (default: 4 on "
                        "MovieLens; on the generic layout three quarters of the way up the "
                        "ratings seen; docs/data-format.md); not for implicit weights")


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    """The RunOptions of train and evaluate that bound the hybrid's fit in time."""
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="stop training so that the fit ends within about SECONDS (a tenth "
                        "for the autoencoder, half for the validation runs; cut inside epochs)")
    parser.add_argument("--search-seconds", type=float, default=RunOptions.search_seconds,
                        metavar="SECONDS",
                        help="no validation trial of the settings search starts after SECONDS "
                        f"(default {RunOptions.search_seconds:g}; the first trial always runs; "
                        "--set trials=N bounds it)")


def _run_options(args: argparse.Namespace) -> RunOptions:
    """RunOptions of the parsed arguments (checked: a bad value stops before the data)."""
    return RunOptions(time_budget=args.time_budget, search_seconds=args.search_seconds,
                      distribute=getattr(args, "distribute", None) or "none")


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

    settings_help = ("a hybrid setting, repeatable, e.g. --set dim=64 (docs/configuration.md "
                     "lists them); checked before any data is read")

    train = commands.add_parser("train", help="train a model and export a bundle")
    train.add_argument("--data", required=True, help=data_help)
    train.add_argument("--out", default="models", help="models directory (default: models)")
    train.add_argument("--epochs", type=int, default=None,
                       help="most epochs (the same as --set epochs=N)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--distribute", choices=["none", "data", "model"], default=None,
                       help="train over every device with the Keras distribution API (needs "
                       "KERAS_BACKEND=jax): data parallel, or model parallel with the id "
                       "tables sharded")
    _add_fit_options(train)
    _add_like_threshold(train)
    train.add_argument("--model", default="hybrid",
                       help="the model to export: hybrid (the one the service serves)")
    train.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help=settings_help)
    train.add_argument("--feedback", default=None, metavar="STORE",
                       help="merge the ratings posted to the service (POST /feedback) into "
                       "the data: the service's FEEDBACK_URL, or a path to its SQLite file")
    train.add_argument("--if-missing", action="store_true",
                       help="do nothing if OUT/current is a bundle this version can serve; "
                       "train (saying why) when it is missing, of another schema or damaged "
                       "(docker compose up)")

    evaluate = commands.add_parser("evaluate", help="print the quality protocol's metrics table")
    evaluate.add_argument("--data", required=True, help=data_help)
    evaluate.add_argument("--protocol", choices=["temporal", "coldstart", "coldusers",
                                                 "fewshot", "similar"],
                          default="temporal",
                          help="temporal, coldstart, coldusers (new users with demographics "
                          "only), fewshot (visitors giving their first 1, 3, 5, 10 likes) or "
                          "similar (/similar of each user's last liked movie against their "
                          "next likes); docs/quality-protocol.md")
    evaluate.add_argument("--variant", choices=list(VARIANTS), default="original",
                          help="reshape the data first: dense (1,682 most-rated movies, no "
                          "tags), random-demographics (signal-free user features), half-users")
    evaluate.add_argument("--seeds", type=int, default=1)
    evaluate.add_argument("--models", default=None,
                          help="comma-separated subset (default: every model and baseline)")
    evaluate.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                          help=settings_help)
    _add_fit_options(evaluate)
    _add_like_threshold(evaluate)
    evaluate.add_argument("--report-dir", default="reports",
                          help="where the table (.md) and its chart (.png, .svg) are written, "
                          "as DATASET-PROTOCOL.* (default: reports)")

    bundles = commands.add_parser("bundles", help="list, switch or prune the bundles of a "
                                  "models directory (docs/upgrading.md)")
    bundles.add_argument("--models", default="models",
                         help="models directory (default: models)")
    actions = bundles.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every bundle: version, schema, data, size, "
                                 "which is current and whether this version can serve it")
    listing.add_argument("--verify", action="store_true",
                         help="also check every file's checksum (reads every bundle)")
    use = actions.add_parser("use", help="point current at VERSION (atomically; a running "
                             "service picks it up)")
    use.add_argument("version")
    prune = actions.add_parser("prune", help="delete all but the newest N bundles (never the "
                               "current one)")
    prune.add_argument("--keep", type=int, required=True, metavar="N")

    download = commands.add_parser("download", help="download and verify a release")
    download.add_argument("release", help="release name, e.g. ml-1m")

    synthesize = commands.add_parser(
        "synthesize", help="write a synthetic release with the real releases' long tails")
    synthesize.add_argument("--out", required=True, help="directory to write the CSV files to")
    synthesize.add_argument("--shape", choices=list(SHAPES), default=None,
                            help="a named shape (users, movies, ratings); the options below "
                            "override its parts")
    synthesize.add_argument("--users", type=int, default=None)
    synthesize.add_argument("--movies", type=int, default=None)
    synthesize.add_argument("--ratings", type=int, default=None)
    synthesize.add_argument("--seed", type=int, default=0)
    synthesize.add_argument("--implicit", action="store_true",
                            help="play counts without timestamps, in the generic layout "
                            "(docs/data-format.md)")

    inspect = commands.add_parser("inspect", help="print a dataset's statistics")
    inspect.add_argument("--data", required=True, help=data_help)
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which CPU build it tried
    try:
        return _run(args)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _bundles(args: argparse.Namespace) -> int:
    from training.commands import bundles

    models = Path(args.models)
    if args.action == "list":
        if not models.is_dir():
            raise TrainingError(f"{models}: no models directory")
        print(bundles.format_bundles(bundles.list_bundles(models, checksums=args.verify)))
    elif args.action == "use":
        print(bundles.use_bundle(models, args.version))
    else:
        deleted = bundles.prune_bundles(models, args.keep)
        print("\n".join(f"deleted {version}" for version in deleted) or "nothing to delete")
    return 0


def _hybrid_config(args: argparse.Namespace) -> HybridConfig:
    assignments = list(args.set)
    if getattr(args, "epochs", None) is not None:
        assignments.append(f"epochs={args.epochs}")
    return HybridConfig.from_assignments(assignments)


def _run(args: argparse.Namespace) -> int:
    progress = not args.quiet
    if args.command == "download":
        print(download(args.release, progress=progress))
        return 0
    if args.command == "synthesize":
        users, movies, ratings = SHAPES[args.shape or "ml-latest-small"]
        shape = SyntheticShape(args.users or users, args.movies or movies,
                               args.ratings or ratings)
        write = write_implicit if args.implicit else write_release
        print(write(Path(args.out), shape, args.seed, progress=progress))
        return 0
    if args.command == "inspect":
        from training.data.dataset import load_dataset
        from training.data.stats import dataset_statistics, format_statistics

        dataset = load_dataset(resolve_data(args.data, progress=progress), progress=progress)
        stats = dataset_statistics(dataset)
        print(json.dumps(stats, indent=2) if args.json else format_statistics(stats))
        return 0
    if args.command == "bundles":
        return _bundles(args)
    if args.command == "train":
        out = Path(args.out)
        if args.if_missing:
            from training.commands.bundles import unservable_reason

            current = out / "current"
            reason = (unservable_reason(current) if current.exists()
                      else f"{current}: no bundle")
            if reason is None:
                print(f"{current} can be served by this version; nothing to do (--if-missing)")
                return 0
            print(f"training a new bundle (--if-missing): {reason}", file=sys.stderr)
        config = _hybrid_config(args)
        run = _run_options(args)
        data = str(resolve_data(args.data, progress=progress))
        feedback = None
        if args.feedback is not None:
            from training.data.posted_events import store_url

            feedback = store_url(args.feedback)
        import_keras()
        from training.commands.train import train_command
        from training.models.distribution import make_distribution
        from training.models.registry import TRAINABLE

        make_distribution(run.distribute, config.dim)  # refused now, not after the data

        if args.model not in TRAINABLE:
            raise TrainingError(f"unknown --model {args.model!r}; the service can serve "
                                f"{', '.join(TRAINABLE)}")

        print(train_command(data, args.out, config=config, seed=args.seed, progress=progress,
                            feedback=feedback, run=run, like_threshold=args.like_threshold))
        return 0
    if args.command == "evaluate":
        if args.seeds < 1:
            raise TrainingError("--seeds must be at least 1")
        run = _run_options(args)
        config = _hybrid_config(args)
        path = resolve_data(args.data, progress=progress)
        import_keras()
        from training.commands.evaluate import format_table, run_benchmark, write_report
        from training.data.dataset import load_dataset
        from training.data.variants import make_variant
        from training.models import registry

        models = args.models.split(",") if args.models else None
        if models and args.protocol not in ("similar", "fewshot"):  # fixed methods
            registry.check_names(models)
        dataset = make_variant(load_dataset(path, progress=progress,
                                            like_threshold=args.like_threshold), args.variant)
        rows = run_benchmark(dataset, args.protocol, args.seeds, models, progress=progress,
                             hybrid=config, run=run)
        title = f"{dataset.name}, {args.protocol} protocol, {args.seeds} seed(s)"
        if not dataset.timed or dataset.feedback != "explicit":
            title += f" ({dataset.feedback} feedback, split by {dataset.split_kind})"
        table = format_table(rows, title)
        print(table)
        for path in write_report(rows, table, title,
                                 Path(args.report_dir) / f"{dataset.name}-{args.protocol}"):
            print(f"wrote {path}")
        return 0
    raise TrainingError(f"unknown command {args.command!r}")
