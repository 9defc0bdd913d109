"""Grade one student, everything in one pass: intake -> hidden suites -> segmentation examples (for
the feedback page) -> notebooks -> one `SubmissionResult`.

Runs in the trusted process (in a batch: one child process per submission, here or on a Dask worker).
Student code runs only in the sandbox: the suites through the grading worker, the examples through
the worker again, the notebooks through the notebook runner. Each stage's wall and CPU time is kept in
`result.stages`: its start (epoch seconds), wall seconds, and the CPU seconds of this process and the
children it reaped (a lower bound: processes a sandbox kills are not counted; `bench/grading.py`
samples the whole process tree instead).
"""

from __future__ import annotations

import contextlib
import logging
import resource
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError, IntakeRejected
from autograder.intake import extract_submission, source_sha256, student_id
from autograder.sandbox import Isolation, detect_isolation

from .notebooks.settings import NotebookGradingSettings
from .proxy import stub_messages
from .results import SubmissionResult, SubmissionStatus
from .rubric import load_rubric, rubric_total
from .settings import HIDDEN_DIR, GradeSettings
from .single import grade_submission

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
"""The instructor's source notebooks of this kit (hidden tests included)."""
EXAMPLE_CALL_S = 60.0
EXAMPLES = 3
"""Segmentation examples on each feedback page."""


class Part(StrEnum):
    """What `autograder grade --parts` can restrict a run to."""

    SUITES = "suites"
    """The hidden pytest suites (and the segmentation examples of the feedback page)."""
    NOTEBOOKS = "notebooks"
    """The four notebooks, run in the sandbox and scored cell by cell."""


ALL_PARTS: tuple[Part, ...] = (Part.SUITES, Part.NOTEBOOKS)


def parse_parts(text: str | Iterable[str]) -> tuple[Part, ...]:
    """`"suites,notebooks"` (or a list of names) -> the parts in canonical order; ValueError naming an
    unknown part or an empty list."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    known = {str(p) for p in Part}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        what = f"unknown part {', '.join(map(repr, unknown))}" if unknown else "no part given"
        raise ValueError(f"{what}: choose from {', '.join(sorted(known))} (comma-separated)")
    return tuple(p for p in ALL_PARTS if str(p) in names)


def _cpu_seconds() -> float:
    """CPU time of this process and every child it has waited for (sandboxed workers, kernels)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def _stage(stages: dict[str, dict[str, float]], name: str) -> Iterator[None]:
    at, wall, cpu = time.time(), time.monotonic(), _cpu_seconds()
    try:
        yield
    finally:
        stages[name] = {
            "at": round(at, 3),
            "wall_s": round(time.monotonic() - wall, 3),
            "cpu_s": round(_cpu_seconds() - cpu, 3),
        }


def prediction_examples(
    root: Path,
    *,
    seed: int,
    hidden_key: int | None = None,
    count: int = EXAMPLES,
    settings: GradeSettings | None = None,
    isolation: Isolation | None = None,
) -> list[dict[str, str]]:
    """PNG examples of the student's `models/segmentation` on `count` hidden scenes, predicted in the
    sandbox through the grader's proxy; empty when there is no model or it fails (never raises for it)."""
    from autograder.hidden.hidden_data import EXAMPLE_PURPOSE, hidden_scenes
    from autograder.reports.merge import segmentation_examples
    from exercise_code.config import CONFIG

    from .proxy import Submission
    from .secret import draw_key
    from .session import WorkerSession

    if count <= 0 or not (root / "models" / "segmentation.pt").is_file():
        return []
    settings = settings or GradeSettings()
    key = draw_key() if hidden_key is None else hidden_key
    images, truth = hidden_scenes(key, count, CONFIG.scene_size, EXAMPLE_PURPOSE).tensors()
    session = WorkerSession(
        root,
        isolation or detect_isolation(settings.isolation),
        limits=settings.sandbox,
        forbidden={},
        call_s=min(settings.call_s, EXAMPLE_CALL_S),
        deadline=time.monotonic() + EXAMPLE_CALL_S * 2,
        submission_s=EXAMPLE_CALL_S * 2,
    )
    try:
        logits = Submission(root, session, seed=seed).load_model("segmentation")(images)
        return segmentation_examples(images, truth, logits, limit=count)
    except (AutograderError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
        log.info("no segmentation examples for %s: %s", root, exc)
        return []
    finally:
        session.stop()


def _intake_only(
    path: Path, workdir: Path, student: str, seed: int, settings: GradeSettings, isolation: Isolation
) -> SubmissionResult:
    """The result shell of a run without the suites: intake only (a rejected archive ends here)."""
    result = SubmissionResult(student=student, status=SubmissionStatus.GRADED, seed=seed, source=str(path))
    result.isolation, result.isolation_note = str(isolation.kind), isolation.summary()
    try:
        intake = extract_submission(path, workdir, limits=settings.intake, student=student)
    except IntakeRejected as exc:
        result.status, result.message = SubmissionStatus.REJECTED, f"submission rejected: {exc}"
        with contextlib.suppress(OSError):
            result.source_sha256 = source_sha256(path)
        return result
    result.source_sha256 = intake.manifest.source_sha256
    result.manifest_sha256 = intake.manifest.sha256
    return result


def grade_student(
    path: Path,
    *,
    out: Path,
    parts: Iterable[Part] = ALL_PARTS,
    suites: Path = HIDDEN_DIR,
    notebooks: Path = NOTEBOOKS_DIR,
    rubric: Path | None = None,
    forbidden: Path | None = None,
    hidden_data: Path | None = None,
    seed: int = 0,
    hidden_key: int | None = None,
    settings: GradeSettings | None = None,
    notebook_settings: NotebookGradingSettings | None = None,
    student: str | None = None,
    isolation: Isolation | None = None,
    examples: int = EXAMPLES,
) -> SubmissionResult:
    """Grade the zip or folder at `path`: the `parts` asked for, on one extracted copy under
    `out/work/<student>/`, within one time budget (`settings.submission_s`).

    Never raises for anything the student did. A rejected archive still carries every part's maximum
    (the suites' from the rubric, each notebook test as `missing`); a grader failure in the suites
    still grades the notebooks.
    """
    from autograder.reports.merge import merge_results

    from .notebooks.grade import grade_notebooks

    parts = tuple(parts)
    settings = settings or GradeSettings()
    notebook_settings = notebook_settings or NotebookGradingSettings()
    isolation = isolation or detect_isolation(settings.isolation)
    student = student or student_id(Path(path))
    started = time.monotonic()
    workdir = Path(out) / "work" / student
    root = workdir / "submission"
    stages: dict[str, dict[str, float]] = {}
    suite_max = rubric_total(load_rubric(rubric or Path(suites) / "rubric.toml"))
    try:
        if Part.SUITES in parts:
            with _stage(stages, "suites"):
                try:
                    suite = grade_submission(
                        Path(path),
                        out=out,
                        suites=suites,
                        rubric=rubric,
                        forbidden=forbidden,
                        hidden_data=hidden_data,
                        seed=seed,
                        hidden_key=hidden_key,
                        settings=replace(settings, keep_work=True),
                        student=student,
                        isolation=isolation,
                    )
                except AutograderError as exc:
                    log.warning("hidden suites failed for %s: %s", student, exc)
                    suite = SubmissionResult(
                        student=student,
                        status=SubmissionStatus.ERROR,
                        seed=seed,
                        source=str(path),
                        max_score=suite_max,
                        message=f"the hidden suites could not run: {exc}",
                    )
        else:
            with _stage(stages, "intake"):
                suite = _intake_only(Path(path), workdir, student, seed, settings, isolation)
        rejected = suite.status is SubmissionStatus.REJECTED
        if not rejected and not root.is_dir():  # the suites' grader failed before or after intake
            with contextlib.suppress(AutograderError):
                extract_submission(Path(path), workdir, limits=settings.intake, student=student)
        if not root.is_dir():  # rejected: every notebook test is `missing`
            root = workdir / "empty"
            root.mkdir(parents=True, exist_ok=True)
        pictures: list[dict[str, str]] = []
        if Part.SUITES in parts and not rejected:
            with _stage(stages, "examples"):
                pictures = prediction_examples(
                    root,
                    seed=seed,
                    hidden_key=hidden_key,
                    count=examples,
                    settings=settings,
                    isolation=isolation,
                )
        notebook_results: list[dict[str, Any]] = []
        if Part.NOTEBOOKS in parts:
            left = settings.submission_s - (time.monotonic() - started)
            with _stage(stages, "notebooks"):
                notebook_results = grade_notebooks(
                    source_dir=notebooks,
                    submission_root=root,
                    settings=notebook_settings,
                    budget_s=max(left, 0.5),
                    stopped=stub_messages(suite.stopped, settings.call_s),
                )
    finally:
        if not settings.keep_work:  # the manifest (what was graded) stays
            shutil.rmtree(workdir / "submission", ignore_errors=True)
            shutil.rmtree(workdir / "empty", ignore_errors=True)
    merged = merge_results(suite.to_dict(), notebook_results, student=student)
    result = SubmissionResult.from_dict(merged)
    result.parts = [str(p) for p in parts]
    result.examples = pictures
    result.stages = stages
    result.seconds = round(time.monotonic() - started, 3)
    return result
