"""Grade one submission: intake, a sandboxed worker, the hidden suites under pytest, the segmentation
examples of the feedback page (on the same worker), one result.

Runs in the trusted process (in a batch: one child process per submission). Student code only ever
runs inside the worker; the hidden suites, rubric and hidden data stay on this side.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from autograder.errors import AutograderError, IntakeRejected
from autograder.intake import Intake, extract_submission, missing_parts, source_sha256, student_id
from autograder.sandbox import CappedLog, Isolation, detect_isolation

from . import plugin as plugin_module
from .forbidden import load_forbidden
from .plugin import GradingRun
from .proxy import Submission
from .results import SubmissionResult, SubmissionStatus
from .rubric import load_rubric, rubric_total
from .secret import draw_key
from .session import WorkerSession
from .settings import HIDDEN_DIR, GradeSettings
from .stages import stage

log = logging.getLogger(__name__)


def prediction_examples(submission: Submission, hidden_key: int, count: int) -> list[dict[str, str]]:
    """PNG examples of the student's `models/segmentation` on `count` hidden scenes, predicted in the
    sandbox through the grader's proxy; empty when there is no model or it fails (never raises for it)."""
    from autograder.hidden.hidden_data import EXAMPLE_PURPOSE, hidden_scenes
    from autograder.reports.merge import segmentation_examples
    from exercise_code.config import CONFIG

    if count <= 0 or not (submission.root / "models" / "segmentation.pt").is_file():
        return []
    images, truth = hidden_scenes(hidden_key, count, CONFIG.scene_size, EXAMPLE_PURPOSE).tensors()
    try:
        logits = submission.load_model("segmentation")(images)
        return segmentation_examples(images, truth, logits, limit=count)
    except (AutograderError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
        log.info("no segmentation examples for %s: %s", submission.root, exc)
        return []


def _pytest_args(suites: Path, ini: Path) -> list[str]:
    return [
        str(suites),
        "-q",
        "-c",
        str(ini),
        "--rootdir",
        str(suites),
        "--confcutdir",
        str(suites),
        "--import-mode=importlib",
        "--assert=plain",  # an assert's own message, not pytest's rewritten `assert ... where ...` dump
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
        "-p",
        "no:logging",  # the log goes to the child's log file as it is; capturing it per test cost 0.2 CPU-s
        "-W",
        "ignore::DeprecationWarning",
    ]


def take_in(
    path: Path, workdir: Path, student: str, seed: int, settings: GradeSettings, isolation: Isolation
) -> tuple[SubmissionResult, Intake | None]:
    """Extract the submission into `workdir` (its `intake` stage timed): the result shell, and the
    intake; None when the archive is rejected (the result then says why, with status `rejected`)."""
    result = SubmissionResult(student=student, status=SubmissionStatus.GRADED, seed=seed, source=str(path))
    result.isolation, result.isolation_note = str(isolation.kind), isolation.summary()
    try:
        with stage(result.stages, "intake"):
            intake = extract_submission(path, workdir, limits=settings.intake, student=student)
    except IntakeRejected as exc:
        result.status, result.message = SubmissionStatus.REJECTED, f"submission rejected: {exc}"
        with contextlib.suppress(OSError):
            result.source_sha256 = source_sha256(path)
        return result, None
    result.source_sha256 = intake.manifest.source_sha256
    result.manifest_sha256 = intake.manifest.sha256
    return result, intake


def grade_submission(
    path: Path,
    *,
    out: Path,
    suites: Path = HIDDEN_DIR,
    rubric: Path | None = None,
    forbidden: Path | None = None,
    hidden_data: Path | None = None,
    seed: int = 0,
    hidden_key: int | None = None,
    settings: GradeSettings | None = None,
    student: str | None = None,
    isolation: Isolation | None = None,
    examples: int = 0,
) -> SubmissionResult:
    """Grade the zip or folder at `path`; the extracted copy and manifest go to `out/work/<student>/`.
    `examples`: how many hidden scenes the student's segmentation model draws for the feedback page,
    predicted by the worker that ran the suites (no second torch start); their time is
    `result.stages["examples"]`, the rest `result.stages["suites"]`.

    Never raises for a bad submission: a rejected archive, a crashing or hanging student all end up
    in the returned result. `rubric`/`forbidden`/`hidden_data` default to files in `suites`. `seed` draws
    the randomised cases; `hidden_key` (secret, never sent to the sandbox) the hidden scenes and digits,
    drawn from the OS when None.
    """
    settings = settings or GradeSettings()
    start = time.monotonic()
    deadline = start + settings.submission_s
    path, suites = Path(path), Path(suites).resolve()
    student = student or student_id(path)
    isolation = isolation or detect_isolation(settings.isolation)
    rubric_entries = load_rubric(rubric or suites / "rubric.toml")
    result, intake = take_in(path, Path(out) / "work" / student, student, seed, settings, isolation)
    if intake is None:
        result.max_score = rubric_total(rubric_entries)
        result.seconds = round(time.monotonic() - start, 3)
        return result
    missing = missing_parts(intake.root)
    if missing:
        result.message = "missing from the submission: " + ", ".join(missing)
    logs = CappedLog()
    session = WorkerSession(
        intake.root,
        isolation,
        limits=settings.sandbox,
        forbidden=load_forbidden(forbidden or suites / "forbidden.toml"),
        call_s=settings.call_s,
        deadline=deadline,
        submission_s=settings.submission_s,
        log_sink=logs,
        wall_factor=settings.wall_factor,
        warm=settings.warm_start,
    )
    run = GradingRun(
        submission=Submission(intake.root, session, seed=seed),
        suites=suites,
        rubric=rubric_entries,
        seed=seed,
        hidden_key=draw_key() if hidden_key is None else hidden_key,
        hidden_data_dir=hidden_data or suites / "data",
        deadline=deadline,
        submission_s=settings.submission_s,
        message_chars=settings.message_chars,
    )
    try:
        with stage(result.stages, "suites"):
            code = _run_pytest(suites, run)
        if run.collection_errors or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            result.status = SubmissionStatus.ERROR
            detail = "; ".join(run.collection_errors)[:2000]
            result.message = f"the grader failed (pytest exit {int(code)}): {detail}".strip()
        if examples > 0:
            with stage(result.stages, "examples"):
                result.examples = prediction_examples(run.submission, run.hidden_key, examples)
    except AutograderError as exc:
        result.status, result.message = SubmissionStatus.ERROR, f"the grader failed: {exc}"
    finally:
        session.close()
        if not settings.keep_work:
            shutil.rmtree(intake.root, ignore_errors=True)
    result.tests = run.results
    result.stopped = dict(run.submission.stopped)
    result.total()
    if run.budget_exhausted and result.status is SubmissionStatus.GRADED:
        result.status = SubmissionStatus.TIMEOUT
        result.message = "; ".join(
            m for m in [result.message, f"time budget of {settings.submission_s:g} s used up"] if m
        )
    result.log_excerpt = logs.text(settings.log_excerpt_chars)
    result.seconds = round(time.monotonic() - start, 3)
    return result


def _run_pytest(suites: Path, run: GradingRun) -> pytest.ExitCode:
    """pytest.main over the suites with the plugin; its terminal output goes to the log, not stdout."""
    if not suites.is_dir():
        raise AutograderError(f"hidden suites folder {suites} does not exist")
    with tempfile.TemporaryDirectory(prefix="autograder-pytest-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\naddopts =\n")
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            code = pytest.main(_pytest_args(suites, ini), plugins=[plugin_module, run])
        log.debug("pytest output:\n%s", sink.getvalue()[-20000:])
    return pytest.ExitCode(code) if isinstance(code, int) else code
