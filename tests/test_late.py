"""Late policy: the config's LatePolicy, submission times (timestamps CSV over zip entry dates), penalties at
the boundaries (grace, started days, cap, late-day cut-off) and the late line on both report pages."""

from __future__ import annotations

import struct
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder.reports import feedback_html, summary_html
from autograder.reports.late import (
    SubmissionTime,
    TimeSource,
    apply_late_policy,
    days_late,
    read_timestamps,
    submission_times,
    zip_time,
)
from autograder.reports.summary import class_summary
from exercise_code.config import CONFIG, AssignmentConfig, LatePolicy

CEST = timezone(timedelta(hours=2))
DEADLINE = datetime(2025, 6, 1, 23, 59, tzinfo=CEST)
POLICY = LatePolicy(
    deadline=DEADLINE.isoformat(), grace_minutes=15, penalty_per_day=0.1, max_penalty=0.3
)  # 10 % of the maximum per started day after 00:14, at most 30 %


def _result(student: str, points: float = 8.0, max_points: float = 10.0, **extra) -> dict:
    test = {"name": "t", "part": "layers", "concept": "", "points": points, "max_points": max_points}
    test |= {"status": "passed" if points else "failed", "message": "", "seconds": 0.1}
    base = {"student": student, "status": "graded", "score": points, "max_score": max_points, "tests": [test]}
    return base | extra


def _late(result: dict, at: datetime, policy: LatePolicy = POLICY) -> dict:
    times = {result["student"]: SubmissionTime(at, TimeSource.CSV)}
    (out,) = apply_late_policy([result], policy, times)
    return out


# --- the policy in the config -------------------------------------------------------------------------


def test_default_config_has_no_deadline_and_changes_nothing():
    assert CONFIG.late == LatePolicy() and AssignmentConfig().late.deadline is None
    results = [_result("ann")]
    out = apply_late_policy(results, CONFIG.late, {"ann": SubmissionTime(DEADLINE, TimeSource.CSV)})
    assert out == results and out[0] is not results[0] and "late" not in out[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"deadline": "2025-06-01T23:59:00"}, "needs a UTC offset"),
        ({"deadline": "June 1st"}, "ISO 8601"),
        ({"grace_minutes": -1}, "grace_minutes must be >= 0"),
        ({"penalty_per_day": 1.5}, r"penalty_per_day must be a share in \[0, 1\]"),
        ({"max_penalty": -0.1}, "max_penalty must be a share"),
        ({"late_days": -1}, "late_days must be >= 0"),
    ],
)
def test_bad_policies_are_refused_naming_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LatePolicy(**kwargs)


def test_a_deadline_in_z_notation_is_accepted():
    assert LatePolicy(deadline="2025-06-01T21:59:00Z").deadline_at() == DEADLINE


# --- penalties at the boundaries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after_deadline", "days", "score"),
    [
        (timedelta(minutes=-5), 0, 8.0),  # before the deadline
        (timedelta(minutes=10), 0, 8.0),  # inside the grace period
        (timedelta(minutes=15), 0, 8.0),  # the last second of grace is still on time
        (timedelta(minutes=16), 1, 7.0),  # 1 minute after grace: day 1, 10 % of 10 points
        (timedelta(days=1, minutes=15), 1, 7.0),  # exactly one day after grace: still day 1
        (timedelta(days=1, minutes=16), 2, 6.0),  # a second day started
        (timedelta(days=9), 9, 5.0),  # 90 % capped at 30 %
    ],
)
def test_penalty_per_started_day_after_grace_with_a_cap(after_deadline, days, score):
    out = _late(_result("ann"), DEADLINE + after_deadline)
    assert out["late"]["days_late"] == days
    assert out["score"] == pytest.approx(score)
    assert out["late"]["penalty"] == pytest.approx(8.0 - score)
    assert out["late"]["score_before"] == 8.0


def test_the_penalty_never_takes_the_score_below_zero():
    policy = LatePolicy(deadline=DEADLINE.isoformat(), penalty_per_day=0.5)  # 5 of 10 points a day
    out = _late(_result("ann", points=2.0), DEADLINE + timedelta(hours=1), policy)
    assert out["score"] == 0.0 and out["late"]["penalty"] == 2.0  # nbgrader: score = raw - penalty


@pytest.mark.parametrize(("days", "score"), [(1, 8.0), (2, 8.0), (3, 0.0)])
def test_late_days_allowed_then_zero(days, score):
    policy = LatePolicy(deadline=DEADLINE.isoformat(), late_days=2)
    out = _late(_result("ann"), DEADLINE + timedelta(days=days - 1, minutes=1), policy)
    assert out["late"]["days_late"] == days
    assert out["score"] == score


def test_per_day_penalty_and_cut_off_combine():
    policy = LatePolicy(deadline=DEADLINE.isoformat(), penalty_per_day=0.25, late_days=1)
    assert _late(_result("ann"), DEADLINE + timedelta(hours=1), policy)["score"] == 5.5
    assert _late(_result("ann"), DEADLINE + timedelta(days=1, hours=1), policy)["score"] == 0.0


def test_applying_twice_penalises_once_and_rejected_stays_zero():
    once = _late(_result("ann"), DEADLINE + timedelta(hours=2))
    twice = _late(once, DEADLINE + timedelta(hours=2))
    assert once["score"] == twice["score"] == 7.0 and twice["late"]["score_before"] == 8.0
    rejected = _late(_result("bob", points=0.0, status="rejected"), DEADLINE + timedelta(days=2))
    assert rejected["score"] == 0.0 and rejected["late"]["penalty"] == 0.0


def test_unknown_time_is_recorded_not_penalised():
    (out,) = apply_late_policy([_result("ann")], POLICY, {})
    assert out["score"] == 8.0
    assert out["late"] == {
        "submitted_at": None,
        "source": "none",
        "days_late": 0,
        "penalty": 0.0,
        "score_before": 8.0,
    }


def test_days_late_without_deadline_is_zero():
    assert days_late(LatePolicy(), datetime(2030, 1, 1, tzinfo=UTC)) == 0


# --- submission times ----------------------------------------------------------------------------------


def _zip(path: Path, when: tuple[int, ...], utc: datetime | None = None) -> Path:
    info = zipfile.ZipInfo("exercise_code/layers.py", date_time=when)
    if utc is not None:  # Info-ZIP extended timestamp: flags (mtime present), mtime in UTC seconds
        info.extra = struct.pack("<HHBi", 0x5455, 5, 1, int(utc.timestamp()))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("exercise_code/", date_time=(2030, 1, 1, 0, 0, 0)), "")  # a folder
        archive.writestr(info, "x = 1\n")
        archive.writestr(zipfile.ZipInfo("notes.txt", date_time=(2025, 5, 30, 12, 0, 0)), "old")
    return path


def test_times_from_csv_win_over_zip_entries_which_are_read_in_the_deadline_zone(tmp_path):
    (tmp_path / "subs").mkdir()
    _zip(tmp_path / "subs/ann.zip", (2025, 6, 3, 10, 0, 0))
    _zip(tmp_path / "subs/bob.zip", (2025, 6, 2, 9, 30, 0))
    csv_path = tmp_path / "times.csv"
    csv_path.write_text("student,submitted_at\nann,2025-06-01T21:00:00Z\n")
    results = [_result(s, source=f"subs/{s}.zip") for s in ("ann", "bob")] + [_result("cat", source="cat")]
    times = submission_times(results, POLICY, timestamps_csv=csv_path, base=tmp_path)
    assert times["ann"] == SubmissionTime(datetime(2025, 6, 1, 21, tzinfo=UTC), TimeSource.CSV)
    assert times["bob"] == SubmissionTime(datetime(2025, 6, 2, 9, 30, tzinfo=CEST), TimeSource.ZIP)
    assert "cat" not in times  # a folder submission: no zip to read
    out = {r["student"]: r for r in apply_late_policy(results, POLICY, times)}
    assert (out["ann"]["late"]["source"], out["ann"]["late"]["days_late"], out["ann"]["score"]) == (
        "csv",
        0,
        8.0,
    )
    assert (out["bob"]["late"]["source"], out["bob"]["late"]["days_late"], out["bob"]["score"]) == (
        "zip-entries",
        1,
        7.0,
    )
    assert out["cat"]["late"]["source"] == "none"


def test_zip_time_prefers_the_extended_utc_timestamp(tmp_path):
    utc = datetime(2025, 6, 2, 1, 2, 3, tzinfo=UTC)
    path = _zip(tmp_path / "a.zip", (2025, 6, 2, 9, 0, 0), utc=utc)
    assert zip_time(path, zone=CEST) == utc
    assert zip_time(_zip(tmp_path / "b.zip", (2025, 6, 2, 9, 0, 0)), zone=CEST) == datetime(
        2025, 6, 2, 9, tzinfo=CEST
    )
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    assert zip_time(tmp_path / "broken.zip") is None


def test_read_timestamps_without_header_naive_times_in_zone_latest_row_wins(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ann,2025-06-01 23:00\nann,2025-06-02T08:00:00+02:00\nbob,\ncy,2025-06-01 23:00\n")
    assert read_timestamps(path, zone=CEST) == {
        "ann": datetime(2025, 6, 2, 8, tzinfo=CEST),
        "cy": datetime(2025, 6, 1, 23, tzinfo=CEST),  # no offset: the zone given (the deadline's)
    }
    path.write_text("student,when\nann,2025-06-01\n")
    with pytest.raises(ValueError, match="submitted_at"):
        read_timestamps(path)
    path.write_text("student,timestamp\nann,yesterday\n")
    with pytest.raises(ValueError, match=r"row 2: submission time must be ISO 8601, got 'yesterday'"):
        read_timestamps(path)


# --- on the pages --------------------------------------------------------------------------------------


def test_feedback_and_summary_show_the_late_line_and_the_penalised_total():
    late = _late(_result("ann", points=9.5), DEADLINE + timedelta(days=1, hours=1))
    page = feedback_html(late)
    line = "Submitted 2025-06-03 00:59+02:00 (timestamps CSV): 2 days late, penalty 2.00 points, score before"
    assert f"<p class='late'>{line} the penalty 9.50.</p>" in page
    assert "Total <b>7.50 / 10.00</b> (75 %)" in page
    on_time = feedback_html(_late(_result("bob"), DEADLINE))
    assert "(timestamps CSV): on time." in on_time and "Total <b>8.00 / 10.00</b>" in on_time
    assert "class='late'" not in feedback_html(_result("cat"))  # no record, no line
    summary = class_summary([late, _late(_result("bob"), DEADLINE)])
    assert summary["mean_percent"] == pytest.approx((75 + 80) / 2)
    html = summary_html(summary)
    assert f"<li><b>ann</b>: {line} the penalty 9.50.</li>" in html
    assert "2 d late: &minus;2 (was 9.5)" in html
    assert "<b>bob</b>" not in html  # on time: not listed


def test_grades_csv_and_gradescope_carry_the_penalised_score() -> None:
    from autograder.reports import gradebook_rows, to_gradescope, validate_gradescope
    from autograder.reports.late import SubmissionTime, TimeSource, apply_late_policy

    test = {
        "name": "t",
        "part": "layers",
        "concept": "c",
        "points": 10.0,
        "max_points": 10.0,
        "status": "passed",
        "message": "",
        "seconds": 0.1,
    }
    result = {"student": "ann", "status": "graded", "score": 10.0, "max_score": 10.0, "tests": [test]}
    policy = LatePolicy(deadline="2025-06-01T00:00:00+00:00", penalty_per_day=0.1)
    at = SubmissionTime(datetime(2025, 6, 2, 12, tzinfo=UTC), TimeSource.CSV)  # 2 started days late
    (late,) = apply_late_policy([result], policy, {"ann": at})
    header, rows = gradebook_rows([late])
    row = dict(zip(header, rows[0], strict=True))
    assert (row["late_penalty"], row["total"], row["max"]) == (2.0, 8.0, 10.0)
    payload = to_gradescope(late)
    validate_gradescope(payload)
    assert payload["score"] == 8.0 and "2 days late" in payload["output"]
    assert "late_penalty" not in gradebook_rows([result])[0], "no policy, no column"
