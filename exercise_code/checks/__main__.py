"""`python -m exercise_code.checks [group ...]`: one line per check, a score line; exit 0 if all pass."""

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
    args = parser.parse_args(argv)
    report = run_checks(*args.groups)
    print(json.dumps(report.to_dict(), indent=1) if args.json else report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
