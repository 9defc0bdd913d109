"""`autograder report SUBMISSIONS... --out DIR`: grade the notebooks (sandboxed, parallel, resumable), merge
them with the hidden-suite results of `autograder grade` in DIR/results, and write every report."""

from __future__ import annotations

import argparse
import sys

HELP = "grade the notebooks, merge with `autograder grade` results, write results.json/CSV/HTML reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import existing_path, output_dir, positive_int

    parser.add_argument(
        "submissions", nargs="+", type=existing_path, help="the same zips/folders given to `grade`"
    )
    parser.add_argument("--out", type=output_dir, required=True, help="the folder `autograder grade` wrote")
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="submissions whose notebooks run at once"
    )
    parser.add_argument("--seed", type=int, default=0, help="the grading seed used by `grade`")
    parser.add_argument(
        "--notebooks", type=existing_path, default=None, help="source notebooks (default: the kit's)"
    )
    parser.add_argument("--no-notebooks", action="store_true", help="only merge and report")
    parser.add_argument("--cell-timeout", type=float, default=None, help="seconds per notebook cell")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from autograder.cli import submissions as find_submissions
    from autograder.grading.notebooks import NotebookGradingSettings
    from autograder.grading.notebooks.batch import report_batch
    from autograder.grading.notebooks.pipeline import NOTEBOOKS_DIR
    from autograder.reports import gradebook_table

    settings = NotebookGradingSettings()
    if args.cell_timeout:
        settings = dataclasses.replace(settings, cell_timeout_s=args.cell_timeout)

    def progress(record: dict, resumed: bool) -> None:
        tests = sum(len(n["tests"]) for n in record["notebooks"])
        again = " (resumed)" if resumed else ""
        print(f"notebooks of {record['student']}: {tests} tests{again}", file=sys.stderr)

    merged, paths = report_batch(
        find_submissions(args.submissions),
        out=args.out,
        notebooks=None if args.no_notebooks else (args.notebooks or NOTEBOOKS_DIR),
        workers=args.workers,
        seed=args.seed,
        settings=settings,
        on_result=progress,
    )
    print(gradebook_table(merged))
    print(f"grades: {paths.grades_csv}\nclass summary: {paths.summary_html}")
    for student in sorted(paths.feedback_html):
        print(f"{student}: {paths.feedback_html[student]}  {paths.results_json[student]}")
    return 0
