"""The demo's building blocks that run fast: planting bugs in fenced solutions, the escape check and
the expectations the demo prints (the full `make demo` run is too long for the test suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.demo.steps import DemoState, expectations
from autograder.demo.submissions import ESCAPE_MARKER, escaped_markers, replace_solution
from autograder.errors import AutograderError

MODULE = '''\
def double(x):
    """Twice x."""
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION


def triple(x):
    # BEGIN SOLUTION
    return 3 * x
    # END SOLUTION
'''


def test_replace_solution_changes_one_function_only() -> None:
    text = replace_solution(MODULE, "triple", "y = x + x\nreturn y + x  # same, slower\n")
    namespace: dict = {}
    exec(compile(text, "module", "exec"), namespace)
    assert namespace["double"](2) == 4 and namespace["triple"](2) == 6
    assert "    y = x + x\n    return y + x  # same, slower\n" in text
    assert text.count("# BEGIN SOLUTION") == 1, "the replaced region loses its fence"
    with pytest.raises(AutograderError, match="function 'quadruple' not found"):
        replace_solution(MODULE, "quadruple", "return 4 * x")


def test_escaped_markers_sees_files_in_tmp() -> None:
    marker = Path("/tmp") / f"{ESCAPE_MARKER}-test"
    marker.write_text("x")
    try:
        assert marker in escaped_markers()
    finally:
        marker.unlink()
    assert marker not in escaped_markers()


def _result(student: str, score: float, tampering: bool = False) -> dict:
    status = "passed" if score == 10 else "failed"
    tests = [{"name": "t", "points": score, "max_points": 10.0, "status": status}]
    flagged = ["restored"] if tampering else []
    return {
        "student": student,
        "status": "graded",
        "score": score,
        "max_score": 10.0,
        "tests": tests,
        "tampering": flagged,
    }


def test_expectations_name_what_is_not_met() -> None:
    good = DemoState(
        merged=[
            _result("reference", 10.0),
            _result("skeleton", 0.0),
            _result("ben_buggy_layers", 6.0),
            _result("cara_vscode_untrained", 7.0, tampering=True),
            _result("mallory_malicious", 1.0, tampering=True),
        ]
    )
    checks = dict((text.split(" (")[0], ok) for ok, text in expectations(good))
    assert checks["the reference scores highest"] and checks["the skeleton scores ~0"]
    assert checks["every submission was graded to the end"]
    assert not checks["every results.json validates against the Gradescope schema"], "no reports written"
    bad = DemoState(merged=[_result("reference", 5.0), _result("skeleton", 6.0)])
    failed = [text for ok, text in expectations(bad) if not ok]
    assert any("reference scores highest" in t for t in failed)
    assert any("skeleton scores ~0" in t for t in failed)
