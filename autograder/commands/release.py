"""`autograder release --out DIR`: write the student version of the kit."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the student release: solutions stripped, notebooks generated, leaks checked"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import repo_root

    parser.add_argument("--out", type=Path, required=True, help="folder to write the release into (replaced)")
    parser.add_argument(
        "--source",
        type=Path,
        default=repo_root(),
        help="kit root to release (default: this kit)",
    )
    parser.add_argument("--no-notebooks", action="store_true", help="skip the nbgrader notebook step")


def run(args: argparse.Namespace) -> int:
    from autograder.release import release

    report = release(source=args.source, out=args.out, notebooks=not args.no_notebooks)
    print(f"released {len(report.files)} files into {report.out}")
    print(f"stripped {report.total_regions} solution regions in {len(report.regions)} files")
    notebooks = report.notebooks
    print(
        f"notebooks: {len(notebooks.released)} released" + (f" ({notebooks.note})" if notebooks.note else "")
    )
    print("leak check: clean")
    return 0
