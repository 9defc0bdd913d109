"""The instructor's source notebook as the grader sees it: every cell's role, points and content keys.

A cell's content key is a hash of its normalised text; a student's cell is recognised by it when an
editor dropped the nbgrader metadata. Keys cover both forms a student may hold: the released one
(solutions stubbed, hidden tests removed, made here with nbgrader's own preprocessors) and the source.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograder.errors import MarkerError
from autograder.release.notebooks.build import Role, read_source
from autograder.release.notebooks.nbgrader_release import CODE_STUB


def normalise(text: str) -> str:
    """Text with line endings unified, trailing spaces and surrounding blank lines removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def content_key(cell_type: str, text: str) -> str | None:
    """Hash of a cell's type and normalised text; None for a blank cell (blank cells match nothing)."""
    body = normalise(text)
    if not body:
        return None
    return hashlib.sha256(f"{cell_type}\0{body}".encode()).hexdigest()[:24]


def cell_role(cell: NotebookNode) -> Role | None:
    """The nbgrader role of a cell from its `metadata.nbgrader` flags (None: an ordinary cell)."""
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    grade, solution, locked = bool(meta.get("grade")), bool(meta.get("solution")), bool(meta.get("locked"))
    if grade and solution:
        return Role.ANSWER
    if grade:
        return Role.TESTS
    if solution:
        return Role.SOLUTION
    if locked:
        return Role.READONLY
    return None


@dataclass(frozen=True)
class SourceCell:
    """One cell of the instructor's notebook."""

    index: int
    cell_type: str
    source: str
    """The instructor's text, hidden tests and solutions included: what is executed at grading."""
    role: Role | None
    grade_id: str | None
    points: float
    keys: frozenset[str]
    """Content keys of the source and released forms."""

    @property
    def locked(self) -> bool:
        """Test and read-only cells: always restored from the source at grading."""
        return self.role in (Role.TESTS, Role.READONLY)


@dataclass(frozen=True)
class SourceNotebook:
    """The instructor's notebook `name` (its file stem) with every cell described."""

    name: str
    path: Path
    cells: tuple[SourceCell, ...]

    @property
    def tests(self) -> list[SourceCell]:
        return [c for c in self.cells if c.role is Role.TESTS]

    @property
    def answers(self) -> list[SourceCell]:
        return [c for c in self.cells if c.role is Role.ANSWER]

    def by_grade_id(self) -> dict[str, SourceCell]:
        return {c.grade_id: c for c in self.cells if c.grade_id}

    def to_dict(self) -> dict[str, Any]:
        cells = [{**asdict(c), "role": c.role and c.role.value, "keys": sorted(c.keys)} for c in self.cells]
        return {"name": self.name, "path": str(self.path), "cells": cells}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceNotebook:
        cells = tuple(
            SourceCell(**{**c, "role": Role(c["role"]) if c["role"] else None, "keys": frozenset(c["keys"])})
            for c in data["cells"]
        )
        return cls(name=data["name"], path=Path(data["path"]), cells=cells)


SOURCES_FILE = "sources.json"
"""What `write_sources` writes: the parsed source notebooks of a batch, read by every grading child."""


def write_sources(paths: Sequence[Path], folder: Path) -> Path:
    """Parse the source notebooks once (jupytext and nbgrader's preprocessors cost each child ~3 CPU-s)
    and write them to `folder/sources.json` for `read_sources`."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / SOURCES_FILE
    data = {"format": 1, "notebooks": [load_source(p).to_dict() for p in paths]}
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(target)
    return target


def read_sources(path: Path) -> list[SourceNotebook]:
    """The source notebooks `write_sources` wrote to `path`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [SourceNotebook.from_dict(nb) for nb in data["notebooks"]]


def released_form(nb: NotebookNode) -> NotebookNode:
    """A copy of the source notebook as `nbgrader generate_assignment` releases it (cell texts only)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    released = copy.deepcopy(nb)
    released, _ = ClearSolutions(code_stub={"python": CODE_STUB}).preprocess(released, {})
    released, _ = ClearHiddenTests().preprocess(released, {})
    return released


def _read(path: Path) -> NotebookNode:
    if path.suffix == ".py":
        return read_source(path)[0]
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        if any("nbgrader" in c.metadata for c in nb.cells):
            return nb  # an nbgrader notebook already
        return read_source(path)[0]
    raise ValueError(f"source notebook must be a .py percent script or an .ipynb, got {path}")


def load_source(path: Path) -> SourceNotebook:
    """Read the instructor's notebook `path` (percent script with role tags, or nbgrader .ipynb).

    Raises MarkerError for malformed roles or duplicate grade ids, ValueError for another file type.
    """
    path = Path(path)
    nb = _read(path)
    released = released_form(nb)
    cells, seen = [], set()
    for index, (cell, out) in enumerate(zip(nb.cells, released.cells, strict=True)):
        meta = cell.metadata.get("nbgrader") or {}
        grade_id = meta.get("grade_id") or None
        if grade_id in seen:
            raise MarkerError(f"{path}: duplicate grade_id {grade_id!r}")
        if grade_id:
            seen.add(grade_id)
        keys = {content_key(cell.cell_type, cell.source), content_key(cell.cell_type, out.source)}
        cells.append(
            SourceCell(
                index=index,
                cell_type=cell.cell_type,
                source=cell.source,
                role=cell_role(cell),
                grade_id=grade_id,
                points=float(meta.get("points", 0) or 0),
                keys=frozenset(k for k in keys if k),
            )
        )
    return SourceNotebook(name=path.stem, path=path, cells=tuple(cells))
