"""`python -m exercise_code.checks [group ...]`: print one line per check and a score line."""

from __future__ import annotations

import sys

from .runner import run_checks


def main(argv: list[str] | None = None) -> int:
    """Run the named groups (all by default); exit 0 only if every check passed."""
    report = run_checks(*(sys.argv[1:] if argv is None else argv))
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
