"""`autograder manual DIR --export PATH | --import FILE`: hand-graded notebook answers out to TAs (a CSV
and one HTML page per question) and their points back in (`DIR/manual.json`, used by `report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "hand-graded notebook answers: --export a CSV and pages per question for TAs, --import the filled CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import existing_path

    parser.add_argument(
        "out", metavar="DIR", type=existing_path, help="the folder `autograder grade` wrote (results/ in it)"
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--export",
        type=_export_target,
        metavar="PATH",
        help="a PATH ending in .csv: that CSV, with the pages in <stem>-pages/ beside it; any other PATH: "
        "a folder receiving manual.csv, index.html and one page per question",
    )
    action.add_argument(
        "--import",
        dest="import_csv",
        type=_csv_file,
        metavar="FILE",
        help="the filled CSV: checked against the results, stored in DIR/manual.json (nothing is stored "
        "when a row is bad)",
    )
    parser.add_argument(
        "--notebooks",
        type=existing_path,
        metavar="SRC",
        default=None,
        help="with --export: source notebooks to read question prompts from, for results graded before "
        "grading kept them",
    )


def _export_target(text: str) -> Path:
    """argparse type of --export: a CSV file to write, or a folder."""
    from autograder.cli import output_dir, output_file

    return output_file(text) if text.lower().endswith(".csv") else output_dir(text)


def _csv_file(text: str) -> Path:
    """argparse type of --import: an existing file, not a folder."""
    from autograder.cli import existing_path

    path = existing_path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file; give the filled CSV")
    return path


def run(args: argparse.Namespace) -> int:
    from autograder.reports.manual import export_manual, import_manual, source_prompts

    if args.import_csv is not None:
        summary = import_manual(args.out, args.import_csv)
        print(
            f"{summary.new} new and {summary.changed} changed score(s) stored in {summary.path}; "
            f"{summary.unchanged} unchanged, {summary.blank} row(s) without points skipped"
        )
        return 0
    prompts = source_prompts(args.notebooks) if args.notebooks else None
    paths = export_manual(args.out, args.export, prompts=prompts)
    print(f"fill in {paths.csv} (points, comment), then: autograder manual {args.out} --import {paths.csv}")
    print(f"answers, one page per question: {paths.index}")
    return 0
