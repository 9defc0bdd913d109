"""`autograder verify [--corpus DIR] [--only NAME...]`: grade the reference, the skeleton and known bugs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "check the hidden suites: reference full marks, skeleton zero, every known bug caught"


def _scale(text: str) -> tuple[str, tuple[float, float]]:
    from exercise_code.config import CONFIG, Scale

    try:
        name, values = text.split("=", 1)
        floor, target = (float(v) for v in values.split(":", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=FLOOR:TARGET, got {text!r}") from None
    names = sorted(k for k, v in vars(CONFIG).items() if isinstance(v, Scale))
    if name not in names:
        raise argparse.ArgumentTypeError(f"unknown scale {name!r}; the scales are {', '.join(names)}")
    if floor == target:
        raise argparse.ArgumentTypeError(f"floor and target must differ, got {text!r}")
    return name, (floor, target)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import output_dir, positive_int, repo_root

    root = repo_root()
    parser.add_argument("--source", type=Path, default=root, help="kit root holding the reference")
    parser.add_argument(
        "--corpus", type=Path, default=root / "tests" / "corpus", help="folder of wrong/alternative solutions"
    )
    parser.add_argument(
        "--cheats", type=Path, default=root / "tests" / "cheats", help="folder of cheating submissions"
    )
    parser.add_argument("--no-cheats", action="store_true", help="skip the cheating submissions")
    parser.add_argument(
        "--out", type=output_dir, default=root / "build" / "verify", help="work and report folder"
    )
    parser.add_argument("--models", type=Path, default=None, help="reference models (default: train, cached)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny reference models (seconds, not minutes); their quality cannot reach the targets, so the "
        "quality scales are widened for the run (ANY_QUALITY; the report says so)",
    )
    parser.add_argument("--seed", type=int, default=0, help="grading seed")
    parser.add_argument("--workers", type=positive_int, default=2, help="submissions graded at once")
    parser.add_argument("--only", nargs="*", default=(), help="corpus entries to run (default: all)")
    parser.add_argument(
        "--scale",
        type=_scale,
        action="append",
        default=[],
        metavar="NAME=FLOOR:TARGET",
        help="override a score scale for this run (over --quick's), e.g. segmentation_miou=0:0.01",
    )


def run(args: argparse.Namespace) -> int:
    from autograder.verify import ANY_QUALITY, TINY_BUDGET, ModelBudget, verify

    def progress(outcome) -> None:
        print(f"{'ok ' if outcome.ok else 'BAD'} {outcome.kind:<9} {outcome.name}", file=sys.stderr)

    report = verify(
        source=args.source,
        corpus=args.corpus,
        out=args.out,
        models=args.models,
        budget=TINY_BUDGET if args.quick else ModelBudget(),
        seed=args.seed,
        workers=args.workers,
        only=tuple(args.only),
        scales={**(ANY_QUALITY if args.quick else {}), **dict(args.scale)},
        progress=progress,
        cheats=None if args.no_cheats else args.cheats,
    )
    print("\n".join(report.lines()))
    print(f"report: {args.out / 'verify.json'}")
    return 0 if report.ok else 1
