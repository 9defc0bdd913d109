"""Gradebook exports from stored results: a Canvas gradebook import, a Moodle grade import and nbgrader's
`nbgrader export` CSV, with a roster that maps submission ids to LMS ids (docs/lms.md).

Column layouts, as each system reads them:
- Canvas: Student, ID, SIS User ID, SIS Login ID, Section, then one column per assignment named
  "Title (assignment id)". Canvas finds the student by ID, then SIS User ID, then SIS Login ID, then by
  name; a blank cell is "no score". Guide: https://community.canvaslms.com/t5/Instructor-Guide/
  How-do-I-import-grades-in-the-Gradebook/ta-p/807, and the importer that enforces it,
  instructure/canvas-lms app/models/gradebook_importer.rb (`row_has_student_headers?`,
  `update_column_count`, `Assignment.title_and_id`).
- Moodle (Grades > Import > CSV file): free columns; the teacher maps one user column ("Email address"
  here) to the user field and one column to the grade item. An empty cell imports as "no grade"; a row
  whose user is not found aborts the whole import. moodle/moodle grade/import/csv/classes/load_data.php
  (`map_user_data_with_value`, `update_grade_item`, `prepare_import_grade_data`).
- nbgrader: assignment, duedate, timestamp, student_id, last_name, first_name, email, raw_score,
  late_submission_penalty, score, max_score; a student without a submission gets an empty timestamp and
  0.0 scores. jupyter/nbgrader nbgrader/plugins/export.py (`CsvExportPlugin`).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exercise_code.config import LatePolicy

from .late import final_score, max_score
from .roster import (
    ROSTER_COLUMNS,
    ProblemKind,
    RosterEntry,
    RosterProblem,
    read_roster,
    results_by_student,
    roster_problems,
)

__all__ = [  # the roster's names too, so that one import serves the report command
    "CANVAS_ID_COLUMNS",
    "MOODLE_ID_COLUMNS",
    "NBGRADER_COLUMNS",
    "ROSTER_COLUMNS",
    "LmsAssignment",
    "LmsExports",
    "ProblemKind",
    "RosterEntry",
    "RosterProblem",
    "canvas_rows",
    "moodle_rows",
    "nbgrader_rows",
    "read_roster",
    "roster_problems",
    "write_lms_exports",
]

log = logging.getLogger(__name__)

CANVAS_ID_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_ID_COLUMNS = ("First name", "Last name", "ID number", "Email address")
NBGRADER_COLUMNS = (
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
)
PROBLEM_COLUMNS = ("kind", "student", "score", "detail")


@dataclass(frozen=True)
class LmsAssignment:
    """The assignment as the gradebooks name it."""

    name: str = "Dense prediction"
    """Title of the assignment (Canvas and Moodle column, nbgrader `assignment`)."""
    canvas_id: str = ""
    """Canvas assignment id (digits; in the assignment's URL). Without it Canvas matches by title, and
    creates a new assignment when no title matches."""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError(f"assignment name must not be empty, got {self.name!r}")
        if self.canvas_id and not self.canvas_id.isdigit():
            raise ValueError(f"canvas_id must be the Canvas assignment id (digits), got {self.canvas_id!r}")

    @property
    def canvas_column(self) -> str:
        return f"{self.name} ({self.canvas_id})" if self.canvas_id else self.name


@dataclass
class LmsExports:
    """What `write_lms_exports` wrote, and the problems it found (also in `problems_csv`)."""

    nbgrader_csv: Path
    problems_csv: Path
    canvas_csv: Path | None = None
    moodle_csv: Path | None = None
    problems: list[RosterProblem] = field(default_factory=list)


# --- the three layouts ----------------------------------------------------------------------------


def _number(value: float) -> str:
    """`7.5`, `10`, `0`: at most 4 decimals, no exponent."""
    text = f"{round(value, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _cell(result: dict[str, Any] | None) -> str:
    return "" if result is None else _number(final_score(result))


def canvas_rows(
    results: Sequence[dict[str, Any]], roster: Sequence[RosterEntry], assignment: LmsAssignment
) -> list[list[str]]:
    """Header and one row per roster student (roster order); a student without a result has a blank
    cell. Results the roster lacks are not written (see roster_problems)."""
    by_student = results_by_student(results)
    rows = [[*CANVAS_ID_COLUMNS, assignment.canvas_column]]
    for e in roster:
        ids = [e.sortable_name, e.canvas_id, e.sis_user_id, e.sis_login_id, e.section]
        rows.append([*ids, _cell(by_student.get(e.student))])
    return rows


def moodle_rows(
    results: Sequence[dict[str, Any]], roster: Sequence[RosterEntry], assignment: LmsAssignment
) -> list[list[str]]:
    """Header and one row per roster student with an email (roster order; the others would abort
    Moodle's import); a student without a result has an empty cell, which Moodle reads as no grade."""
    by_student = results_by_student(results)
    rows = [[*MOODLE_ID_COLUMNS, assignment.name]]
    for e in roster:
        if e.email:
            rows.append([e.first_name, e.last_name, e.sis_user_id, e.email, _cell(by_student.get(e.student))])
    return rows


def _nbgrader_time(at: datetime | str | None) -> str:
    """A time as nbgrader writes it: `str()` of a naive UTC datetime."""
    if not at:
        return ""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return str(moment.astimezone(UTC).replace(tzinfo=None))


def nbgrader_rows(
    results: Sequence[dict[str, Any]],
    roster: Sequence[RosterEntry] | None,
    assignment: LmsAssignment,
    late: LatePolicy | None = None,
) -> list[list[str]]:
    """Header and one row per roster student (roster order), then each result the roster lacks (by id,
    names empty). raw_score is the score before the late penalty, score = raw_score - penalty; a
    student without a submission gets an empty timestamp and 0.0, as nbgrader itself does."""
    by_student = results_by_student(results)
    entries = list(roster or [])
    listed = {e.student for e in entries}
    entries += [RosterEntry(student=s) for s in sorted(by_student) if s not in listed]
    most = max((max_score(r) for r in results), default=0.0)
    duedate = _nbgrader_time(late.deadline_at() if late else None)
    rows = [list(NBGRADER_COLUMNS)]
    for e in entries:
        result = by_student.get(e.student)
        record = (result or {}).get("late") or {}
        if result is None:
            timestamp, raw, penalty, score, maximum = "", 0.0, 0.0, 0.0, most
        else:
            score, maximum = final_score(result), max_score(result)
            penalty = float(record.get("penalty", 0.0))
            raw = float(record.get("score_before", score))
            timestamp = _nbgrader_time(record.get("submitted_at"))
        numbers = [str(float(round(x, 4))) for x in (raw, penalty, score, maximum)]
        names = [e.student, e.last_name, e.first_name, e.email]
        rows.append([assignment.name, duedate, timestamp, *names, *numbers])
    return rows


# --- writing ----------------------------------------------------------------------------------------


def _write(path: Path, rows: Iterable[Sequence[Any]], *, lineterminator: str = "\r\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator=lineterminator).writerows(rows)
    return path


def write_lms_exports(
    results: Sequence[dict[str, Any]],
    out_dir: Path,
    roster: Sequence[RosterEntry] | None = None,
    assignment: LmsAssignment | str | None = None,
    late: LatePolicy | None = None,
) -> LmsExports:
    """Write `canvas.csv`, `moodle.csv` (both only with a roster), `nbgrader_grades.csv` (nbgrader's
    `grades.csv` columns, renamed so it does not replace the kit's grades.csv) and `roster-problems.csv`
    into `out_dir`; each problem is also logged as a warning and returned.

    Scores are each result's final score: apply_late_policy first when there is a deadline (`late`
    fills nbgrader's duedate; a result without a `late` record under a deadline is a ValueError, so a
    policy is never silently skipped)."""
    if not isinstance(assignment, LmsAssignment):
        assignment = LmsAssignment() if assignment is None else LmsAssignment(name=assignment)
    if late is not None and late.deadline_at() is not None:
        unapplied = sorted(str(r.get("student")) for r in results if not r.get("late"))
        if unapplied:
            raise ValueError(f"late policy not applied to {unapplied[:5]}: call apply_late_policy first")
    out_dir = Path(out_dir)
    problems = roster_problems(results, roster)
    for problem in problems:
        log.info("%s", problem)  # the command prints them; a library call finds them in the result
    nbgrader = nbgrader_rows(results, roster, assignment, late)
    listing = [[p.kind, p.student, "" if p.score is None else _number(p.score), p.detail] for p in problems]
    exports = LmsExports(
        nbgrader_csv=_write(out_dir / "nbgrader_grades.csv", nbgrader, lineterminator="\n"),
        problems_csv=_write(out_dir / "roster-problems.csv", [PROBLEM_COLUMNS, *listing]),
        problems=problems,
    )
    if roster is not None:
        exports.canvas_csv = _write(out_dir / "canvas.csv", canvas_rows(results, roster, assignment))
        exports.moodle_csv = _write(out_dir / "moodle.csv", moodle_rows(results, roster, assignment))
    return exports
