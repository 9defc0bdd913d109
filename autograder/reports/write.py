"""Write every report for a batch of merged results into one directory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .gradebook import write_grades_csv
from .gradescope import write_gradescope
from .html import write_feedback
from .summary import write_summary


def safe_name(student: str) -> str:
    """`student` as a file name: letters, digits, `_`, `-`, `.` only, never starting with a dot."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", student).lstrip(".")
    return name or "unnamed"


@dataclass
class ReportPaths:
    """Where the reports of a batch were written."""

    grades_csv: Path
    summary_json: Path
    summary_html: Path
    results_json: dict[str, Path] = field(default_factory=dict)
    feedback_html: dict[str, Path] = field(default_factory=dict)


def write_reports(results: list[dict[str, Any]], out_dir: Path) -> ReportPaths:
    """grades.csv, per student `students/<student>/results.json` + `feedback.html`, and
    summary.{json,html} (whose roster links each feedback page relative to `out_dir`)."""
    out_dir = Path(out_dir)
    grades = write_grades_csv(results, out_dir / "grades.csv")
    results_json: dict[str, Path] = {}
    feedback: dict[str, Path] = {}
    for result in results:
        student = str(result.get("student", "unknown"))
        folder = out_dir / "students" / safe_name(student)
        results_json[student] = write_gradescope(result, folder / "results.json")
        feedback[student] = write_feedback(result, folder / "feedback.html")
    links = {student: path.relative_to(out_dir).as_posix() for student, path in feedback.items()}
    summary_json, summary_html = write_summary(results, out_dir, links=links)
    return ReportPaths(grades, summary_json, summary_html, results_json, feedback)
