"""A function that ran past its time limit is not waited for again: the next tests that call it fail at
once with status `timeout` naming the case where it hung, so an endless loop costs one call timeout."""

from __future__ import annotations

import subprocess
import sys

import pytest
from grading_helpers import base_files, write_tree

from autograder.grading import GradeSettings, grade_submission
from autograder.worker import hung

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
WALL_FACTOR = 20.0
"""The wall-clock guard (60 s) stays far behind the CPU limit even beside CPU burners: these tests are
about the CPU limit and what follows it, and must not depend on the machine being idle."""


def test_a_hang_costs_one_timeout(tmp_path):
    suites = write_tree(tmp_path / "suites", {"test_t.py": SUITE, "rubric.toml": RUBRIC})
    root = write_tree(tmp_path / "sub", base_files(OPS))
    settings = GradeSettings(call_s=CALL_S, submission_s=300, wall_factor=WALL_FACTOR)
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


LAYERS = """
from .ops import spin, step


def through_spin(n):
    return spin(n)


def swallow(n):
    try:
        return spin(n)
    except BaseException:
        return n


class Layer:
    def forward(self, n):
        return spin(n)


def apply_layer(n):
    return Layer().forward(n)


def slow_total(n):
    total = 0
    while True:
        total += step(n)
"""
OPS_WITH_STEP = OPS + "\n\ndef step(n):\n    return 1\n"
CALLERS = """
import pytest


def test_hang(submission):
    assert submission.call("exercise_code.ops.spin", 1) == 1


@pytest.mark.parametrize("name", ["through_spin", "swallow", "apply_layer", "spin"])
def test_callers(submission, name):
    assert submission.call(f"exercise_code.layers.{name}", 1) == 1


def test_slow_caller(submission):
    submission.call("exercise_code.layers.slow_total", 1)


def test_step(submission):
    assert submission.call("exercise_code.ops.step", 1) == 1
"""
CALLERS_RUBRIC = (
    '["test_c.py::test_hang"]\npoints = 1\n\n["test_c.py::test_callers"]\npoints = 4\n\n'
    '["test_c.py::test_slow_caller"]\npoints = 1\n\n["test_c.py::test_step"]\npoints = 1\n'
)


def test_callers_of_a_hung_function_fail_at_once(tmp_path):
    """The function that hung is stubbed out in the worker, so whatever reaches it (a caller, a method, a
    re-export under another name) fails at once, even when the student's code catches the failure. A
    correct helper that a looping caller calls over and over is not blamed: the caller is."""
    suites = write_tree(tmp_path / "suites", {"test_c.py": CALLERS, "rubric.toml": CALLERS_RUBRIC})
    files = {**base_files(OPS_WITH_STEP), "exercise_code/layers.py": LAYERS}
    root = write_tree(tmp_path / "sub", files)
    settings = GradeSettings(call_s=CALL_S, submission_s=300, wall_factor=WALL_FACTOR)
    result = grade_submission(root, out=tmp_path / "out", suites=suites, settings=settings)
    tests = {t.name: t for t in result.tests}
    hang = tests["test_c.py::test_hang"]
    assert hang.status == "timeout" and "stopped inside exercise_code.ops.spin" in hang.message
    for k, name in enumerate(["through_spin", "swallow", "apply_layer", "spin"]):
        test = tests[f"test_c.py::test_callers[{name}]"]
        assert test.status == "timeout", test
        assert "exercise_code.ops.spin was not run again" in test.message, test.message
        assert "in test_c.py::test_hang" in test.message
        assert test.seconds < (1.0 if k else 30.0)  # the first one starts a new worker (imports torch)
    slow = tests["test_c.py::test_slow_caller"]
    assert slow.status == "timeout" and "stopped inside exercise_code.layers.slow_total" in slow.message
    assert tests["test_c.py::test_step"].status == "passed"  # the helper that slow_total called stays
    assert result.stopped == {
        "exercise_code.ops:spin": "test_c.py::test_hang",
        "exercise_code.layers:slow_total": "test_c.py::test_slow_caller",
    }


def test_the_notebook_preamble_stubs_out_and_leaves_no_names(tmp_path):
    """What a notebook kernel runs first: the hung function and every reference to it fail at once, and
    the student's namespace holds nothing new."""
    write_tree(tmp_path, {**base_files(OPS), "exercise_code/__init__.py": "from .ops import spin\n"})
    code = f"""
import exercise_code.ops
before = set(globals())
exec({hung.preamble({"exercise_code.ops:spin": "spin hung in test_x"})!r})
print(sorted(set(globals()) - before - {{"before"}}))
for call in (exercise_code.ops.spin, exercise_code.spin):
    try:
        call(1)
    except BaseException as exc:
        print(type(exc).__name__, exc)
print(exercise_code.ops.fine(1))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert out == ["[]", "NotRunAgain spin hung in test_x", "NotRunAgain spin hung in test_x", "2"]


def test_the_wall_clock_guard_is_a_setting_and_never_below_the_cpu_limit():
    settings = GradeSettings(call_s=2.0, wall_factor=5.0)
    assert GradeSettings.from_dict(settings.to_dict()).wall_factor == 5.0  # travels to the batch's children
    with pytest.raises(ValueError, match="wall_factor must be at least 1"):
        GradeSettings(wall_factor=0.5)
