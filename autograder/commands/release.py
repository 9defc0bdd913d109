"""`autograder release --out DIR [--source ROOT]`: write the student version of the kit."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the student release (solutions stripped, notebooks step, leak check)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import repo_root

    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder to write the release into (a previous release is replaced)",
    )
    parser.add_argument(
        "--source", type=Path, default=repo_root(), help="kit root to release (default: this kit)"
    )
    parser.add_argument("--no-notebooks", action="store_true", help="skip the nbgrader notebook step")


def run(args: argparse.Namespace) -> int:
    from autograder.release import release

    report = release(source=args.source, out=args.out, notebooks=not args.no_notebooks)
    print("\n".join(report.summary_lines()))
    return 0
