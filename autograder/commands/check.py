"""`autograder check [GROUP ...]`: the public checks (same as `python -m exercise_code.checks`)."""

from __future__ import annotations

import argparse

HELP = "run the public student checks and print one line per check"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("groups", nargs="*", help="check groups (default: all)")


def run(args: argparse.Namespace) -> int:
    from exercise_code.checks import run_checks

    report = run_checks(*args.groups)
    print(report)
    return 0 if report.ok else 1
