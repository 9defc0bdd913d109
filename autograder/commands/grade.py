"""`autograder grade SUBMISSIONS... --out DIR --workers N [--seed S]`: sandboxed, parallel, resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "grade submissions (zips or folders) in parallel sandboxes; re-running resumes"


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
    parser.add_argument("--suites", type=Path, default=None, help="hidden suites folder (default: built in)")
    parser.add_argument("--rubric", type=Path, default=None, help="rubric.toml (default: in the suites)")
    parser.add_argument(
        "--forbidden", type=Path, default=None, help="forbidden.toml (default: in the suites)"
    )
    parser.add_argument("--hidden-data", type=Path, default=None, help="trusted-only data folder")
    parser.add_argument("--isolation", choices=["auto", "bubblewrap", "process"], default="auto")
    parser.add_argument("--call-timeout", type=float, default=None, help="seconds per sandbox call")
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
    from autograder.grading import HIDDEN_DIR, GradeSettings, grade_batch
    from autograder.sandbox import detect_isolation

    settings = GradeSettings(isolation=args.isolation, keep_work=args.keep_work)
    if args.call_timeout:
        settings = dataclasses.replace(settings, call_s=args.call_timeout)
    if args.submission_timeout:
        settings = dataclasses.replace(settings, submission_s=args.submission_timeout)
    submissions = find_submissions(args.submissions)
    if args.cluster:
        print(f"grading on the Dask cluster {args.cluster}; each result names its isolation", file=sys.stderr)
    else:
        print(f"isolation: {detect_isolation(settings.isolation).summary()}", file=sys.stderr)
    bar = tqdm(total=len(submissions), unit="submission", file=sys.stderr)

    def progress(result, resumed: bool) -> None:  # noqa: ANN001 - a SubmissionResult
        bar.set_postfix_str(f"{result.student}: {result.status}" + (" (resumed)" if resumed else ""))
        bar.update(1)

    try:
        summary = grade_batch(
            submissions,
            out=args.out,
            workers=args.workers,
            seed=args.seed,
            suites=args.suites or HIDDEN_DIR,
            rubric=args.rubric,
            forbidden=args.forbidden,
            hidden_data=args.hidden_data,
            settings=settings,
            on_result=progress,
            secret_file=args.secret_file,
            cluster=args.cluster,
            gpu=args.gpu,
        )
    finally:
        bar.close()
    for student, result in sorted(summary.results.items()):
        print(f"{student:<30} {result.status:<9} {result.score:g}/{result.max_score:g}")
    print(
        f"{summary.graded} graded, {summary.resumed} resumed in {summary.seconds:.1f} s; "
        f"results in {args.out / 'results'}"
    )
    return 0
