"""Notebook grading: student notebooks run in the sandbox (nbclient + kernel inside bubblewrap on a
private copy), matched to the source by grade_id or content, and scored in the trusted process."""

from autograder.sandbox.notebook import bwrap_available

from .execute import NotebookJob, NotebookRun, parse_results, run_notebooks
from .grade import find_submitted, grade_notebook, grade_notebooks
from .match import Assembly, UnreadableNotebook, assemble, read_submitted
from .settings import NotebookGradingSettings
from .source import SourceNotebook, load_source

__all__ = [
    "Assembly",
    "NotebookGradingSettings",
    "NotebookJob",
    "NotebookRun",
    "SourceNotebook",
    "UnreadableNotebook",
    "assemble",
    "bwrap_available",
    "find_submitted",
    "grade_notebook",
    "grade_notebooks",
    "load_source",
    "parse_results",
    "read_submitted",
    "run_notebooks",
]
