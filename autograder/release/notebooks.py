"""Release step for notebooks: nbgrader's generate_assignment on the source notebooks.

The source notebooks are jupytext percent scripts under `notebooks/`. Until they exist this step
releases nothing and says so; the step keeps its place in the release order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class NotebookStep:
    """What the notebook step did."""

    released: list[Path] = field(default_factory=list)
    note: str = ""


def release_notebooks(source_dir: Path, out_dir: Path) -> NotebookStep:
    """Generate the student notebooks from `source_dir` into `out_dir` (through nbgrader)."""
    sources = sorted(source_dir.glob("[0-9][0-9]_*.py")) if source_dir.is_dir() else []
    if not sources:
        return NotebookStep(note="no source notebooks yet")
    try:
        from autograder.notebooks.nbgrader_release import generate_student_notebooks
    except ImportError:
        return NotebookStep(note="notebook release step not available in this kit version")
    return NotebookStep(released=generate_student_notebooks(source_dir=source_dir, out_dir=out_dir))
