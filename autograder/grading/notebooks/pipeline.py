"""One student, everything: the hidden suites (`grade_submission`), the notebooks, a few segmentation
examples for the feedback page, merged into one result. Student code runs only in the sandbox."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError
from autograder.reports.merge import merge_results, segmentation_examples

from .grade import grade_notebooks
from .settings import NotebookGradingSettings

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path(__file__).resolve().parents[3] / "notebooks"
"""The instructor's source notebooks of this kit (hidden tests included)."""
EXAMPLE_CALL_S = 60.0


def prediction_examples(
    root: Path, *, seed: int, count: int = 3, settings: Any = None, isolation: Any = None
) -> list[dict[str, str]]:
    """PNG examples of the student's `models/segmentation` on `count` hidden scenes, predicted in the
    sandbox through the grader's proxy; empty when there is no model or it fails (never raises for it)."""
    from autograder.grading.proxy import Submission
    from autograder.grading.secret import draw_key
    from autograder.grading.session import WorkerSession
    from autograder.grading.settings import GradeSettings
    from autograder.hidden.hidden_data import EXAMPLE_PURPOSE, hidden_scenes
    from autograder.sandbox import detect_isolation
    from exercise_code.config import CONFIG

    if count <= 0 or not (root / "models" / "segmentation.pt").is_file():
        return []
    settings = settings or GradeSettings()
    images, truth = hidden_scenes(draw_key(), count, CONFIG.scene_size, EXAMPLE_PURPOSE).tensors()
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


def _suite_failed(student: str, seed: int, exc: Exception, suites: Path) -> dict[str, Any]:
    """The suite result of a grader failure; its max_score is the rubric's (0 when that is unreadable
    too), so the merged result still carries the suites' points (`merge_results`)."""
    from autograder.grading.rubric import load_rubric, rubric_total

    total = 0.0
    with contextlib.suppress(AutograderError):
        total = rubric_total(load_rubric(suites / "rubric.toml"))
    return {
        "student": student,
        "status": "error",
        "message": f"the hidden suites could not run: {exc}",
        "seed": seed,
        "max_score": total,
        "tests": [],
    }


def grade_student(
    path: Path,
    *,
    out: Path,
    notebooks: Path = NOTEBOOKS_DIR,
    suites: Path | None = None,
    seed: int = 0,
    student: str | None = None,
    settings: Any = None,
    notebook_settings: NotebookGradingSettings | None = None,
    examples: int = 3,
) -> dict[str, Any]:
    """Grade the zip or folder at `path` completely; returns the merged result (per-submission format).

    The hidden suites run first (`autograder.grading.grade_submission` with `suites`, default the kit's
    hidden suites, and `GradeSettings`), then every source notebook of `notebooks` on the same extracted
    copy, within what is left of the submission's time budget (`settings.submission_s`). A grader
    failure in the suites still grades the notebooks. Never raises for anything the student did.
    """
    from autograder.grading.settings import HIDDEN_DIR, GradeSettings
    from autograder.grading.single import grade_submission
    from autograder.intake import extract_submission, student_id

    settings = settings or GradeSettings()
    notebook_settings = notebook_settings or NotebookGradingSettings()
    student = student or student_id(Path(path))
    started = time.monotonic()
    workdir = Path(out) / "work" / student
    root = workdir / "submission"
    try:
        suite = grade_submission(
            Path(path), out=out, suites=suites or HIDDEN_DIR, seed=seed, student=student,
            settings=replace(settings, keep_work=True),
        ).to_dict()  # fmt: skip
    except AutograderError as exc:
        log.warning("hidden suites failed for %s: %s", student, exc)
        suite = _suite_failed(student, seed, exc, Path(suites or HIDDEN_DIR))
    try:
        if suite["status"] != "rejected" and not root.is_dir():
            with contextlib.suppress(AutograderError):
                extract_submission(Path(path), workdir, limits=settings.intake, student=student)
        if not root.is_dir():  # rejected: every notebook test is `missing`
            root = workdir / "empty"
            root.mkdir(parents=True, exist_ok=True)
        picture = prediction_examples(root, seed=seed, count=examples, settings=settings)
        left = settings.submission_s - (time.monotonic() - started)
        notebook_results = grade_notebooks(
            source_dir=notebooks, submission_root=root, settings=notebook_settings, budget_s=max(left, 0.5)
        )
    finally:
        if not settings.keep_work:
            shutil.rmtree(workdir / "submission", ignore_errors=True)
            shutil.rmtree(workdir / "empty", ignore_errors=True)
    merged = merge_results(suite, notebook_results)
    if picture:
        merged["examples"] = picture
    merged["seconds"] = round(time.monotonic() - started, 3)
    return merged
