"""The result store of a batch: `OUT/results/<student>.json`, one atomic file per student.

A stored result counts as done for a job when it is for the same source hash and seed and holds at
least the parts asked for, so a batch resumes after any interruption (even `kill -9`) without
regrading. A result that is replaced (a regrade, another part) is first copied to
`OUT/results/history/<student>.<graded_at>.json`, for the record. Grading one part of a student whose
stored result holds the other part for the same code keeps that part's tests (`combine`).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from .executors import load_result
from .results import SubmissionResult, SubmissionStatus, TestResult
from .student import ALL_PARTS, Part


class _Job(Protocol):
    student: str
    source_sha256: str


def part_of(test: TestResult) -> Part:
    """The part a test belongs to: notebook tests have part `notebook:<name>`, the rest are suites."""
    return Part.NOTEBOOKS if test.part.startswith("notebook:") else Part.SUITES


def combine(previous: SubmissionResult, new: SubmissionResult) -> SubmissionResult:
    """`new` plus the parts only `previous` holds (both for the same source and seed): each part's tests
    and details come from the result that graded it. `new` alone when it has no tests to add to (a
    crash or a rejection replaces the record whole)."""
    kept = [p for p in previous.parts if p not in new.parts]
    if not kept or (new.status is not SubmissionStatus.GRADED and not new.tests):
        return new
    result = copy.deepcopy(new)
    tests = [*new.tests, *(t for t in previous.tests if part_of(t) in kept)]
    result.tests = sorted(tests, key=lambda t: part_of(t) is Part.NOTEBOOKS)  # suites first, as graded
    result.parts = [str(p) for p in ALL_PARTS if str(p) in {*previous.parts, *new.parts}]
    if Part.SUITES in kept:
        result.examples, result.log_excerpt = previous.examples, previous.log_excerpt
        result.stopped = previous.stopped  # what the suites stopped (the notebooks were given the same)
        if previous.status is not SubmissionStatus.GRADED:
            result.status = previous.status
    if Part.NOTEBOOKS in kept:
        result.notebooks, result.tampering = previous.notebooks, previous.tampering
        result.manual = previous.manual
    result.message = "\n".join(dict.fromkeys(m for m in (previous.message, new.message) if m))
    result.stages = {**previous.stages, **new.stages}
    result.seconds = round(previous.seconds + new.seconds, 3)
    result.total()
    return result


class ResultStore:
    """`OUT/results/` of one batch."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.tmp"):  # an atomic write interrupted by kill -9
            stale.unlink(missing_ok=True)

    def path(self, student: str) -> Path:
        return self.folder / f"{student}.json"

    def load(self, student: str) -> SubmissionResult | None:
        return load_result(self.path(student))

    @staticmethod
    def same_code(result: SubmissionResult | None, job: _Job, seed: int) -> bool:
        return result is not None and result.source_sha256 == job.source_sha256 and result.seed == seed

    def done(self, job: _Job, seed: int, parts: Iterable[Part]) -> SubmissionResult | None:
        """The stored result of `job` when it is for the same source and seed and holds `parts`."""
        result = self.load(job.student)
        if self.same_code(result, job, seed) and {str(p) for p in parts} <= set(result.parts):  # type: ignore[union-attr]
            return result
        return None

    def archive(self, student: str) -> Path | None:
        """Copy the stored result of `student` (if any) to `history/`; returns the copy's path."""
        current = self.path(student)
        result = load_result(current)
        if result is None:
            return None
        stamp = result.graded_at.replace(":", "").replace("+", "Z", 1) or "unknown"
        target = self.folder / "history" / f"{student}.{stamp}.json"
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(current, target)
        return target

    def history(self, student: str) -> list[Path]:
        """Earlier results of `student`, oldest first."""
        return sorted((self.folder / "history").glob(f"{student}.*.json"))

    def record(
        self, result: SubmissionResult, previous: SubmissionResult | None, job: _Job
    ) -> SubmissionResult:
        """Store `result` (combined with `previous` when that holds other parts of the same code)."""
        if previous is not None and self.same_code(previous, job, result.seed):
            result = combine(previous, result)
        result.write(self.path(job.student))
        return result


def select(students: Sequence[str], only: Sequence[str] | None) -> list[str]:
    """The students of `only` (all when None); ValueError naming each unknown one."""
    if only is None:
        return list(students)
    unknown = sorted(set(only) - set(students))
    if unknown:
        raise ValueError(
            f"--only names no submission of this batch: {', '.join(unknown)} "
            f"(students are named after their zip or folder, e.g. {', '.join(list(students)[:3])})"
        )
    return [s for s in students if s in set(only)]
