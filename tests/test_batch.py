"""Batch grading: statuses, points and partial credit, per-call and per-submission limits, a grader crash,
resuming (also after `kill -9` of the batch), using a tiny hidden suite written by the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from grading_helpers import base_files, processes_mentioning, write_tree, zip_tree

from autograder.grading import (
    ALL_PARTS,
    GradeSettings,
    Part,
    SubmissionResult,
    find_submissions,
    grade_batch,
    grade_student,
)
from autograder.grading.batch import plan_jobs
from autograder.grading.store import ResultStore
from autograder.sandbox import IsolationChoice, detect_isolation

REPO = Path(__file__).resolve().parent.parent

SUITE = """
import os, signal
import pytest, torch
from autograder.errors import SandboxCrash


def test_double(submission):
    x = torch.arange(4.0)
    torch.testing.assert_close(submission.call("exercise_code.ops.double", x), 2 * x)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_add(submission, n):
    assert submission.call("exercise_code.ops.add", n, 1) == n + 1


def test_todo(submission):
    assert submission.call("exercise_code.ops.todo") == 1


def test_slow(submission):
    assert submission.call("exercise_code.ops.slow") == "done"


def test_after_slow(submission):
    assert submission.call("exercise_code.ops.add", 1, 1) == 2


def test_quality(submission, record_fraction, record_message):
    value = submission.call("exercise_code.ops.quality")
    record_fraction(value)
    record_message(f"quality {value:.2f}")


def test_grader_crash(submission):
    if (submission.root / "CRASH_GRADER").exists():
        os.kill(os.getpid(), signal.SIGKILL)


def test_models_cross_the_boundary(submission):
    tiny = submission.call("exercise_code.ops.Tiny", 3)  # a module comes back as a handle
    assert tiny.param_count() == 12 and set(tiny.state_dict()) == {"fc.weight", "fc.bias"}
    x = torch.ones(5, 3)
    torch.testing.assert_close(submission.call("exercise_code.ops.apply", tiny, x), tiny(x, batch_size=2))
    stats = submission.call("exercise_code.ops.stats")
    assert stats == {"mean": 1.5, "shape": (2, 3)}
    before = tiny.state_dict()
    with pytest.raises(SandboxCrash, match="exit"):
        submission.call("exercise_code.ops.die")  # the worker dies; the handle is rebuilt by replay
    torch.testing.assert_close(tiny.state_dict(), before)


@pytest.mark.parametrize("k", range(6))
def test_budget(submission, k):
    assert submission.call("exercise_code.ops.nap") is None
"""

RUBRIC = """
["test_suite.py::test_double"]
points = 2
part = "basics"
concept = "doubling"
["test_suite.py::test_add"]
points = 3
part = "basics"
["test_suite.py::test_todo"]
points = 1
["test_suite.py::test_slow"]
points = 1
["test_suite.py::test_after_slow"]
points = 1
["test_suite.py::test_quality"]
points = 2
["test_suite.py::test_budget"]
points = 6
["test_suite.py::test_models_cross_the_boundary"]
points = 1
"""

GOOD = """
import dataclasses, time
import torch
def double(x): return 2 * x
class Tiny(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = torch.nn.Linear(n, n)
    def forward(self, x): return self.fc(x)
def apply(model, x): return model(x)
@dataclasses.dataclass
class Stats:
    mean: float
    shape: tuple
def stats(): return Stats(1.5, (2, 3))
def die(): __import__("os")._exit(3)
def add(a, b): return a + b
def todo(): return 1
def slow(): return "done"
def quality(): return 0.75
def nap(): return None
"""
BUGGY = (
    GOOD.replace("return 2 * x", "return x")
    .replace("return a + b", "raise ValueError('a must be positive')")
    .replace("def todo(): return 1", "def todo(): raise NotImplementedError('todo: not implemented yet')")
    .replace("def quality(): return 0.75", "def quality(): return 0.25")
)
SLOW = GOOD.replace('def slow(): return "done"', "def slow():\n    time.sleep(1000)")
# each nap outlasts the whole 8 s budget of test_budget_stops...: with 5 s naps the first one finished
# in time on a fast machine (the tests before it took under 3 s) and passed
BUDGET = GOOD.replace("def nap(): return None", "def nap():\n    time.sleep(12)")
SETTINGS = GradeSettings(call_s=4, submission_s=60, keep_work=True)
SUITES = (Part.SUITES,)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("suite"), {"test_suite.py": SUITE, "rubric.toml": RUBRIC})


@pytest.fixture(scope="module")
def batch(tmp_path_factory, suite):
    subs = tmp_path_factory.mktemp("subs")
    write_tree(subs / "good", base_files(GOOD))
    zip_tree(write_tree(subs / "_buggy", base_files(BUGGY)), subs / "buggy.zip")
    write_tree(subs / "slow", base_files(SLOW))
    write_tree(subs / "crashgrader", {**base_files(GOOD), "CRASH_GRADER": "1"})
    zip_tree(write_tree(subs / "_evil", base_files(GOOD)), subs / "evil.zip")
    with zipfile.ZipFile(subs / "evil.zip", "a") as archive:
        archive.writestr("../../escaped.txt", "x")  # zip slip
    paths = [subs / n for n in ("good", "buggy.zip", "slow", "crashgrader", "evil.zip")]
    out = tmp_path_factory.mktemp("out")
    seen = []
    summary = grade_batch(
        paths,
        out=out,
        workers=2,
        seed=7,
        parts=SUITES,
        suites=suite,
        settings=SETTINGS,
        on_result=lambda r, s: seen.append(s),
    )
    return summary, out, paths, seen


def _tests(result: SubmissionResult) -> dict[str, tuple[str, float, str]]:
    return {t.name: (str(t.status), t.points, t.message) for t in result.tests}


def test_good_submission_scores_with_partial_credit(batch):
    summary, out, _, seen = batch
    assert seen == [False] * 5 and summary.graded == 5 and summary.resumed == 0
    good = summary.results["good"]
    assert good.status == "graded" and good.seed == 7
    assert good.isolation == str(detect_isolation().kind)
    tests = _tests(good)
    assert tests["test_suite.py::test_add[2]"] == ("passed", 1.0, "")
    assert tests["test_suite.py::test_quality"] == ("passed", 1.5, "quality 0.75")
    assert good.max_score == 17.0 and good.score == 16.5
    stored = json.loads((out / "results" / "good.json").read_text())
    assert set(stored) >= {"student", "status", "isolation", "seed", "score", "max_score", "seconds", "tests"}
    assert set(stored["tests"][0]) == {
        "name",
        "part",
        "concept",
        "points",
        "max_points",
        "status",
        "message",
        "seconds",
    }
    assert stored["tests"][0]["part"] == "basics" and stored["tests"][0]["concept"] == "doubling"
    assert (out / "work" / "good" / "manifest.json").is_file()


def test_buggy_submission_gets_actionable_statuses(batch):
    tests = _tests(batch[0].results["buggy"])
    assert tests["test_suite.py::test_double"][0] == "failed"
    status, points, message = tests["test_suite.py::test_add[1]"]
    assert status == "error" and points == 0
    assert "ValueError: a must be positive" in message and "(at exercise_code/ops.py:17 in add)" in message
    assert tests["test_suite.py::test_todo"] == ("failed", 0.0, "not implemented yet")
    assert tests["test_suite.py::test_quality"][1] == 0.5


def test_call_timeout_restarts_the_worker(batch):
    tests = _tests(batch[0].results["slow"])
    status, _, message = tests["test_suite.py::test_slow"]
    # it sleeps: no CPU time, so the wall-clock guard (3 x the 4 s CPU limit) stops it
    assert status == "timeout" and "did not finish within 12 s of wall-clock time" in message
    assert tests["test_suite.py::test_after_slow"][0] == "passed"
    assert "worker restarted" in batch[0].results["slow"].log_excerpt


def test_grader_crash_and_rejection_do_not_stop_the_batch(batch):
    summary, out, _, _ = batch
    crashed = summary.results["crashgrader"]
    assert crashed.status == "crashed" and "SIGKILL" in crashed.message and crashed.tests == []
    assert crashed.max_score == 17.0 and crashed.score == 0  # the rubric total: 0 of 17
    evil = summary.results["evil"]
    assert evil.status == "rejected" and "climbs out" in evil.message and evil.max_score == 17.0
    assert not (out / "escaped.txt").exists() and not (out.parent / "escaped.txt").exists()
    assert sorted(p.name for p in (out / "results").iterdir()) == [
        f"{s}.json" for s in sorted(["good", "buggy", "slow", "crashgrader", "evil"])
    ]
    assert processes_mentioning(str(out)) == []


def test_resume_skips_finished_and_regrades_changed(batch, suite):
    summary, out, paths, _ = batch
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}
    again = grade_batch(paths, out=out, workers=2, seed=7, parts=SUITES, suites=suite, settings=SETTINGS)
    assert again.graded == 0 and again.resumed == 5 and again.seconds < 10
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == before
    job = plan_jobs([paths[0]])[0]
    store = ResultStore(out / "results")
    assert store.done(job, seed=7, parts=SUITES) is not None
    assert store.done(job, seed=8, parts=SUITES) is None  # another seed regrades
    assert store.done(job, seed=7, parts=ALL_PARTS) is None  # so do parts not graded yet


def test_find_submissions_expands_folders(batch, tmp_path):
    _, _, paths, _ = batch
    found = find_submissions([paths[0].parent])
    assert paths[0] in found and paths[1] in found
    assert find_submissions([paths[0]]) == [paths[0]]
    ids = [job.student for job in plan_jobs([paths[0], paths[0]])]
    assert ids == ["good", "good-2"]
    with pytest.raises(Exception, match="does not exist"):
        find_submissions([tmp_path / "nope"])
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        grade_batch([], out=tmp_path, workers=0)


def test_kill_9_of_the_batch_resumes_without_loss(suite, tmp_path):
    subs = tmp_path / "subs"
    for name in ("a", "b"):
        write_tree(subs / name, base_files(GOOD))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--workers", "1"]
    args += ["--suites", str(suite), "--parts", "suites", "--call-timeout", "4", "--submission-timeout", "60"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "results" / "a.json"
    deadline = time.monotonic() + 90
    while not first.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists()
    for _ in range(100):  # the children and their sandboxes die with the batch
        if not processes_mentioning(str(out)):
            break
        time.sleep(0.1)
    assert processes_mentioning(str(out)) == []
    graded_at = json.loads(first.read_text())["graded_at"]
    rerun = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "1 graded, 1 resumed" in rerun.stdout
    assert sorted(p.name for p in (out / "results").glob("*.json")) == ["a.json", "b.json"]
    assert json.loads(first.read_text())["graded_at"] == graded_at
    assert all(json.loads(p.read_text())["status"] == "graded" for p in (out / "results").glob("*.json"))


def test_budget_stops_remaining_tests_and_process_isolation_is_reported(suite, tmp_path):
    write_tree(tmp_path / "subs" / "budget", base_files(BUDGET))
    settings = GradeSettings(call_s=6, submission_s=8, isolation=IsolationChoice.PROCESS)
    summary = grade_batch(
        [tmp_path / "subs" / "budget"], out=tmp_path / "out", parts=SUITES, suites=suite, settings=settings
    )
    result = summary.results["budget"]
    assert result.isolation == "process" and "NOT SANDBOXED" in result.isolation_note
    assert result.status == "timeout" and "time budget of 8 s" in result.message
    budget = [(s, m) for name, (s, _, m) in _tests(result).items() if "test_budget" in name]
    assert len(budget) == 6 and all(s == "timeout" and "budget" in m for s, m in budget)
    assert any(m.startswith("not run") for _, m in budget)


THREADS_SUITE = """
import torch
def test_threads(submission):
    assert torch.get_num_threads() == 1, f"the trusted side computes with {torch.get_num_threads()} threads"
"""


def test_the_trusted_side_grades_with_one_torch_thread_and_restores_the_setting(tmp_path):
    """Many threads would spin for cores that other grading processes hold (and add in a machine's order)."""
    import torch

    suite = write_tree(
        tmp_path / "suite",
        {"test_suite.py": THREADS_SUITE, "rubric.toml": '["test_suite.py::test_threads"]\npoints = 1\n'},
    )
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        result = grade_student(
            write_tree(tmp_path / "good", base_files(GOOD)),
            out=tmp_path / "out",
            parts=SUITES,
            suites=suite,
            settings=GradeSettings(call_s=4, submission_s=60, isolation=IsolationChoice.PROCESS),
        )
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert _tests(result) == {"test_suite.py::test_threads": ("passed", 1.0, "")}, _tests(result)
