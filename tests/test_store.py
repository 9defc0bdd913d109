"""The result store: resume by source, seed and parts; regrading one part keeps the other; history."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from autograder.grading.results import SubmissionResult, SubmissionStatus, TestResult
from autograder.grading.results import TestStatus as Status
from autograder.grading.store import ResultStore, combine, select


@dataclass(frozen=True)
class Job:
    student: str = "ann"
    source_sha256: str = "abc"


def _test(name: str, part: str, points: float, maximum: float = 2.0) -> TestResult:
    status = Status.PASSED if points == maximum else Status.FAILED
    return TestResult(name, part, "c", points, maximum, status)


def _result(parts: list[str], tests: list[TestResult], **kw) -> SubmissionResult:
    result = SubmissionResult(
        "ann", SubmissionStatus.GRADED, seed=1, source_sha256="abc", parts=parts, tests=tests, **kw
    )
    result.total()
    return result


SUITE = [_test("test_layers.py::a", "layers", 2.0), _test("test_fcn.py::b", "fcn", 1.0)]
NOTEBOOK = [_test("01_x/t", "notebook:01_x", 0.0)]


def test_regrading_one_part_keeps_the_other_from_the_same_code() -> None:
    previous = _result(["suites", "notebooks"], [*SUITE, *NOTEBOOK], examples=[{"title": "scene 1"}])
    again = _result(["notebooks"], [_test("01_x/t", "notebook:01_x", 2.0)], notebooks=[{"notebook": "01_x"}])
    merged = combine(previous, again)
    assert [t.name for t in merged.tests] == ["test_layers.py::a", "test_fcn.py::b", "01_x/t"]
    assert (merged.score, merged.max_score) == (5.0, 6.0), "the suites' 3 points kept, the notebook's 2 new"
    assert merged.parts == ["suites", "notebooks"] and merged.examples == [{"title": "scene 1"}]
    assert merged.notebooks == [{"notebook": "01_x"}]
    crashed = SubmissionResult("ann", SubmissionStatus.CRASHED, seed=1, parts=["notebooks"])
    assert combine(previous, crashed) is crashed, "a crash replaces the record whole"
    assert combine(_result(["notebooks"], NOTEBOOK), previous) is previous, "nothing only the old one has"


def test_done_needs_same_code_seed_and_the_parts_asked(tmp_path) -> None:
    store = ResultStore(tmp_path / "results")
    store.record(_result(["suites"], SUITE), None, Job())
    assert store.done(Job(), 1, ["suites"]) is not None
    assert store.done(Job(), 1, ["suites", "notebooks"]) is None, "the notebooks were never graded"
    assert store.done(Job(), 2, ["suites"]) is None, "another seed"
    assert store.done(Job(source_sha256="x"), 1, ["suites"]) is None, "other code"
    first = store.load("ann")
    store.archive("ann")
    stored = store.record(_result(["notebooks"], NOTEBOOK), first, Job())
    assert stored.parts == ["suites", "notebooks"]
    assert store.done(Job(), 1, ["suites", "notebooks"]) is not None
    (old,) = store.history("ann")
    assert SubmissionResult.load(old).parts == ["suites"], "the replaced result is kept for the record"
    other_code = store.record(_result(["notebooks"], NOTEBOOK), stored, Job(source_sha256="new"))
    assert other_code.parts == ["notebooks"], "never mixed with another version's tests"


def test_only_names_students_of_the_batch() -> None:
    assert select(["ann", "bob", "cy"], ["cy", "ann"]) == ["ann", "cy"]
    assert select(["ann"], None) == ["ann"]
    with pytest.raises(ValueError, match="--only names no submission of this batch: zed"):
        select(["ann", "bob"], ["zed"])
