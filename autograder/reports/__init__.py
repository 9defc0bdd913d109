"""Reports from graded results: Gradescope results.json, grades.csv, HTML feedback, class summary."""

from .gradebook import gradebook_rows, gradebook_table, write_grades_csv
from .gradescope import SCHEMA_PATH, to_gradescope, validate_gradescope, write_gradescope
from .html import feedback_html, write_feedback
from .merge import complete_result, merge_results, stored_results
from .summary import class_summary, summary_html, write_summary
from .write import ReportPaths, write_reports

__all__ = [
    "SCHEMA_PATH",
    "ReportPaths",
    "class_summary",
    "complete_result",
    "feedback_html",
    "gradebook_rows",
    "gradebook_table",
    "merge_results",
    "stored_results",
    "summary_html",
    "to_gradescope",
    "validate_gradescope",
    "write_feedback",
    "write_grades_csv",
    "write_gradescope",
    "write_reports",
    "write_summary",
]
