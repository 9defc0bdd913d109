"""The course notebooks: build nbgrader .ipynb from percent-script sources, release them through nbgrader."""

from .build import GradedCell, Role, build_notebook, build_notebooks, read_source, source_notebooks
from .nbgrader_release import (
    ASSIGNMENT_ID,
    generate_student_notebooks,
    prepare_course,
    run_nbgrader,
    write_course_config,
)

__all__ = [
    "ASSIGNMENT_ID",
    "GradedCell",
    "Role",
    "build_notebook",
    "build_notebooks",
    "generate_student_notebooks",
    "prepare_course",
    "read_source",
    "run_nbgrader",
    "source_notebooks",
    "write_course_config",
]
