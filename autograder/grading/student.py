"""Grade one student, everything in one pass: intake -> hidden suites -> segmentation examples (for
the feedback page) -> notebooks -> one `SubmissionResult`.

Runs in the trusted process (in a batch: one child process per submission, here or on a Dask worker).
Student code runs only in the sandbox: the suites and examples through one grading worker, the
notebooks through the notebook runner. Each stage's wall and CPU time is kept in `result.stages`
(`autograder.grading.stages`).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from autograder.errors import AutograderError
from autograder.intake import extract_submission, student_id
from autograder.sandbox import Isolation, detect_isolation

from .notebooks.settings import NotebookGradingSettings
from .notebooks.source import read_sources
from .proxy import stub_messages
from .results import SubmissionResult, SubmissionStatus
from .rubric import load_rubric, rubric_total
from .settings import HIDDEN_DIR, GradeSettings
from .single import grade_submission, take_in
from .stages import stage

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
"""The instructor's source notebooks of this kit (hidden tests included)."""
EXAMPLES = 3
"""Segmentation examples on each feedback page."""
TRUSTED_THREADS = 1
"""torch threads of the trusted grading process while it grades (references, comparisons, scenes). With
torch's default of one per core, its OpenMP threads spin waiting for cores that the other grading
processes hold: 0.6-0.8 of its 2.8 CPU-s per correct submission beside one busy core. One thread also
makes the trusted side's sums add in the same order on every machine."""


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


@contextlib.contextmanager
def trusted_threads(n: int = TRUSTED_THREADS) -> Iterator[None]:
    """Run the block with `n` torch threads, then restore the process's setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@trusted_threads()
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
    sources: Path | None = None,
    stopped: dict[str, str] | None = None,
) -> SubmissionResult:
    """Grade the zip or folder at `path`: the `parts` asked for, on one extracted copy under
    `out/work/<student>/`, within one time budget (`settings.submission_s`). `sources`: the notebooks of
    `notebooks` already parsed (`sources.json`, written once per batch by `write_sources`). `stopped`:
    without the suites, the functions an earlier suites run stopped (`SubmissionResult.stopped`), stubbed
    out in the notebooks as that run would have.

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
    suite_max = rubric_total(load_rubric(rubric or Path(suites) / "rubric.toml"))
    try:
        if Part.SUITES in parts:
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
                    examples=examples,
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
            suite, _ = take_in(Path(path), workdir, student, seed, settings, isolation)
            suite.stopped = dict(stopped or {})
        stages = dict(suite.stages)
        rejected = suite.status is SubmissionStatus.REJECTED
        if not rejected and not root.is_dir():  # the suites' grader failed before or after intake
            with contextlib.suppress(AutograderError):
                extract_submission(Path(path), workdir, limits=settings.intake, student=student)
        if not root.is_dir():  # rejected: every notebook test is `missing`
            root = workdir / "empty"
            root.mkdir(parents=True, exist_ok=True)
        notebook_results: list[dict[str, Any]] = []
        if Part.NOTEBOOKS in parts:
            left = settings.submission_s - (time.monotonic() - started)
            with stage(stages, "notebooks"):
                notebook_results = grade_notebooks(
                    source_dir=notebooks,
                    submission_root=root,
                    settings=notebook_settings,
                    budget_s=max(left, 0.5),
                    stopped=stub_messages(suite.stopped, settings.call_s),
                    sources=read_sources(sources) if sources else None,
                )
    finally:
        if not settings.keep_work:  # the manifest (what was graded) stays
            shutil.rmtree(workdir / "submission", ignore_errors=True)
            shutil.rmtree(workdir / "empty", ignore_errors=True)
    merged = merge_results(suite.to_dict(), notebook_results, student=student)
    result = SubmissionResult.from_dict(merged)
    result.parts = [str(p) for p in parts]
    result.stages = stages
    result.seconds = round(time.monotonic() - started, 3)
    return result
