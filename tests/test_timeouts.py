"""A function that ran past its time limit is not waited for again: the next tests that call it fail at
once with status `timeout` naming the case where it hung, so an endless loop costs one call timeout."""

from __future__ import annotations

from grading_helpers import base_files, write_tree

from autograder.grading import GradeSettings, grade_submission

OPS = """
def spin(n):
    while True:
        n += 1


def fine(n):
    return n + 1
"""
SUITE = """
import pytest


@pytest.mark.parametrize("n", range(3))
def test_spin(submission, n):
    assert submission.call("exercise_code.ops.spin", n) == n


def test_fine(submission):
    assert submission.call("exercise_code.ops.fine", 1) == 2
"""
RUBRIC = '["test_t.py::test_spin"]\npoints = 3\n\n["test_t.py::test_fine"]\npoints = 1\n'
CALL_S = 3.0


def test_a_hang_costs_one_timeout(tmp_path):
    suites = write_tree(tmp_path / "suites", {"test_t.py": SUITE, "rubric.toml": RUBRIC})
    root = write_tree(tmp_path / "sub", base_files(OPS))
    settings = GradeSettings(call_s=CALL_S, submission_s=120)
    result = grade_submission(root, out=tmp_path / "out", suites=suites, settings=settings)
    tests = {t.name: t for t in result.tests}
    first, *later = (tests[f"test_t.py::test_spin[{n}]"] for n in range(3))
    assert first.status == "timeout" and f"did not finish within {CALL_S:g} s" in first.message
    for test in later:
        assert test.status == "timeout", test
        assert test.message == (
            f"exercise_code.ops.spin was not run again: it did not finish within {CALL_S:g} s in "
            "test_t.py::test_spin[0]"
        )
        assert test.seconds < 1.0
    assert tests["test_t.py::test_fine"].status == "passed"  # the worker was restarted for it
    assert result.seconds < 2 * CALL_S + 30  # one timeout, a restart, no more waiting


def test_time_spent_waiting_is_not_counted(tmp_path):
    """The limit is CPU time: a call that waits (as it does on a busy machine) longer than `call_s` but
    computes little still passes; the wall clock only guards at `call_s * wall_factor`."""
    ops = "import time\n\n\ndef fine(n):\n    time.sleep(1.5)\n    return n + 1\n"
    suite = "def test_fine(submission):\n    assert submission.call('exercise_code.ops.fine', 1) == 2\n"
    rubric = '["test_wait.py::test_fine"]\npoints = 1\n'  # its own file name: pytest runs in-process here
    suites = write_tree(tmp_path / "suites", {"test_wait.py": suite, "rubric.toml": rubric})
    root = write_tree(tmp_path / "sub", base_files(ops))
    result = grade_submission(root, out=tmp_path / "out", suites=suites, settings=GradeSettings(call_s=1.0))
    (test,) = result.tests
    assert test.status == "passed", test.message
