"""Release step 3 (placeholder): the student notebooks, through `nbgrader generate_assignment`.

PLACEHOLDER until the notebooks issue: this step releases nothing. It only reports what it found,
so the release order and the report already have their final shape. The real step will convert the
source notebooks under `notebooks/` (jupytext percent scripts or .ipynb with nbgrader cell metadata),
run `nbgrader generate_assignment` on them in a temporary course folder, and copy the generated
student notebooks into `<release>/notebooks/`; the leak check then scans them like every other file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NO_NOTEBOOKS = "no notebooks yet"


@dataclass
class NotebookStep:
    """What the notebook step did: notebooks written (relative to the release root) and a note."""

    released: list[Path] = field(default_factory=list)
    note: str = NO_NOTEBOOKS


def source_notebooks(source_dir: Path) -> list[Path]:
    """The source notebooks under `source_dir`: `*.ipynb` and jupytext percent scripts (`# %%` cells)."""
    if not source_dir.is_dir():
        return []
    found = []
    for path in sorted(source_dir.iterdir()):
        if path.suffix == ".ipynb":
            found.append(path)
        elif path.suffix == ".py" and "# %%" in path.read_text(encoding="utf-8", errors="replace"):
            found.append(path)
    return found


def release_notebooks(source_dir: Path, out_dir: Path, *, enabled: bool = True) -> NotebookStep:
    """Generate the student notebooks of `source_dir` into `out_dir` (placeholder: writes nothing).

    `enabled=False` skips the step (`autograder release --no-notebooks`).
    """
    if not enabled:
        return NotebookStep(note="skipped (--no-notebooks)")
    found = source_notebooks(source_dir)
    if not found:
        return NotebookStep(note=NO_NOTEBOOKS)
    return NotebookStep(
        note=f"{NO_NOTEBOOKS}: {len(found)} source notebook(s) found in {source_dir.name}/, "
        "but the nbgrader step is not built yet, so none was released"
    )
