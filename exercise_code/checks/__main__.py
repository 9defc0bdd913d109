"""`python -m exercise_code.checks [group ...] [--root KIT]`: a line per check, scores; exit 0 if all pass."""

from __future__ import annotations

import argparse
import json
import sys

from .runner import run_checks
from .settings import GROUP_MODULES


def main(argv: list[str] | None = None) -> int:
    """Run the named check groups (all by default) and print the report; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m exercise_code.checks", description=__doc__)
    parser.add_argument(
        "groups", nargs="*", metavar="GROUP", help=f"check groups: {', '.join(GROUP_MODULES)}"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--root", default=".", help="the kit's root folder: the `models` checks read its models/ (default: .)"
    )
    args = parser.parse_args(argv)
    try:
        report = run_checks(*args.groups, root=args.root)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    print(json.dumps(report.to_dict(), indent=1) if args.json else report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
