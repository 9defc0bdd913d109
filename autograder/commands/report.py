"""`autograder report DIR [--roster FILE] [--timestamps FILE]`: every report from the results that
`autograder grade` stored in DIR/results.

Runs no student code: reports can be rewritten at any time (after a regrade, hand-graded points, with a
roster) in seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FEEDBACK_LINES = 20
"""Up to this many students, each feedback page's path is printed; beyond, the folder."""
HELP = "write the reports and gradebook exports from the stored results of `autograder grade` (runs no code)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import existing_path

    parser.add_argument("out", type=existing_path, help="the folder `autograder grade --out` wrote")
    add_report_options(parser)


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """The options `grade` and `report` share: what the gradebook exports need."""
    from autograder.cli import existing_path

    parser.add_argument(
        "--roster", type=existing_path, default=None, help="CSV: student -> LMS ids (docs/lms.md)"
    )
    parser.add_argument(
        "--timestamps",
        type=existing_path,
        default=None,
        help="CSV student,submitted_at for the late policy (default: the newest date inside each zip)",
    )
    parser.add_argument("--assignment", default=None, help="assignment name in the LMS gradebooks")


def print_reports(args: argparse.Namespace, out: Path) -> None:
    """Build every report of `out` and print the gradebook, the paths and any roster problems."""
    from autograder.reports import gradebook_table
    from autograder.reports.build import build_reports
    from autograder.reports.roster import ProblemKind

    built = build_reports(out, roster=args.roster, timestamps=args.timestamps, assignment=args.assignment)
    print(gradebook_table(built.results))
    pages = built.paths.feedback_html
    if len(pages) <= FEEDBACK_LINES:
        for student in sorted(pages):
            print(f"{student}: {pages[student]}")
    else:
        print(f"feedback pages: {built.paths.grades_csv.parent / 'students'}/<student>/feedback.html")
    print(f"grades: {built.paths.grades_csv}\nclass summary: {built.paths.summary_html}")
    exports = [built.lms.canvas_csv, built.lms.moodle_csv, built.lms.nbgrader_csv]
    print("gradebook exports: " + ", ".join(str(p) for p in exports if p is not None))
    for problem in built.lms.problems:
        if problem.kind == ProblemKind.NO_ROSTER:
            print("Canvas and Moodle exports: give --roster FILE (student -> LMS ids, docs/lms.md)")
        else:
            print(f"roster: {problem}", file=sys.stderr)
    unreadable = [r["student"] for r in built.results if "cannot be read" in str(r.get("message", ""))]
    if unreadable:
        print(f"unreadable stored results (scored 0): {', '.join(unreadable)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from autograder.errors import GradingError

    if not args.out.is_dir():
        raise GradingError(f"{args.out} is not a folder: give the --out folder of `autograder grade`")
    print_reports(args, args.out)
    return 0
