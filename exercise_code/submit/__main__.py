"""`python -m exercise_code.submit [--out FILE] [--root KIT] [--strict] [--no-checks]`: check the kit and
write the submission zip; exit code 0 only when the zip was written and calls no forbidden shortcut."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import submit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exercise_code.submit",
        description="Check your kit (public checks, required files, models, notebooks) and write the zip.",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="the zip to write (default: submission.zip in the kit folder)"
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="your kit's folder (default: here)")
    parser.add_argument(
        "--strict", action="store_true", help="refuse to write the zip when a public check fails"
    )
    parser.add_argument("--no-checks", action="store_true", help="skip the public checks")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, check the kit, print the report; returns the exit code (1: no zip written)."""
    args = build_parser().parse_args(argv)
    out = args.out.expanduser().resolve() if args.out is not None else "submission.zip"  # relative to here
    report = submit(args.root, out, strict=args.strict, checks=not args.no_checks)
    print(report)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
