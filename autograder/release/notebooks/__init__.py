"""The course notebooks: built into nbgrader .ipynb from percent-script sources (`build`), released
through real nbgrader (`nbgrader_release`) as release step 3 (`step`)."""

from .build import GradedCell, Role, build_notebook, build_notebooks, read_source, source_notebooks
from .nbgrader_release import (
    ASSIGNMENT_ID,
    generate_student_notebooks,
    prepare_course,
    run_nbgrader,
    write_course_config,
)
from .step import NO_NOTEBOOKS, NotebookStep, notebook_secret_lines, release_notebooks

__all__ = [
    "ASSIGNMENT_ID",
    "NO_NOTEBOOKS",
    "GradedCell",
    "NotebookStep",
    "Role",
    "build_notebook",
    "build_notebooks",
    "generate_student_notebooks",
    "notebook_secret_lines",
    "prepare_course",
    "read_source",
    "release_notebooks",
    "run_nbgrader",
    "source_notebooks",
    "write_course_config",
]
