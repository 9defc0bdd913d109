"""Build nbgrader notebooks (.ipynb) from the reviewable sources: jupytext percent scripts with role tags.

A cell's nbgrader role is one tag on its `# %%` line; everything else is an ordinary cell:

    # %% tags=["solution:choose_scale"]         autograded answer (code with ### BEGIN/END SOLUTION)
    # %% tags=["tests:check_unpool:2"]          autograder tests worth 2 points (locked; may hold
                                                ### BEGIN/END HIDDEN TESTS)
    # %% [markdown] tags=["answer:why_blurry:2"] manually graded answer worth 2 points (markdown or code)
    # %% tags=["readonly:setup"]                read-only cell (locked, restored at autograding)

The ids become nbgrader `grade_id`s: unique per notebook, letters, digits, `_` and `-` only.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.errors import MarkerError
from exercise_code.forbidden import Rules

from .shortcuts import add_forbidden_lines, course_rules

SCHEMA_VERSION = 3
"""nbgrader's cell metadata schema (nbgrader 0.9)."""

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
"""Kernel of every built notebook; nbgrader records it at release and restores it at autograding."""

JUPYTEXT_CELL_KEYS = frozenset({"lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker"})
"""Cell metadata jupytext adds to keep the script's blank lines; dropped from the built notebook."""

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

_ID = r"[A-Za-z0-9_-]+"
_TAG = re.compile(rf"(?P<role>solution|tests|answer|readonly):(?P<id>{_ID})(?::(?P<points>\d+(?:\.\d+)?))?")


class Role(enum.Enum):
    """The nbgrader role of a cell, named by its tag prefix."""

    SOLUTION = "solution"
    """Autograded answer: students write the fenced code; no points of its own."""
    TESTS = "tests"
    """Autograder tests: locked, worth points, may hide tests."""
    ANSWER = "answer"
    """Manually graded answer: students write it, a grader scores it."""
    READONLY = "readonly"
    """Locked cell: restored from the source at autograding."""


_FLAGS = {  # (solution, grade, locked) for each role
    Role.SOLUTION: (True, False, False),
    Role.TESTS: (False, True, True),
    Role.ANSWER: (True, True, False),
    Role.READONLY: (False, False, True),
}
_NEEDS_POINTS = {Role.TESTS, Role.ANSWER}


@dataclass(frozen=True)
class GradedCell:
    """One nbgrader cell of a built notebook."""

    role: Role
    grade_id: str
    points: float
    cell_type: str


def _where(path: Path, index: int) -> str:
    return f"{path}: cell {index + 1}"


def _role_tag(cell: NotebookNode, path: Path, index: int) -> tuple[Role, str, float] | None:
    tags = [t for t in cell.metadata.get("tags", []) if t.split(":", 1)[0] in {r.value for r in Role}]
    if not tags:
        return None
    if len(tags) > 1:
        raise MarkerError(f"{_where(path, index)}: one role tag per cell, got {tags}")
    match = _TAG.fullmatch(tags[0])
    if match is None:
        raise MarkerError(
            f"{_where(path, index)}: malformed role tag {tags[0]!r}; write role:id or role:id:points "
            f"with role in {[r.value for r in Role]}"
        )
    role, points = Role(match["role"]), match["points"]
    if role in _NEEDS_POINTS and (points is None or float(points) <= 0):
        raise MarkerError(f"{_where(path, index)}: tag {tags[0]!r} needs positive points ({role.value}:id:2)")
    if role not in _NEEDS_POINTS and points is not None:
        raise MarkerError(f"{_where(path, index)}: tag {tags[0]!r}: {role.value} cells carry no points")
    return role, match["id"], float(points or 0)


def _check_markers(cell: NotebookNode, role: Role | None, path: Path, index: int) -> None:
    """Solution markers only in solution/answer cells, hidden-test markers only in tests cells, balanced."""
    lines = [line.strip() for line in cell.source.split("\n")]
    allowed = {Role.SOLUTION: SOLUTION_MARKERS, Role.ANSWER: SOLUTION_MARKERS, Role.TESTS: HIDDEN_MARKERS}
    for pair in (SOLUTION_MARKERS, HIDDEN_MARKERS):
        found = [line for line in lines if any(marker in line for marker in pair)]
        if not found:
            continue
        if pair != allowed.get(role):  # type: ignore[arg-type]
            kind = "solution" if pair == SOLUTION_MARKERS else "hidden-test"
            where = f"a {role.value} cell" if role else "a cell without a role tag"
            raise MarkerError(f"{_where(path, index)}: {kind} markers in {where}")
        if found != list(pair) * (len(found) // 2) or len(found) % 2:
            raise MarkerError(f"{_where(path, index)}: unbalanced or malformed markers {found}")
    if role is Role.SOLUTION and SOLUTION_MARKERS[0] not in cell.source:
        raise MarkerError(f"{_where(path, index)}: a solution cell needs {SOLUTION_MARKERS[0]!r}")
    if role is Role.SOLUTION and cell.cell_type != "code":
        raise MarkerError(f"{_where(path, index)}: solution cells are code cells (use answer: for text)")


def nbgrader_metadata(role: Role, grade_id: str, points: float) -> dict:
    """The `metadata.nbgrader` dict of a cell with `role`."""
    solution, grade, locked = _FLAGS[role]
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = int(points) if float(points).is_integer() else points
    return meta


def convert(nb: NotebookNode, path: Path) -> tuple[NotebookNode, list[GradedCell]]:
    """Turn role tags into nbgrader metadata (in place); returns the notebook and its graded cells.

    Raises MarkerError (file and cell named) for malformed tags, duplicate ids, misplaced markers.
    """
    graded: list[GradedCell] = []
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        found = _role_tag(cell, path, index)
        role = found[0] if found else None
        _check_markers(cell, role, path, index)
        if found is None:
            continue
        role, grade_id, points = found
        if grade_id in seen:
            raise MarkerError(f"{_where(path, index)}: duplicate id {grade_id!r}")
        seen.add(grade_id)
        cell.metadata["nbgrader"] = nbgrader_metadata(role, grade_id, points)
        cell.metadata["tags"] = [t for t in cell.metadata["tags"] if not _TAG.fullmatch(t)]
        if not cell.metadata["tags"]:
            del cell.metadata["tags"]
        graded.append(GradedCell(role, grade_id, points, cell.cell_type))
    return nb, graded


def read_source(path: Path, rules: Rules | None = None) -> tuple[NotebookNode, list[GradedCell]]:
    """Read a percent script (or an .ipynb) and return the nbgrader notebook with its graded cells.

    Each markdown cell that introduces an exercise gets the list of its forbidden shortcuts (`shortcuts`):
    from `rules`, by default the course's rules file beside the notebooks' folder.
    """
    path = Path(path)
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
    else:
        import jupytext  # here: a grading child reads parsed sources and never needs it (0.4 s)

        nb = jupytext.read(path, fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb, graded = convert(nb, path)
    add_forbidden_lines(nb, course_rules(path.parent) if rules is None else rules)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{path.stem[:20]}-{index:03d}".replace("_", "-")
        for key in [k for k in cell.metadata if k in JUPYTEXT_CELL_KEYS]:
            del cell.metadata[key]  # layout hints of the percent script, meaningless in a notebook
    nbformat.validate(nb)
    return nb, graded


def build_notebook(source: Path, dest: Path) -> Path:
    """Write the .ipynb of the source notebook `source` to `dest` (a file path); returns `dest`."""
    nb, _ = read_source(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def source_notebooks(src_dir: Path) -> list[Path]:
    """The source notebooks in `src_dir`: numbered percent scripts `NN_name.py` (and `.ipynb`), sorted."""
    found = [p for p in sorted(Path(src_dir).glob("[0-9][0-9]_*")) if p.suffix in {".py", ".ipynb"}]
    stems = [p.stem for p in found]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise MarkerError(f"{src_dir}: notebooks given both as .py and .ipynb: {duplicates}")
    return found


def build_notebooks(src_dir: Path, out_dir: Path) -> list[Path]:
    """Build every source notebook of `src_dir` into `out_dir/<stem>.ipynb`; returns the written paths."""
    return [build_notebook(path, Path(out_dir) / f"{path.stem}.ipynb") for path in source_notebooks(src_dir)]


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder.release.notebooks.build [SRC [OUT]]`: build the .ipynb beside the sources."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    src = Path(args[0]) if args else Path(__file__).resolve().parents[3] / "notebooks"
    out = Path(args[1]) if len(args) > 1 else src
    for path in build_notebooks(src, out):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
