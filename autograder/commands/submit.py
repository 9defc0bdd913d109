"""`autograder submit [--out FILE] [--root KIT] [--strict]`: the student's `python -m exercise_code.submit`,
plus the grader's intake run on the zip."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "check your work (public checks, files, models, notebooks) and write the submission zip"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="zip to write (default: submission.zip in the kit)"
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="your kit folder (default: here)")
    parser.add_argument("--strict", action="store_true", help="refuse to write when a public check fails")
    parser.add_argument("--no-checks", action="store_true", help="skip the public checks")


def run(args: argparse.Namespace) -> int:
    from autograder.submit import build_submission

    report = build_submission(args.root, out=args.out, strict=args.strict, public_checks=not args.no_checks)
    print(report)
    return report.exit_code
