"""The notebook half of a batch: every submission's notebooks (and feedback examples), in parallel and
resumable, then each student's suite result merged with them and every report written.

`DIR/notebooks/<student>.json` holds `{student, source_sha256, seed, notebooks, examples}`; a re-run
skips a submission whose stored record has the same source hash and seed. The hidden-suite results
come from `autograder grade` in `DIR/results/<student>.json`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError, GradingError

from .grade import grade_notebooks
from .pipeline import NOTEBOOKS_DIR, prediction_examples
from .settings import NotebookGradingSettings

log = logging.getLogger(__name__)


def _stored(path: Path, source_sha256: str, seed: int) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("source_sha256") == source_sha256 and record.get("seed") == seed:
            return record
    return None


def _grade_one(
    job: Any, *, out: Path, notebooks: Path, seed: int, settings: NotebookGradingSettings, examples: int,
    grade_settings: Any,
) -> dict[str, Any]:  # fmt: skip
    from autograder.intake import extract_submission

    workdir = out / "nbwork" / job.student
    root = workdir / "submission"
    note = ""
    try:
        extract_submission(job.submission, workdir, limits=grade_settings.intake, student=job.student)
    except AutograderError as exc:  # rejected by intake: every notebook test is `missing`
        note = f"submission rejected: {exc}"
        root = workdir / "empty"
        root.mkdir(parents=True, exist_ok=True)
    try:
        pictures = prediction_examples(root, seed=seed, count=examples, settings=grade_settings)
        results = grade_notebooks(source_dir=notebooks, submission_root=root, settings=settings)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "student": job.student,
        "source_sha256": job.source_sha256,
        "seed": seed,
        "message": note,
        "notebooks": results,
        "examples": pictures,
    }


def grade_notebooks_batch(
    submissions: Sequence[Path],
    *,
    out: Path,
    notebooks: Path = NOTEBOOKS_DIR,
    workers: int = 1,
    seed: int = 0,
    settings: NotebookGradingSettings | None = None,
    grade_settings: Any = None,
    examples: int = 3,
    on_result: Callable[[dict[str, Any], bool], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Grade the notebooks of `submissions` with `workers` threads (each drives sandboxed processes).

    Student ids and source hashes are the ones `autograder grade` uses, so records line up with
    `DIR/results/`. Returns student -> record; `on_result(record, resumed)` is called for each.
    """
    from autograder.grading.batch import plan_jobs
    from autograder.grading.settings import GradeSettings
    from autograder.intake import write_json_atomic

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    settings = settings or NotebookGradingSettings()
    grade_settings = grade_settings or GradeSettings()
    folder = Path(out) / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = {}
    pending = []
    for job in plan_jobs(submissions):
        stored = _stored(folder / f"{job.student}.json", job.source_sha256, seed)
        if stored is not None:
            records[job.student] = stored
            if on_result:
                on_result(stored, True)
        else:
            pending.append(job)
    options = dict(
        out=Path(out), notebooks=Path(notebooks), seed=seed, settings=settings, examples=examples,
        grade_settings=grade_settings,
    )  # fmt: skip
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nbgrade") as pool:
        futures = {pool.submit(_grade_one, job, **options): job for job in pending}
        for future in as_completed(futures):
            record = future.result()
            write_json_atomic(folder / f"{record['student']}.json", record)
            records[record["student"]] = record
            if on_result:
                on_result(record, False)
    return records


def merged_results(out: Path, records: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One merged result per student from `DIR/results/` (suites) and `DIR/notebooks/` (notebooks).

    A student whose suites were not fully graded (rejected, crashed, ...) gets the other students'
    suite tests with zero points (`merge_results(expected=...)`): every max_score is the assignment's.
    """
    from autograder.reports.merge import expected_tests, merge_results

    out = Path(out)
    if records is None:
        records = {}
        for path in sorted((out / "notebooks").glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                record = json.loads(path.read_text(encoding="utf-8"))
                records[str(record["student"])] = record
    suites = {}
    for path in sorted((out / "results").glob("*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            result = json.loads(path.read_text(encoding="utf-8"))
            suites[str(result["student"])] = result
    expected = expected_tests(suites.values())
    merged = []
    for student in sorted(set(suites) | set(records)):
        record = records.get(student, {})
        result = merge_results(
            suites.get(student), record.get("notebooks", []), student=student, expected=expected
        )
        if record.get("message") and record["message"] not in str(result.get("message", "")):
            result["message"] = "\n".join(filter(None, [result.get("message"), record["message"]]))
        if record.get("examples"):
            result["examples"] = record["examples"]
        merged.append(result)
    return merged


def report_batch(
    submissions: Sequence[Path],
    *,
    out: Path,
    notebooks: Path | None = NOTEBOOKS_DIR,
    workers: int = 1,
    seed: int = 0,
    settings: NotebookGradingSettings | None = None,
    grade_settings: Any = None,
    on_result: Callable[[dict[str, Any], bool], None] | None = None,
) -> tuple[list[dict[str, Any]], Any]:
    """Notebooks of `submissions` (skipped when `notebooks` is None), merged with `DIR/results/`,
    every report written to `DIR/reports/`. Returns the merged results and the `ReportPaths`.

    Raises GradingError when `DIR/results/` holds no result (`autograder grade` has not run there).
    """
    from autograder.reports import write_reports

    results = Path(out) / "results"
    if not any(results.glob("*.json")):
        raise GradingError(
            f"no hidden-suite results in {results}: run `autograder grade` with the same --out first"
        )
    records = None
    if notebooks is not None:
        records = grade_notebooks_batch(
            submissions, out=out, notebooks=notebooks, workers=workers, seed=seed, settings=settings,
            grade_settings=grade_settings, on_result=on_result,
        )  # fmt: skip
    merged = merged_results(Path(out), records)
    return merged, write_reports(merged, Path(out) / "reports")
