"""Release: the student version of the kit from the single source (solutions stripped, leaks checked)."""

from .assignment import ReleaseReport, release
from .leak import Leak, find_leaks, secret_lines
from .markers import Region, find_regions, strip_solutions
from .notebooks import NotebookStep, notebook_secret_lines, release_notebooks
from .policy import DEFAULT_POLICY, ReleasePolicy

__all__ = [
    "DEFAULT_POLICY",
    "Leak",
    "NotebookStep",
    "Region",
    "ReleasePolicy",
    "ReleaseReport",
    "find_leaks",
    "find_regions",
    "release",
    "notebook_secret_lines",
    "release_notebooks",
    "secret_lines",
    "strip_solutions",
]
