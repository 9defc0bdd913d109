"""Match a student's notebook to the instructor's source and assemble the notebook that is executed.

Cells are matched in order (a weighted longest common subsequence): by nbgrader `grade_id` first, then
by content key when an editor dropped the metadata. Test and read-only cells are always executed from
the source (hidden tests included); one that is missing or changed is restored and reported as tampering.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from autograder.release.notebooks.build import KERNELSPEC, Role

from .source import SourceCell, SourceNotebook, content_key

MAX_CELLS = 2000
"""Student notebooks with more cells are not graded (the alignment is quadratic)."""
_ID_WEIGHT, _CONTENT_WEIGHT = 2, 1


class UnreadableNotebook(ValueError):
    """The submitted notebook cannot be graded (not JSON, not a notebook, too large); names the reason."""


@dataclass(frozen=True)
class GradingCell:
    """One cell of the assembled notebook; `origin` is the source cell it stands for, if any."""

    cell_type: str
    source: str
    origin: SourceCell | None = None
    restored: bool = False


@dataclass
class Assembly:
    """The notebook to execute, what was restored, and the students' manual answers."""

    cells: list[GradingCell]
    tampering: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    answers: dict[str, str | None] = field(default_factory=dict)
    """grade_id of each manually graded cell -> the student's answer (None: not found)."""

    def notebook(self) -> NotebookNode:
        """The cells as an nbformat v4 notebook with the course kernel (outputs empty)."""
        cells = []
        for cell in self.cells:
            if cell.cell_type == "code":
                cells.append(nbformat.v4.new_code_cell(cell.source))
            elif cell.cell_type == "markdown":
                cells.append(nbformat.v4.new_markdown_cell(cell.source))
            else:
                cells.append(nbformat.v4.new_raw_cell(cell.source))
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata["language_info"] = {"name": "python"}
        return nb


def _student_grade_id(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


def _weight(student: NotebookNode, key: str | None, grade_id: str | None, source: SourceCell) -> int:
    weight = _ID_WEIGHT if grade_id and grade_id == source.grade_id else 0
    if key and key in source.keys:
        weight += _CONTENT_WEIGHT
    return weight


def align(source: SourceNotebook, student: list[NotebookNode]) -> dict[int, int]:
    """Source cell index -> student cell index, in order, maximising id (2) and content (1) matches."""
    if len(student) > MAX_CELLS:
        raise UnreadableNotebook(f"the notebook has {len(student)} cells (limit {MAX_CELLS})")
    keys = [content_key(c.cell_type, c.source) for c in student]
    ids = [_student_grade_id(c) for c in student]
    n, m = len(student), len(source.cells)
    score = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev = score[i], score[i - 1]
        for j in range(1, m + 1):
            best = max(prev[j], row[j - 1])
            w = _weight(student[i - 1], keys[i - 1], ids[i - 1], source.cells[j - 1])
            if w and prev[j - 1] + w > best:
                best = prev[j - 1] + w
            row[j] = best
    matched: dict[int, int] = {}
    i, j = n, m
    while i and j:
        w = _weight(student[i - 1], keys[i - 1], ids[i - 1], source.cells[j - 1])
        if w and score[i][j] == score[i - 1][j - 1] + w:
            matched[j - 1] = i - 1
            i, j = i - 1, j - 1
        elif score[i][j] == score[i - 1][j]:
            i -= 1
        else:
            j -= 1
    return matched


def _label(cell: SourceCell) -> str:
    kind = "test cell" if cell.role is Role.TESTS else "read-only cell"
    return f"{kind} {cell.grade_id!r}"


def _answer_by_position(
    cell: SourceCell, matched: dict[int, int], student: list[NotebookNode], used: set[int]
) -> int | None:
    """The one unmatched student cell of the same type between the matched neighbours of `cell`."""
    before = [matched[j] for j in matched if j < cell.index]
    after = [matched[j] for j in matched if j > cell.index]
    low, high = max(before, default=-1), min(after, default=len(student))
    candidates = [
        i
        for i in range(low + 1, high)
        if i not in used and student[i].cell_type == cell.cell_type and student[i].source.strip()
    ]
    return candidates[0] if len(candidates) == 1 else None


def assemble(source: SourceNotebook, student_nb: NotebookNode) -> Assembly:
    """The notebook to execute: the student's cells in their order, locked cells from the source.

    Test and read-only cells found by grade_id or content are replaced by the source text (a changed
    one is reported); ones not found are inserted before the next matched cell (tampering reported).
    """
    student = list(student_nb.cells)
    matched = align(source, student)
    at_student = {i: source.cells[j] for j, i in matched.items()}
    insert_before: dict[int, list[SourceCell]] = {}
    at_end: list[SourceCell] = []
    assembly = Assembly(cells=[])
    for cell in source.cells:
        if not cell.locked or cell.index in matched:
            continue
        following = [matched[j] for j in matched if j > cell.index]
        target = insert_before.setdefault(min(following), []) if following else at_end
        target.append(cell)
        assembly.tampering.append(
            f"{_label(cell)} was deleted, or changed and its metadata lost; restored from the source"
        )
    used = set(matched.values())
    answers = {c.grade_id: None for c in source.answers if c.grade_id}
    by_position = {}
    for cell in source.answers:
        if cell.index not in matched:
            found = _answer_by_position(cell, matched, student, used)
            if found is not None:
                by_position[found] = cell
                used.add(found)
    metadata_lost = 0

    def restore(cell: SourceCell) -> None:
        assembly.cells.append(GradingCell(cell.cell_type, cell.source, cell, restored=True))

    for i, cell in enumerate(student):
        for missing in insert_before.get(i, []):
            restore(missing)
        origin = at_student.get(i) or by_position.get(i)
        if origin is not None and _student_grade_id(cell) != origin.grade_id:
            metadata_lost += 1
        if origin is not None and origin.locked:
            if content_key(cell.cell_type, cell.source) not in origin.keys:
                assembly.tampering.append(f"{_label(origin)} was changed; restored from the source")
            assembly.cells.append(GradingCell(origin.cell_type, origin.source, origin, restored=True))
            continue
        if origin is not None and origin.role is Role.ANSWER:
            answers[origin.grade_id] = cell.source
        assembly.cells.append(GradingCell(cell.cell_type, cell.source, origin))
    for missing in at_end:
        restore(missing)
    if metadata_lost:
        assembly.notes.append(
            f"{metadata_lost} cell(s) had lost their nbgrader metadata (as VS Code or Colab do); "
            "they were recognised by their content or position"
        )
    assembly.answers = answers
    return assembly


def read_submitted(data: bytes) -> NotebookNode:
    """Parse a submitted notebook's bytes as JSON only (nothing is executed or unpickled).

    Cells with odd types or metadata are normalised; UnreadableNotebook names what is wrong.
    """
    try:
        with warnings.catch_warnings():  # old or stripped notebooks (no cell ids) are normal here
            warnings.simplefilter("ignore")
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # untrusted input: any parse failure means "unreadable", never a crash
        raise UnreadableNotebook(f"not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})") from exc
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise UnreadableNotebook("not a readable notebook (no list of cells)")
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), str):
            raise UnreadableNotebook("not a readable notebook (a cell without text)")
        cell.setdefault("source", "")
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            cell["cell_type"] = "raw"
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
    return nb
