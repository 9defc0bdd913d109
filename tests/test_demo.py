"""`make demo`, the main job end to end: release, public checks on the reference (all pass) and the skeleton
(all TODO), data, sample submissions, sandboxed grading of suites and notebooks, reports."""

from __future__ import annotations

from pathlib import Path

import autograder.demo as demo
from exercise_code.checks import CheckReport, CheckResult, Status


def test_demo_runs_every_step(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path / "release")]) == 0
    out = capsys.readouterr().out
    assert out.count("== ") == len(demo.STEPS)
    assert "leak check: clean" in out
    assert "layers: 0/" in out and "[TODO ]" in out and "[PASS ]" in out
    assert "NOT MET" not in out and out.endswith("demo: done\n")
    assert (tmp_path / "release" / "exercise_code" / "layers").is_dir()
    assert len(list((tmp_path / "release" / "notebooks").glob("*.ipynb"))) == 4
    reports = tmp_path / "demo" / "grading" / "reports"
    assert (reports / "grades.csv").is_file() and (reports / "summary.html").is_file()
    assert "expected: every results.json validates against the Gradescope schema" in out


def test_demo_stops_when_an_expectation_is_not_met(tmp_path, monkeypatch, capsys):
    def half_done(root: Path, groups: tuple[str, ...]) -> CheckReport:
        return CheckReport(
            [
                CheckResult("layers", "a", Status.PASSED),
                CheckResult("layers", "b", Status.FAILED, "x"),
            ]
        )

    monkeypatch.setattr(demo, "run_public_checks", half_done)
    assert demo.main(["--out", str(tmp_path / "release")]) == 1
    captured = capsys.readouterr()
    assert "NOT MET" in captured.out and "step 2 did not give the expected result" in captured.err
