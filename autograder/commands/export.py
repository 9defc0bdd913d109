"""`autograder export gradescope --out autograder.zip`: package the grader for Gradescope."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export the grader for another platform (gradescope)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import output_file, repo_root

    parser.add_argument("platform", choices=["gradescope"], help="target platform")
    parser.add_argument(
        "--out", type=output_file, default=Path("build/autograder.zip"), help="zip to write (replaced)"
    )
    parser.add_argument("--source", type=Path, default=repo_root(), help="kit root (default: this kit)")


def run(args: argparse.Namespace) -> int:
    from autograder.export import export_gradescope

    result = export_gradescope(repo=args.source, out=args.out)
    print(f"wrote {result.zip_path} ({result.files} files): upload it as the Gradescope autograder")
    return 0
