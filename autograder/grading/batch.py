"""The one batch engine: every student graded in one pass (`grade_student`: hidden suites, notebooks,
examples) by one child process per submission, here or on a Dask cluster (see `executors`), each
result stored as it arrives.

`DIR/results/<student>.json` is written atomically as each submission ends; a re-run skips every
submission whose result carries the same source hash, seed and parts, so a batch killed at any point (even
`kill -9`) resumes without regrading or losing anything. A child that dies or hangs is recorded as
`crashed`/`timeout`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import GradingError
from autograder.intake import source_sha256, student_id
from autograder.release.notebooks.build import source_notebooks
from autograder.sandbox import Isolation, detect_isolation

from .executors import BatchPlan, Outcome, make_executor
from .notebooks.settings import NotebookGradingSettings
from .notebooks.source import write_sources
from .results import SubmissionResult
from .rubric import load_rubric, rubric_total
from .secret import batch_key_file
from .settings import HIDDEN_DIR, GradeSettings
from .store import ResultStore, select
from .student import ALL_PARTS, NOTEBOOKS_DIR, Part

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    submission: Path
    student: str
    source_sha256: str
    stopped: dict[str, str] = field(default_factory=dict, hash=False)
    """Student functions the stored suites result stopped (a run without the suites stubs them out in the
    notebooks all the same)."""


@dataclass
class BatchSummary:
    """What a batch did: every result (new and resumed), and how many were graded now."""

    results: dict[str, SubmissionResult] = field(default_factory=dict)
    graded: int = 0
    resumed: int = 0
    seconds: float = 0.0


NOT_A_SUBMISSION = "not a zip or a submission folder"
SUBMISSION_MARKERS = ("exercise_code", "notebooks", "models")
"""A folder holding one of these is one student's submission, not a folder of submissions."""


@dataclass
class SubmissionScan:
    """What `scan_submissions` found: the submissions to grade, and each path passed over with why."""

    submissions: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _is_zip(path: Path) -> bool:
    import zipfile

    return path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path))


def _add(path: Path, scan: SubmissionScan) -> None:
    """One entry of a folder of submissions: a zip or a non-empty folder is a submission."""
    if _is_zip(path):
        scan.submissions.append(path)
    elif path.is_dir():
        if any(path.iterdir()):
            scan.submissions.append(path)
        else:
            scan.skipped.append((path, "empty folder"))
    else:
        scan.skipped.append((path, NOT_A_SUBMISSION))


def scan_submissions(paths: Iterable[Path]) -> SubmissionScan:
    """Expand the arguments: a zip, or a folder holding exercise_code/, notebooks/ or models/, is one
    submission; any other folder stands for the zips and non-empty folders inside it. Everything else
    (a file that is not a zip, an empty folder) is skipped with its reason, in argument order.

    Raises GradingError naming a path that does not exist.
    """
    scan = SubmissionScan()
    for path in map(Path, paths):
        if not path.exists():
            raise GradingError(f"{path} does not exist")
        if not path.is_dir():
            _add(path, scan)
        elif any((path / marker).exists() for marker in SUBMISSION_MARKERS):
            scan.submissions.append(path)
        elif not any(path.iterdir()):
            scan.skipped.append((path, "empty folder"))
        else:
            for child in sorted(path.iterdir()):
                _add(child, scan)
    return scan


def find_submissions(paths: Iterable[Path]) -> list[Path]:
    """The submissions of `scan_submissions(paths)` (what it skipped is dropped)."""
    return scan_submissions(paths).submissions


def plan_jobs(submissions: Sequence[Path]) -> list[Job]:
    """One job per submission with a unique student id (a duplicate id gets `-2`, `-3`, ...)."""
    jobs, seen = [], set()
    for path in submissions:
        base = student = student_id(path)
        n = 1
        while student in seen:
            n += 1
            student = f"{base}-{n}"
        seen.add(student)
        jobs.append(Job(path, student, source_sha256(path)))
    return jobs


def grade_batch(
    submissions: Sequence[Path],
    *,
    out: Path,
    workers: int = 1,
    seed: int = 0,
    parts: Sequence[Part] = ALL_PARTS,
    suites: Path = HIDDEN_DIR,
    notebooks: Path = NOTEBOOKS_DIR,
    rubric: Path | None = None,
    forbidden: Path | None = None,
    hidden_data: Path | None = None,
    settings: GradeSettings | None = None,
    notebook_settings: NotebookGradingSettings | None = None,
    on_result: Callable[[SubmissionResult, bool], None] | None = None,
    secret_file: Path | None = None,
    cluster: str | None = None,
    gpu: bool = False,
    only: Sequence[str] | None = None,
) -> BatchSummary:
    """Grade the `parts` (default: everything) of `submissions` with `workers` child processes here, or
    on the Dask `cluster` (`tcp://HOST:PORT` of a running scheduler, or `local:N` worker processes;
    `gpu`: only on workers with a `GPU` resource; see docs/cluster.md); `on_result(result, resumed)` per
    submission. `only`: grade just these students (by id), again even when they have a result.

    Locally each student's grading process is forked from `multiprocessing`'s fork server, which (its
    documented rule) imports the calling script again in that process: a script that calls this needs
    the `if __name__ == "__main__":` guard, else every student ends `crashed` with multiprocessing's
    "bootstrapping phase" error in the log (or pass `settings=GradeSettings(warm_start=False)`).

    The hidden data come from the key in `secret_file`, else from `<out>/.hidden-key`, drawn from the OS
    on the first run (see `autograder.grading.secret`). Results are stored in `<out>/results/` as they
    arrive, whatever the executor, so a re-run grades only what has no result yet.
    """
    executor = make_executor(workers=workers, cluster=cluster, gpu=gpu)  # validates before anything runs
    settings = settings or GradeSettings()
    isolation = None  # on a cluster, each worker's child detects (and reports) its own
    if cluster is None:
        isolation = detect_isolation(settings.isolation)  # fail early (SandboxUnavailable) and log once
        log.info("isolation: %s", isolation.summary())
    start = time.monotonic()
    out = Path(out)
    store, logs_dir = ResultStore(out / "results"), out / "logs"
    results_dir = store.folder
    logs_dir.mkdir(parents=True, exist_ok=True)
    total = rubric_total(load_rubric(rubric or Path(suites) / "rubric.toml"))  # also: fail early if broken
    key_file = batch_key_file(out, secret_file)
    summary = BatchSummary()
    pending: list[Job] = []
    previous: dict[str, SubmissionResult | None] = {}
    jobs = plan_jobs(submissions)
    try:
        chosen = set(select([j.student for j in jobs], only))
    except ValueError as exc:
        raise GradingError(str(exc)) from None
    for job in (j for j in jobs if j.student in chosen):
        done = None if only is not None else store.done(job, seed, parts)
        if done is None:
            previous[job.student] = before = store.load(job.student)
            store.archive(job.student)  # the record of what this run replaces
            if Part.SUITES not in parts and before is not None and store.same_code(before, job, seed):
                job = dataclasses.replace(job, stopped=before.stopped)
        if done is not None:
            summary.results[job.student], summary.resumed = done, summary.resumed + 1
            if on_result:
                on_result(done, True)
        else:
            pending.append(job)
    payload = {
        "out": str(out),
        "suites": str(Path(suites).resolve()),
        "seed": seed,
        "parts": [str(p) for p in parts],
        "notebooks": str(Path(notebooks).resolve()),
        "key_file": str(key_file),
        "settings": settings.to_dict(),
        "notebook_settings": dataclasses.asdict(notebook_settings or NotebookGradingSettings()),
        **{
            k: str(Path(v).resolve())
            for k, v in (("rubric", rubric), ("forbidden", forbidden), ("hidden_data", hidden_data))
            if v
        },
    }
    if pending and Part.NOTEBOOKS in parts:  # parsed once here, not once per child (~3 CPU-s each)
        found = source_notebooks(Path(notebooks))
        payload["sources"] = str(write_sources(found, out / "cache")) if found else ""
    plan = BatchPlan(payload=payload, settings=settings, results_dir=results_dir, logs_dir=logs_dir)
    if pending:  # a finished batch needs no workers (nor a cluster)
        with executor, contextlib.closing(executor.run(pending, plan)) as outcomes:
            for outcome in outcomes:
                before = previous.get(outcome.job.student)
                result = _record(outcome, seed, parts, isolation, total, store, before)
                summary.results[outcome.job.student], summary.graded = result, summary.graded + 1
                if on_result:
                    on_result(result, False)
    summary.seconds = time.monotonic() - start
    return summary


def _record(
    outcome: Outcome,
    seed: int,
    parts: Sequence[Part],
    isolation: Isolation | None,
    total: float,
    store: ResultStore,
    previous: SubmissionResult | None,
) -> SubmissionResult:
    """The outcome's result when it is for the job's source and seed, else a record of why there is none
    (`crashed`, `timeout`, ...); stored (with the parts only `previous` holds) unless the cluster, not
    the submission, failed (then a re-run grades it again)."""
    job, result = outcome.job, outcome.result
    asked = [str(p) for p in parts]
    fresh = result is not None and store.same_code(result, job, seed) and result.parts == asked
    if result is None or not fresh:  # a stale file would have been resumed
        result = SubmissionResult(
            student=job.student,
            status=outcome.status,
            isolation=str(isolation.kind) if isolation else "",
            isolation_note=isolation.summary() if isolation else "graded on a Dask cluster",
            max_score=total if Part.SUITES in parts else 0.0,
            seed=seed,
            parts=[str(p) for p in parts],
            seconds=outcome.seconds,
            source=str(job.submission),
            source_sha256=job.source_sha256,
            message=outcome.message,
            log_excerpt=outcome.log_tail,
        )
    if outcome.store:
        result = store.record(result, previous, job)
    return result
