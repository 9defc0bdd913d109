"""What TAs hit in the CLI: every plain bad input gets one clear line and the right exit code (2: bad
arguments, 1: the work failed), never a traceback; `verify --quick` passes on a healthy kit; a rejected
submission carries the assignment's whole maximum in every report."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from autograder.cli import main, submissions
from autograder.grading import HIDDEN_DIR, GradeSettings, grade_student, load_rubric
from autograder.grading.batch import NOT_A_SUBMISSION, scan_submissions
from autograder.grading.rubric import rubric_total
from autograder.reports import merge_results
from autograder.verify import ANY_QUALITY, TINY_BUDGET, ModelBudget, Outcome, VerifyReport


def _kit(folder: Path) -> Path:
    """The smallest submission folder: exercise_code/ and nothing else."""
    (folder / "exercise_code").mkdir(parents=True)
    (folder / "exercise_code" / "__init__.py").write_text("")
    return folder


def _zip_slip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("exercise_code/__init__.py", "")
        archive.writestr("../../../slipped.txt", "pwned")
    return path


def _one_error_line(err: str, command: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"autograder {command}: error:")]
    assert len(lines) == 1, err
    return lines[0]


# --- 1. verify --quick widens the quality scales --------------------------------------------------------


@pytest.fixture
def verify_calls(monkeypatch) -> list[dict]:
    """`autograder.verify.verify` replaced by a stub that records its arguments and passes."""
    import autograder.verify

    calls: list[dict] = []

    def fake_verify(**kwargs) -> VerifyReport:
        calls.append(kwargs)
        outcome = Outcome("reference", "reference", True, "full marks", 10.0, 10.0)
        return VerifyReport([outcome], seed=kwargs["seed"], models="tiny", scales=dict(kwargs["scales"]))

    monkeypatch.setattr(autograder.verify, "verify", fake_verify)
    return calls


def test_verify_quick_widens_the_quality_scales_and_says_so(verify_calls, tmp_path, capsys):
    assert main(["verify", "--quick", "--out", str(tmp_path / "v")]) == 0
    (call,) = verify_calls
    assert call["budget"] == TINY_BUDGET and call["scales"] == ANY_QUALITY
    assert "score scales overridden" in capsys.readouterr().out


def test_verify_scale_overrides_quick_and_full_runs_keep_the_assignments(verify_calls, tmp_path):
    out = str(tmp_path / "v")
    assert main(["verify", "--quick", "--scale", "segmentation_miou=0:0.01", "--out", out]) == 0
    assert verify_calls[-1]["scales"] == {**ANY_QUALITY, "segmentation_miou": (0.0, 0.01)}
    assert main(["verify", "--out", out]) == 0
    assert verify_calls[-1]["scales"] == {} and verify_calls[-1]["budget"] == ModelBudget()


@pytest.mark.parametrize(
    "scale, message",
    [("nope=0:1", "unknown scale 'nope'"), ("segmentation_miou=1:1", "must differ"), ("x", "NAME=FLOOR")],
)
def test_verify_bad_scale_is_a_usage_error(scale, message, verify_calls, capsys):
    assert main(["verify", "--scale", scale]) == 2
    assert message in capsys.readouterr().err and not verify_calls


# --- 2. a rejected submission carries the assignment's whole maximum -------------------------------------


def test_rejected_zip_has_the_full_maximum_in_every_report(tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    evil = _zip_slip(subs.joinpath("evil.zip"))
    rejected = grade_student(evil, out=out, settings=GradeSettings(isolation="process"))
    assert rejected.status == "rejected"
    on_notebooks = [t for t in rejected.to_dict()["tests"] if t["part"].startswith("notebook:")]
    assert on_notebooks and {t["status"] for t in on_notebooks} == {"missing"}
    rejected.write(out / "results" / "evil.json")
    rubric = load_rubric(HIDDEN_DIR / "rubric.toml")
    tests = [
        {
            "name": key,
            "part": e.part,
            "concept": e.concept,
            "points": e.points,
            "max_points": e.points,
            "status": "passed",
            "message": "",
            "seconds": 0.1,
        }
        for key, e in rubric.items()
    ] + [dict(t, status="passed", points=t["max_points"]) for t in on_notebooks]
    good = {"student": "good", "status": "graded", "score": 0.0, "max_score": 0.0, "tests": tests}
    (out / "results" / "good.json").write_text(json.dumps(good))

    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    maxima, notebooks = {}, {}
    for student in ("good", "evil"):
        payload = json.loads((out / "reports" / "students" / student / "results.json").read_text())
        maxima[student] = sum(t["max_score"] for t in payload["tests"])
        on_notebooks = [t for t in payload["tests"] if t["tags"][0].startswith("notebook:")]
        notebooks[student] = sum(t["max_score"] for t in on_notebooks)
    assert notebooks["evil"] == notebooks["good"] > 0  # both: every notebook test `missing`, 0 points
    full = rubric_total(rubric) + notebooks["good"]
    assert maxima["evil"] == pytest.approx(full) and maxima["good"] == pytest.approx(full)
    with (out / "reports" / "grades.csv").open() as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert [float(rows[s]["max"]) for s in ("evil", "good")] == pytest.approx([full, full])
    assert rows["evil"]["status"] == "rejected" and float(rows["evil"]["total"]) == 0


def test_merge_fills_a_rejected_suite_result_from_the_batch_or_as_one_lump():
    tests = [
        {
            "name": "t1",
            "part": "layers",
            "concept": "c",
            "points": 2.0,
            "max_points": 2.0,
            "status": "passed",
        },
        {"name": "t2", "part": "models", "concept": "d", "points": 0.0, "max_points": 3.0, "status": "error"},
    ]
    graded = {"student": "ann", "status": "graded", "max_score": 5.0, "tests": tests}
    rejected = {"student": "bob", "status": "rejected", "max_score": 5.0, "tests": [], "message": "zip slip"}
    from autograder.reports.merge import expected_tests

    filled = merge_results(rejected, [], expected=expected_tests([graded, rejected]))
    assert filled["max_score"] == 5.0 and filled["score"] == 0.0
    assert [(t["name"], t["part"], t["status"]) for t in filled["tests"]] == [
        ("t1", "layers", "missing"),
        ("t2", "models", "missing"),
    ]
    assert "rejected" in filled["tests"][0]["message"]
    lump = merge_results(rejected, [])  # no other result to copy from: one placeholder test
    assert lump["max_score"] == 5.0 and [t["name"] for t in lump["tests"]] == ["hidden suites"]
    assert merge_results(graded, [], expected=[{"name": "t3", "max_points": 9.0}])["max_score"] == 5.0


# --- 3. --workers 0 is a usage error ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["grade", "verify"])
@pytest.mark.parametrize(
    "value, message", [("0", "must be at least 1, got 0"), ("two", "expected a whole number, got 'two'")]
)
def test_workers_must_be_at_least_one(command, value, message, tmp_path, capsys):
    argv = [command, "--workers", value]
    if command != "verify":
        argv += [str(_kit(tmp_path / "sub")), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"autograder {command}: error: argument --workers: {message}" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


# --- 4. unknown files and empty folders are named -------------------------------------------------------


def test_scan_names_what_it_skips(tmp_path):
    subs = tmp_path / "subs"
    _kit(subs / "ann")
    _zip_slip(subs / "bob.zip")
    (subs / "empty").mkdir()
    (subs / "notes.txt").write_text("grade these by Friday")
    (subs / "carl").mkdir()
    (subs / "carl" / "notebooks").mkdir()  # not empty: graded (and found incomplete), not skipped
    scan = scan_submissions([subs])
    assert scan.submissions == [subs / "ann", subs / "bob.zip", subs / "carl"]
    assert scan.skipped == [(subs / "empty", "empty folder"), (subs / "notes.txt", NOT_A_SUBMISSION)]
    assert scan_submissions([subs / "ann"]).submissions == [subs / "ann"]  # one kit, not a folder of them
    explicit = scan_submissions([subs / "notes.txt", subs / "empty"])
    assert explicit.submissions == [] and len(explicit.skipped) == 2
    with pytest.raises(Exception, match="nope does not exist"):
        scan_submissions([tmp_path / "nope"])


def test_cli_prints_each_skipped_path(tmp_path, capsys):
    subs = tmp_path / "subs"
    _kit(subs / "ann")
    (subs / "notes.txt").write_text("x")
    assert submissions([subs]) == [subs / "ann"]
    assert capsys.readouterr().err == f"skipped {subs / 'notes.txt'}: {NOT_A_SUBMISSION}\n"


@pytest.mark.parametrize("command", ["grade"])
def test_nothing_to_grade_exits_1(command, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    argv = [command, str(tmp_path / "notes.txt"), str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"skipped {tmp_path / 'notes.txt'}: not a zip or a submission folder" in err
    assert f"skipped {tmp_path / 'empty'}: empty folder" in err
    assert "nothing to grade in" in _one_error_line(err, command)


@pytest.mark.parametrize("command", ["grade"])
def test_a_missing_submission_path_is_a_usage_error(command, tmp_path, capsys):
    assert main([command, str(tmp_path / "nope.zip"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"argument submissions: {tmp_path / 'nope.zip'} does not exist" in err and "Traceback" not in err


# --- 5. other plain bad input ----------------------------------------------------------------------------


def test_report_without_grade_results_exits_1(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    assert main(["report", str(tmp_path / "out")]) == 1
    line = _one_error_line(capsys.readouterr().err, "report")
    assert "no results in" in line and "autograder grade" in line


def test_export_into_a_folder_or_below_a_file_is_a_usage_error(tmp_path, capsys):
    assert main(["export", "gradescope", "--out", str(tmp_path)]) == 2
    assert f"{tmp_path} is a folder; give the file to write" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert main(["export", "gradescope", "--out", str(tmp_path / "afile" / "a.zip")]) == 2
    assert f"{tmp_path / 'afile'} is a file, not a folder" in capsys.readouterr().err
    assert main(["export", "canvas"]) == 2
    assert "invalid choice: 'canvas'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"], "nothing written"


def test_an_unusable_file_is_one_line_and_exit_1(monkeypatch, tmp_path, capsys):
    import autograder.export

    def denied(**kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "a.zip"))

    monkeypatch.setattr(autograder.export, "export_gradescope", denied)
    assert main(["export", "gradescope", "--out", str(tmp_path / "a.zip")]) == 1
    assert "Permission denied" in _one_error_line(capsys.readouterr().err, "export")


def test_release_into_an_existing_file_exits_1(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["release", "--out", str(tmp_path / "afile"), "--no-notebooks"]) == 1
    assert str(tmp_path / "afile") in _one_error_line(capsys.readouterr().err, "release")
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("out", ["file", "below-file"])
def test_grade_out_must_be_a_folder(out, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" if out == "file" else tmp_path / "afile" / "out"
    assert main(["grade", str(_kit(tmp_path / "ann")), "--out", str(target)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_grade_with_an_unreadable_secret_file_exits_1(tmp_path, capsys):
    argv = ["grade", str(_kit(tmp_path / "ann")), "--out", str(tmp_path / "out")]
    assert main([*argv, "--isolation", "process", "--secret-file", "/nonexistent/key"]) == 1
    line = _one_error_line(capsys.readouterr().err, "grade")
    assert "cannot read the hidden-data key from /nonexistent/key" in line
    assert not list((tmp_path / "out").glob("results/*.json")), "nothing graded"
