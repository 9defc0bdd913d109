"""Grading: one student in one pass (`grade_student`: hidden suites, notebooks, examples), a batch of
them (`grade_batch`, here or on Dask); `grade_submission` is the hidden-suite stage alone."""

from . import _lean  # noqa: F401 - first, before anything imports nbformat
from .batch import BatchSummary, find_submissions, grade_batch
from .proxy import ModelHandle, Submission
from .results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from .rubric import RubricEntry, load_rubric
from .settings import HIDDEN_DIR, GradeSettings
from .single import grade_submission
from .student import ALL_PARTS, NOTEBOOKS_DIR, Part, grade_student, parse_parts

__all__ = [
    "ALL_PARTS",
    "HIDDEN_DIR",
    "NOTEBOOKS_DIR",
    "Part",
    "BatchSummary",
    "GradeSettings",
    "ModelHandle",
    "RubricEntry",
    "Submission",
    "SubmissionResult",
    "SubmissionStatus",
    "TestResult",
    "TestStatus",
    "find_submissions",
    "grade_batch",
    "grade_student",
    "grade_submission",
    "load_rubric",
    "parse_parts",
]
