"""The saved notebooks, read as JSON with the standard library: were they run, and is every answer cell
filled? nbgrader's released answer cells hold `raise NotImplementedError(...)` (code) or
`YOUR ANSWER HERE` (markdown) until the student replaces them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UNANSWERED_MARKDOWN = "YOUR ANSWER HERE"
UNANSWERED_CODE = "raise NotImplementedError"
"""nbgrader's placeholders in a released answer cell (a code cell's line starts with the second)."""
SHOWN = 6
"""Cells named per warning; more are counted."""


@dataclass
class NotebookCheck:
    """One notebook on disk: unreadable (`problem`), cells never run, answers still to write, errors."""

    path: str
    """Relative to the kit root."""
    code_cells: int = 0
    """Code cells with source."""
    never_run: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Cells whose saved output is an error."""
    problem: str = ""

    def warnings(self) -> list[str]:
        """What the student should look at (nothing here stops the zip)."""
        out = []
        if self.code_cells and len(self.never_run) == self.code_cells:
            out.append(
                f"{self.path} was never run (no code cell has an execution count): run it "
                "(Run > Run All Cells), then save it (File > Save): the zip holds the file on disk"
            )
        elif self.never_run:
            out.append(
                f"{self.path}: {len(self.never_run)} of {self.code_cells} code cells were never run "
                f"({_some(self.never_run)}): run them and save the notebook"
            )
        if self.unanswered:
            out.append(
                f"{self.path}: {len(self.unanswered)} answer cells not filled in: {_some(self.unanswered)}"
            )
        if self.errors:
            out.append(
                f"{self.path}: {len(self.errors)} cells ended in an error when last run: {_some(self.errors)}"
            )
        return out

    def line(self) -> str:
        if self.problem:
            return f"{self.path}: PROBLEM {self.problem}"
        ran = self.code_cells - len(self.never_run)
        answered = (
            "every answer cell filled" if not self.unanswered else f"{len(self.unanswered)} answers to write"
        )
        return f"{self.path}: {ran}/{self.code_cells} code cells run, {answered}"


def _some(cells: list[str]) -> str:
    more = f", and {len(cells) - SHOWN} more" if len(cells) > SHOWN else ""
    return ", ".join(cells[:SHOWN]) + more


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _describe(number: int, cell: dict[str, Any], source: str) -> str:
    """`cell 12 (choose_upsampler)` by nbgrader id, else `cell 5 ("import torch")` by its first line."""
    grade_id = (cell.get("metadata") or {}).get("nbgrader", {}).get("grade_id")
    if grade_id:
        return f"cell {number} ({grade_id})"
    first = next((line.strip() for line in source.split("\n") if line.strip()), "")
    return f'cell {number} ("{first[:40]}{"..." if len(first) > 40 else ""}")'


def unanswered(cell: dict[str, Any], source: str) -> bool:
    """True when the cell still holds nbgrader's placeholder answer."""
    if cell.get("cell_type") == "markdown":
        return UNANSWERED_MARKDOWN in source
    if cell.get("cell_type") == "code":
        return any(line.strip().startswith(UNANSWERED_CODE) for line in source.split("\n"))
    return False


def check_notebook(root: Path, rel: str) -> NotebookCheck:
    """Read `root/rel` as a notebook (nbformat 4 JSON); never raises for a bad file."""
    check = NotebookCheck(rel)
    try:
        notebook = json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        check.problem = f"is not a notebook Jupyter can open ({exc}): save it again from Jupyter"
        return check
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        check.problem = (
            "is not a Jupyter notebook (nbformat 4) with a list of cells: save it again from Jupyter"
        )
        return check
    for number, cell in enumerate(cells, start=1):
        source = _text(cell.get("source"))
        todo = unanswered(cell, source)
        if todo:
            check.unanswered.append(_describe(number, cell, source))
        if cell.get("cell_type") != "code" or not source.strip():
            continue
        check.code_cells += 1
        if cell.get("execution_count") is None:
            check.never_run.append(_describe(number, cell, source))
        outputs = cell.get("outputs")
        error = next(
            (o for o in outputs or [] if isinstance(o, dict) and o.get("output_type") == "error"), None
        )
        if error is not None and not todo:  # an unanswered cell's NotImplementedError is listed above
            check.errors.append(f"{_describe(number, cell, source)} {error.get('ename', 'Error')}")
    return check
