"""Grading: the submission proxy and pytest plugin, one submission at a time or a parallel batch."""

from .batch import BatchSummary, find_submissions, grade_batch
from .proxy import ModelHandle, Submission
from .results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from .rubric import RubricEntry, load_rubric
from .settings import HIDDEN_DIR, GradeSettings
from .single import grade_submission

__all__ = [
    "HIDDEN_DIR",
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
    "grade_submission",
    "load_rubric",
]
