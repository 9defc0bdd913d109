"""`autograder similarity SUBMISSIONS... --out DIR`: how alike the students' own code is, pair by pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "rank pairs of submissions by the similarity of the students' own code (starter code subtracted)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import existing_path, output_dir, positive_int, repo_root

    parser.add_argument(
        "submissions", nargs="+", type=existing_path, help="zips, folders, or folders of them"
    )
    parser.add_argument(
        "--out", type=output_dir, required=True, help="folder for similarity.json and similarity.html"
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=repo_root(),
        help="kit root whose skeleton and reference are subtracted (default: this kit)",
    )
    parser.add_argument(
        "--starter",
        type=existing_path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder whose code is also starter code, e.g. the release the students got (repeatable)",
    )
    parser.add_argument("--no-notebooks", action="store_true", help="compare the Python files only")
    parser.add_argument(
        "--top", type=positive_int, default=10, metavar="N", help="pairs printed (default 10)"
    )
    parser.add_argument(
        "--details",
        type=positive_int,
        default=10,
        metavar="N",
        help="top pairs whose matching code the HTML shows side by side (default 10)",
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from autograder.cli import submissions as find_submissions
    from autograder.similarity import SimilaritySettings, compare_submissions, ranked_table, write_report

    settings = SimilaritySettings(notebooks=not args.no_notebooks, detail_pairs=args.details)
    submissions = find_submissions(args.submissions)
    with tqdm(total=len(submissions), unit="submission", file=sys.stderr) as bar:
        report = compare_submissions(
            submissions,
            source=args.source,
            starters=args.starter,
            settings=settings,
            on_submission=lambda student: (bar.set_postfix_str(student), bar.update(1)),
        )
    for path, reason in report.skipped:
        print(f"not compared {path}: {reason}", file=sys.stderr)
    paths = write_report(report, args.out)
    print(ranked_table(report, args.top))
    print(f"{len(report.students)} submissions compared in {report.seconds:.1f} s (starter code subtracted)")
    print(f"report: {paths.html}\ndata:   {paths.json}")
    return 0
