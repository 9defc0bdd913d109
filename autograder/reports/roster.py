"""The roster: who each submission id is in the LMS (a CSV a TA writes; docs/lms.md), and the problems
to look at before an import: students missing on either side, entries an LMS cannot match."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from .late import final_score


@dataclass(frozen=True)
class RosterEntry:
    """One enrolled student: the submission id the grader uses, and how each LMS knows them."""

    student: str
    """Submission id: the `student` of the results (the zip's stem, made filename-safe)."""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    """Identifies the student in the Moodle import (map "Email address" to "email address")."""
    section: str = ""
    canvas_id: str = ""
    """Canvas user id: the "ID" column of a Canvas gradebook export."""
    sis_user_id: str = ""
    """The institution's student number: Canvas "SIS User ID", Moodle "ID number"."""
    sis_login_id: str = ""
    """Canvas "SIS Login ID" (the login name)."""

    @property
    def sortable_name(self) -> str:
        """`Last, First` as Canvas writes it (what is there when a part is missing; else the id)."""
        return ", ".join(p for p in (self.last_name, self.first_name) if p) or self.student


ROSTER_COLUMNS = tuple(f.name for f in fields(RosterEntry))
"""Roster CSV columns; without a header row they are read in this order."""


class ProblemKind(StrEnum):
    """Why a student is listed in roster-problems.csv (the `kind` column)."""

    NOT_IN_ROSTER = "not-in-roster"
    """A result whose student the roster lacks: only in the nbgrader file."""
    NO_SUBMISSION = "no-submission"
    """A roster student without a result: an empty cell (Canvas, Moodle), 0.0 (nbgrader)."""
    MISSING_ID = "missing-id"
    """A roster entry an LMS cannot find the student by."""
    NO_TIMESTAMP = "no-timestamp"
    """A late policy is set but the submission time is unknown: no penalty was applied."""
    GRADER_ERROR = "grader-error"
    """The grader itself failed (status `error`): the exported score is not the student's work's."""
    NO_ROSTER = "no-roster"
    """No roster was given: the Canvas and Moodle files were not written."""


@dataclass(frozen=True)
class RosterProblem:
    """Something a TA must look at before importing; never a silently dropped student."""

    kind: ProblemKind
    student: str
    detail: str
    score: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.student or '-'}: {self.detail}"


def read_roster(path: Path) -> list[RosterEntry]:
    """The roster CSV (UTF-8, an Excel BOM is fine). A header row (one with a `student` cell) names the
    columns, in any order, from ROSTER_COLUMNS; without one they are read in that order and rows may
    stop early. Blank lines are skipped; an unknown column, a row without a student or a student
    listed twice is a ValueError naming it."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
    rows = [row for row in rows if any(row)]
    columns: Sequence[str] = ROSTER_COLUMNS
    first_line = 1
    if rows and "student" in (cell.lower() for cell in rows[0]):
        columns = [c.lower() for c in rows.pop(0)]
        unknown = sorted(set(columns) - set(ROSTER_COLUMNS))
        if unknown:
            raise ValueError(f"{path}: unknown roster columns {unknown}; known: {', '.join(ROSTER_COLUMNS)}")
        first_line = 2
    entries: list[RosterEntry] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=first_line):
        if len(row) > len(columns):
            raise ValueError(f"{path} row {number}: {len(row)} cells, the roster has {len(columns)} columns")
        entry = RosterEntry(**dict(zip(columns, row, strict=False)))
        if not entry.student:
            raise ValueError(f"{path} row {number}: no student (submission id) in {row}")
        if entry.student in seen:
            raise ValueError(f"{path} row {number}: student {entry.student!r} is listed twice")
        seen.add(entry.student)
        entries.append(entry)
    return entries


def results_by_student(results: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`{student: result}`; two results for one student are a ValueError."""
    found: dict[str, dict[str, Any]] = {}
    for result in results:
        student = str(result.get("student", ""))
        if student in found:
            raise ValueError(f"two results for student {student!r}")
        found[student] = result
    return found


def roster_problems(
    results: Sequence[dict[str, Any]], roster: Sequence[RosterEntry] | None
) -> list[RosterProblem]:
    """Results the roster lacks, roster students without a result, entries an LMS cannot match, and
    results whose late record has no submission time."""
    by_student = results_by_student(results)
    problems: list[RosterProblem] = []
    if roster is None:
        problems.append(RosterProblem(ProblemKind.NO_ROSTER, "", "Canvas and Moodle files need a roster"))
    listed = {entry.student for entry in roster or []}
    for student, result in sorted(by_student.items()):
        if roster is not None and student not in listed:
            detail = "result without a roster entry: only in the nbgrader file"
            problems.append(RosterProblem(ProblemKind.NOT_IN_ROSTER, student, detail, final_score(result)))
        if result.get("status") == "error":
            detail = "the grader failed (status error): grade again before importing this score"
            problems.append(RosterProblem(ProblemKind.GRADER_ERROR, student, detail, final_score(result)))
        if result.get("late") and not result["late"].get("submitted_at"):
            detail = "submission time unknown: no late penalty applied"
            problems.append(RosterProblem(ProblemKind.NO_TIMESTAMP, student, detail, final_score(result)))
    for entry in roster or []:
        if entry.student not in by_student:
            detail = "no result: empty cell for Canvas and Moodle, 0 for nbgrader"
            problems.append(RosterProblem(ProblemKind.NO_SUBMISSION, entry.student, detail))
        if not (entry.canvas_id or entry.sis_user_id or entry.sis_login_id):
            detail = "no canvas_id, sis_user_id or sis_login_id: Canvas can only match the name"
            problems.append(RosterProblem(ProblemKind.MISSING_ID, entry.student, detail))
        if not entry.email:
            problems.append(
                RosterProblem(ProblemKind.MISSING_ID, entry.student, "no email: not in moodle.csv")
            )
    return problems
