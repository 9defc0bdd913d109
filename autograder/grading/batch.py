"""Parallel, resumable batch grading: one child process per submission, results written as they finish.

`DIR/results/<student>.json` is written atomically by each child; a re-run skips every submission whose
result carries the same source hash and seed, so a batch killed at any point (even `kill -9`) resumes
without regrading or losing anything. A child that dies or hangs is recorded as `crashed`/`timeout`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import GradingError
from autograder.intake import source_sha256, student_id
from autograder.sandbox import Isolation, cgroups, detect_isolation

from .results import SubmissionResult, SubmissionStatus
from .rubric import load_rubric, rubric_total
from .secret import batch_key_file
from .settings import HIDDEN_DIR, GradeSettings

log = logging.getLogger(__name__)
CHILD_GRACE_S = 180.0
"""Time a child gets on top of the submission budget (intake, imports, worker start) before it is killed."""


@dataclass(frozen=True)
class Job:
    submission: Path
    student: str
    source_sha256: str


@dataclass
class BatchSummary:
    """What a batch did: every result (new and resumed), and how many were graded now."""

    results: dict[str, SubmissionResult] = field(default_factory=dict)
    graded: int = 0
    resumed: int = 0
    seconds: float = 0.0


def find_submissions(paths: Iterable[Path]) -> list[Path]:
    """Expand the arguments: a zip or a folder with exercise_code/ is one submission; any other
    folder stands for the zips and sub-folders inside it."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise GradingError(f"{path} does not exist")
        if path.is_dir() and not (path / "exercise_code").exists():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() == ".zip" or p.is_dir())
        else:
            found.append(path)
    return found


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


def _done(path: Path, job: Job, seed: int) -> SubmissionResult | None:
    """The stored result of `job`, if it is complete and for the same source and seed."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        result = SubmissionResult.load(path)
        if result.source_sha256 == job.source_sha256 and result.seed == seed:
            return result
    return None


class _Running:
    def __init__(self, job: Job, proc: subprocess.Popen[bytes], deadline: float) -> None:
        self.job, self.proc, self.deadline = job, proc, deadline
        self.started = time.monotonic()


def grade_batch(
    submissions: Sequence[Path],
    *,
    out: Path,
    workers: int = 1,
    seed: int = 0,
    suites: Path = HIDDEN_DIR,
    rubric: Path | None = None,
    forbidden: Path | None = None,
    hidden_data: Path | None = None,
    settings: GradeSettings | None = None,
    on_result: Callable[[SubmissionResult, bool], None] | None = None,
    secret_file: Path | None = None,
) -> BatchSummary:
    """Grade `submissions` with `workers` child processes; `on_result(result, resumed)` per submission.

    The hidden data come from the key in `secret_file`, else from `<out>/.hidden-key`, drawn from the OS
    on the first run (see `autograder.grading.secret`).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    settings = settings or GradeSettings()
    isolation = detect_isolation(settings.isolation)  # fail early (SandboxUnavailable) and log once
    log.info("isolation: %s", isolation.summary())
    start = time.monotonic()
    out = Path(out)
    results_dir, logs_dir = out / "results", out / "logs"
    results_dir.mkdir(parents=True, exist_ok=True)
    logs_dir.mkdir(parents=True, exist_ok=True)
    for stale in results_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    if isolation.cgroups.usable:
        cgroups.remove_owned_by(None)  # groups of graders that were killed
    total = rubric_total(load_rubric(rubric or Path(suites) / "rubric.toml"))  # also: fail early if broken
    key_file = batch_key_file(out, secret_file)
    summary = BatchSummary()
    pending: list[Job] = []
    for job in plan_jobs(submissions):
        done = _done(results_dir / f"{job.student}.json", job, seed)
        if done is not None:
            summary.results[job.student], summary.resumed = done, summary.resumed + 1
            if on_result:
                on_result(done, True)
        else:
            pending.append(job)
    common = {
        "out": str(out),
        "suites": str(Path(suites).resolve()),
        "seed": seed,
        "key_file": str(key_file),
        "settings": settings.to_dict(),
        "parent_pid": os.getpid(),
        **{
            k: str(v)
            for k, v in (("rubric", rubric), ("forbidden", forbidden), ("hidden_data", hidden_data))
            if v
        },
    }
    running: list[_Running] = []
    try:
        while pending or running:
            while pending and len(running) < workers:
                running.append(_spawn(pending.pop(0), common, results_dir, logs_dir, settings))
            time.sleep(0.05)
            for task in list(running):
                if task.proc.poll() is None and time.monotonic() < task.deadline:
                    continue
                running.remove(task)
                result = _collect(task, results_dir, logs_dir, seed, isolation, total)
                summary.results[task.job.student], summary.graded = result, summary.graded + 1
                if on_result:
                    on_result(result, False)
    finally:
        for task in running:  # interrupted: stop the children (their sandboxes die with them)
            _kill(task.proc)
    summary.seconds = time.monotonic() - start
    return summary


def _spawn(job: Job, common: dict, results_dir: Path, logs_dir: Path, settings: GradeSettings) -> _Running:
    payload = {
        **common,
        "submission": str(job.submission),
        "student": job.student,
        "source_sha256": job.source_sha256,
        "result": str(results_dir / f"{job.student}.json"),
    }
    with open(logs_dir / f"{job.student}.log", "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.grading.child", json.dumps(payload)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.info("grading %s (pid %d)", job.student, proc.pid)
    return _Running(job, proc, time.monotonic() + settings.submission_s + CHILD_GRACE_S)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    cgroups.remove_owned_by(proc.pid)


def _collect(
    task: _Running, results_dir: Path, logs_dir: Path, seed: int, isolation: Isolation, total: float
) -> SubmissionResult:
    """The child's result, or a `crashed`/`timeout` record when it died or hung without writing one."""
    path = results_dir / f"{task.job.student}.json"
    hung = task.proc.poll() is None
    if hung:
        _kill(task.proc)
    else:
        with contextlib.suppress(OSError):  # its sandboxes' cgroups, if it died hard
            cgroups.remove_owned_by(task.proc.pid)
    result = None if hung else _done(path, task.job, seed)
    if result is not None:  # anything stale with this hash and seed would have been resumed, not run
        return result
    code = task.proc.returncode
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    tail = ""
    with contextlib.suppress(OSError):
        tail = (logs_dir / f"{task.job.student}.log").read_bytes()[-3000:].decode(errors="replace")
    result = SubmissionResult(
        student=task.job.student,
        status=SubmissionStatus.TIMEOUT if hung else SubmissionStatus.CRASHED,
        isolation=str(isolation.kind),
        isolation_note=isolation.summary(),
        max_score=total,
        seed=seed,
        seconds=round(time.monotonic() - task.started, 3),
        source=str(task.job.submission),
        source_sha256=task.job.source_sha256,
        message=(
            "grading this submission did not finish in time and was stopped"
            if hung
            else f"the grading process for this submission died ({how}); the rest of the batch is unaffected"
        ),
        log_excerpt=tail,
    )
    result.write(path)
    return result
