"""Grading children forked warm from the batch's fork server (`GradeSettings.warm_start`, the default):
they grade exactly as children started cold, with the batch's environment and working directory of the
moment they start (not of when the server started), and they die with the batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grading_helpers import base_files, descendants, write_tree

from autograder.grading import GradeSettings, Part, grade_batch

REPO = Path(__file__).resolve().parent.parent

SUITE = """
import multiprocessing, os
import torch


def test_double(submission):
    x = torch.arange(4.0)
    torch.testing.assert_close(submission.call("exercise_code.ops.double", x), 2 * x)


def test_add(submission):
    assert submission.call("exercise_code.ops.add", 2, 1) == 3


def test_how_started(record_message):
    forked = multiprocessing.parent_process() is not None
    record_message(f"{'forked' if forked else 'cold'}|{os.environ.get('WARM_MARK')}|{os.getcwd()}")
"""
RUBRIC = """
["test_suite.py::test_double"]
points = 2
["test_suite.py::test_add"]
points = 3
["test_suite.py::test_how_started"]
points = 1
"""
GOOD = "def double(x): return 2 * x\ndef add(a, b): return a + b\n"
BUGGY = "def double(x): return x\ndef add(a, b): raise ValueError('not yet')\n"
SUITES = (Part.SUITES,)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("suite"), {"test_suite.py": SUITE, "rubric.toml": RUBRIC})


@pytest.fixture(scope="module")
def subs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("subs")
    return [write_tree(root / name, base_files(ops)) for name, ops in (("good", GOOD), ("buggy", BUGGY))]


def _grade(subs: list[Path], out: Path, suite: Path, *, warm: bool):
    settings = GradeSettings(call_s=10, submission_s=120, warm_start=warm)
    return grade_batch(subs, out=out, workers=2, seed=3, parts=SUITES, suites=suite, settings=settings)


def _outcomes(summary) -> dict[str, list[tuple[str, str, float]]]:
    return {
        student: [(t.name, str(t.status), t.points) for t in result.tests if "how_started" not in t.name]
        for student, result in summary.results.items()
    }


def _how_started(summary, student: str) -> list[str]:
    return next(t.message for t in summary.results[student].tests if "how_started" in t.name).split("|")


def test_warm_children_grade_like_cold_ones_with_the_environment_of_now(subs, suite, tmp_path, monkeypatch):
    warm = _grade(subs, tmp_path / "warm1", suite, warm=True)  # starts the fork server if none runs yet
    assert _how_started(warm, "good") == ["forked", "None", os.getcwd()]
    monkeypatch.setenv("WARM_MARK", "set after the server started")
    monkeypatch.chdir(tmp_path)
    again = _grade(subs, tmp_path / "warm2", suite, warm=True)
    cold = _grade(subs, tmp_path / "cold", suite, warm=False)
    assert _how_started(again, "buggy") == ["forked", "set after the server started", str(tmp_path)]
    assert _how_started(cold, "buggy") == ["cold", "set after the server started", str(tmp_path)]
    assert _outcomes(warm) == _outcomes(again) == _outcomes(cold)
    assert _outcomes(warm)["good"] == [
        ("test_suite.py::test_double", "passed", 2.0),
        ("test_suite.py::test_add", "passed", 3.0),
    ]
    assert [status for _, status, _ in _outcomes(warm)["buggy"]] == ["failed", "error"]


def test_warm_children_die_with_the_batch(subs, suite, tmp_path):
    slow = write_tree(
        tmp_path / "subs" / "slow", base_files(GOOD.replace("return 2 * x", "__import__('time').sleep(60)"))
    )
    out = tmp_path / "out"
    args = [sys.executable, "-m", "autograder", "grade", str(slow), "--out", str(out), "--workers", "1"]
    args += [
        "--suites",
        str(suite),
        "--parts",
        "suites",
        "--call-timeout",
        "30",
        "--submission-timeout",
        "120",
    ]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (out / "work" / "slow").is_dir():
        time.sleep(0.1)
    time.sleep(2.0)  # the child is grading inside its sandbox
    below = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(below) >= 3, below  # the fork server, the child it forked, the child's sandbox

    def alive() -> list[int]:
        return [p for p in below if Path(f"/proc/{p}").exists()]

    for _ in range(100):
        if not alive():
            break
        time.sleep(0.1)
    assert alive() == []
