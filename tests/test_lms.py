"""Gradebook exports: the Canvas, Moodle and nbgrader column layouts, the roster mapping, students missing
on either side (listed, never dropped), a rejected student's 0 and the late penalty in every file."""

from __future__ import annotations

import csv
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autograder.reports.late import SubmissionTime, TimeSource, apply_late_policy
from autograder.reports.lms import (
    ROSTER_COLUMNS,
    LmsAssignment,
    ProblemKind,
    RosterEntry,
    read_roster,
    write_lms_exports,
)
from exercise_code.config import LatePolicy

ASSIGNMENT = LmsAssignment(name="Dense prediction", canvas_id="4711")
ROSTER_CSV = """\ufeffstudent,last_name,first_name,email,section,canvas_id,sis_user_id,sis_login_id
alice,Liddell,Alice,alice@uni.example,Sec A,101,S1,alice1
bob,Builder,Bob,bob@uni.example,Sec B,102,S2,bob2

carol,Danvers,Carol,,Sec A,,,
"""  # carol has no email and no Canvas id; dave (below) submitted but is not enrolled


def _result(student: str, points: float, status: str = "graded", max_points: float = 10.0) -> dict:
    test = {"name": "t", "part": "layers", "concept": "", "points": points, "max_points": max_points}
    test |= {"status": "passed", "message": "", "seconds": 0.1}
    return {"student": student, "status": status, "score": points, "max_score": max_points, "tests": [test]}


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def exported(tmp_path):
    (tmp_path / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
    roster = read_roster(tmp_path / "roster.csv")
    results = [_result("alice", 7.5), _result("bob", 0.0, status="rejected"), _result("dave", 9.0)]
    return write_lms_exports(results, tmp_path / "lms", roster, ASSIGNMENT)


# --- layouts, exactly as each system documents them ------------------------------------------------------


def test_header_rows_are_exactly_the_documented_layouts(exported):
    canvas = exported.canvas_csv.read_text().splitlines()[0]
    assert canvas == "Student,ID,SIS User ID,SIS Login ID,Section,Dense prediction (4711)"
    moodle = exported.moodle_csv.read_text().splitlines()[0]
    assert moodle == "First name,Last name,ID number,Email address,Dense prediction"
    nbgrader = exported.nbgrader_csv.read_bytes().split(b"\n")[0]  # nbgrader writes "\n" line ends
    assert nbgrader == (
        b"assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
        b"late_submission_penalty,score,max_score"
    )
    assert _read(exported.problems_csv)[0] == ["kind", "student", "score", "detail"]


def test_canvas_without_an_assignment_id_matches_by_title(tmp_path):
    out = write_lms_exports([_result("a", 1.0)], tmp_path, [RosterEntry("a", canvas_id="1")], "Homework 3")
    assert _read(out.canvas_csv)[0][-1] == "Homework 3"
    with pytest.raises(ValueError, match=r"canvas_id must be the Canvas assignment id \(digits\), got 'hw3'"):
        LmsAssignment(name="Homework 3", canvas_id="hw3")


# --- roster mapping and the students missing on either side ---------------------------------------------


def test_rows_map_submission_ids_to_lms_ids_in_roster_order(exported):
    assert _read(exported.canvas_csv)[1:] == [
        ["Liddell, Alice", "101", "S1", "alice1", "Sec A", "7.5"],
        ["Builder, Bob", "102", "S2", "bob2", "Sec B", "0"],  # rejected: a 0, not an empty cell
        ["Danvers, Carol", "", "", "", "Sec A", ""],  # no submission: blank = no score in Canvas
    ]
    assert _read(exported.moodle_csv)[1:] == [
        ["Alice", "Liddell", "S1", "alice@uni.example", "7.5"],
        ["Bob", "Builder", "S2", "bob@uni.example", "0"],
    ]  # carol has no email: a row Moodle could not match would abort its whole import
    rows = {row[3]: row for row in _read(exported.nbgrader_csv)[1:]}
    assert list(rows) == ["alice", "bob", "carol", "dave"]  # roster order, then results the roster lacks
    assert rows["alice"] == [
        "Dense prediction",
        "",
        "",
        "alice",
        "Liddell",
        "Alice",
        "alice@uni.example",
        "7.5",
        "0.0",
        "7.5",
        "10.0",
    ]
    assert rows["bob"][7:] == ["0.0", "0.0", "0.0", "10.0"]
    assert rows["carol"][2] == "" and rows["carol"][7:] == ["0.0", "0.0", "0.0", "10.0"]  # as nbgrader does
    assert rows["dave"][3:] == ["dave", "", "", "", "9.0", "0.0", "9.0", "10.0"]


def test_missing_students_are_listed_in_the_result_the_csv_and_the_log(tmp_path, caplog):
    (tmp_path / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
    results = [_result("alice", 7.5), _result("bob", 0.0, status="error"), _result("dave", 9.0)]
    with caplog.at_level(logging.INFO, logger="autograder.reports.lms"):
        out = write_lms_exports(results, tmp_path / "lms", read_roster(tmp_path / "roster.csv"), ASSIGNMENT)
    found = {(p.kind, p.student) for p in out.problems}
    assert found == {
        (ProblemKind.NOT_IN_ROSTER, "dave"),
        (ProblemKind.NO_SUBMISSION, "carol"),
        (ProblemKind.MISSING_ID, "carol"),  # twice: no Canvas id, no email
        (ProblemKind.GRADER_ERROR, "bob"),
    }
    assert len(out.problems) == 5
    listed = _read(out.problems_csv)[1:]
    assert ["not-in-roster", "dave", "9"] in [row[:3] for row in listed] and len(listed) == 5
    assert {row[1] for row in listed if row[0] == "no-submission"} == {"carol"}
    assert "not-in-roster: dave: result without a roster entry" in caplog.text
    assert "dave" not in out.canvas_csv.read_text() + out.moodle_csv.read_text()


def test_without_a_roster_only_nbgrader_is_written_and_that_is_said(tmp_path):
    out = write_lms_exports([_result("ann", 3.0)], tmp_path)
    assert out.canvas_csv is None and out.moodle_csv is None
    assert not (tmp_path / "canvas.csv").exists()
    assert [p.kind for p in out.problems] == [ProblemKind.NO_ROSTER]
    assert _read(out.nbgrader_csv)[1][3] == "ann"


# --- the late penalty reaches every export -------------------------------------------------------------


def test_exports_use_the_penalised_score_and_nbgrader_penalty_column(tmp_path):
    policy = LatePolicy(deadline="2025-06-01T23:59:00+02:00", penalty_per_day=0.1)
    results = [_result("alice", 7.5), _result("bob", 6.0), _result("dave", 5.0)]
    times = {
        "alice": SubmissionTime(datetime(2025, 6, 3, 9, 0, tzinfo=UTC), TimeSource.CSV),  # 2 days late
        "bob": SubmissionTime(datetime(2025, 6, 1, 20, 0, tzinfo=UTC), TimeSource.ZIP),  # on time
    }  # dave: no time known
    with pytest.raises(ValueError, match="late policy not applied to .*call apply_late_policy first"):
        write_lms_exports(results, tmp_path, late=policy)
    late = apply_late_policy(results, policy, times)
    roster = [
        RosterEntry("alice", email="a@x", canvas_id="1"),
        RosterEntry("bob", email="b@x", canvas_id="2"),
    ]
    out = write_lms_exports(late, tmp_path, roster, ASSIGNMENT, late=policy)
    assert [row[-1] for row in _read(out.canvas_csv)[1:]] == ["5.5", "6"]
    assert [row[-1] for row in _read(out.moodle_csv)[1:]] == ["5.5", "6"]
    rows = {row[3]: row for row in _read(out.nbgrader_csv)[1:]}
    assert rows["alice"][1:3] == ["2025-06-01 21:59:00", "2025-06-03 09:00:00"]  # duedate, timestamp (UTC)
    assert rows["alice"][7:] == ["7.5", "2.0", "5.5", "10.0"]  # raw_score, penalty, score, max_score
    assert rows["bob"][2] == "2025-06-01 20:00:00" and rows["bob"][7:10] == ["6.0", "0.0", "6.0"]
    assert rows["dave"][2] == "" and rows["dave"][9] == "5.0"
    assert (ProblemKind.NO_TIMESTAMP, "dave") in {(p.kind, p.student) for p in out.problems}


# --- reading the roster --------------------------------------------------------------------------------


def test_roster_header_is_optional_and_its_columns_may_come_in_any_order(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Email,STUDENT,canvas_id\nann@x,ann,7\n")
    assert read_roster(path) == [RosterEntry("ann", email="ann@x", canvas_id="7")]
    path.write_text("ann,Ann,Lee,ann@x\nben\n")  # no header: ROSTER_COLUMNS order, rows may stop early
    assert read_roster(path) == [RosterEntry("ann", "Ann", "Lee", "ann@x"), RosterEntry("ben")]
    assert ROSTER_COLUMNS[:4] == ("student", "first_name", "last_name", "email")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("student,emial\nann,a@x\n", r"unknown roster columns \['emial'\]"),
        ("student,email\nann,a@x\nann,b@x\n", "row 3: student 'ann' is listed twice"),
        ("student,email\n,a@x\n", "row 2: no student"),
        ("student\nann,extra\n", "row 2: 2 cells, the roster has 1 columns"),
    ],
)
def test_bad_rosters_are_refused_naming_the_row(tmp_path, text, match):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(ValueError, match=match):
        read_roster(tmp_path / "r.csv")


def test_two_results_for_one_student_are_refused(tmp_path):
    with pytest.raises(ValueError, match="two results for student 'ann'"):
        write_lms_exports([_result("ann", 1.0), _result("ann", 2.0)], tmp_path)
