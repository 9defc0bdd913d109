"""`autograder grade SUBMISSIONS... --out DIR [--workers N] [--parts suites,notebooks]`: every student in
one pass (hidden suites, notebooks, feedback examples), sandboxed, parallel, resumable; then the reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "grade submissions (suites and notebooks) in parallel sandboxes, then write the reports; resumable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.cli import existing_path, output_dir, positive_int

    parser.add_argument(
        "submissions", nargs="+", type=existing_path, help="zips, folders, or folders of them"
    )
    parser.add_argument("--out", type=output_dir, required=True, help="output folder (results/ go here)")
    parser.add_argument("--workers", type=positive_int, default=1, help="submissions graded at once")
    parser.add_argument(
        "--seed", type=int, default=0, help="grading seed (public: draws the randomised test cases)"
    )
    parser.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help="hex key that fixes the hidden scenes and digits (default: drawn once into OUT/.hidden-key)",
    )
    parser.add_argument(
        "--parts",
        type=_parts,
        default=None,
        help="what to grade, comma-separated: suites, notebooks (default: both)",
    )
    parser.add_argument(
        "--only",
        type=lambda text: [s for s in text.split(",") if s],
        default=None,
        help="regrade just these students (comma-separated ids), even when they have a result; the "
        "previous result is kept in OUT/results/history/",
    )
    parser.add_argument("--suites", type=Path, default=None, help="hidden suites folder (default: built in)")
    parser.add_argument(
        "--notebooks", type=Path, default=None, help="source notebooks folder (default: the kit's)"
    )
    parser.add_argument("--rubric", type=Path, default=None, help="rubric.toml (default: in the suites)")
    parser.add_argument(
        "--forbidden", type=Path, default=None, help="forbidden.toml (default: in the suites)"
    )
    parser.add_argument("--hidden-data", type=Path, default=None, help="trusted-only data folder")
    parser.add_argument("--isolation", choices=["auto", "bubblewrap", "process"], default="auto")
    parser.add_argument("--call-timeout", type=float, default=None, help="CPU seconds per sandbox call")
    parser.add_argument("--cell-timeout", type=float, default=None, help="seconds per notebook cell")
    parser.add_argument("--submission-timeout", type=float, default=None, help="seconds per submission")
    parser.add_argument("--keep-work", action="store_true", help="keep the extracted submissions")
    parser.add_argument(
        "--cluster",
        type=_cluster,
        default=None,
        help="grade on Dask: tcp://HOST:8786 (a running `dask scheduler`) or local:N (N worker processes "
        "here); needs the `cluster` extra; --workers is then unused (see docs/cluster.md)",
    )
    parser.add_argument(
        "--gpu", action="store_true", help="with --cluster: only on workers started with --resources GPU=1"
    )
    from autograder.commands.report import add_report_options

    add_report_options(parser)


def _parts(text: str) -> tuple:
    """argparse type of --parts: the library's check, as a usage error."""
    from autograder.grading.student import parse_parts

    try:
        return parse_parts(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cluster(text: str) -> str:
    """argparse type of --cluster: the library's check, as a usage error."""
    from autograder.grading.executors import parse_cluster

    try:
        parse_cluster(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from tqdm import tqdm

    from autograder.cli import submissions as find_submissions
    from autograder.commands.report import print_reports
    from autograder.grading import ALL_PARTS, HIDDEN_DIR, NOTEBOOKS_DIR, GradeSettings, grade_batch
    from autograder.grading.notebooks import NotebookGradingSettings
    from autograder.sandbox import detect_isolation

    settings = GradeSettings(isolation=args.isolation, keep_work=args.keep_work)
    if args.call_timeout:
        settings = dataclasses.replace(settings, call_s=args.call_timeout)
    if args.submission_timeout:
        settings = dataclasses.replace(settings, submission_s=args.submission_timeout)
    notebook_settings = NotebookGradingSettings()
    if args.cell_timeout:
        notebook_settings = dataclasses.replace(notebook_settings, cell_timeout_s=args.cell_timeout)
    submissions = find_submissions(args.submissions)
    if args.cluster:
        print(f"grading on the Dask cluster {args.cluster}; each result names its isolation", file=sys.stderr)
    else:
        print(f"isolation: {detect_isolation(settings.isolation).summary()}", file=sys.stderr)
    bar = tqdm(total=len(set(args.only or [])) or len(submissions), unit="submission", file=sys.stderr)

    def progress(result, resumed: bool) -> None:
        bar.set_postfix_str(f"{result.student}: {result.status}" + (" (resumed)" if resumed else ""))
        bar.update(1)

    try:
        summary = grade_batch(
            submissions,
            out=args.out,
            workers=args.workers,
            seed=args.seed,
            parts=args.parts or ALL_PARTS,
            suites=args.suites or HIDDEN_DIR,
            notebooks=args.notebooks or NOTEBOOKS_DIR,
            notebook_settings=notebook_settings,
            rubric=args.rubric,
            forbidden=args.forbidden,
            hidden_data=args.hidden_data,
            settings=settings,
            on_result=progress,
            secret_file=args.secret_file,
            cluster=args.cluster,
            gpu=args.gpu,
            only=args.only,
        )
    finally:
        bar.close()
    print_reports(args, args.out)
    results = args.out / "results"
    if args.only:
        print(
            f"{summary.graded} regraded in {summary.seconds:.1f} s (the results they replace are in "
            f"{results / 'history'}; the other students' are unchanged); results in {results}"
        )
    else:
        done = f"{summary.graded} graded, {summary.resumed} resumed in {summary.seconds:.1f} s"
        print(f"{done}; results in {results}")
    return 0
